import Foundation
import Learning
import Numerics

/// One LoRA training step of the transformer (4 layers, width 128, 4 heads, context 64, SwiGLU 344,
/// byte vocabulary; batch 16; LoRA r 8 on q, v; AdamW with clipping) against the same step in
/// PyTorch (eager, `torch.set_num_threads(2)`), and evaluation tokens/s.
enum TransformerBenchmark: Benchmark {
    static let name = "transformer"
    static let summary = "transformer LoRA step: 4×128, 4 heads, ctx 64, batch 16, r 8 on q,v, AdamW, vs PyTorch (2 threads)"

    static func run(_ context: BenchContext) -> [BenchRow] {
        let config = TransformerConfig(layers: 4, width: 128, heads: 4, context: 64, vocabulary: 256, hidden: 344)
        let batch = 16, rank = 8, threads = 2
        let steps = context.quick ? 5 : 20
        let base = TransformerWeights(config: config, seed: 1)
        let adapter = TransformerAdapter(config: config, lora: TransformerLoRAConfig(targets: [.q, .v], rank: rank, alpha: 16), seed: 1)
        let tokens = (0..<20_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        guard let batcher = try? WindowBatcher(tokens: tokens, context: config.context) else { return [] }
        let stream = RandomStream(seed: 1, purpose: "bench")
        func stepsPerSecond(threads: Int, trainingBase: Bool = false) -> Double {
            let trainer = TransformerTrainer(base: base, adapter: trainingBase ? nil : adapter,
                                             settings: TransformerTrainingSettings(batchSize: batch), threads: threads)
            let windows = batcher.batch(batch, stream: stream)
            for _ in 0..<2 { trainer.step(windows, sequences: batch) }
            var best = 0.0
            for _ in 0..<3 {
                let seconds = measureSeconds { for _ in 0..<steps { trainer.step(windows, sequences: batch) } }
                best = max(best, Double(steps) / seconds)
            }
            return best
        }
        let two = stepsPerSecond(threads: threads), one = stepsPerSecond(threads: 1)
        let pretraining = stepsPerSecond(threads: threads, trainingBase: true)
        func peerStepsPerSecond(threads: Int) -> Double? {
            var best: Double?
            for _ in 0..<2 {
                if let r = context.runPeer("transformer_lora_torch.py", ["4", "128", "4", "64", "344", String(batch), String(rank), "q,v",
                                                                          String(steps), String(threads)]),
                   let sps = r["steps_per_second"] as? Double {
                    best = max(best ?? 0, sps)
                }
            }
            return best
        }
        // PyTorch's OpenMP threads spin while they wait: on a loaded machine its 2-thread step can be far
        // slower than its 1-thread step, so both are shown.
        let peer = peerStepsPerSecond(threads: threads), peerOne = peerStepsPerSecond(threads: 1)
        let held = batcher.sequentialWindows(limit: 64)
        var evalRate = 0.0
        for _ in 0..<3 {
            let seconds = measureSeconds { _ = TransformerEvaluation.evaluate(base: base, adapter: adapter, windows: held.windows, count: held.count, threads: threads) }
            evalRate = max(evalRate, Double(held.count * config.context) / seconds)
        }
        FileHandle.standardError.write(Data(String(format: "bench: transformer: %.1f ms/step on %d threads, %.1f ms on 1 (PyTorch %@ on 2, %@ on 1), pretraining %.1f ms/step, evaluation %.0f tokens/s, BLAS %@\n",
                                                   1000 / two, threads, 1000 / one, peer.map { String(format: "%.1f ms", 1000 / $0) } ?? "n/a",
                                                   peerOne.map { String(format: "%.1f ms", 1000 / $0) } ?? "n/a",
                                                   1000 / pretraining, evalRate, BLASKernel.coreName).utf8))
        return [BenchRow(benchmark: "Transformer LoRA step (4×128, ctx 64, batch 16, r 8 q,v), 2 threads", metric: "steps/s", ours: two, peer: peer,
                         peerName: "PyTorch (2 threads)", goal: 1.5),
                BenchRow(benchmark: "Transformer LoRA step, 1 thread", metric: "steps/s", ours: one, peer: peerOne, peerName: "PyTorch (1 thread)", goal: nil),
                BenchRow(benchmark: "Transformer pretraining step (every weight, same shapes), 2 threads", metric: "steps/s", ours: pretraining,
                         peer: nil, peerName: "", goal: nil),
                BenchRow(benchmark: "Transformer evaluation, 2 threads", metric: "tokens/s", ours: evalRate, peer: nil, peerName: "", goal: nil)]
    }
}
