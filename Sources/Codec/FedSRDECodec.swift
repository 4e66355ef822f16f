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

    /// ‖ΔW − (B'A' − BA)‖ / ‖ΔW‖ over all layers, in Double and without a d_out × d_in matrix:
    /// the applied update is B'A' − BA = δB·A + B'·δA (δB = B' − B, δA = A' − A, formed in Double),
    /// a rank-2r product L·R with L = [δB | B'], R = [A; δA], and the operator gives ‖ΔW − L·R‖² and
    /// ‖ΔW‖² (`UpdateOperator.distanceSquared`: from Grams for the factored ΔW).
    static func residual(_ operators: [any UpdateOperator], from before: LoRAAdapter, to after: LoRAAdapter) -> Double {
        var num = 0.0, den = 0.0
        for (l, op) in operators.enumerated() {
            let fitted = appliedUpdate(from: before.layers[l], to: after.layers[l])
            let parts = op.distanceSquared(toProduct: fitted.left, fitted.right)
            num += parts.distance
            den += parts.norm
        }
        return den > 0 ? (num / den).squareRoot() : 0
    }

    /// B'A' − BA as L·R, L = [B' − B | B'] (d_out × 2r), R = [A; A' − A] (2r × d_in), in Double.
    static func appliedUpdate(from before: LoRALayer, to after: LoRALayer) -> (left: DoubleMatrix, right: DoubleMatrix) {
        let r = before.shape.rank, dOut = before.shape.outFeatures, dIn = before.shape.inFeatures
        var left = DoubleMatrix(rows: dOut, cols: 2 * r), right = DoubleMatrix(rows: 2 * r, cols: dIn)
        before.b.storage.withUnsafeBufferPointer { b in
            after.b.storage.withUnsafeBufferPointer { b2 in
                left.storage.withUnsafeMutableBufferPointer { out in
                    for i in 0..<dOut {
                        for k in 0..<r {
                            let now = Double(b2[i * r + k])
                            out[i * 2 * r + k] = now - Double(b[i * r + k])
                            out[i * 2 * r + r + k] = now
                        }
                    }
                }
            }
        }
        before.a.storage.withUnsafeBufferPointer { a in
            after.a.storage.withUnsafeBufferPointer { a2 in
                right.storage.withUnsafeMutableBufferPointer { out in
                    for i in 0..<(r * dIn) {
                        let was = Double(a[i])
                        out[i] = was
                        out[r * dIn + i] = Double(a2[i]) - was
                    }
                }
            }
        }
        return (left, right)
    }
}

extension FedSRDCodec {
    /// Reconstruction of updates encoded by a sibling codec (FedSRD-e shares the client step).
    func reconstructForeign(_ updates: [WeightedUpdate], global: LoRAAdapter, codecID: UInt8) throws -> [any UpdateOperator] {
        try reconstruct(updates, global: global, codecID: codecID)
    }
}
