import Foundation
import Numerics

/// Activations of one shard (n whole sequences of length T, N = n·T rows) kept for the backward
/// pass, and its scratch buffers: one allocation, carved into row-major blocks.
final class TransformerWorkspace: @unchecked Sendable {
    struct Layer {
        var x, r1, a1, q, k, v, p, att, h, r2, a2, gate, up, act: UnsafeMutablePointer<Float>
        /// LoRA's `u = x·Aᵀ` (N × r) per module index, nil when the module is not adapted.
        var u: [UnsafeMutablePointer<Float>?]
    }
    let sequences: Int, length: Int, rows: Int
    let arena: FloatPack
    let layers: [Layer]
    let xL, rF, f, probs: UnsafeMutablePointer<Float>
    // Backward scratch.
    let dres, da, dq, dk, dv, datt, dp, dgate, dup, dact, dt: UnsafeMutablePointer<Float>
    let cos: [Float], sin: [Float]
    /// The n·T next-token targets of the last forward pass.
    let targets: UnsafeMutablePointer<Int32>
    /// The n·T input tokens of the last forward pass.
    let tokensInput: UnsafeMutablePointer<Int32>

    deinit { targets.deallocate(); tokensInput.deallocate() }

    init(layout: TransformerLayout, sequences n: Int, length t: Int) {
        let c = layout.config
        let d = c.width, f = c.hidden, rows = n * t, r = max(layout.rank, 1)
        sequences = n; length = t; self.rows = rows
        let adapted = layout.adapterSlots.map { $0.map { $0 != nil } }
        var total = 0
        let perLayerFixed = 9 * rows * d + 2 * rows + n * c.heads * t * t + 3 * rows * f
        for l in 0..<c.layers { total += perLayerFixed + adapted[l].filter { $0 }.count * rows * r }
        total += 2 * rows * d + rows + rows * c.vocabulary
        total += 7 * rows * d + t * t + 3 * rows * f + rows * r
        arena = FloatPack(count: total)
        var next = arena.pointer
        func take(_ count: Int) -> UnsafeMutablePointer<Float> { defer { next += count }; return next }
        layers = (0..<c.layers).map { l in
            Layer(x: take(rows * d), r1: take(rows), a1: take(rows * d), q: take(rows * d), k: take(rows * d), v: take(rows * d),
                  p: take(n * c.heads * t * t), att: take(rows * d), h: take(rows * d), r2: take(rows), a2: take(rows * d),
                  gate: take(rows * f), up: take(rows * f), act: take(rows * f),
                  u: adapted[l].map { $0 ? take(rows * r) : nil })
        }
        xL = take(rows * d); rF = take(rows); self.f = take(rows * d); probs = take(rows * c.vocabulary)
        dres = take(rows * d); da = take(rows * d); dq = take(rows * d); dk = take(rows * d); dv = take(rows * d)
        datt = take(rows * d); dt = take(rows * r); dp = take(t * t)
        dgate = take(rows * f); dup = take(rows * f); dact = take(rows * f)
        targets = .allocate(capacity: max(rows, 1))
        targets.initialize(repeating: 0, count: max(rows, 1))
        tokensInput = .allocate(capacity: max(rows, 1))
        tokensInput.initialize(repeating: 0, count: max(rows, 1))
        (cos, sin) = TransformerKernels.ropeTables(context: t, headSize: c.headSize, theta: c.ropeTheta)
    }
}

/// Forward and backward passes of the transformer on packed weights (`TransformerLayout`), every
/// product a BLAS sgemm: the projections on all N rows of a shard at once, attention per
/// (sequence, head) on strided column blocks of the N × width activations.
enum TransformerMath {
    /// `y = x·Wᵀ (+ s·(x·Aᵀ)·Bᵀ)` for the projection `m` of `layer`; stores `u = x·Aᵀ` when adapted.
    static func linear(_ layout: TransformerLayout, layer: Int, module m: Int, base: UnsafePointer<Float>,
                       adapter: UnsafePointer<Float>?, x: UnsafePointer<Float>, rows: Int,
                       y: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>?) {
        let s = TransformerModule.allCases[m].shape(layout.config)
        StridedGEMM.multiply(transposeB: true, m: rows, n: s.out, k: s.in, a: x, lda: s.in,
                             b: base + layout.modules[layer][m], ldb: s.in, c: y, ldc: s.out)
        guard let adapter, let u, let e = layout.adapterSlots[layer][m] else { return }
        let r = layout.rank
        StridedGEMM.multiply(transposeB: true, m: rows, n: r, k: s.in, a: x, lda: s.in,
                             b: adapter + layout.adapterA[e], ldb: s.in, c: u, ldc: r)
        StridedGEMM.multiply(transposeB: true, m: rows, n: s.out, k: r, alpha: layout.scaling, a: u, lda: r,
                             b: adapter + layout.adapterB[e], ldb: r, beta: 1, c: y, ldc: s.out)
    }

    /// Runs the model on `tokens` (n windows of T + 1 tokens; positions 0 ..< T are the input),
    /// leaves the next-token probabilities in `ws.probs` and returns Σ −log p(target) and the count
    /// of correct arg-max predictions over the n·T positions.
    static func forward(_ layout: TransformerLayout, base: UnsafePointer<Float>, adapter: UnsafePointer<Float>?,
                        tokens: UnsafePointer<Int32>, ws: TransformerWorkspace) -> (loss: Double, correct: Int) {
        let c = layout.config
        let d = c.width, n = ws.sequences, t = ws.length, rows = ws.rows, hs = c.headSize
        let targets = ws.targets
        // Embedding lookup; targets are the windows shifted by one.
        let x0 = ws.layers.first?.x ?? ws.xL
        for b in 0..<n {
            for i in 0..<t {
                let token = Int(tokens[b * (t + 1) + i])
                (x0 + (b * t + i) * d).update(from: base + layout.embedding + token * d, count: d)
                targets[b * t + i] = tokens[b * (t + 1) + i + 1]
                ws.tokensInput[b * t + i] = tokens[b * (t + 1) + i]
            }
        }
        let scale = 1 / Float(hs).squareRoot()
        for l in 0..<c.layers {
            let L = ws.layers[l]
            TransformerKernels.rmsNorm(L.x, gain: base + layout.attentionNorm[l], rows: rows, width: d, epsilon: c.normEpsilon,
                                       into: L.a1, inverseRMS: L.r1)
            linear(layout, layer: l, module: 0, base: base, adapter: adapter, x: L.a1, rows: rows, y: L.q, u: L.u[0])
            linear(layout, layer: l, module: 1, base: base, adapter: adapter, x: L.a1, rows: rows, y: L.k, u: L.u[1])
            linear(layout, layer: l, module: 2, base: base, adapter: adapter, x: L.a1, rows: rows, y: L.v, u: L.u[2])
            ws.cos.withUnsafeBufferPointer { cp in
                ws.sin.withUnsafeBufferPointer { sp in
                    TransformerKernels.rope(L.q, rows: rows, width: d, headSize: hs, context: t, cos: cp.baseAddress!, sin: sp.baseAddress!, inverse: false)
                    TransformerKernels.rope(L.k, rows: rows, width: d, headSize: hs, context: t, cos: cp.baseAddress!, sin: sp.baseAddress!, inverse: false)
                }
            }
            for b in 0..<n {
                for h in 0..<c.heads {
                    let p = L.p + (b * c.heads + h) * t * t
                    let block = b * t * d + h * hs
                    StridedGEMM.multiply(transposeB: true, m: t, n: t, k: hs, alpha: scale, a: L.q + block, lda: d,
                                         b: L.k + block, ldb: d, c: p, ldc: t)
                    TransformerKernels.causalSoftmax(p, size: t)
                    StridedGEMM.multiply(m: t, n: hs, k: t, a: p, lda: t, b: L.v + block, ldb: d, c: L.att + block, ldc: d)
                }
            }
            linear(layout, layer: l, module: 3, base: base, adapter: adapter, x: L.att, rows: rows, y: L.h, u: L.u[3])
            for i in 0..<(rows * d) { L.h[i] += L.x[i] }
            TransformerKernels.rmsNorm(L.h, gain: base + layout.mlpNorm[l], rows: rows, width: d, epsilon: c.normEpsilon,
                                       into: L.a2, inverseRMS: L.r2)
            linear(layout, layer: l, module: 4, base: base, adapter: adapter, x: L.a2, rows: rows, y: L.gate, u: L.u[4])
            linear(layout, layer: l, module: 5, base: base, adapter: adapter, x: L.a2, rows: rows, y: L.up, u: L.u[5])
            TransformerKernels.swiglu(gate: L.gate, up: L.up, count: rows * c.hidden, into: L.act)
            let next = l + 1 < c.layers ? ws.layers[l + 1].x : ws.xL
            linear(layout, layer: l, module: 6, base: base, adapter: adapter, x: L.act, rows: rows, y: next, u: L.u[6])
            for i in 0..<(rows * d) { next[i] += L.h[i] }
        }
        TransformerKernels.rmsNorm(ws.xL, gain: base + layout.finalNorm, rows: rows, width: d, epsilon: c.normEpsilon,
                                   into: ws.f, inverseRMS: ws.rF)
        StridedGEMM.multiply(transposeB: true, m: rows, n: c.vocabulary, k: d, a: ws.f, lda: d,
                             b: base + layout.head, ldb: d, c: ws.probs, ldc: c.vocabulary)
        return TransformerKernels.softmaxCrossEntropy(ws.probs, rows: rows, vocabulary: c.vocabulary, targets: targets)
    }
}
