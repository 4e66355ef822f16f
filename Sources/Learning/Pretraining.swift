import Foundation
import LoRA
import Numerics

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

    /// The cache key: every setting, the BLAS kernel (another kernel rounds differently: a base
    /// pretrained under it is another base), and the training data themselves — their shape and a
    /// digest of every feature and label, so that two datasets that differ anywhere (a synthetic
    /// dataset drawn with another seed, another IDX folder of the same size) never share a base.
    /// (v1 keyed the data by name and size only: synthetic data drawn with the run's seed, and any
    /// folder of 60,000 images, collided.)
    public func key(for data: Dataset) -> String {
        let text = "v2|\(data.count)|\(data.dimension)|\(data.classes)|\(Pretraining.digest(of: data))|\(widths)|\(classes)|\(epochs)|\(learningRate)|\(batchSize)|\(seed)|\(BLASKernel.coreName)"
        return String(StreamKey.fnv1a64(text), radix: 16)
    }

    /// FNV-1a over the features' bit patterns, then the labels'.
    /// - Complexity: O(count · dimension); ≈ 0.1 s for Fashion-MNIST's 47 M pixels.
    static func digest(of data: Dataset) -> UInt64 {
        let features = StreamKey.fnv1a64(data.features.storage.lazy.map { $0.bitPattern })
        return StreamKey.fnv1a64(data.labels.lazy.map { UInt32(bitPattern: $0) }, continuing: features)
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

    /// With single-threaded BLAS, as every other training and evaluation path has through
    /// `parallelMap`: OpenBLAS's threaded products round differently, and the base — hence every
    /// output — must not depend on the number of cores. (Before 2026-12-06 it ran on OpenBLAS's
    /// threads: the Fashion-MNIST base scored 57.1% pretrained with 2 threads and 55.8% with 1,
    /// and a run read whichever had been cached first.)
    func run(on data: Dataset) -> (base: BaseMLP, divergence: (epoch: Int, step: Int, loss: Double)?) {
        BLASThreads.singleThreaded { runUnthreaded(on: data) }
    }

    private func runUnthreaded(on data: Dataset) -> (base: BaseMLP, divergence: (epoch: Int, step: Int, loss: Double)?) {
        let keep = Set(classes)
        let subset = data.subset(data.labels.indices.filter { keep.contains(Int(data.labels[$0])) })
        var base = BaseMLP(widths: widths, seed: seed)
        // A rank-1 zero adapter (scaling 1): the gradient code needs one; its B stays zero and is not updated.
        let none = LoRAAdapter.zeros(base.loraShapes(rank: 1))
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
                let (loss, g) = MLPMath.lossAndGradients(base, none, alpha: 1, batch.features, batch.labels[...], trainBase: true)
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

    // "FSMB", layer count, then per layer rows, cols, weights, biases (`CacheFile`).
    static func write(_ base: BaseMLP, to path: String) {
        var file = CacheFile.Writer(magic: "FSMB")
        file.u32(base.layerCount)
        for l in 0..<base.layerCount {
            file.u32(base.weights[l].rows); file.u32(base.weights[l].cols)
            file.floats(base.weights[l].storage); file.floats(base.biases[l])
        }
        file.write(to: path)
    }

    static func read(_ path: String, widths: [Int]) -> BaseMLP? {
        guard var file = CacheFile.Reader(path: path, magic: "FSMB"), let layers = file.u32(), layers == widths.count - 1 else { return nil }
        var weights: [Matrix] = [], biases: [[Float]] = []
        for l in 0..<layers {
            guard let rows = file.u32(), let cols = file.u32(), rows == widths[l + 1], cols == widths[l],
                  let w = file.floats(rows * cols), let b = file.floats(rows) else { return nil }
            weights.append(Matrix(rows: rows, cols: cols, storage: w))
            biases.append(b)
        }
        return file.atEnd ? BaseMLP(weights: weights, biases: biases) : nil
    }
}
