import Foundation
import LoRA
import Numerics

/// The local optimiser.
public enum Optimizer: Sendable, Equatable {
    /// SGD with momentum μ.
    case sgd(learningRate: Float, momentum: Float)
    /// Adam (Kingma & Ba 2015) with the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    case adam(learningRate: Float)
}

/// Local training settings.
public struct TrainingSettings: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: Optimizer
    /// Keep every A factor at its start (FFA-LoRA trains B only; `Codec.freezesA`).
    public var freezesA = false
    public init(epochs: Int = 1, batchSize: Int = 32, optimizer: Optimizer = .adam(learningRate: 1e-3)) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
    }
}

extension Optimizer {
    /// The learning rate.
    public var learningRate: Float {
        switch self {
        case let .sgd(lr, _): return lr
        case let .adam(lr): return lr
        }
    }
}

/// Optimiser state for a list of parameter tensors (flattened).
struct OptimizerState {
    let optimizer: Optimizer
    var first: [[Float]]
    var second: [[Float]]
    var step: Int = 0

    init(_ optimizer: Optimizer, shapes: [Int]) {
        self.optimizer = optimizer
        first = shapes.map { [Float](repeating: 0, count: $0) }
        second = { if case .adam = optimizer { return shapes.map { [Float](repeating: 0, count: $0) } } else { return [] } }()
    }

    /// One step on an adapter: A of layer l is slot l, B of layer l is slot L + l (L layers),
    /// as `init(_:shapes:)` with the A counts then the B counts.
    mutating func apply(_ adapter: inout LoRAAdapter, _ grads: Gradients) {
        step += 1
        let n = adapter.layers.count
        for l in 0..<n { update(&adapter.layers[l].a.storage, grads.a[l].storage, slot: l) }
        for l in 0..<n { update(&adapter.layers[l].b.storage, grads.b[l].storage, slot: n + l) }
    }

    /// Slot sizes for an adapter: the A factors' entry counts, then the B factors'.
    static func slots(_ adapter: LoRAAdapter) -> [Int] { adapter.layers.map(\.a.count) + adapter.layers.map(\.b.count) }

    /// Updates `params[k]` in place with `grads[k]`.
    mutating func apply(_ params: inout [Matrix], _ grads: [Matrix], offset: Int = 0) {
        if offset == 0 { step += 1 }
        for k in params.indices { update(&params[k].storage, grads[k].storage, slot: offset + k) }
    }

    mutating func apply(_ params: inout [[Float]], _ grads: [[Float]], offset: Int) {
        for k in params.indices { update(&params[k], grads[k], slot: offset + k) }
    }

    private mutating func update(_ p: inout [Float], _ g: [Float], slot: Int) {
        switch optimizer {
        case let .sgd(lr, momentum):
            first[slot].withUnsafeMutableBufferPointer { v in
                p.withUnsafeMutableBufferPointer { w in
                    g.withUnsafeBufferPointer { gr in
                        for i in w.indices {
                            v[i] = momentum * v[i] + gr[i]
                            w[i] -= lr * v[i]
                        }
                    }
                }
            }
        case let .adam(lr):
            let b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8
            let c1 = 1 - pow(b1, Float(step)), c2 = 1 - pow(b2, Float(step))
            first[slot].withUnsafeMutableBufferPointer { m in
                second[slot].withUnsafeMutableBufferPointer { v in
                    p.withUnsafeMutableBufferPointer { w in
                        g.withUnsafeBufferPointer { gr in
                            // Eight lanes at a time (the buffers are distinct; the compiler cannot know).
                            let n = w.count
                            let mR = UnsafeMutableRawPointer(m.baseAddress!), vR = UnsafeMutableRawPointer(v.baseAddress!)
                            let wR = UnsafeMutableRawPointer(w.baseAddress!), gR = UnsafeRawPointer(gr.baseAddress!)
                            let step = SIMD8<Float>(repeating: lr), inv1 = SIMD8<Float>(repeating: 1 / c1), inv2 = SIMD8<Float>(repeating: 1 / c2)
                            var i = 0
                            while i + 8 <= n {
                                let gv = gR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                var mv = mR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                var vv = vR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                var wv = wR.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                                mv = b1 * mv + (1 - b1) * gv
                                vv = b2 * vv + (1 - b2) * gv * gv
                                wv -= step * (mv * inv1) / ((vv * inv2).squareRoot() + eps)
                                mR.storeBytes(of: mv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                                vR.storeBytes(of: vv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                                wR.storeBytes(of: wv, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                                i += 8
                            }
                            while i < n {
                                m[i] = b1 * m[i] + (1 - b1) * gr[i]
                                v[i] = b2 * v[i] + (1 - b2) * gr[i] * gr[i]
                                w[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                                i += 1
                            }
                        }
                    }
                }
            }
        }
    }
}
