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

/// A LoRA adapter (or an update to one: a delta has the same shape): named layers in a fixed order.
public struct LoRAAdapter: Sendable, Equatable {
    /// The layers, in wire order (their index is the layer id on the wire).
    public var layers: [LoRALayer]

    /// Creates an adapter.
    public init(layers: [LoRALayer]) { self.layers = layers }

    /// The shapes, in order.
    public var shapes: [LoRALayerShape] { layers.map(\.shape) }

    /// An adapter of zeros with `shapes`.
    public static func zeros(_ shapes: [LoRALayerShape]) -> LoRAAdapter { LoRAAdapter(layers: shapes.map(LoRALayer.zeros)) }

    /// Standard LoRA initialisation: A ~ U(−1/√d_in, 1/√d_in) from `stream` (Kaiming-uniform with a = √5,
    /// as PEFT does), B = 0.
    public static func initialised(_ shapes: [LoRALayerShape], stream: RandomStream) -> LoRAAdapter {
        LoRAAdapter(layers: shapes.map { shape in
            let bound = Float(1 / Double(shape.inFeatures).squareRoot())
            let a = Matrix(rows: shape.rank, cols: shape.inFeatures) { _, _ in Float(stream.uniform() * 2 - 1) * bound }
            return LoRALayer(shape: shape, a: a, b: .zeros(rows: shape.outFeatures, cols: shape.rank))
        })
    }

    /// Trainable parameters: Σ r·(d_in + d_out).
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.shape.parameterCount } }

    /// `self − other`, factor by factor (shapes must match).
    public func subtracting(_ other: LoRAAdapter) -> LoRAAdapter {
        precondition(shapes == other.shapes, "adapters of different shapes")
        return LoRAAdapter(layers: zip(layers, other.layers).map { LoRALayer(shape: $0.shape, a: $0.a - $1.a, b: $0.b - $1.b) })
    }

    /// `self + other`, factor by factor (shapes must match).
    public func adding(_ other: LoRAAdapter) -> LoRAAdapter {
        precondition(shapes == other.shapes, "adapters of different shapes")
        return LoRAAdapter(layers: zip(layers, other.layers).map { LoRALayer(shape: $0.shape, a: $0.a + $1.a, b: $0.b + $1.b) })
    }
}
