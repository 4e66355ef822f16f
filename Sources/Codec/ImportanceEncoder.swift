import LoRA
import Numerics

/// FedSRD's client step (Sparsify), shared by `fedsrd` and `fedsrd-e`: each entry's importance is
/// its contribution to ΔW_i = ΔB_i·A + B_i'·ΔA_i; the kurtosis rule sets each matrix's budget.
enum ImportanceEncoder {
    static func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, options: CodecOptions, codecID: UInt8,
                       state: inout ClientCodecState) throws -> EncodedUpdate {
        try CodecSupport.requireSameShapes(delta, global, "update vs global")
        try CodecSupport.requireFinite(delta, "update")
        let intended = CodecSupport.withResidual(delta, state, enabled: options.residual)
        var kinds: [LoRAMatrix] = [], scores: [[Float]] = [], values: [Matrix] = [], where_: [(Int, LoRAMatrix)] = []
        for (i, (d, g)) in zip(intended.layers, global.layers).enumerated() {
            let trainedB = g.b + d.b
            kinds += [.a, .b]
            scores += [CodecSupport.importanceA(d.a, b: trainedB), CodecSupport.importanceB(d.b, a: g.a)]
            values += [d.a, d.b]
            where_ += [(i, .a), (i, .b)]
        }
        let kept = options.uploadRule.keptCounts(kinds: kinds, scores: scores)
        let tensors = (0..<values.count).map {
            CodecSupport.sparsified(values[$0], scores: scores[$0], k: kept[$0], layer: where_[$0].0, matrix: where_[$0].1)
        }
        let message = WireMessage(codecID: codecID, kind: .update, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors)
        let bytes = message.encoded()
        try CodecSupport.recordResidual(intended, sent: bytes, codecID: codecID, state: &state, enabled: options.residual)
        return EncodedUpdate(bytes: bytes, kept: CodecSupport.keptSummary(tensors))
    }
}
