import Numerics

/// A LoRA adapter (or an update to one: a delta has the same shape): named layers in a fixed order.
///
/// The one adapter type of FedSim: the proxy MLP trains and evaluates it (`Learning`), the codecs
/// encode, aggregate and apply it (`Codec`), and PEFT's safetensors layout names its tensors
/// `<layer name>.lora_A.weight` / `.lora_B.weight`. It holds the tensors only; the scaling α / r is
/// applied by whoever runs the adapted model (`LoRALayerShape.scaling(alpha:)`).
public struct LoRAAdapter: Sendable, Equatable {
    /// The layers, in wire order (their index is the layer id on the wire).
    public var layers: [LoRALayer]

    /// Creates an adapter.
    public init(layers: [LoRALayer]) { self.layers = layers }

    /// The shapes, in order.
    public var shapes: [LoRALayerShape] { layers.map(\.shape) }

    /// An adapter of zeros with `shapes`.
    public static func zeros(_ shapes: [LoRALayerShape]) -> LoRAAdapter { LoRAAdapter(layers: shapes.map(LoRALayer.zeros)) }

    /// PEFT's initialisation: A ~ U(−1/√d_in, 1/√d_in) from `stream` (Kaiming-uniform with a = √5),
    /// B = 0. The codecs' tests, benchmarks and fuzzers start from it. Draws: one uniform per entry
    /// of A, layer by layer, row by row.
    public static func kaimingUniform(_ shapes: [LoRALayerShape], stream: RandomStream) -> LoRAAdapter {
        LoRAAdapter(layers: shapes.map { shape in
            let bound = Float(1 / Double(shape.inFeatures).squareRoot())
            let a = Matrix(rows: shape.rank, cols: shape.inFeatures) { _, _ in Float(stream.uniform() * 2 - 1) * bound }
            return LoRALayer(shape: shape, a: a, b: .zeros(rows: shape.outFeatures, cols: shape.rank))
        })
    }

    /// Gaussian initialisation: A ~ N(0, 1/d_in) from `stream`, B = 0 (so the adapted model equals
    /// its base). The proxy MLP starts from it (`BaseMLP.initialAdapter`). Draws: one standard normal
    /// per entry of A, layer by layer, row by row.
    public static func gaussian(_ shapes: [LoRALayerShape], stream: RandomStream) -> LoRAAdapter {
        LoRAAdapter(layers: shapes.map { shape in
            let sd = 1 / Double(shape.inFeatures).squareRoot()
            let a = Matrix(rows: shape.rank, cols: shape.inFeatures) { _, _ in Float(stream.standardNormal() * sd) }
            return LoRALayer(shape: shape, a: a, b: .zeros(rows: shape.outFeatures, cols: shape.rank))
        })
    }

    /// Trainable parameters: Σ r·(d_in + d_out).
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.shape.parameterCount } }

    /// Whether every entry of every factor is finite.
    public var isFinite: Bool {
        layers.allSatisfy { layer in LoRAMatrix.allCases.allSatisfy { m in layer[m].storage.allSatisfy(\.isFinite) } }
    }

    /// `self − other`, factor by factor (shapes must match): a client's update is trained − global.
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
