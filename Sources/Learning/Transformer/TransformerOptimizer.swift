import Foundation

/// The optimiser of a transformer training (the adapter's factors, or every base weight when pretraining).
///
/// The defaults are Hugging Face Transformers' `TrainingArguments` (which PEFT's examples use):
/// `adam_beta1` 0.9, `adam_beta2` 0.999, `adam_epsilon` 1e-8, `weight_decay` 0.0. (PyTorch's own
/// `torch.optim.AdamW` defaults to weight decay 0.01; the Trainer passes 0.0 unless asked.)
public enum TransformerOptimizer: Sendable, Equatable, Hashable {
    /// AdamW (Loshchilov & Hutter 2019) as `torch.optim.AdamW`: decoupled decay `p ← p·(1 − lr·wd)`,
    /// then the bias-corrected Adam step `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
    case adamW(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0)
    /// Adam as `torch.optim.Adam`: the weight decay, if any, is added to the gradient (L2), `g ← g + wd·p`.
    case adam(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0)
    /// SGD with momentum as `torch.optim.SGD` (dampening 0): `b ← μ·b + g`, `p ← p − lr·b`.
    case sgd(learningRate: Float, momentum: Float = 0.9)

    /// The learning rate.
    public var learningRate: Float {
        switch self {
        case let .adamW(lr, _, _, _, _), let .adam(lr, _, _, _, _), let .sgd(lr, _): return lr
        }
    }
}

/// An optimiser's moments for one flat parameter pack.
final class TransformerOptimizerState {
    let optimizer: TransformerOptimizer
    let first: FloatPack
    let second: FloatPack?
    private(set) var step = 0

    init(_ optimizer: TransformerOptimizer, count: Int) {
        self.optimizer = optimizer
        first = FloatPack(count: count)
        if case .sgd = optimizer { second = nil } else { second = FloatPack(count: count) }
    }

    /// One update of `params` with `grads` (same count).
    func apply(_ params: FloatPack, _ grads: FloatPack) {
        precondition(params.count == first.count && grads.count == first.count)
        step += 1
        let p = params.pointer, g = UnsafePointer(grads.pointer), m = first.pointer, n = first.count
        switch optimizer {
        case let .sgd(lr, mu):
            for i in 0..<n {
                m[i] = mu * m[i] + g[i]
                p[i] -= lr * m[i]
            }
        case let .adamW(lr, b1, b2, eps, wd), let .adam(lr, b1, b2, eps, wd):
            guard let v = second?.pointer else { return }
            var decoupled = false
            if case .adamW = optimizer { decoupled = true }
            let c1 = 1 - pow(Double(b1), Double(step)), c2 = 1 - pow(Double(b2), Double(step))
            let stepSize = Float(Double(lr) / c1), root2 = Float(c2.squareRoot())
            let decay = decoupled ? 1 - lr * wd : 1, l2 = decoupled ? 0 : wd
            for i in 0..<n {
                let gi = g[i] + l2 * p[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] = p[i] * decay - stepSize * m[i] / (v[i].squareRoot() / root2 + eps)
            }
        }
    }
}

/// Scales `grads` so that its Euclidean norm (accumulated in Double) is at most `maximum`, as
/// `torch.nn.utils.clip_grad_norm_` (coefficient `maximum / (norm + 1e-6)` when below 1). Returns the norm before.
@discardableResult
func clipGradientNorm(_ grads: FloatPack, maximum: Float) -> Double {
    let g = grads.pointer
    var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
    var i = 0
    while i + 4 <= grads.count {
        s0 += Double(g[i]) * Double(g[i]); s1 += Double(g[i + 1]) * Double(g[i + 1])
        s2 += Double(g[i + 2]) * Double(g[i + 2]); s3 += Double(g[i + 3]) * Double(g[i + 3])
        i += 4
    }
    while i < grads.count { s0 += Double(g[i]) * Double(g[i]); i += 1 }
    let norm = ((s0 + s1) + (s2 + s3)).squareRoot()
    let coefficient = Double(maximum) / (norm + 1e-6)
    if coefficient < 1 {
        let c = Float(coefficient)
        for j in 0..<grads.count { g[j] *= c }
    }
    return norm
}
