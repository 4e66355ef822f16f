import LoRA
import Numerics

/// `topk`: magnitude top-k of ΔB and ΔA at fixed ρ = α; FedAvg on the factors; magnitude top-k of the
/// averaged delta for download. Shows what importance-awareness buys over magnitude.
public struct TopKCodec: Codec {
    public static let name = "topk"
    public static let wireID: UInt8 = 4
    public static let summary = "magnitude top-k of ΔA, ΔB at ρ = α; FedAvg on factors; top-k of the average down"
    public let options: CodecOptions
    public init(options: CodecOptions) { self.options = options }

    var fixedUploadRule: SparsityRule { var r = options.uploadRule; r.adaptive = false; return r }
    var fixedDownloadRule: SparsityRule { var r = options.downloadRule; r.adaptive = false; return r }

    public func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        try CodecSupport.requireSameShapes(delta, global, "update vs global")
        try CodecSupport.requireFinite(delta, "update")
        let intended = CodecSupport.withResidual(delta, state, enabled: options.residual)
        let tensors = magnitudeTopK(intended, rule: fixedUploadRule)
        let bytes = WireMessage(codecID: Self.wireID, kind: .update, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors).encoded()
        try CodecSupport.recordResidual(intended, sent: bytes, codecID: Self.wireID, state: &state, enabled: options.residual)
        return EncodedUpdate(bytes: bytes, kept: CodecSupport.keptSummary(tensors))
    }

    public func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        let average = try FactorAverage.average(updates, shapes: global.shapes, codecID: Self.wireID)
        let tensors = magnitudeTopK(average, rule: fixedDownloadRule)
        let broadcast = WireMessage(codecID: Self.wireID, kind: .delta, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors).encoded()
        let decoded = try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: Self.wireID, kind: .delta)
        return AggregationResult(broadcast: broadcast, decodedBroadcast: decoded.message, global: decoded.global, residual: nil,
                                 kept: CodecSupport.keptSummary(tensors))
    }

    public func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: Self.wireID, kind: .delta).global
    }

    public func plan(shapes: [LoRALayerShape], keptFraction f: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        (CodecPlans.sparse(shapes, a: f.uploadA, b: f.uploadB, minSparseEntries: options.minSparseEntries),
         CodecPlans.sparse(shapes, a: f.downloadA, b: f.downloadB, minSparseEntries: options.minSparseEntries))
    }

    func magnitudeTopK(_ adapter: LoRAAdapter, rule: SparsityRule) -> [WireTensor] {
        let matrices = adapter.layers.flatMap { [$0.a, $0.b] }
        let scores = matrices.map(CodecSupport.magnitudes)
        let kinds = adapter.layers.flatMap { _ in [LoRAMatrix.a, .b] }
        let counts = rule.keptCounts(kinds: kinds, scores: scores)
        return matrices.indices.map { CodecSupport.sparsified(matrices[$0], scores: scores[$0], k: counts[$0], layer: $0 / 2, matrix: kinds[$0]) }
    }
}

/// Σ p_i of the decoded factor deltas (FedAvg on factors, union of supports).
enum FactorAverage {
    static func average(_ updates: [WeightedUpdate], shapes: [LoRALayerShape], codecID: UInt8) throws -> LoRAAdapter {
        let p = try CodecSupport.weights(updates)
        var sum = LoRAAdapter.zeros(shapes)
        for (update, weight) in zip(updates, p) {
            let message = try CodecSupport.decode(update.bytes, shapes: shapes, codecID: codecID, kind: .update)
            for t in message.tensors {
                sum.layers[t.layer][t.matrix].storage.withUnsafeMutableBufferPointer { s in
                    if let indices = t.indices {
                        for (i, index) in indices.enumerated() { s[Int(index)] += weight * t.values[i] }
                    } else {
                        for i in 0..<t.values.count { s[i] += weight * t.values[i] }
                    }
                }
            }
        }
        return sum
    }
}
