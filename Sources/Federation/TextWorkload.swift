import Foundation
import Learning
import LoRA
import Numerics

/// The transformer proxy (`workload.train.model: {"transformer": …}`): a byte-level LM pretrained
/// on the pretraining domains (cached), clients holding Dirichlet(β) shares of each client domain's
/// training text, and held-out text of every client domain for evaluation (next-byte accuracy as
/// "accuracy", cross-entropy in nats per byte as "loss").
public final class TextWorkload: ProxyModel, @unchecked Sendable {
    public let training: FederationConfig.Training
    public let text: FederationConfig.Training.TextModel
    public let base: TransformerWeights
    public let baseWasCached: Bool
    public let initial: LoRAAdapter
    /// Each client's training bytes.
    public let clientText: [[UInt8]]
    /// The held-out windows of every client domain, concatenated, and their count.
    public let heldOut: (windows: [Int32], count: Int)
    public let baseAccuracy: Double
    public let baseLoss: Double
    private let template: TransformerAdapter

    public init(_ training: FederationConfig.Training, text: FederationConfig.Training.TextModel, clients: Int, seed: UInt64,
                cacheDirectory: String? = Pretraining.defaultCacheDirectory) throws {
        self.training = training
        self.text = text
        let key = "workload.train.dataset.text"
        try text.config.validate(keyPath: "workload.train.model.transformer")
        try text.lora.validate(for: text.config, keyPath: "workload.train.lora")
        var pretrainText: [UInt8] = []
        for d in text.pretrainDomains {
            pretrainText += TextCorpus.split(try TextCorpus.load(domain: d, root: text.root, maximumBytes: text.bytesPerDomain, keyPath: key + ".pretrain"),
                                             heldOutEvery: text.heldOutEvery).train
        }
        let pre = TransformerPretraining(config: text.config, settings: text.pretrain, seed: text.pretrainSeed)
        (base, baseWasCached) = try pre.base(on: pretrainText, cacheDirectory: cacheDirectory)
        var shares = [[UInt8]](repeating: [], count: clients)
        var windows: [Int32] = [], count = 0
        for (index, d) in text.domains.enumerated() {
            let (train, held) = TextCorpus.split(try TextCorpus.load(domain: d, root: text.root, maximumBytes: text.bytesPerDomain, keyPath: key + ".domains"),
                                                 heldOutEvery: text.heldOutEvery)
            let batcher = try WindowBatcher(tokens: held, context: text.config.context, keyPath: key + ".domains")
            let w = batcher.sequentialWindows(limit: text.evaluationWindows)
            windows += w.windows
            count += w.count
            let weights: [Double]
            switch training.partition {
            case let .dirichlet(beta): weights = RandomStream(seed: seed, purpose: "partition.text", index: UInt64(index)).dirichlet([Double](repeating: beta, count: clients))
            default: weights = [Double](repeating: 1 / Double(clients), count: clients)
            }
            var start = 0, cumulative = 0.0
            for c in 0..<clients {
                cumulative += weights[c]
                let end = c == clients - 1 ? train.count : min(train.count, Int((cumulative * Double(train.count)).rounded()))
                if end > start { shares[c] += train[start..<end] }
                start = max(start, end)
            }
        }
        clientText = shares
        heldOut = (windows, count)
        template = TransformerAdapter(config: text.config, lora: text.lora, seed: seed)
        initial = template.adapter
        let e = TransformerEvaluation.evaluate(base: base, adapter: nil, windows: windows, count: count)
        (baseAccuracy, baseLoss) = (e.accuracy, e.loss)
    }

    /// A client's samples: the windows of `context + 1` bytes its text holds (0 when shorter than one).
    public var sampleCounts: [Int] { clientText.map { $0.count / (text.config.context + 1) } }

    /// FLOPs of one local step's windows per window held, (4·N_base + 6·N_lora) per token, spread so
    /// that a client holding the mean number of windows is priced at its `steps × batch` windows.
    public var flopsPerSample: Double {
        let perWindow = Double(text.config.context) * (4 * Double(text.config.parameterCount) + 6 * Double(initial.parameterCount))
        let counts = sampleCounts.filter { $0 > 0 }
        let mean = counts.isEmpty ? 1 : Double(counts.reduce(0, +)) / Double(counts.count)
        return perWindow * Double(text.local.steps * text.local.batchSize) / mean
    }

    public func train(clients: [Int], from global: LoRAAdapter, round: Int, freezingA: Bool, arm: ArmContext,
                      stream: (Int) -> StreamKey) throws -> [ClientTraining] {
        var settings = text.local
        settings.freezesA = freezingA
        var start = template
        start.adapter = global
        let jobs = try clients.map { c in
            TransformerTraining.Job(adapter: start, batcher: try WindowBatcher(tokens: clientText[c], context: text.config.context, keyPath: "workload.train.dataset.text"),
                                    stream: stream(c))
        }
        // Clients train one per core; a failure is reported for the first failing client in order.
        return try zip(clients, TransformerTraining.trainMany(base: base, jobs: jobs, settings: settings)).map { c, outcome in
            do {
                return .trained(try outcome.get().adapter?.adapter ?? global)
            } catch let TrainingError.diverged(phase, lr, epoch, step, loss, _, _) {
                throw TrainingError.diverged(phase: phase, learningRate: lr, epoch: epoch, step: step, loss: loss, round: round, client: c)
            }
        }
    }

    public func evaluate(_ adapter: LoRAAdapter, arm: ArmContext, round: Int) -> (accuracy: Double, loss: Double) { evaluate(adapter) }

    /// Held-out next-byte accuracy and loss of `adapter` on the base.
    public func evaluate(_ adapter: LoRAAdapter) -> (accuracy: Double, loss: Double) {
        var a = template
        a.adapter = adapter
        let e = TransformerEvaluation.evaluate(base: base, adapter: a, windows: heldOut.windows, count: heldOut.count)
        return (e.accuracy, e.loss)
    }
}
