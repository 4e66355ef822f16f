import Foundation
import LoRA
import Numerics

/// A multilayer perceptron with ReLU hidden layers: the frozen base of the proxy model.
/// `weights[l]` is out × in (like a PyTorch `Linear`), `biases[l]` has `out` entries.
public struct BaseMLP: Sendable, Equatable {
    public var weights: [Matrix]
    public var biases: [[Float]]

    /// Layer widths, input first, e.g. [784, 256, 128, 10].
    public var widths: [Int] { [weights[0].cols] + weights.map(\.rows) }
    public var layerCount: Int { weights.count }

    /// He-initialised weights (normal, sd √(2/in)) and zero biases, from stream `model.init`.
    public init(widths: [Int], seed: UInt64) {
        precondition(widths.count >= 2)
        let s = RandomStream(seed: seed, purpose: "model.init")
        weights = (1..<widths.count).map { l in
            let sd = (2 / Double(widths[l - 1])).squareRoot()
            return Matrix(rows: widths[l], cols: widths[l - 1]) { _, _ in Float(s.standardNormal() * sd) }
        }
        biases = widths.dropFirst().map { [Float](repeating: 0, count: $0) }
    }

    public init(weights: [Matrix], biases: [[Float]]) {
        self.weights = weights
        self.biases = biases
    }

    public var parameterCount: Int { weights.reduce(0) { $0 + $1.count } + biases.reduce(0) { $0 + $1.count } }

    /// Whether every weight and bias is finite.
    public var isFinite: Bool { weights.allSatisfy { allFinite($0.storage) } && biases.allSatisfy(allFinite) }

    /// The shapes of rank-`rank` LoRA adapters on every linear layer, named `mlp.<layer>` (PEFT's
    /// safetensors keys are then `mlp.<layer>.lora_A.weight` and `mlp.<layer>.lora_B.weight`).
    public func loraShapes(rank: Int) -> [LoRALayerShape] {
        weights.enumerated().map { l, w in LoRALayerShape(name: "mlp.\(l)", inFeatures: w.cols, outFeatures: w.rows, rank: rank) }
    }

    /// The adapter the federation starts from: `LoRAAdapter.gaussian` on `loraShapes(rank:)` from
    /// stream `lora.init` (A normal with sd 1/√in, B zero), so the adapted model equals the base.
    public func initialAdapter(rank: Int, seed: UInt64) -> LoRAAdapter {
        LoRAAdapter.gaussian(loraShapes(rank: rank), stream: RandomStream(seed: seed, purpose: "lora.init"))
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

/// Gradients of the loss with respect to the trainable parameters.
public struct Gradients: Sendable {
    /// dLoss/dA_l and dLoss/dB_l, one per adapter layer, in layer order.
    public var a: [Matrix]
    public var b: [Matrix]
    /// Base gradients, only when the base is trained (pretraining).
    public var weights: [Matrix]?
    public var biases: [[Float]]?
}

/// Forward and backward passes of base + LoRA on a minibatch, through BLAS gemm.
///
/// The adapter has one layer per linear layer of the base, in order (`BaseMLP.loraShapes(rank:)`);
/// layer l adds s·B_l·A_l to W_l with s = alpha / r (`LoRALayerShape.scaling(alpha:)`, Hu et al. 2021).
public enum MLPMath {
    /// Logits of `x` (batch × in) under the base alone.
    public static func logits(_ base: BaseMLP, _ x: Matrix) -> Matrix { logits(base, nil, alpha: 0, x) }

    /// Logits of `x` (batch × in) under base + `lora` scaled by alpha / r (nil: the base alone).
    public static func logits(_ base: BaseMLP, _ lora: LoRAAdapter?, alpha: Float, _ x: Matrix) -> Matrix {
        precondition(lora.map { $0.layers.count == base.layerCount } ?? true, "one adapter layer per base layer")
        var h = x
        for l in 0..<base.layerCount {
            var z = affine(base, lora?.layers[l], alpha: alpha, l, h)
            if l < base.layerCount - 1 { relu(&z) }
            h = z
        }
        return h
    }

    /// z = h·Wᵀ + bias + s·(h·Aᵀ)·Bᵀ.
    static func affine(_ base: BaseMLP, _ lora: LoRALayer?, alpha: Float, _ l: Int, _ h: Matrix,
                       projected: UnsafeMutablePointer<Matrix>? = nil) -> Matrix {
        let w = base.weights[l]
        var z = Matrix.zeros(rows: h.rows, cols: w.rows)
        // Bias first, then gemm with beta = 1 adds h·Wᵀ.
        base.biases[l].withUnsafeBufferPointer { bias in
            z.storage.withUnsafeMutableBufferPointer { zs in
                for i in 0..<h.rows { (zs.baseAddress! + i * w.rows).update(from: bias.baseAddress!, count: w.rows) }
            }
        }
        Matrix.gemm(h, w, transposeB: true, beta: 1, into: &z)
        if let lora {
            var u = Matrix.zeros(rows: h.rows, cols: lora.shape.rank)
            Matrix.gemm(h, lora.a, transposeB: true, into: &u)
            Matrix.gemm(u, lora.b, transposeB: true, alpha: lora.shape.scaling(alpha: alpha), beta: 1, into: &z)
            projected?.pointee = u
        }
        return z
    }

    /// d ← d where z > 0, else 0 (the ReLU's derivative), eight lanes at a time.
    static func reluMask(_ d: inout Matrix, by z: Matrix) {
        let n = d.count
        d.storage.withUnsafeMutableBufferPointer { dp in
            z.storage.withUnsafeBufferPointer { zp in
                let dRaw = UnsafeMutableRawPointer(dp.baseAddress!), zRaw = UnsafeRawPointer(zp.baseAddress!)
                var i = 0
                while i + 8 <= n {
                    let zv = zRaw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                    var dv = dRaw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                    dv.replace(with: 0, where: zv .<= 0)
                    dRaw.storeBytes(of: dv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < n {
                    if zp[i] <= 0 { dp[i] = 0 }
                    i += 1
                }
            }
        }
    }

    static func relu(_ z: inout Matrix) {
        z.storage.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = p[i] > 0 ? p[i] : 0 } }
    }

    /// Mean softmax cross-entropy of `logits` against `labels`, and its gradient with respect to the
    /// logits ((softmax − one-hot) / batch), computed stably.
    public static func crossEntropy(_ logits: Matrix, _ labels: ArraySlice<Int32>) -> (loss: Double, gradient: Matrix) {
        let n = logits.rows, c = logits.cols
        var g = logits
        var loss = 0.0
        g.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                let row = p.baseAddress! + i * c
                var m = row[0]
                for j in 1..<c { m = max(m, row[j]) }
                var sum: Float = 0
                for j in 0..<c { row[j] = exp(row[j] - m); sum += row[j] }
                let y = Int(labels[labels.startIndex + i])
                loss -= Double(log(row[y] / sum))
                for j in 0..<c { row[j] = row[j] / sum / Float(n) }
                row[y] -= 1 / Float(n)
            }
        }
        return (loss / Double(n), g)
    }

    /// Loss and gradients on one minibatch under base + `lora` scaled by alpha / r. With `trainBase`,
    /// also the base's gradients.
    public static func lossAndGradients(_ base: BaseMLP, _ lora: LoRAAdapter, alpha: Float, _ x: Matrix, _ labels: ArraySlice<Int32>,
                                        trainBase: Bool = false) -> (loss: Double, gradients: Gradients) {
        let layers = base.layerCount
        precondition(lora.layers.count == layers, "one adapter layer per base layer")
        var inputs: [Matrix] = []          // h_{l-1} for each layer
        var projections: [Matrix] = []     // u_l = h_{l-1}·A_lᵀ
        var preActivations: [Matrix] = []  // z_l
        var h = x
        for l in 0..<layers {
            inputs.append(h)
            var u = Matrix.zeros(rows: 0, cols: 0)
            var z = withUnsafeMutablePointer(to: &u) { affine(base, lora.layers[l], alpha: alpha, l, h, projected: $0) }
            projections.append(u)
            preActivations.append(z)
            if l < layers - 1 { relu(&z) }
            h = z
        }
        let (loss, gLogits) = crossEntropy(h, labels)
        var g = gLogits
        var dA = [Matrix](), dB = [Matrix](), dW = [Matrix](), db = [[Float]]()
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let hin = inputs[l], u = projections[l], layer = lora.layers[l], rank = layer.shape.rank
            let s = layer.shape.scaling(alpha: alpha)
            var gb = Matrix.zeros(rows: layer.b.rows, cols: rank)
            Matrix.gemm(g, transposeA: true, u, alpha: s, into: &gb)               // dB = s·gᵀ·u
            var du = Matrix.zeros(rows: g.rows, cols: rank)
            Matrix.gemm(g, layer.b, alpha: s, into: &du)                            // du = s·g·B
            var ga = Matrix.zeros(rows: rank, cols: hin.cols)
            Matrix.gemm(du, transposeA: true, hin, into: &ga)                       // dA = duᵀ·h
            dA.append(ga); dB.append(gb)
            if trainBase {
                var gw = Matrix.zeros(rows: base.weights[l].rows, cols: hin.cols)
                Matrix.gemm(g, transposeA: true, hin, into: &gw)                    // dW = gᵀ·h
                dW.append(gw)
                var colSum = [Float](repeating: 0, count: g.cols)
                g.storage.withUnsafeBufferPointer { p in
                    for i in 0..<g.rows { for j in 0..<g.cols { colSum[j] += p[i * g.cols + j] } }
                }
                db.append(colSum)
            }
            if l > 0 {
                var dh = Matrix.zeros(rows: g.rows, cols: hin.cols)
                Matrix.gemm(g, base.weights[l], into: &dh)                          // g·W
                Matrix.gemm(du, layer.a, beta: 1, into: &dh)                        // + du·A
                reluMask(&dh, by: preActivations[l - 1])
                g = dh
            }
        }
        return (loss, Gradients(a: dA.reversed(), b: dB.reversed(), weights: trainBase ? dW.reversed() : nil,
                                biases: trainBase ? db.reversed() : nil))
    }

    /// Accuracy and mean loss of the base alone on `data` (as `evaluate(_:_:alpha:on:batch:)`).
    public static func evaluate(_ base: BaseMLP, on data: Dataset, batch: Int = 1000) -> (accuracy: Double, loss: Double) {
        evaluate(base, nil, alpha: 0, on: data, batch: batch)
    }

    /// Accuracy and mean loss of base + `lora` (scaled by alpha / r; nil: the base alone) on `data`, in
    /// chunks of `batch` evaluated on all cores with single-threaded BLAS and summed in chunk order
    /// (the same result whatever the core count).
    public static func evaluate(_ base: BaseMLP, _ lora: LoRAAdapter?, alpha: Float, on data: Dataset, batch: Int = 1000) -> (accuracy: Double, loss: Double) {
        let chunks = (data.count + batch - 1) / batch
        let chunkResults = parallelMap(chunks, threads: Parallelism.threads) { c -> (correct: Int, loss: Double) in
            let start = c * batch, end = min(data.count, start + batch)
            let z = logits(base, lora, alpha: alpha, data.subset(Array(start..<end)).features)
            let labels = data.labels[start..<end]
            var correct = 0
            z.storage.withUnsafeBufferPointer { p in
                for i in 0..<(end - start) {
                    var best = 0
                    for j in 1..<z.cols where p[i * z.cols + j] > p[i * z.cols + best] { best = j }
                    if best == Int(labels[start + i]) { correct += 1 }
                }
            }
            return (correct, crossEntropy(z, labels).loss * Double(end - start))
        }
        let correct = chunkResults.reduce(0) { $0 + $1.correct }, loss = chunkResults.reduce(0) { $0 + $1.loss }
        return (Double(correct) / Double(data.count), loss / Double(data.count))
    }
}
