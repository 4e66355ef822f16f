import Foundation

/// The elementwise pieces of the transformer on raw row-major buffers: RMSNorm, rotary positions,
/// the causal softmax, SwiGLU and their derivatives. Plain loops over contiguous rows (no closures
/// per element); the products are BLAS calls elsewhere.
enum TransformerKernels {
    // MARK: RMSNorm

    /// `y[i, :] = x[i, :] · r_i · g`, `r_i = 1 / √(mean_j x[i, j]² + ε)`; stores `r_i` in `inverseRMS`.
    static func rmsNorm(_ x: UnsafePointer<Float>, gain g: UnsafePointer<Float>, rows: Int, width d: Int, epsilon: Float,
                        into y: UnsafeMutablePointer<Float>, inverseRMS: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let xr = x + i * d, yr = y + i * d
            var s: Float = 0
            for j in 0..<d { s += xr[j] * xr[j] }
            let r = 1 / (s / Float(d) + epsilon).squareRoot()
            inverseRMS[i] = r
            for j in 0..<d { yr[j] = xr[j] * r * g[j] }
        }
    }

    /// Backward of `rmsNorm`: `dx += r·g∘dy − x·r³/d·Σ_j g_j dy_j x_j` per row; `dg += Σ_i dy∘x·r`.
    static func rmsNormBackward(_ x: UnsafePointer<Float>, gain g: UnsafePointer<Float>, inverseRMS: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, rows: Int, width d: Int,
                                dx: UnsafeMutablePointer<Float>, dGain: UnsafeMutablePointer<Float>) {
        for i in 0..<rows {
            let xr = x + i * d, dyr = dy + i * d, dxr = dx + i * d
            let r = inverseRMS[i]
            var dot: Float = 0
            for j in 0..<d { dot += g[j] * dyr[j] * xr[j] }
            let c = dot * r * r * r / Float(d)
            for j in 0..<d {
                dxr[j] += r * g[j] * dyr[j] - c * xr[j]
                dGain[j] += dyr[j] * xr[j] * r
            }
        }
    }

    // MARK: Rotary positions (Hugging Face's rotate_half convention)

    /// cos and sin of position `t` × frequency `i`, `context × (headSize/2)` each, with
    /// frequency `θ^(−2i/headSize)` (Hugging Face's `LlamaRotaryEmbedding`), computed in Double.
    static func ropeTables(context: Int, headSize: Int, theta: Double) -> (cos: [Float], sin: [Float]) {
        let half = headSize / 2
        var c = [Float](repeating: 0, count: context * half), s = c
        for t in 0..<context {
            for i in 0..<half {
                let angle = Double(t) * pow(theta, -Double(2 * i) / Double(headSize))
                c[t * half + i] = Float(Foundation.cos(angle))
                s[t * half + i] = Float(Foundation.sin(angle))
            }
        }
        return (c, s)
    }

    /// Rotates every head of every row in place: for the pair (i, i + half) of a head,
    /// `(x_i, x_{i+half}) ← (x_i cos − x_{i+half} sin, x_{i+half} cos + x_i sin)` at the row's
    /// position `row % context` (Hugging Face's `q·cos + rotate_half(q)·sin`). `inverse` rotates
    /// by −angle: the transpose, which is the backward pass.
    static func rope(_ x: UnsafeMutablePointer<Float>, rows: Int, width d: Int, headSize: Int, context: Int,
                     cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, inverse: Bool) {
        let half = headSize / 2
        let sign: Float = inverse ? -1 : 1
        for row in 0..<rows {
            let t = row % context
            let c = cos + t * half, s = sin + t * half
            var h = 0
            while h < d {
                let p = x + row * d + h
                for i in 0..<half {
                    let a = p[i], b = p[i + half], sn = sign * s[i]
                    p[i] = a * c[i] - b * sn
                    p[i + half] = b * c[i] + a * sn
                }
                h += headSize
            }
        }
    }

    // MARK: Causal softmax

    /// Softmax of each row `t` of a `T × T` score block over columns 0 … t (later columns set to 0).
    static func causalSoftmax(_ s: UnsafeMutablePointer<Float>, size n: Int) {
        for t in 0..<n {
            let row = s + t * n
            var m = -Float.infinity
            for j in 0...t where row[j] > m { m = row[j] }
            var sum: Float = 0
            for j in 0...t { let e = expf(row[j] - m); row[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0...t { row[j] *= inv }
            for j in (t + 1)..<n { row[j] = 0 } // empty when t = n − 1
        }
    }

    /// Backward of the softmax, in place on `dP` (→ dS): `dS = P ∘ (dP − Σ_j dP∘P)` row by row
    /// (masked entries have P = 0, so their dS is 0).
    static func softmaxBackward(_ p: UnsafePointer<Float>, _ dp: UnsafeMutablePointer<Float>, size n: Int) {
        for t in 0..<n {
            let pr = p + t * n, dr = dp + t * n
            var dot: Float = 0
            for j in 0...t { dot += pr[j] * dr[j] }
            for j in 0...t { dr[j] = pr[j] * (dr[j] - dot) }
            for j in (t + 1)..<n { dr[j] = 0 }
        }
    }

    // MARK: SwiGLU

    /// `act = silu(gate) ∘ up`, `silu(x) = x·σ(x)`, over `count` entries.
    static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, into act: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let g = gate[i]
            act[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// Backward of `swiglu`: `dUp = dAct ∘ silu(gate)`, `dGate = dAct ∘ up ∘ σ(g)(1 + g(1 − σ(g)))`.
    static func swigluBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dAct: UnsafePointer<Float>, count: Int,
                               dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let g = gate[i]
            let sg = 1 / (1 + expf(-g))
            dUp[i] = dAct[i] * g * sg
            dGate[i] = dAct[i] * up[i] * sg * (1 + g * (1 - sg))
        }
    }

    // MARK: Cross-entropy

    /// Turns each row of `logits` into softmax probabilities in place; returns Σ_i −log p_i[target_i]
    /// (in Double) and the count of rows whose arg-max is the target (first maximum wins).
    static func softmaxCrossEntropy(_ logits: UnsafeMutablePointer<Float>, rows: Int, vocabulary v: Int,
                                    targets: UnsafePointer<Int32>) -> (loss: Double, correct: Int) {
        var loss = 0.0, correct = 0
        for i in 0..<rows {
            let row = logits + i * v
            var m = row[0], arg = 0
            for j in 1..<max(v, 1) where row[j] > m { m = row[j]; arg = j }
            let y = Int(targets[i])
            if arg == y { correct += 1 }
            let zy = Double(row[y])
            var sum = 0.0
            for j in 0..<v { let e = expf(row[j] - m); row[j] = e; sum += Double(e) }
            loss += log(sum) + Double(m) - zy // −log p_y = log Σ e^z − z_y
            let inv = Float(1 / sum)
            for j in 0..<v { row[j] *= inv }
        }
        return (loss, correct)
    }
}
