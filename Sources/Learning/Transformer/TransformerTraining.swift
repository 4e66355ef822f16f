import Foundation
import Numerics

/// Settings of a transformer training run (LoRA fine-tuning or full pretraining).
public struct TransformerTrainingSettings: Sendable, Equatable, Hashable {
    /// Optimiser steps.
    public var steps: Int
    /// Windows (sequences of context + 1 tokens) per step.
    public var batchSize: Int
    /// The optimiser (default AdamW, Transformers' defaults, lr 1e-3).
    public var optimizer: TransformerOptimizer
    /// Gradient-norm clipping before each step (Transformers' `max_grad_norm` default 1.0), or nil.
    public var maxGradientNorm: Float?
    /// Windows per shard: a step's batch is cut into shards of this many windows (the last may be
    /// smaller), computed on `threads` workers with single-threaded BLAS and summed in shard order, so
    /// the result does not depend on the number of threads.
    public var shardSize: Int

    /// Keep every LoRA A factor at its start (FFA-LoRA trains B only; `Codec.freezesA`).
    public var freezesA = false

    public init(steps: Int = 100, batchSize: Int = 16, optimizer: TransformerOptimizer = .adamW(learningRate: 1e-3),
                maxGradientNorm: Float? = 1.0, shardSize: Int = 4) {
        self.steps = steps
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.maxGradientNorm = maxGradientNorm
        self.shardSize = shardSize
    }
}

/// A training in progress: packed weights, gradients, optimiser moments and workspaces, reused from
/// step to step. Trains the adapter (base frozen) when it has one, else every base weight.
public final class TransformerTrainer {
    let layout: TransformerLayout
    let settings: TransformerTrainingSettings
    let threads: Int
    let basePack: FloatPack
    let adapterPack: FloatPack?
    private var template: (base: TransformerWeights, adapter: TransformerAdapter?)
    private let trainsBase: Bool
    private let state: TransformerOptimizerState
    /// Per shard: workspace and gradient (of the trained pack).
    private var shards: [(ws: TransformerWorkspace, grad: FloatPack)] = []
    /// Steps done.
    public private(set) var steps = 0

    /// Prepares a training of `adapter` on the frozen `base`, or of `base` itself when `adapter` is nil.
    /// `threads` workers compute the shards of each step (the result is the same for any count).
    /// - Precondition: the settings' batch and shard sizes are ≥ 1, the adapter belongs to the base's configuration.
    public init(base: TransformerWeights, adapter: TransformerAdapter?, settings: TransformerTrainingSettings,
                threads: Int = Parallelism.threads) {
        precondition(settings.batchSize >= 1 && settings.shardSize >= 1, "batch and shard sizes must be positive")
        let layout = TransformerLayout(config: base.config, adapter: adapter)
        self.layout = layout
        self.settings = settings
        self.threads = max(1, threads)
        basePack = layout.pack(base)
        adapterPack = adapter.map { layout.pack($0) }
        template = (base, adapter)
        trainsBase = adapter == nil
        state = TransformerOptimizerState(settings.optimizer, count: trainsBase ? layout.baseCount : layout.adapterCount)
    }

    /// The base weights now.
    public var base: TransformerWeights {
        guard trainsBase else { return template.base }
        var w = template.base
        layout.unpack(basePack, into: &w)
        return w
    }

    /// The adapter now (nil when training the base).
    public var adapter: TransformerAdapter? {
        guard var a = template.adapter, let pack = adapterPack else { return nil }
        layout.unpack(pack, into: &a)
        return a
    }

    private func workspaces(sequences n: Int, length t: Int) {
        let size = settings.shardSize
        let count = (n + size - 1) / size
        let trainedCount = trainsBase ? layout.baseCount : layout.adapterCount
        if shards.count == count, shards.first?.ws.length == t,
           shards.last?.ws.sequences == n - (count - 1) * size { return }
        shards = (0..<count).map { k in
            (TransformerWorkspace(layout: layout, sequences: min(size, n - k * size), length: t), FloatPack(count: trainedCount))
        }
    }

    /// Mean loss and summed gradient of `windows` (n windows of `length + 1` tokens) into shard 0's gradient.
    func lossAndGradient(_ windows: [Int32], sequences n: Int) -> (loss: Double, correct: Int, gradient: FloatPack) {
        precondition(n >= 1 && windows.count % n == 0 && windows.count / n >= 2, "windows must be n sequences of ≥ 2 tokens")
        let t = windows.count / n - 1
        precondition(t <= layout.config.context, "windows longer than the context")
        let v = Int32(layout.config.vocabulary)
        precondition(windows.allSatisfy { $0 >= 0 && $0 < v }, "token outside the vocabulary")
        workspaces(sequences: n, length: t)
        let layout = self.layout, size = settings.shardSize, trainsBase = self.trainsBase
        let base = UnsafePointer(basePack.pointer), adapter = adapterPack.map { UnsafePointer($0.pointer) }
        let shards = self.shards
        let scale = Float(1 / Double(n * t))
        let pointers = SendablePointers(base: base, adapter: adapter)
        let results = parallelMap(shards.count, threads: threads) { k -> (Double, Int) in
            let (ws, grad) = shards[k]
            grad.zero()
            let r = windows.withUnsafeBufferPointer { w in
                TransformerMath.forward(layout, base: pointers.base, adapter: pointers.adapter,
                                        tokens: w.baseAddress! + k * size * (t + 1), ws: ws)
            }
            TransformerMath.backward(layout, base: pointers.base, adapter: pointers.adapter, ws: ws, lossScale: scale,
                                     dBase: trainsBase ? grad.pointer : nil, dAdapter: trainsBase ? nil : grad.pointer)
            return r
        }
        for k in 1..<max(shards.count, 1) { shards[0].grad.add(shards[k].grad) }
        let loss = results.reduce(0.0) { $0 + $1.0 }, correct = results.reduce(0) { $0 + $1.1 }
        return (loss / Double(n * t), correct, shards[0].grad)
    }

    /// One optimiser step on `windows` (n windows of `length + 1` tokens, length ≤ context); returns the batch's mean loss.
    @discardableResult
    public func step(_ windows: [Int32], sequences n: Int) -> Double {
        let (loss, _, gradient) = lossAndGradient(windows, sequences: n)
        if let maximum = settings.maxGradientNorm { clipGradientNorm(gradient, maximum: maximum) }
        // A frozen A keeps its values whatever the optimiser does (weight decay included).
        let frozen = settings.freezesA && !trainsBase ? adapterPack.map { pack in layout.adapterA.indices.map { pack.read(at: layout.adapterA[$0], count: layout.adapterB[$0] - layout.adapterA[$0]) } } : nil
        state.apply(trainsBase ? basePack : (adapterPack ?? basePack), gradient)
        if let frozen, let pack = adapterPack {
            for (i, values) in frozen.enumerated() { pack.write(values, at: layout.adapterA[i]) }
        }
        steps += 1
        return loss
    }
}

/// Raw weight pointers handed to the shard workers (the packs outlive the step).
struct SendablePointers: @unchecked Sendable {
    let base: UnsafePointer<Float>
    let adapter: UnsafePointer<Float>?
}

/// Training loops over a text.
public enum TransformerTraining {
    /// The result of a training run.
    public struct Result: Sendable {
        /// The trained base (the start when the base was frozen).
        public var base: TransformerWeights
        /// The trained adapter, nil for pretraining.
        public var adapter: TransformerAdapter?
        /// The mean training loss of each step.
        public var losses: [Double]
    }

    /// Trains `adapter` on the frozen `base` (or the base itself when `adapter` is nil) for
    /// `settings.steps` steps of `settings.batchSize` windows drawn from `batcher` with `stream`.
    /// Throws `TrainingError.diverged` at the first non-finite loss or if the trained weights are not
    /// finite, and an `InputError` at `model.vocabulary` when the text holds a byte the vocabulary lacks.
    public static func train(base: TransformerWeights, adapter: TransformerAdapter?, batcher: WindowBatcher,
                             settings: TransformerTrainingSettings, stream: RandomStream,
                             threads: Int = Parallelism.threads) throws -> Result {
        if let top = batcher.tokens.max(), Int(top) >= base.config.vocabulary {
            throw InputError(.invalidValue(expected: "a vocabulary of more than \(top) tokens (the text holds byte \(top))",
                                           found: String(base.config.vocabulary)), at: "model.vocabulary")
        }
        let trainer = TransformerTrainer(base: base, adapter: adapter, settings: settings, threads: threads)
        let phase: TrainingError.Phase = adapter == nil ? .pretraining : .localTraining
        var losses: [Double] = []
        losses.reserveCapacity(settings.steps)
        for step in 0..<settings.steps {
            let loss = trainer.step(batcher.batch(settings.batchSize, stream: stream), sequences: settings.batchSize)
            losses.append(loss)
            guard loss.isFinite else {
                throw TrainingError.diverged(phase: phase, learningRate: settings.optimizer.learningRate, epoch: 1,
                                             step: step + 1, loss: loss, round: nil, client: nil)
            }
        }
        let result = Result(base: trainer.base, adapter: trainer.adapter, losses: losses)
        guard result.base.isFinite, result.adapter?.isFinite ?? true else {
            throw TrainingError.diverged(phase: phase, learningRate: settings.optimizer.learningRate, epoch: 1,
                                         step: settings.steps, loss: losses.last ?? .nan, round: nil, client: nil)
        }
        return result
    }

    /// One local training job: a start adapter, a client's text and its batch stream.
    public struct Job: Sendable {
        public var adapter: TransformerAdapter
        public var batcher: WindowBatcher
        public var stream: StreamKey
        public init(adapter: TransformerAdapter, batcher: WindowBatcher, stream: StreamKey) {
            self.adapter = adapter
            self.batcher = batcher
            self.stream = stream
        }
    }

    /// `train` for each job, the jobs spread over `threads` workers (each step single-threaded):
    /// the same results, in job order, as training them one after another, whatever `threads`
    /// (a step's shards and their summation order do not depend on the threads). Each job's
    /// outcome is its result or its error.
    public static func trainMany(base: TransformerWeights, jobs: [Job], settings: TransformerTrainingSettings,
                                 threads: Int = Parallelism.threads) -> [Swift.Result<Result, Error>] {
        parallelMap(jobs.count, threads: threads) { k in
            Swift.Result { try train(base: base, adapter: jobs[k].adapter, batcher: jobs[k].batcher, settings: settings, stream: RandomStream(jobs[k].stream), threads: 1) }
        }
    }
}
