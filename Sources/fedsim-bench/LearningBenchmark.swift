import Foundation
import Learning
import LoRA
import Numerics

/// The proxy's local training step (MLP 784-256-128-10 with a frozen base, LoRA r = 8 on every
/// layer, batch 32, Adam) against the same step in numpy, same shapes and batch.
enum LearningBenchmark: Benchmark {
    static let name = "learning"
    static let summary = "local training step: MLP 784-256-128-10 + LoRA r=8, batch 32, Adam, vs numpy"

    static func run(_ context: BenchContext) -> [BenchRow] {
        let widths = [784, 256, 128, 10], rank = 8, batch = 32
        let steps = context.quick ? 300 : 2000
        let (data, _) = SyntheticDataset.make(classes: 10, dimension: 784, train: 4096, test: 10, seed: 1)
        let base = BaseMLP(widths: widths, seed: 1)
        let start: LoRAAdapter = base.initialAdapter(rank: rank, seed: 1), alpha: Float = 16
        let epochs = max(1, steps * batch / data.count)
        let settings = TrainingSettings(epochs: epochs, batchSize: batch, optimizer: .adam(learningRate: 1e-3))
        var best = 0.0
        for _ in 0..<3 {
            var done = 0
            let seconds = measureSeconds {
                done = LocalTraining.train(base: base, start: start, alpha: alpha, data: data, settings: settings, stream: RandomStream(seed: 1, purpose: "bench")).steps
            }
            best = max(best, Double(done * batch) / seconds)
        }
        var peer: Double?
        for _ in 0..<3 {
            if let r = context.runPeer("mlp_lora_numpy.py", [widths.map(String.init).joined(separator: ","), String(rank), "16", String(batch), String(steps)]),
               let sps = r["samples_per_second"] as? Double {
                peer = max(peer ?? 0, sps)
            }
        }
        // How a round trains: the selected clients at once, one per core (single-threaded BLAS each).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let jobs = (0..<cores).map { LocalTraining.Job(start: start, data: data, stream: StreamKey(seed: 1, purpose: "bench", index: UInt64($0))) }
        var bestMany = 0.0
        for _ in 0..<3 {
            var done = 0
            let seconds = measureSeconds { done = LocalTraining.trainMany(base: base, jobs: jobs, alpha: alpha, settings: settings).reduce(0) { $0 + $1.steps } }
            bestMany = max(bestMany, Double(done * batch) / seconds)
        }
        FileHandle.standardError.write(Data(String(format: "bench: learning: %.0f samples/s one client, %.0f with %d clients at once (numpy %@)\n",
                                                   best, bestMany, cores, peer.map { String(format: "%.0f", $0) } ?? "n/a").utf8))
        return [BenchRow(benchmark: "MLP+LoRA local step, one client", metric: "samples/s", ours: best, peer: peer, peerName: "numpy", goal: 1.5),
                BenchRow(benchmark: "MLP+LoRA, \(cores) clients at once (as a round trains)", metric: "samples/s", ours: bestMany, peer: peer,
                         peerName: "numpy (one client)", goal: nil)]
    }
}
