import LoRA
import Numerics

/// The dense codecs: the chosen factors go up and down whole, and the server takes FedAvg of each.
/// `lora` sends A and B, `ffa-lora` only B (A stays frozen at its seeded initialisation).
enum DenseFactors {
    static func tensors(_ adapter: LoRAAdapter, _ matrices: [LoRAMatrix]) -> [WireTensor] {
        adapter.layers.enumerated().flatMap { i, layer in
            matrices.map { m in WireTensor(layer: i, matrix: m, rows: layer[m].rows, cols: layer[m].cols, indices: nil, values: layer[m].storage) }
        }
    }

    static func encode(_ delta: LoRAAdapter, global: LoRAAdapter, round: Int, matrices: [LoRAMatrix], codecID: UInt8, options: CodecOptions) throws -> EncodedUpdate {
        try CodecSupport.requireSameShapes(delta, global, "update vs global")
        try CodecSupport.requireFinite(delta, "update")
        let tensors = tensors(delta, matrices)
        let message = WireMessage(codecID: codecID, kind: .update, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors)
        return EncodedUpdate(bytes: message.encoded(), kept: CodecSupport.keptSummary(tensors))
    }

    static func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int, matrices: [LoRAMatrix], codecID: UInt8,
                          options: CodecOptions) throws -> AggregationResult {
        let p = try CodecSupport.weights(updates)
        var next = global
        for (update, weight) in zip(updates, p) {
            let message = try CodecSupport.decode(update.bytes, shapes: global.shapes, codecID: codecID, kind: .update)
            for t in message.tensors where matrices.contains(t.matrix) {
                next.layers[t.layer][t.matrix].add(Matrix(rows: t.rows, cols: t.cols, storage: t.densified()), scaledBy: weight)
            }
        }
        let tensors = tensors(next, matrices)
        let broadcast = WireMessage(codecID: codecID, kind: .full, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors).encoded()
        let decoded = try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: codecID, kind: .full)
        return AggregationResult(broadcast: broadcast, decodedBroadcast: decoded.message, global: decoded.global, residual: nil,
                                 kept: CodecSupport.keptSummary(tensors))
    }

    static func apply(_ broadcast: [UInt8], to global: LoRAAdapter, codecID: UInt8) throws -> LoRAAdapter {
        try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: codecID, kind: .full).global
    }
}

/// `lora` (FedIT): dense ΔB, ΔA up; FedAvg of each factor; the dense global adapter down.
public struct LoRACodec: Codec {
    public static let name = "lora"
    public static let wireID: UInt8 = 1
    public static let summary = "uncompressed LoRA (FedIT): dense up, FedAvg on A and B, dense adapter down"
    public let options: CodecOptions
    public init(options: CodecOptions) { self.options = options }
    static let matrices = LoRAMatrix.allCases

    public func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        try DenseFactors.encode(delta, global: global, round: round, matrices: Self.matrices, codecID: Self.wireID, options: options)
    }

    public func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        try DenseFactors.aggregate(updates, global: global, round: round, matrices: Self.matrices, codecID: Self.wireID, options: options)
    }

    public func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        try DenseFactors.apply(broadcast, to: global, codecID: Self.wireID)
    }

    public func plan(shapes: [LoRALayerShape], keptFraction: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        (CodecPlans.dense(shapes), CodecPlans.dense(shapes))
    }
}
