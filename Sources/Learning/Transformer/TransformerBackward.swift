import Foundation
import Numerics

extension TransformerMath {
    /// Backward of `linear`: `dx (+)= dy·W (+ s·(dy·B)·A)`; with `dBase`, `dW += dyᵀ·x`; with
    /// `dAdapter` (and the module adapted), `dB += s·dyᵀ·u`, `dA += s·(dy·B)ᵀ·x`.
    /// `accumulate` adds into `dx` instead of overwriting it; `dx` nil skips the input gradient.
    static func linearBackward(_ layout: TransformerLayout, layer: Int, module m: Int, base: UnsafePointer<Float>,
                               adapter: UnsafePointer<Float>?, x: UnsafePointer<Float>, u: UnsafePointer<Float>?,
                               dy: UnsafePointer<Float>, rows: Int, dx: UnsafeMutablePointer<Float>?, accumulate: Bool,
                               dBase: UnsafeMutablePointer<Float>?, dAdapter: UnsafeMutablePointer<Float>?,
                               scratch: UnsafeMutablePointer<Float>) {
        let s = TransformerModule.allCases[m].shape(layout.config)
        let w = base + layout.modules[layer][m]
        if let dx {
            StridedGEMM.multiply(m: rows, n: s.in, k: s.out, a: dy, lda: s.out, b: w, ldb: s.in,
                                 beta: accumulate ? 1 : 0, c: dx, ldc: s.in)
        }
        if let dBase {
            StridedGEMM.multiply(transposeA: true, m: s.out, n: s.in, k: rows, a: dy, lda: s.out, b: x, ldb: s.in,
                                 beta: 1, c: dBase + layout.modules[layer][m], ldc: s.in)
        }
        guard let adapter, let u, let e = layout.adapterSlots[layer][m] else { return }
        let r = layout.rank, sc = layout.scaling
        let a = adapter + layout.adapterA[e], b = adapter + layout.adapterB[e]
        // t = dy·B (rows × r)
        StridedGEMM.multiply(m: rows, n: r, k: s.out, a: dy, lda: s.out, b: b, ldb: r, c: scratch, ldc: r)
        if let dAdapter {
            StridedGEMM.multiply(transposeA: true, m: s.out, n: r, k: rows, alpha: sc, a: dy, lda: s.out, b: u, ldb: r,
                                 beta: 1, c: dAdapter + layout.adapterB[e], ldc: r)
            StridedGEMM.multiply(transposeA: true, m: r, n: s.in, k: rows, alpha: sc, a: scratch, lda: r, b: x, ldb: s.in,
                                 beta: 1, c: dAdapter + layout.adapterA[e], ldc: s.in)
        }
        if let dx {
            StridedGEMM.multiply(m: rows, n: s.in, k: r, alpha: sc, a: scratch, lda: r, b: a, ldb: s.in, beta: 1, c: dx, ldc: s.in)
        }
    }

    /// Backward pass after `forward` on the same workspace: the loss is `lossScale · Σ −log p`
    /// (lossScale = 1 / tokens of the whole batch, so that shards' gradients sum to the mean's).
    /// Adds the base's gradient into `dBase` and the adapter's into `dAdapter` (either may be nil).
    static func backward(_ layout: TransformerLayout, base: UnsafePointer<Float>, adapter: UnsafePointer<Float>?,
                         ws: TransformerWorkspace, lossScale: Float,
                         dBase: UnsafeMutablePointer<Float>?, dAdapter: UnsafeMutablePointer<Float>?) {
        let c = layout.config
        let d = c.width, n = ws.sequences, t = ws.length, rows = ws.rows, hs = c.headSize, v = c.vocabulary
        // dlogits = (p − onehot) · scale, in place on the probabilities.
        let g = ws.probs
        for i in 0..<rows {
            let row = g + i * v
            row[Int(ws.targets[i])] -= 1
            for j in 0..<v { row[j] *= lossScale }
        }
        if let dBase {
            StridedGEMM.multiply(transposeA: true, m: v, n: d, k: rows, a: g, lda: v, b: ws.f, ldb: d, beta: 1,
                                 c: dBase + layout.head, ldc: d)
        }
        // df = dlogits · W_head, then the final norm into dres.
        StridedGEMM.multiply(m: rows, n: d, k: v, a: g, lda: v, b: base + layout.head, ldb: d, c: ws.da, ldc: d)
        ws.dres.update(repeating: 0, count: rows * d)
        let scratchGain = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { scratchGain.deallocate() }
        func gainSink(_ offset: Int) -> UnsafeMutablePointer<Float> {
            if let dBase { return dBase + offset }
            scratchGain.update(repeating: 0, count: d)
            return scratchGain
        }
        TransformerKernels.rmsNormBackward(ws.xL, gain: base + layout.finalNorm, inverseRMS: ws.rF, dy: ws.da, rows: rows,
                                           width: d, dx: ws.dres, dGain: gainSink(layout.finalNorm))
        let scale = 1 / Float(hs).squareRoot()
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            let L = ws.layers[l]
            // MLP: dz = dres.
            linearBackward(layout, layer: l, module: 6, base: base, adapter: adapter, x: L.act, u: L.u[6], dy: ws.dres, rows: rows,
                           dx: ws.dact, accumulate: false, dBase: dBase, dAdapter: dAdapter, scratch: ws.dt)
            TransformerKernels.swigluBackward(gate: L.gate, up: L.up, dAct: ws.dact, count: rows * c.hidden, dGate: ws.dgate, dUp: ws.dup)
            linearBackward(layout, layer: l, module: 4, base: base, adapter: adapter, x: L.a2, u: L.u[4], dy: ws.dgate, rows: rows,
                           dx: ws.da, accumulate: false, dBase: dBase, dAdapter: dAdapter, scratch: ws.dt)
            linearBackward(layout, layer: l, module: 5, base: base, adapter: adapter, x: L.a2, u: L.u[5], dy: ws.dup, rows: rows,
                           dx: ws.da, accumulate: true, dBase: dBase, dAdapter: dAdapter, scratch: ws.dt)
            TransformerKernels.rmsNormBackward(L.h, gain: base + layout.mlpNorm[l], inverseRMS: L.r2, dy: ws.da, rows: rows,
                                               width: d, dx: ws.dres, dGain: gainSink(layout.mlpNorm[l]))
            // Attention: dy = dres.
            linearBackward(layout, layer: l, module: 3, base: base, adapter: adapter, x: L.att, u: L.u[3], dy: ws.dres, rows: rows,
                           dx: ws.datt, accumulate: false, dBase: dBase, dAdapter: dAdapter, scratch: ws.dt)
            for b in 0..<n {
                for h in 0..<c.heads {
                    let p = L.p + (b * c.heads + h) * t * t
                    let block = b * t * d + h * hs
                    StridedGEMM.multiply(transposeB: true, m: t, n: t, k: hs, a: ws.datt + block, lda: d, b: L.v + block, ldb: d,
                                         c: ws.dp, ldc: t)
                    StridedGEMM.multiply(transposeA: true, m: t, n: hs, k: t, a: p, lda: t, b: ws.datt + block, ldb: d,
                                         c: ws.dv + block, ldc: d)
                    TransformerKernels.softmaxBackward(p, ws.dp, size: t)
                    StridedGEMM.multiply(m: t, n: hs, k: t, alpha: scale, a: ws.dp, lda: t, b: L.k + block, ldb: d,
                                         c: ws.dq + block, ldc: d)
                    StridedGEMM.multiply(transposeA: true, m: t, n: hs, k: t, alpha: scale, a: ws.dp, lda: t, b: L.q + block, ldb: d,
                                         c: ws.dk + block, ldc: d)
                }
            }
            ws.cos.withUnsafeBufferPointer { cp in
                ws.sin.withUnsafeBufferPointer { sp in
                    TransformerKernels.rope(ws.dq, rows: rows, width: d, headSize: hs, context: t, cos: cp.baseAddress!, sin: sp.baseAddress!, inverse: true)
                    TransformerKernels.rope(ws.dk, rows: rows, width: d, headSize: hs, context: t, cos: cp.baseAddress!, sin: sp.baseAddress!, inverse: true)
                }
            }
            linearBackward(layout, layer: l, module: 0, base: base, adapter: adapter, x: L.a1, u: L.u[0], dy: ws.dq, rows: rows,
                           dx: ws.da, accumulate: false, dBase: dBase, dAdapter: dAdapter, scratch: ws.dt)
            linearBackward(layout, layer: l, module: 1, base: base, adapter: adapter, x: L.a1, u: L.u[1], dy: ws.dk, rows: rows,
                           dx: ws.da, accumulate: true, dBase: dBase, dAdapter: dAdapter, scratch: ws.dt)
            linearBackward(layout, layer: l, module: 2, base: base, adapter: adapter, x: L.a1, u: L.u[2], dy: ws.dv, rows: rows,
                           dx: ws.da, accumulate: true, dBase: dBase, dAdapter: dAdapter, scratch: ws.dt)
            // Layer 0's input gradient only feeds the embedding: skipped when the base is frozen.
            if l > 0 || dBase != nil {
                TransformerKernels.rmsNormBackward(L.x, gain: base + layout.attentionNorm[l], inverseRMS: L.r1, dy: ws.da, rows: rows,
                                                   width: d, dx: ws.dres, dGain: gainSink(layout.attentionNorm[l]))
            }
        }
        guard let dBase else { return }
        // Embedding: scatter-add the input rows' gradients, in row order.
        for b in 0..<n {
            for i in 0..<t {
                let token = Int(ws.tokensInput[b * t + i])
                let dst = dBase + layout.embedding + token * d, src = ws.dres + (b * t + i) * d
                for j in 0..<d { dst[j] += src[j] }
            }
        }
    }
}
