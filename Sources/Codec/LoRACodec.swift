import Numerics

/// `lora` (FedIT): dense ΔB, ΔA up; FedAvg of each factor; the dense global adapter down.
public struct LoRACodec: Codec {
    public static let name = "lora"
    public static let wireID: UInt8 = 1
    public static let summary = "uncompressed LoRA (FedIT): dense up, FedAvg on A and B, dense adapter down"
    public let options: CodecOptions
    public init(options: CodecOptions) { self.options = options }

    public func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        try CodecSupport.requireSameShapes(delta, global, "update vs global")
        try CodecSupport.requireFinite(delta, "update")
        let tensors = delta.layers.enumerated().flatMap { i, layer in
            LoRAMatrix.allCases.map { m in
                WireTensor(layer: i, matrix: m, rows: layer[m].rows, cols: layer[m].cols, indices: nil, values: layer[m].storage)
            }
        }
        let message = WireMessage(codecID: Self.wireID, kind: .update, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors)
        return EncodedUpdate(bytes: message.encoded(), kept: CodecSupport.keptSummary(tensors))
    }

    public func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        let p = try CodecSupport.weights(updates)
        var next = global
        for (update, weight) in zip(updates, p) {
            let message = try CodecSupport.decode(update.bytes, shapes: global.shapes, codecID: Self.wireID, kind: .update)
            for t in message.tensors {
                next.layers[t.layer][t.matrix].add(Matrix(rows: t.rows, cols: t.cols, storage: t.densified()), scaledBy: weight)
            }
        }
        let tensors = next.layers.enumerated().flatMap { i, layer in
            LoRAMatrix.allCases.map { m in WireTensor(layer: i, matrix: m, rows: layer[m].rows, cols: layer[m].cols, indices: nil, values: layer[m].storage) }
        }
        let broadcast = WireMessage(codecID: Self.wireID, kind: .full, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors).encoded()
        return AggregationResult(broadcast: broadcast, global: try apply(broadcast: broadcast, to: global), residual: nil,
                                 kept: CodecSupport.keptSummary(tensors))
    }

    public func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        CodecSupport.applied(try CodecSupport.decode(broadcast, shapes: global.shapes, codecID: Self.wireID, kind: .full), to: global)
    }

    public func plan(shapes: [LoRALayerShape], keptFraction: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        (CodecPlans.dense(shapes), CodecPlans.dense(shapes))
    }
}

/// `ffa-lora` (FFA-LoRA): A frozen at its seeded initialisation; only B is trained and exchanged, dense.
public struct FFALoRACodec: Codec {
    public static let name = "ffa-lora"
    public static let wireID: UInt8 = 5
    public static let summary = "FFA-LoRA: A frozen, dense ΔB up, FedAvg of B, dense B down"
    public let options: CodecOptions
    public init(options: CodecOptions) { self.options = options }

    public func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        try CodecSupport.requireSameShapes(delta, global, "update vs global")
        try CodecSupport.requireFinite(delta, "update")
        // A is frozen: whatever the trainer did to it is not sent.
        let tensors = delta.layers.enumerated().map { i, layer in
            WireTensor(layer: i, matrix: .b, rows: layer.b.rows, cols: layer.b.cols, indices: nil, values: layer.b.storage)
        }
        let message = WireMessage(codecID: Self.wireID, kind: .update, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors)
        return EncodedUpdate(bytes: message.encoded(), kept: CodecSupport.keptSummary(tensors))
    }

    public func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        let p = try CodecSupport.weights(updates)
        var next = global
        for (update, weight) in zip(updates, p) {
            let message = try CodecSupport.decode(update.bytes, shapes: global.shapes, codecID: Self.wireID, kind: .update)
            for t in message.tensors where t.matrix == .b {
                next.layers[t.layer].b.add(Matrix(rows: t.rows, cols: t.cols, storage: t.densified()), scaledBy: weight)
            }
        }
        let tensors = next.layers.enumerated().map { i, layer in
            WireTensor(layer: i, matrix: .b, rows: layer.b.rows, cols: layer.b.cols, indices: nil, values: layer.b.storage)
        }
        let broadcast = WireMessage(codecID: Self.wireID, kind: .full, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors).encoded()
        return AggregationResult(broadcast: broadcast, global: try apply(broadcast: broadcast, to: global), residual: nil,
                                 kept: CodecSupport.keptSummary(tensors))
    }

    public func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        CodecSupport.applied(try CodecSupport.decode(broadcast, shapes: global.shapes, codecID: Self.wireID, kind: .full), to: global)
    }

    public func plan(shapes: [LoRALayerShape], keptFraction: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        (CodecPlans.dense(shapes, matrices: [.b]), CodecPlans.dense(shapes, matrices: [.b]))
    }
}
