import Codec
import Foundation
import Learning
import LoRA
import Numerics

/// What every arm of a run shares when the proxy really trains: the data, its partition among the
/// clients, the pretrained frozen base, the initial adapter and the test set.
public final class LearningWorkload: ProxyModel, @unchecked Sendable {
    public let training: FederationConfig.Training
    public let train: Dataset
    public let test: Dataset
    public let base: BaseMLP
    /// Whether the base came from the cache.
    public let baseWasCached: Bool
    /// Sample indices of each client.
    public let partition: [[Int]]
    /// The adapter every client starts from (A random, B = 0): `BaseMLP.initialAdapter`, layers `mlp.<l>`.
    /// The learner trains and evaluates it and the codecs encode it as it is (one type, no conversion).
    public let initial: LoRAAdapter
    /// Test accuracy and loss of the base alone (= the initial adapter's, since B = 0).
    public let baseAccuracy: Double
    public let baseLoss: Double
    /// The proxy's LoRA shapes (those of `initial`).
    public var shapes: [LoRALayerShape] { initial.shapes }
    /// LoRA's α: every adapter is applied with scaling α / r.
    public var alpha: Float { training.alpha }
    private var clientData: [Int: Dataset] = [:]
    private let lock = NSLock()

    public init(_ training: FederationConfig.Training, clients: Int, seed: UInt64, cacheDirectory: String? = Pretraining.defaultCacheDirectory) throws {
        self.training = training
        var (train, test): (Dataset, Dataset)
        switch training.data {
        case let .fashionMNIST(directory):
            do {
                (train, test) = try FashionMNIST.load(directory: directory)
            } catch let error as InputError {
                // Name the scenario key that chose the folder, and keep the file's own message.
                throw InputError(.invalidValue(expected: "a folder with Fashion-MNIST's four IDX files", found: "\(error)"), at: "workload.train.data")
            }
        case let .synthetic(classes, dimension, n, t): (train, test) = SyntheticDataset.make(classes: classes, dimension: dimension, train: n, test: t, seed: seed)
        }
        if let n = training.testSamples, n < test.count { test = test.subset(Array(0..<n)) }
        self.train = train
        self.test = test
        let widths = [train.dimension] + training.hidden + [train.classes]
        let pre = Pretraining(widths: widths, classes: training.pretrainClasses ?? Array(0..<train.classes), epochs: training.pretrainEpochs,
                              learningRate: training.pretrainLearningRate, batchSize: 64, seed: training.pretrainSeed)
        (base, baseWasCached) = try pre.base(on: train, cacheDirectory: cacheDirectory)
        try training.partition.check(clients: clients)
        partition = training.partition.assign(train, clients: clients, seed: seed)
        initial = base.initialAdapter(rank: training.rank, seed: seed)
        (baseAccuracy, baseLoss) = MLPMath.evaluate(base, on: test)
    }

    /// Client `i`'s training data (built once, then shared by every arm).
    public func data(of client: Int) -> Dataset {
        lock.lock(); defer { lock.unlock() }
        if let d = clientData[client] { return d }
        let d = train.subset(partition[client])
        clientData[client] = d
        return d
    }

    /// Training FLOPs per local sample of the proxy: 4·N_base + 6·N_lora (as for the catalogue).
    public var proxyFLOPsPerSample: Double { 4 * Double(base.parameterCount) + 6 * Double(initial.parameterCount) }

    public var sampleCounts: [Int] { partition.map(\.count) }
    public var flopsPerSample: Double { proxyFLOPsPerSample * Double(training.local.epochs) }

    public func train(clients: [Int], from global: LoRAAdapter, round: Int, freezingA: Bool, arm: ArmContext,
                      stream: (Int) -> StreamKey) throws -> [ClientTraining] {
        let jobs = clients.map { LocalTraining.Job(start: global, data: data(of: $0), stream: stream($0), client: $0) }
        var settings = training.local
        settings.freezesA = freezingA
        return try LocalTraining.checkedTrainMany(base: base, jobs: jobs, alpha: alpha, settings: settings, round: round).map { .trained($0.adapter) }
    }

    public func evaluate(_ adapter: LoRAAdapter, arm: ArmContext, round: Int) -> (accuracy: Double, loss: Double) { evaluate(adapter) }

    /// Test accuracy and loss of `adapter` on the base.
    public func evaluate(_ adapter: LoRAAdapter) -> (accuracy: Double, loss: Double) {
        MLPMath.evaluate(base, adapter, alpha: alpha, on: test)
    }
}

/// How faithfully one aggregation carried its round's updates (`UpdateFidelity`): the applied
/// update's cosine and norm ratio against exact FedAvg of the same clients' true updates, the mean
/// kept energy of their uploads and the median kurtosis of their factor deltas.
public struct RoundFidelity: Sendable, Equatable {
    public var cosine: Double?
    public var normRatio: Double?
    public var keptEnergy: Double?
    public var kurtosis: Double?
}

/// One arm's learning state (whatever the proxy model): the global adapter every client holds after applying the real
/// broadcast bytes, the encoded uploads of the round, the broadcast history for stale clients; with
/// an adapter that has extras (tensors that are not LoRA factors), the global extras, which travel
/// both ways as real `ExtrasMessage` bytes beside the codec's messages (`ExtrasAggregation`).
final class ArmLearner {
    let workload: any ProxyModel
    let codec: any Codec
    let seed: UInt64
    /// The arm this learner is (told to an external trainer).
    let arm: ArmContext
    /// The global adapter (what every in-sync client holds).
    private(set) var global: LoRAAdapter
    /// The global extras (the initial adapter's until the first aggregation; none for the built-in models).
    private(set) var globalExtras: [PEFTExtra]
    /// Bytes of the latest extras broadcast (every download carries it whole; before the first
    /// aggregation, the size such a message has: extras messages have a fixed size per adapter).
    private(set) var extrasBroadcastBytes: Int
    private var history: BroadcastHistory
    private var states: [Int: ClientCodecState] = [:]
    private(set) var accuracy: Double
    private(set) var loss: Double
    /// The kept fractions of A and B in the latest broadcast (for pricing a catalogue model's download).
    private(set) var broadcastFractions: (a: Double, b: Double) = (1, 1)
    /// Per client encoded this round: its upload's kept energy and its update's factor kurtoses (`UpdateFidelity`).
    private var uploadFidelity: [Int: (keptEnergy: Double, kurtoses: [Double])] = [:]
    /// How faithfully the latest aggregation carried the round's updates.
    private(set) var fidelity: RoundFidelity?

    init(workload: any ProxyModel, codec: any Codec, seed: UInt64, arm: ArmContext) {
        self.workload = workload
        self.codec = codec
        self.seed = seed
        self.arm = arm
        global = workload.initial
        globalExtras = workload.initialExtras
        extrasBroadcastBytes = ExtrasMessage.size(of: workload.initialExtras)
        history = BroadcastHistory(shapes: workload.shapes, capacity: codec.options.historyRounds)
        accuracy = workload.baseAccuracy
        loss = workload.baseLoss
    }

    /// Adapters trained ahead for this round (client → trained adapter) and their extras.
    private var prepared: [Int: LoRAAdapter] = [:]
    private var preparedExtras: [Int: [PEFTExtra]] = [:]
    /// Clients whose training failed this round, and why.
    private var failures: [Int: TrainingFailure] = [:]
    /// The samples each client's training reported this round (an external trainer's).
    private var samplesUsed: [Int: Int] = [:]
    private var preparedRound = -1

    func streamKey(client i: Int, round: Int) -> StreamKey {
        trainingStream(seed: seed, round: round, client: i)
    }

    /// Trains the round's selected clients at once, one per core. Every client of a round starts
    /// from the same global adapter (it changes only when the round closes), so this gives exactly
    /// what training each client when its download completes gives; only clients that go on to
    /// `encode` use their result.
    func pretrain(clients: [Int], round: Int) throws {
        let results = try workload.train(clients: clients, from: global, extras: globalExtras, round: round, freezingA: type(of: codec).freezesA, arm: arm) {
            streamKey(client: $0, round: round)
        }
        prepared = [:]
        preparedExtras = [:]
        failures = [:]
        samplesUsed = [:]
        for (c, r) in zip(clients, results) {
            switch r {
            case let .trained(a, samples, extras):
                prepared[c] = a
                if !globalExtras.isEmpty { preparedExtras[c] = extras }
                if let samples { samplesUsed[c] = samples }
            case let .failed(f): failures[c] = f
            }
        }
        preparedRound = round
    }

    /// The samples client `i`'s training this round reported (nil: not reported; its sample count applies).
    func samplesTrained(client i: Int, round: Int) -> Int? { preparedRound == round ? samplesUsed[i] : nil }

    /// Why client `i`'s training failed this round (nil: it trained).
    func failure(client i: Int, round: Int) -> TrainingFailure? { preparedRound == round ? failures[i] : nil }

    /// Encodes client `i`'s update: its adapter trained by `pretrain` this round, minus the global.
    func encode(client i: Int, round: Int) throws -> EncodedUpdate {
        guard preparedRound == round, let trained = prepared[i] else {
            preconditionFailure("client \(i) was not trained for round \(round): pretrain(clients:round:) trains every selected client")
        }
        let delta = trained.subtracting(global)
        var state = states[i] ?? ClientCodecState()
        let encoded = try codec.encode(delta: delta, global: global, round: round, state: &state)
        if codec.options.residual { states[i] = state }
        uploadFidelity[i] = (try UpdateFidelity.keptEnergy(upload: encoded.bytes, global: global, trained: trained),
                             UpdateFidelity.kurtoses(global: global, trained: trained))
        return encoded
    }

    /// Client `i`'s trained extras this round as the `ExtrasMessage` it uploads beside its codec
    /// message (empty: the adapter has no extras, and nothing is sent).
    func encodeExtras(client i: Int, round: Int) -> [UInt8] {
        guard !globalExtras.isEmpty else { return [] }
        guard preparedRound == round, let extras = preparedExtras[i] else {
            preconditionFailure("client \(i) was not trained for round \(round): pretrain(clients:round:) trains every selected client")
        }
        return ExtrasMessage(kind: .update, round: UInt32(clamping: round), extras: extras).encoded()
    }

    /// Kept fractions of A and B in an encoded message.
    static func fractions(_ kept: [(layer: Int, matrix: LoRAMatrix, kept: Int, count: Int)]) -> (a: Double, b: Double) {
        func f(_ m: LoRAMatrix) -> Double {
            let k = kept.filter { $0.matrix == m }.reduce(0) { $0 + $1.kept }, n = kept.filter { $0.matrix == m }.reduce(0) { $0 + $1.count }
            return n == 0 ? 1 : Double(k) / Double(n)
        }
        return (f(.a), f(.b))
    }

    /// Aggregates the arrived updates; the new global adapter is the codec's result (the real
    /// broadcast bytes, decoded once by the codec as a client would decode them), and the broadcast
    /// history records the same decoded message.
    /// `clients[k]` sent `updates[k]` and the extras message `extras[k]`; the round's fidelity
    /// compares the applied update with exact FedAvg of those clients' trained adapters. The extras
    /// are decoded from their bytes, aggregated (`ExtrasAggregation`, the same weights) and
    /// broadcast as an `ExtrasMessage`, which every client decodes into the new global extras.
    func aggregate(_ updates: [WeightedUpdate], extras: [[UInt8]], clients: [Int], round: Int) throws {
        let nextExtras = try aggregateExtras(extras, weights: updates.map(\.weight), clients: clients, round: round)
        let result = try codec.aggregate(updates, global: global, round: round)
        let trained = clients.compactMap { preparedRound == round ? prepared[$0] : nil }
        let total = updates.reduce(0) { $0 + $1.weight }
        if trained.count == clients.count, total > 0 {
            let agreement = UpdateFidelity.agreement(UpdateFidelity.aggregateErrors(global: global, trained: trained,
                                                                                     p: updates.map { $0.weight / total }, next: result.global))
            let uploads = clients.compactMap { uploadFidelity[$0] }
            fidelity = RoundFidelity(cosine: agreement?.cosine, normRatio: agreement?.normRatio,
                                     keptEnergy: uploads.isEmpty ? nil : uploads.reduce(0) { $0 + $1.keptEnergy } / Double(uploads.count),
                                     kurtosis: UpdateFidelity.median(uploads.flatMap(\.kurtoses)))
        } else {
            fidelity = nil
        }
        uploadFidelity.removeAll()
        global = result.global
        if let nextExtras { (globalExtras, extrasBroadcastBytes) = nextExtras }
        history.record(result)
        broadcastFractions = ArmLearner.fractions(result.kept)
    }

    /// The server's side of the extras: decodes each arrived update's message against the global
    /// extras, aggregates them and encodes the broadcast, which a client decodes; the new global
    /// extras and the broadcast's bytes (nil: the adapter has no extras).
    private func aggregateExtras(_ messages: [[UInt8]], weights: [Double], clients: [Int], round: Int) throws -> ([PEFTExtra], Int)? {
        guard !globalExtras.isEmpty else { return nil }
        guard messages.count == clients.count else {
            throw CodecError.shapeMismatch("\(messages.count) extras messages for \(clients.count) arrived updates")
        }
        let updates = try zip(messages, clients).map { bytes, client in
            do {
                let m = try ExtrasMessage.decode(bytes, expected: globalExtras)
                guard m.kind == .update else { throw WireError.wrongKind(expected: "extras update", found: m.kind.rawValue) }
                return m.extras
            } catch {
                throw CodecError.wire(.malformed("client \(client)'s extras message, round \(round): \(error)"))
            }
        }
        let next = try ExtrasAggregation.aggregate(updates, weights: weights, clients: clients)
        let broadcast = ExtrasMessage(kind: .broadcast, round: UInt32(clamping: round), extras: next).encoded()
        let received = try ExtrasMessage.decode(broadcast, expected: globalExtras)
        return (received.extras, broadcast.count)
    }

    /// Test accuracy and loss of the global adapter (with the global extras) after round `round`.
    func evaluate(round: Int) throws {
        (accuracy, loss) = try workload.evaluate(global, extras: globalExtras, arm: arm, round: round)
    }

    /// For k = 1 … the history: the kept fractions of A and B in the merged deltas of the last k
    /// broadcasts, measured on their real supports (nil: beyond the history, the dense adapter).
    var mergedKeptFractions: [(a: Double, b: Double)?] { history.mergedKeptFractionsByDepth }

    /// Bytes a client `k` broadcasts behind downloads, measured on the proxy's real messages.
    func measuredCatchUp(stale k: Int) -> Int {
        k <= 0 ? 0 : history.catchUpBytes(from: history.version - k, codec: codec)
    }
}
