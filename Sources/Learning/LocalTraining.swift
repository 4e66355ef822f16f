import Foundation
import LoRA
import Numerics

/// Local training of the LoRA factors on a client's data (the base stays frozen).
public enum LocalTraining {
    /// Trains `start` (applied with scaling alpha / r) on `data` and returns the trained adapter and the
    /// mean training loss. Minibatches are drawn by shuffling with `stream` each epoch. A training that
    /// diverges stops at the first non-finite loss and returns a NaN loss (`checkedTrain` throws instead).
    public static func train(base: BaseMLP, start: LoRAAdapter, alpha: Float, data: Dataset, settings: TrainingSettings,
                             stream: RandomStream) -> (adapter: LoRAAdapter, loss: Double, steps: Int) {
        let r = run(base: base, start: start, alpha: alpha, data: data, settings: settings, stream: stream)
        return (r.adapter, r.divergence == nil ? r.loss : .nan, r.steps)
    }

    /// `train`, throwing `TrainingError.diverged(phase: .localTraining, …)` when the loss (checked
    /// once per minibatch) or the trained adapter (checked once at the end) is not finite.
    public static func checkedTrain(base: BaseMLP, start: LoRAAdapter, alpha: Float, data: Dataset, settings: TrainingSettings,
                                    stream: RandomStream, round: Int? = nil, client: Int? = nil) throws -> (adapter: LoRAAdapter, loss: Double, steps: Int) {
        let r = run(base: base, start: start, alpha: alpha, data: data, settings: settings, stream: stream)
        if let d = r.divergence {
            throw TrainingError.diverged(phase: .localTraining, learningRate: settings.optimizer.learningRate,
                                         epoch: d.epoch, step: d.step, loss: d.loss, round: round, client: client)
        }
        return (r.adapter, r.loss, r.steps)
    }

    /// The training loop; stops at the first non-finite minibatch loss, and checks the final adapter.
    static func run(base: BaseMLP, start: LoRAAdapter, alpha: Float, data: Dataset, settings: TrainingSettings,
                    stream: RandomStream) -> (adapter: LoRAAdapter, loss: Double, steps: Int, divergence: (epoch: Int, step: Int, loss: Double)?) {
        var lora = start
        var state = OptimizerState(settings.optimizer, shapes: OptimizerState.slots(lora))
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
                let (loss, g) = MLPMath.lossAndGradients(base, lora, alpha: alpha, sub.features, sub.labels[...])
                steps += 1
                lastLoss = loss
                guard loss.isFinite else { return (lora, totalLoss / Double(steps), steps, (epoch, steps, loss)) }
                state.apply(&lora, g)
                if settings.freezesA { for l in lora.layers.indices { lora.layers[l].a = start.layers[l].a } }
                totalLoss += loss
                i += batchSize
            }
        }
        // A last update can overflow the weights without a later loss to show it.
        if !lora.isFinite {
            return (lora, totalLoss / Double(max(steps, 1)), steps, (max(settings.epochs, 1), steps, lastLoss))
        }
        return (lora, totalLoss / Double(max(steps, 1)), steps, nil)
    }
}

extension LocalTraining {
    /// One client's local training job.
    public struct Job: Sendable {
        public var start: LoRAAdapter
        public var data: Dataset
        /// The minibatch stream (a taus2 generator is made from it in the worker).
        public var stream: StreamKey
        /// The client it trains, for a divergence error (nil: not known).
        public var client: Int?
        public init(start: LoRAAdapter, data: Dataset, stream: StreamKey, client: Int? = nil) {
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
    /// can round differently from its single-threaded ones). Every job's adapter is applied with
    /// scaling alpha / r.
    public static func trainMany(base: BaseMLP, jobs: [Job], alpha: Float, settings: TrainingSettings,
                                 threads: Int = Parallelism.threads) -> [(adapter: LoRAAdapter, loss: Double, steps: Int)] {
        parallelMap(jobs.count, threads: threads) { k in
            train(base: base, start: jobs[k].start, alpha: alpha, data: jobs[k].data, settings: settings, stream: RandomStream(jobs[k].stream, algorithm: .taus2))
        }
    }

    /// `trainMany`, throwing `TrainingError.diverged(phase: .localTraining, …)` for the first job (in
    /// job order, so the error does not depend on the threads) whose training diverged, with
    /// `round` and the job's client. Results of trainings that do not diverge are `trainMany`'s.
    public static func checkedTrainMany(base: BaseMLP, jobs: [Job], alpha: Float, settings: TrainingSettings, round: Int? = nil,
                                        threads: Int = Parallelism.threads) throws -> [(adapter: LoRAAdapter, loss: Double, steps: Int)] {
        let results = parallelMap(jobs.count, threads: threads) { k in
            run(base: base, start: jobs[k].start, alpha: alpha, data: jobs[k].data, settings: settings, stream: RandomStream(jobs[k].stream, algorithm: .taus2))
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
