import Foundation
import Numerics

/// Held-out quality of a transformer language model.
public struct TransformerEvaluation: Sendable, Equatable {
    /// Mean next-token cross-entropy (nats per token).
    public var loss: Double
    /// `exp(loss)`.
    public var perplexity: Double { exp(loss) }
    /// Fraction of positions whose arg-max prediction is the next token.
    public var accuracy: Double
    /// Positions evaluated.
    public var tokens: Int

    public init(loss: Double, accuracy: Double, tokens: Int) {
        self.loss = loss
        self.accuracy = accuracy
        self.tokens = tokens
    }

    /// Evaluates `base` (with `adapter`, if any) on `count` windows of `context + 1` tokens each,
    /// in chunks of `chunk` windows spread over `threads` workers with single-threaded BLAS and
    /// summed in chunk order (the same result for any thread count).
    /// - Precondition: every token is below the vocabulary; the windows fit the context.
    public static func evaluate(base: TransformerWeights, adapter: TransformerAdapter?, windows: [Int32], count: Int,
                                chunk: Int = 8, threads: Int = Parallelism.threads) -> TransformerEvaluation {
        guard count > 0, windows.count % count == 0, windows.count / count >= 2 else {
            return TransformerEvaluation(loss: .nan, accuracy: .nan, tokens: 0)
        }
        let w = windows.count / count, t = w - 1
        precondition(t <= base.config.context, "windows longer than the context")
        precondition(windows.allSatisfy { $0 >= 0 && Int($0) < base.config.vocabulary }, "token outside the vocabulary")
        let layout = TransformerLayout(config: base.config, adapter: adapter)
        let basePack = layout.pack(base), adapterPack = adapter.map { layout.pack($0) }
        let size = max(1, chunk), chunks = (count + size - 1) / size
        let pointers = SendablePointers(base: UnsafePointer(basePack.pointer), adapter: adapterPack.map { UnsafePointer($0.pointer) })
        // Each worker reuses one workspace across its chunks (a new one only for the shorter last
        // chunk): the forward pass overwrites it, so each chunk's result is the same.
        let results = parallelMap(chunks, threads: max(1, threads), scratch: { TransformerWorkspace?.none }) { ws, k -> (Double, Int) in
            let n = min(size, count - k * size)
            let workspace = ws.flatMap { $0.sequences == n ? $0 : nil } ?? TransformerWorkspace(layout: layout, sequences: n, length: t)
            ws = workspace
            return windows.withUnsafeBufferPointer { p in
                TransformerMath.forward(layout, base: pointers.base, adapter: pointers.adapter, tokens: p.baseAddress! + k * size * w, ws: workspace)
            }
        }
        withExtendedLifetime((basePack, adapterPack)) {}
        let tokens = count * t
        return TransformerEvaluation(loss: results.reduce(0.0) { $0 + $1.0 } / Double(tokens),
                                     accuracy: Double(results.reduce(0) { $0 + $1.1 }) / Double(tokens), tokens: tokens)
    }
}
