import Foundation
import Numerics

/// The local optimiser.
public enum Optimizer: Sendable, Equatable {
    /// SGD with momentum μ.
    case sgd(learningRate: Float, momentum: Float)
    /// Adam (Kingma & Ba 2015) with the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    case adam(learningRate: Float)
}

/// Local training settings.
public struct TrainingSettings: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: Optimizer
    public init(epochs: Int = 1, batchSize: Int = 32, optimizer: Optimizer = .adam(learningRate: 1e-3)) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
    }
}

/// Optimiser state for a list of parameter tensors (flattened).
struct OptimizerState {
    let optimizer: Optimizer
    var first: [[Float]]
    var second: [[Float]]
    var step: Int = 0

    init(_ optimizer: Optimizer, shapes: [Int]) {
        self.optimizer = optimizer
        first = shapes.map { [Float](repeating: 0, count: $0) }
        second = { if case .adam = optimizer { return shapes.map { [Float](repeating: 0, count: $0) } } else { return [] } }()
    }

    /// Updates `params[k]` in place with `grads[k]`.
    mutating func apply(_ params: inout [Matrix], _ grads: [Matrix], offset: Int = 0) {
        if offset == 0 { step += 1 }
        for k in params.indices { update(&params[k].storage, grads[k].storage, slot: offset + k) }
    }

    mutating func apply(_ params: inout [[Float]], _ grads: [[Float]], offset: Int) {
        for k in params.indices { update(&params[k], grads[k], slot: offset + k) }
    }

    private mutating func update(_ p: inout [Float], _ g: [Float], slot: Int) {
        switch optimizer {
        case let .sgd(lr, momentum):
            first[slot].withUnsafeMutableBufferPointer { v in
                p.withUnsafeMutableBufferPointer { w in
                    g.withUnsafeBufferPointer { gr in
                        for i in w.indices {
                            v[i] = momentum * v[i] + gr[i]
                            w[i] -= lr * v[i]
                        }
                    }
                }
            }
        case let .adam(lr):
            let b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
            let c1 = 1 - pow(b1, Float(step)), c2 = 1 - pow(b2, Float(step))
            first[slot].withUnsafeMutableBufferPointer { m in
                second[slot].withUnsafeMutableBufferPointer { v in
                    p.withUnsafeMutableBufferPointer { w in
                        g.withUnsafeBufferPointer { gr in
                            // Eight lanes at a time (the buffers are distinct; the compiler cannot know).
                            let n = w.count
                            let mR = UnsafeMutableRawPointer(m.baseAddress!), vR = UnsafeMutableRawPointer(v.baseAddress!)
                            let wR = UnsafeMutableRawPointer(w.baseAddress!), gR = UnsafeRawPointer(gr.baseAddress!)
                            let step = SIMD8<Float>(repeating: lr), inv1 = SIMD8<Float>(repeating: 1 / c1), inv2 = SIMD8<Float>(repeating: 1 / c2)
                            var i = 0
                            while i + 8 <= n {
                                let gv = gR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                var mv = mR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                var vv = vR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                var wv = wR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                mv = b1 * mv + (1 - b1) * gv
                                vv = b2 * vv + (1 - b2) * gv * gv
                                wv -= step * (mv * inv1) / ((vv * inv2).squareRoot() + eps)
                                mR.storeBytes(of: mv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                                vR.storeBytes(of: vv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                                wR.storeBytes(of: wv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                                i += 8
                            }
                            while i < n {
                                m[i] = b1 * m[i] + (1 - b1) * gr[i]
                                v[i] = b2 * v[i] + (1 - b2) * gr[i] * gr[i]
                                w[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                                i += 1
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Training that cannot go on.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Which training diverged.
    public enum Phase: String, Sendable, Equatable {
        /// Pretraining of the frozen base (`Pretraining`; its learning rate).
        case pretraining
        /// A client's local training of the adapter (`LocalTraining`; `TrainingSettings.optimizer`'s rate).
        case localTraining = "local training"
    }

    /// The training loss or the trained weights became NaN or infinite at minibatch `step` (counted
    /// from 1 over all epochs) of `epoch` (from 1): the learning rate is too large. `round` and
    /// `client` say where, when the caller gave them; `loss` is the last loss seen.
    case diverged(phase: Phase, learningRate: Float, epoch: Int, step: Int, loss: Double, round: Int?, client: Int?)

    public var description: String {
        switch self {
        case let .diverged(phase, lr, epoch, step, loss, round, client):
            let at = [round.map { "round \($0)" }, client.map { "client \($0)" }].compactMap { $0 }
            let place = at.isEmpty ? "" : " (\(at.joined(separator: ", ")))"
            let what = loss.isFinite ? "the weights became NaN or infinite" : "the training loss became \(loss)"
            return "\(phase.rawValue) diverged at learning rate \(lr)\(place): \(what) at minibatch \(step), epoch \(epoch); use a smaller learning rate"
        }
    }
}

extension Optimizer {
    /// The learning rate.
    public var learningRate: Float {
        switch self {
        case let .sgd(lr, _): return lr
        case let .adam(lr): return lr
        }
    }
}

/// Whether every value of `values` is finite (one pass; used once per training, not per step).
func allFinite(_ values: [Float]) -> Bool {
    values.withUnsafeBufferPointer { p in
        var ok = true
        for x in p where !x.isFinite { ok = false; break }
        return ok
    }
}

/// Local training of the LoRA factors on a client's data (the base stays frozen).
public enum LocalTraining {
    /// Trains `start` on `data` and returns the trained adapter and the mean training loss.
    /// Minibatches are drawn by shuffling with `stream` each epoch. A training that diverges stops
    /// at the first non-finite loss and returns a NaN loss (`checkedTrain` throws instead).
    public static func train(base: BaseMLP, start: LoRAWeights, data: Dataset, settings: TrainingSettings,
                             stream: RandomStream) -> (adapter: LoRAWeights, loss: Double, steps: Int) {
        let r = run(base: base, start: start, data: data, settings: settings, stream: stream)
        return (r.adapter, r.divergence == nil ? r.loss : .nan, r.steps)
    }

    /// `train`, throwing `TrainingError.diverged(phase: .localTraining, …)` when the loss (checked
    /// once per minibatch) or the trained adapter (checked once at the end) is not finite.
    public static func checkedTrain(base: BaseMLP, start: LoRAWeights, data: Dataset, settings: TrainingSettings,
                                    stream: RandomStream, round: Int? = nil, client: Int? = nil) throws -> (adapter: LoRAWeights, loss: Double, steps: Int) {
        let r = run(base: base, start: start, data: data, settings: settings, stream: stream)
        if let d = r.divergence {
            throw TrainingError.diverged(phase: .localTraining, learningRate: settings.optimizer.learningRate,
                                         epoch: d.epoch, step: d.step, loss: d.loss, round: round, client: client)
        }
        return (r.adapter, r.loss, r.steps)
    }

    /// The training loop; stops at the first non-finite minibatch loss, and checks the final adapter.
    static func run(base: BaseMLP, start: LoRAWeights, data: Dataset, settings: TrainingSettings,
                    stream: RandomStream) -> (adapter: LoRAWeights, loss: Double, steps: Int, divergence: (epoch: Int, step: Int, loss: Double)?) {
        var lora = start
        var state = OptimizerState(settings.optimizer, shapes: lora.a.map(\.count) + lora.b.map(\.count))
        var order = Array(0..<data.count)
        var totalLoss = 0.0, steps = 0
        guard data.count > 0 else { return (lora, 0, 0, nil) }
        let batchSize = max(1, settings.batchSize)
        var lastLoss = 0.0
        for epoch in stride(from: 1, through: settings.epochs, by: 1) {
            stream.shuffle(&order)
            var i = 0
            while i < order.count {
                let batch = Array(order[i..<min(order.count, i + batchSize)])
                let sub = data.subset(batch)
                let (loss, g) = MLPMath.lossAndGradients(base, lora, sub.features, sub.labels[...])
                steps += 1
                lastLoss = loss
                guard loss.isFinite else { return (lora, totalLoss / Double(steps), steps, (epoch, steps, loss)) }
                state.apply(&lora.a, g.a, offset: 0)
                state.apply(&lora.b, g.b, offset: lora.a.count)
                totalLoss += loss
                i += batchSize
            }
        }
        // A last update can overflow the weights without a later loss to show it.
        if !(lora.a.allSatisfy { allFinite($0.storage) } && lora.b.allSatisfy { allFinite($0.storage) }) {
            return (lora, totalLoss / Double(max(steps, 1)), steps, (max(settings.epochs, 1), steps, lastLoss))
        }
        return (lora, totalLoss / Double(max(steps, 1)), steps, nil)
    }
}

/// Pretraining of the frozen base, cached on disk under a key of its settings.
///
/// The base is trained (all weights, SGD with momentum) on the training images of a subset of the
/// classes only, so it starts the federation knowing some classes and not others: fine-tuning the
/// adapters on all classes then has headroom (in a numpy trial, a base pretrained on classes 0–6
/// scored 0.57 on the full test set, and LoRA r = 8 took it to 0.84).
public struct Pretraining: Sendable, Equatable {
    public var widths: [Int]
    public var classes: [Int]
    public var epochs: Int
    public var learningRate: Float
    public var batchSize: Int
    public var seed: UInt64

    public init(widths: [Int] = [784, 256, 128, 10], classes: [Int] = Array(0...6), epochs: Int = 3,
                learningRate: Float = 0.05, batchSize: Int = 64, seed: UInt64 = 1) {
        self.widths = widths
        self.classes = classes
        self.epochs = epochs
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.seed = seed
    }

    /// The cache key: every setting and the dataset's name and size.
    public func key(for data: Dataset) -> String {
        // The BLAS kernel rounds differently from family to family: a base pretrained under another
        // kernel is another base (Haswell, the kernel fedsim pins, keeps the v1 key of earlier caches).
        let kernel = BLASKernel.coreName
        let text = "v1|\(data.name)|\(data.count)|\(widths)|\(classes)|\(epochs)|\(learningRate)|\(batchSize)|\(seed)" + (kernel == "Haswell" ? "" : "|\(kernel)")
        return String(StreamKey.fnv1a64(text), radix: 16)
    }

    /// The default cache folder: `$FEDSIM_CACHE`, else `$XDG_CACHE_HOME/fedsim`, else `~/.cache/fedsim`.
    public static var defaultCacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let c = env["FEDSIM_CACHE"], !c.isEmpty { return c }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return x + "/fedsim" }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/fedsim"
    }

    /// The pretrained base: read from the cache if there, else trained and stored.
    public func base(on data: Dataset, cacheDirectory: String? = Pretraining.defaultCacheDirectory) throws -> (base: BaseMLP, cached: Bool) {
        let path = cacheDirectory.map { $0 + "/base-\(key(for: data)).bin" }
        // A cached base with non-finite weights (written before divergence was checked) is not used.
        if let path, let base = Pretraining.read(path, widths: widths), base.isFinite { return (base, true) }
        let base = try checkedTrain(on: data)
        if let path, let dir = cacheDirectory {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            Pretraining.write(base, to: path)
        }
        return (base, false)
    }

    /// Trains the base from scratch (no cache). A training that diverges stops at the first
    /// non-finite loss (`checkedTrain` throws instead).
    public func train(on data: Dataset) -> BaseMLP { run(on: data).base }

    /// `train`, throwing `TrainingError.diverged(phase: .pretraining, …)` when a minibatch loss
    /// (checked once per minibatch) or the trained base (checked once at the end) is not finite.
    public func checkedTrain(on data: Dataset) throws -> BaseMLP {
        let r = run(on: data)
        if let d = r.divergence {
            throw TrainingError.diverged(phase: .pretraining, learningRate: learningRate, epoch: d.epoch, step: d.step, loss: d.loss, round: nil, client: nil)
        }
        return r.base
    }

    func run(on data: Dataset) -> (base: BaseMLP, divergence: (epoch: Int, step: Int, loss: Double)?) {
        let keep = Set(classes)
        let subset = data.subset(data.labels.indices.filter { keep.contains(Int(data.labels[$0])) })
        var base = BaseMLP(widths: widths, seed: seed)
        // A rank-1 zero adapter: the gradient code needs one; its B stays zero and is not updated.
        let none = LoRAWeights(a: base.weights.map { Matrix.zeros(rows: 1, cols: $0.cols) },
                               b: base.weights.map { Matrix.zeros(rows: $0.rows, cols: 1) }, rank: 1, alpha: 1)
        var state = OptimizerState(.sgd(learningRate: learningRate, momentum: 0.9),
                                   shapes: base.weights.map(\.count) + base.biases.map(\.count))
        let stream = RandomStream(seed: seed, purpose: "pretraining.batches")
        var order = Array(0..<subset.count)
        let batchSize = max(1, self.batchSize)
        var steps = 0, lastLoss = 0.0
        for epoch in stride(from: 1, through: epochs, by: 1) {
            stream.shuffle(&order)
            var i = 0
            while i < order.count {
                let batch = subset.subset(Array(order[i..<min(order.count, i + batchSize)]))
                let (loss, g) = MLPMath.lossAndGradients(base, none, batch.features, batch.labels[...], trainBase: true)
                steps += 1
                lastLoss = loss
                guard loss.isFinite, let dW = g.weights, let db = g.biases else { return (base, (epoch, steps, loss)) }
                state.apply(&base.weights, dW, offset: 0)
                state.apply(&base.biases, db, offset: base.weights.count)
                i += batchSize
            }
        }
        // A last update can overflow the weights without a later loss to show it.
        return (base, base.isFinite ? nil : (max(epochs, 1), steps, lastLoss))
    }

    // A little binary format: "FSMB", layer count, then per layer rows, cols, weights, biases (f32 LE).
    static func write(_ base: BaseMLP, to path: String) {
        var bytes: [UInt8] = Array("FSMB".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { bytes.append(contentsOf: $0) } }
        func floats(_ f: [Float]) { for x in f { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } } }
        u32(base.layerCount)
        for l in 0..<base.layerCount {
            u32(base.weights[l].rows); u32(base.weights[l].cols)
            floats(base.weights[l].storage); floats(base.biases[l])
        }
        let tmp = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        if FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) {
            _ = try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.moveItem(atPath: tmp, toPath: path)
        }
    }

    static func read(_ path: String, widths: [Int]) -> BaseMLP? {
        guard let data = FileManager.default.contents(atPath: path), data.count > 8, data.prefix(4) == Data("FSMB".utf8) else { return nil }
        var offset = 4
        func u32() -> Int? {
            guard offset + 4 <= data.count else { return nil }
            defer { offset += 4 }
            return Int(UInt32(littleEndian: data.subdata(in: offset..<offset + 4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        }
        func floats(_ n: Int) -> [Float]? {
            guard offset + 4 * n <= data.count else { return nil }
            defer { offset += 4 * n }
            return data.subdata(in: offset..<offset + 4 * n).withUnsafeBytes { raw in
                (0..<n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
        }
        guard let layers = u32(), layers == widths.count - 1 else { return nil }
        var weights: [Matrix] = [], biases: [[Float]] = []
        for l in 0..<layers {
            guard let rows = u32(), let cols = u32(), rows == widths[l + 1], cols == widths[l],
                  let w = floats(rows * cols), let b = floats(rows) else { return nil }
            weights.append(Matrix(rows: rows, cols: cols, storage: w))
            biases.append(b)
        }
        return offset == data.count ? BaseMLP(weights: weights, biases: biases) : nil
    }
}

extension LocalTraining {
    /// One client's local training job.
    public struct Job: Sendable {
        public var start: LoRAWeights
        public var data: Dataset
        /// The minibatch stream (a taus2 generator is made from it in the worker).
        public var stream: StreamKey
        /// The client it trains, for a divergence error (nil: not known).
        public var client: Int?
        public init(start: LoRAWeights, data: Dataset, stream: StreamKey, client: Int? = nil) {
            self.start = start
            self.data = data
            self.stream = stream
            self.client = client
        }
    }

    /// Trains independent clients at once, one per core, each with single-threaded BLAS (small
    /// products gain more from whole cores than from OpenBLAS's threads). Results are in job
    /// order and do not depend on the number of threads: each job owns its data, stream and
    /// adapter, and BLAS always runs single-threaded here (OpenBLAS's multi-threaded products
    /// can round differently from its single-threaded ones).
    public static func trainMany(base: BaseMLP, jobs: [Job], settings: TrainingSettings,
                                 threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [(adapter: LoRAWeights, loss: Double, steps: Int)] {
        parallelMap(jobs.count, threads: threads) { k in
            train(base: base, start: jobs[k].start, data: jobs[k].data, settings: settings, stream: RandomStream(jobs[k].stream, algorithm: .taus2))
        }
    }

    /// `trainMany`, throwing `TrainingError.diverged(phase: .localTraining, …)` for the first job (in
    /// job order, so the error does not depend on the threads) whose training diverged, with
    /// `round` and the job's client. Results of trainings that do not diverge are `trainMany`'s.
    public static func checkedTrainMany(base: BaseMLP, jobs: [Job], settings: TrainingSettings, round: Int? = nil,
                                        threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> [(adapter: LoRAWeights, loss: Double, steps: Int)] {
        let results = parallelMap(jobs.count, threads: threads) { k in
            run(base: base, start: jobs[k].start, data: jobs[k].data, settings: settings, stream: RandomStream(jobs[k].stream, algorithm: .taus2))
        }
        for (k, r) in results.enumerated() {
            if let d = r.divergence {
                throw TrainingError.diverged(phase: .localTraining, learningRate: settings.optimizer.learningRate,
                                             epoch: d.epoch, step: d.step, loss: d.loss, round: round, client: jobs[k].client)
            }
        }
        return results.map { ($0.adapter, $0.loss, $0.steps) }
    }
}

/// `body(0) … body(count − 1)` spread over `threads` workers (each taking every `threads`-th
/// index), with single-threaded BLAS, returned in index order: the same result whatever `threads`.
func parallelMap<T>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
    guard count > 0 else { return [] }
    let workers = max(1, min(threads, count))
    let results = ResultBox<T>(count: count)
    BLASThreads.singleThreaded {
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for k in stride(from: worker, to: count, by: workers) { results.set(k, body(k)) }
        }
    }
    return results.values()
}

/// Slots written by concurrent workers, each slot by exactly one worker; read in slot order.
final class ResultBox<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    init(count: Int) { slots = [T?](repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    func values() -> [T] { slots.map { $0! } }
}
