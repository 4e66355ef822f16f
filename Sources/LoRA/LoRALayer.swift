import Numerics

/// Which factor of a LoRA layer: `A` is r × d_in, `B` is d_out × r; the update is `B·A`.
public enum LoRAMatrix: UInt8, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case a = 0
    case b = 1
    public var description: String { self == .a ? "A" : "B" }
}

/// The shape of one LoRA-adapted linear layer.
public struct LoRALayerShape: Hashable, Sendable, Codable {
    /// The module's name, e.g. `model.layers.0.self_attn.q_proj`.
    public var name: String
    /// d_in: the adapted layer's input width (columns of A).
    public var inFeatures: Int
    /// d_out: the adapted layer's output width (rows of B).
    public var outFeatures: Int
    /// r: the adapter's rank.
    public var rank: Int

    /// Creates a shape.
    public init(name: String, inFeatures: Int, outFeatures: Int, rank: Int) {
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.rank = rank
    }

    /// Entries of `matrix`: r·d_in for A, d_out·r for B.
    public func count(_ matrix: LoRAMatrix) -> Int { matrix == .a ? rank * inFeatures : outFeatures * rank }
    /// (rows, cols) of `matrix`.
    public func dimensions(_ matrix: LoRAMatrix) -> (rows: Int, cols: Int) {
        matrix == .a ? (rank, inFeatures) : (outFeatures, rank)
    }
    /// Trainable parameters of the layer's adapter: r·(d_in + d_out).
    public var parameterCount: Int { rank * (inFeatures + outFeatures) }

    /// The factor the update is applied with, s = α / r (Hu et al. 2021; PEFT's `scaling = lora_alpha / r`):
    /// the adapted layer computes W·x + s·B·A·x. α is a setting of the model that applies the adapter
    /// (PEFT keeps `lora_alpha` in `adapter_config.json`, not with the tensors), so it is an argument here.
    public func scaling(alpha: Float) -> Float { alpha / Float(rank) }
}

/// One adapted layer: its shape and the two factors.
public struct LoRALayer: Sendable, Equatable {
    /// The layer's shape.
    public var shape: LoRALayerShape
    /// r × d_in.
    public var a: Matrix
    /// d_out × r.
    public var b: Matrix

    /// Creates a layer; the factors must match the shape.
    public init(shape: LoRALayerShape, a: Matrix, b: Matrix) {
        precondition(a.rows == shape.rank && a.cols == shape.inFeatures, "A of \(shape.name) must be r × d_in")
        precondition(b.rows == shape.outFeatures && b.cols == shape.rank, "B of \(shape.name) must be d_out × r")
        self.shape = shape
        self.a = a
        self.b = b
    }

    /// A layer of zeros.
    public static func zeros(_ shape: LoRALayerShape) -> LoRALayer {
        LoRALayer(shape: shape, a: .zeros(rows: shape.rank, cols: shape.inFeatures), b: .zeros(rows: shape.outFeatures, cols: shape.rank))
    }

    /// The factor `matrix`.
    public subscript(_ matrix: LoRAMatrix) -> Matrix {
        get { matrix == .a ? a : b }
        set { if matrix == .a { a = newValue } else { b = newValue } }
    }

    /// B·A (d_out × d_in): the layer's weight update, dense. For tests and small layers.
    public func product() -> Matrix { b.multiplied(by: a) }
}

extension LoRALayerShape {
    /// The PEFT tensor name of `matrix`: `<name>.lora_A.weight` or `<name>.lora_B.weight`.
    public func tensorName(_ matrix: LoRAMatrix) -> String { name + (matrix == .a ? ".lora_A.weight" : ".lora_B.weight") }
}
