import Foundation
import Numerics

/// What training the proxy model holds in memory, estimated from its sizes before anything is
/// allocated, so a model such as hidden widths [100000, 100000] (10¹⁰ base weights, 40 GB, and
/// three times that while pretraining) is refused up front. All sizes in bytes, as Doubles (no
/// product overflows). Floats are 4 bytes, indices 8.
public struct TrainingMemoryEstimate: Sendable {
    /// The parts, largest first.
    public var parts: [(what: String, bytes: Double)]
    /// The peak: everything held through the run plus the larger of pretraining and the rounds
    /// (pretraining's gradients and momentum are freed before the first round).
    public var total: Double { parts.reduce(0) { $0 + $1.bytes } }

    /// - Parameters:
    ///   - widths: layer widths, input first (e.g. [784, 256, 128, 10]).
    ///   - rank: the LoRA rank.
    ///   - local: local training settings (batch size; Adam keeps two moments, SGD one).
    ///   - pretrainBatch: pretraining's minibatch (64 in `LearningWorkload`).
    ///   - pretraining: whether the base is trained here (false when it comes from the cache).
    ///   - trainSamples, testSamples: dataset sizes (Fashion-MNIST: 60,000 and 10,000).
    ///   - rawBytesPerSample: bytes per sample of the files the data is read from (1 per pixel for
    ///     IDX, 0 for synthetic data), held while the data is converted.
    ///   - clientsAtOnce: local trainings running at the same time (one per core).
    ///   - adaptersHeld: whole adapters kept besides the trainings' (global adapters of the arm,
    ///     broadcast history, the round's updates).
    ///   - evaluationBatch, evaluationThreads: evaluation chunks (1000 samples each, one per core).
    public init(widths: [Int], rank: Int, local: TrainingSettings, pretrainBatch: Int = 64, pretraining: Bool = true,
                trainSamples: Int, testSamples: Int, rawBytesPerSample: Int = 0, clientsAtOnce: Int,
                adaptersHeld: Int, evaluationBatch: Int = 1000, evaluationThreads: Int) {
        let w = widths.map { Double(max($0, 0)) }
        let pairs = Swift.Array(zip(w, w.dropFirst()))
        let base = pairs.reduce(0.0) { $0 + $1.0 * $1.1 + $1.1 }                       // weights and biases
        let lora = pairs.reduce(0.0) { $0 + Double(max(rank, 0)) * ($1.0 + $1.1) }       // A (r × in) and B (out × r)
        let sum = w.reduce(0, +), widest = w.max() ?? 0, inputs = w.first ?? 0
        let layers = Double(pairs.count)
        let float = 4.0, index = 8.0
        let train = Double(max(trainSamples, 0)), test = Double(max(testSamples, 0))
        // Activations of a minibatch of n: each layer's input, pre-activation and output, the
        // LoRA projections, and two back-propagated gradients of the widest layer; the batch's copy.
        func activations(_ n: Double, _ r: Double) -> Double { float * n * (3 * sum + r * layers + 2 * widest + inputs) }
        var parts: [(String, Double)] = []
        parts.append(("frozen base (\(Quantity.significant(base, 3)) parameters)", float * base))
        // Features and labels of the training set, the copies of it the clients hold (their shares
        // add up to it), the test set, partition indices, and the raw file while converting.
        parts.append(("datasets (\(Int(train)) + \(Int(test)) samples of \(Int(inputs)) values, clients' copies)",
                      (float * inputs + 4) * (2 * train + test) + index * 2 * train + Double(max(rawBytesPerSample, 0)) * train))
        let moments = { if case .adam = local.optimizer { return 2.0 } else { return 1.0 } }()
        let batch = Double(max(local.batchSize, 1))
        let perClient = float * lora * (2 + 1 + moments) + activations(batch, Double(max(rank, 0)))   // start, trained, gradients, moments
        let rounds = Double(max(clientsAtOnce, 1)) * perClient + float * lora * Double(max(adaptersHeld, 0))
            + Double(max(evaluationThreads, 1)) * activations(Double(max(evaluationBatch, 1)), Double(max(rank, 0)))
        // Pretraining: gradients and SGD momentum of the base, the subset of the training set, a batch.
        let pretrain = pretraining ? float * 2 * base + (float * inputs + 4 + index) * train + activations(Double(max(pretrainBatch, 1)), 1) : 0
        if pretrain > rounds {
            parts.append(("pretraining (base gradients and momentum, the pretraining subset)", pretrain))
        } else {
            parts.append(("local training (\(max(clientsAtOnce, 1)) clients at once), evaluation and \(max(adaptersHeld, 0)) adapters", rounds))
        }
        self.parts = parts.sorted { $0.1 > $1.1 }
    }

    /// Throws (at `keyPath`) when the estimate exceeds `limit` bytes, naming the largest parts.
    public func check(limit: Double, keyPath: String = "workload.train", file: String? = nil) throws {
        guard total > limit || total.isNaN else { return }
        let top = parts.prefix(3).map { "\($0.what) \(Quantity.humanReadable($0.bytes, as: .bytes))" }.joined(separator: ", ")
        throw InputError(.invalidValue(expected: "a model and data that fit in \(Quantity.humanReadable(limit, as: .bytes))",
                                       found: "an estimated \(Quantity.humanReadable(total, as: .bytes)) for training: \(top)"), at: keyPath, file: file)
    }
}
