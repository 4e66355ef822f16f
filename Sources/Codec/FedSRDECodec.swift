import LoRA
import Numerics

/// `fedsrd-e`: FedSRD's client step; on the server no reconstruction and no decomposition:
/// δB = Σ p_i ΔB̃_i, δA = Σ p_i ΔÃ_i (union of supports), re-sparsified by importance (δB against A,
/// δA against B + δB) to the download budget. O(non-zeros + d·r).
public struct FedSRDECodec: Codec {
    public static let name = "fedsrd-e"
    public static let wireID: UInt8 = 3
    public static let summary = "FedSRD-e: importance top-k up; average sparse factors, re-sparsify by importance down"
    public let options: CodecOptions
    public init(options: CodecOptions) { self.options = options }

    public func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        try ImportanceEncoder.encode(delta: delta, global: global, round: round, options: options, codecID: Self.wireID, state: &state)
    }

    public func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        let average = try FactorAverage.average(updates, shapes: global.shapes, codecID: Self.wireID)
        let rule = options.downloadRule
        let layers = global.layers
        let scoresB = layers.indices.map { CodecSupport.importanceB(average.layers[$0].b, a: layers[$0].a) }
        let countsB = rule.keptCounts(kinds: layers.map { _ in .b }, scores: scoresB)
        let tensorsB = layers.indices.map { CodecSupport.sparsified(average.layers[$0].b, scores: scoresB[$0], k: countsB[$0], layer: $0, matrix: .b) }
        let scoresA = layers.indices.map { l -> [Float] in
            let bStar = layers[l].b + Matrix(rows: tensorsB[l].rows, cols: tensorsB[l].cols, storage: tensorsB[l].densified())
            return CodecSupport.importanceA(average.layers[l].a, b: bStar)
        }
        let countsA = rule.keptCounts(kinds: layers.map { _ in .a }, scores: scoresA)
        let tensorsA = layers.indices.map { CodecSupport.sparsified(average.layers[$0].a, scores: scoresA[$0], k: countsA[$0], layer: $0, matrix: .a) }
        let tensors = layers.indices.flatMap { [tensorsA[$0], tensorsB[$0]] }
        let broadcast = WireMessage(codecID: Self.wireID, kind: .delta, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors).encoded()
        let decoded = try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: Self.wireID, kind: .delta)
        let next = decoded.global
        var residual: Double?
        if options.reportResidual {
            // Costs the reconstruction FedSRD-e exists to avoid; off by default.
            let operators = try FedSRDCodec(options: options).reconstructForeign(updates, global: global, codecID: Self.wireID)
            residual = Self.residual(operators, from: global, to: next)
        }
        return AggregationResult(broadcast: broadcast, decodedBroadcast: decoded.message, global: next, residual: residual,
                                 kept: CodecSupport.keptSummary(tensors))
    }

    public func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: Self.wireID, kind: .delta).global
    }

    public func plan(shapes: [LoRALayerShape], keptFraction f: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        FedSRDCodec(options: options).plan(shapes: shapes, keptFraction: f)
    }

    /// ‖ΔW − (B'A' − BA)‖ / ‖ΔW‖ over all layers, dense per layer.
    static func residual(_ operators: [any UpdateOperator], from before: LoRAAdapter, to after: LoRAAdapter) -> Double {
        var num = 0.0, den = 0.0
        for (l, op) in operators.enumerated() {
            let w = op.dense()
            let fitted = after.layers[l].product() - before.layers[l].product()
            num += (w - fitted).frobeniusNormSquared()
            den += w.frobeniusNormSquared()
        }
        return den > 0 ? (num / den).squareRoot() : 0
    }
}

extension FedSRDCodec {
    /// Reconstruction of updates encoded by a sibling codec (FedSRD-e shares the client step).
    func reconstructForeign(_ updates: [WeightedUpdate], global: LoRAAdapter, codecID: UInt8) throws -> [any UpdateOperator] {
        try reconstruct(updates, global: global, codecID: codecID)
    }
}
