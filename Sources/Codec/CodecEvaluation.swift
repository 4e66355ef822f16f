import Foundation
import LoRA
import Numerics

/// What a codec does to real adapters: bytes and reconstruction errors of each client's ΔW_i and of
/// the aggregate, computed from low-rank factors in Double (no d_out × d_in matrix is formed).
public struct CodecEvaluation: Sendable {
    /// Per layer of the adapter.
    public struct LayerRow: Sendable, Codable {
        public var name: String
        public var outFeatures: Int
        public var inFeatures: Int
        public var rank: Int
        /// Fraction of the layer's A and B entries client 0 uploaded.
        public var uploadKeptFraction: Double
        /// Fraction of the layer's A and B entries the broadcast carries.
        public var downloadKeptFraction: Double
        /// ‖ΔW_agg − fitted‖ / ‖ΔW_agg‖ for this layer.
        public var aggregateRelativeError: Double
    }

    public var codec: String
    public var uploadBytes: [Int]
    public var downloadBytes: Int
    public var clientRelativeErrors: [Double]
    public var aggregateRelativeError: Double
    public var residual: Double?
    public var guardEvents: Int
    public var seconds: Double
    public var layers: [LayerRow]

    /// Runs `codec` with global = `before` and client i's update = `afters[i] − before`, aggregated with `weights`.
    public static func evaluate(_ codec: any Codec, before: LoRAAdapter, afters: [LoRAAdapter], weights: [Double]) throws -> CodecEvaluation {
        let start = Date()
        var encoded: [EncodedUpdate] = []
        for after in afters {
            var state = ClientCodecState()
            encoded.append(try codec.encode(delta: after.subtracting(before), global: before, round: 1, state: &state))
        }
        let result = try codec.aggregate(zip(encoded, weights).map { WeightedUpdate(bytes: $0.bytes, weight: $1) }, global: before, round: 1)
        let seconds = Date().timeIntervalSince(start)
        let shapes = before.shapes
        let sent = try encoded.map { CodecSupport.densified(try WireMessage.decode($0.bytes, shapes: shapes), shapes: shapes) }
        let total = weights.reduce(0, +)
        let p = weights.map { $0 / total }

        var clientNumerator = [Double](repeating: 0, count: afters.count), clientDenominator = clientNumerator
        var aggregateNumerator = 0.0, aggregateDenominator = 0.0
        var rows: [LayerRow] = []
        for (l, g) in before.layers.enumerated() {
            let r = g.shape.rank
            // Client i: ΔW_i = ΔB_i·A + B_i'·ΔA_i; error = EB·A' + B̂·EA with EB, EA what was dropped.
            for i in afters.indices {
                let trained = afters[i].layers[l], got = sent[i].layers[l]
                let deltaA = trained.a - g.a, deltaB = trained.b - g.b
                clientDenominator[i] += normSquared([deltaB, trained.b], [g.a, deltaA], rank: r)
                let bHat = g.b + got.b
                clientNumerator[i] += normSquared([deltaB - got.b, bHat], [trained.a, deltaA - got.a], rank: r)
            }
            // Aggregate: Σ p_i ΔW_i − (B_new·A_new − B·A).
            let next = result.global.layers[l]
            var leftTrue: [Matrix] = [], rightTrue: [Matrix] = [], sumDeltaB = Matrix.zeros(rows: g.b.rows, cols: r)
            for i in afters.indices {
                sumDeltaB.add(afters[i].layers[l].b - g.b, scaledBy: Float(p[i]))
                leftTrue.append(afters[i].layers[l].b * Float(p[i]))
                rightTrue.append(afters[i].layers[l].a - g.a)
            }
            let trueNorm = normSquared([sumDeltaB] + leftTrue, [g.a] + rightTrue, rank: r)
            let deltaB = next.b - g.b, deltaA = next.a - g.a
            let errorNorm = normSquared([sumDeltaB - deltaB] + leftTrue + [next.b * -1], [g.a] + rightTrue + [deltaA], rank: r)
            aggregateNumerator += errorNorm
            aggregateDenominator += trueNorm
            let upKept = encoded[0].kept.filter { $0.layer == l }.reduce(0) { $0 + $1.kept }
            let downKept = result.kept.filter { $0.layer == l }.reduce(0) { $0 + $1.kept }
            let entries = g.shape.parameterCount
            rows.append(LayerRow(name: g.shape.name, outFeatures: g.shape.outFeatures, inFeatures: g.shape.inFeatures, rank: r,
                                 uploadKeptFraction: Double(upKept) / Double(entries), downloadKeptFraction: Double(downKept) / Double(entries),
                                 aggregateRelativeError: trueNorm > 0 ? (errorNorm / trueNorm).squareRoot() : 0))
        }
        return CodecEvaluation(codec: type(of: codec).name, uploadBytes: encoded.map { $0.bytes.count }, downloadBytes: result.broadcast.count,
                               clientRelativeErrors: zip(clientNumerator, clientDenominator).map { $1 > 0 ? ($0 / $1).squareRoot() : 0 },
                               aggregateRelativeError: aggregateDenominator > 0 ? (aggregateNumerator / aggregateDenominator).squareRoot() : 0,
                               residual: result.residual, guardEvents: result.guardEvents, seconds: seconds, layers: rows)
    }

    /// ‖Σ_k L_k·R_k‖²_F for blocks L_k (d_out × r) and R_k (r × d_in), in Double.
    static func normSquared(_ left: [Matrix], _ right: [Matrix], rank r: Int) -> Double {
        var u = DoubleMatrix(rows: left[0].rows, cols: left.count * r)
        var v = DoubleMatrix(rows: right.count * r, cols: right[0].cols)
        for (k, block) in left.enumerated() { u.setColumns(block, at: k * r) }
        for (k, block) in right.enumerated() { v.setRows(block, at: k * r) }
        return u.productNormSquared(v)
    }
}
