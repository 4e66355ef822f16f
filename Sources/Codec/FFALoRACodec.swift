import LoRA
import Numerics

/// `ffa-lora` (FFA-LoRA): A frozen at its seeded initialisation; only B is trained and exchanged, dense.
public struct FFALoRACodec: Codec {
    public static let name = "ffa-lora"
    public static let wireID: UInt8 = 5
    public static let summary = "FFA-LoRA: A frozen, dense ΔB up, FedAvg of B, dense B down"
    /// Clients train B only: A stays at the seeded initialisation every client shares.
    public static let freezesA = true
    public let options: CodecOptions
    public init(options: CodecOptions) { self.options = options }

    public func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        // A is frozen: whatever the trainer did to it is not sent.
        try DenseFactors.encode(delta, global: global, round: round, matrices: [.b], codecID: Self.wireID, options: options)
    }

    public func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        try DenseFactors.aggregate(updates, global: global, round: round, matrices: [.b], codecID: Self.wireID, options: options)
    }

    public func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        try DenseFactors.apply(broadcast, to: global, codecID: Self.wireID)
    }

    public func plan(shapes: [LoRALayerShape], keptFraction: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        (CodecPlans.dense(shapes, matrices: [.b]), CodecPlans.dense(shapes, matrices: [.b]))
    }
}
