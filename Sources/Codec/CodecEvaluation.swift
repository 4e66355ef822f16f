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
    /// 1 − (client relative error)²: the share of each client update's energy its upload kept (`UpdateFidelity`).
    public var clientKeptEnergy: [Double]
    public var aggregateRelativeError: Double
    /// Cosine and norm ratio of the applied update against exact FedAvg of the clients' updates.
    public var updateCosine: Double?
    public var updateNormRatio: Double?
    /// Median Pearson kurtosis of the clients' factor deltas (how concentrated the updates are).
    public var updateKurtosis: Double?
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

        let clients = afters.indices.map { UpdateFidelity.clientError(global: before, trained: afters[$0], sent: sent[$0]) }
        let aggregate = UpdateFidelity.aggregateErrors(global: before, trained: afters, p: p, next: result.global)
        let agreement = UpdateFidelity.agreement(aggregate)
        var rows: [LayerRow] = []
        for (l, g) in before.layers.enumerated() {
            let upKept = encoded[0].kept.filter { $0.layer == l }.reduce(0) { $0 + $1.kept }
            let downKept = result.kept.filter { $0.layer == l }.reduce(0) { $0 + $1.kept }
            let entries = g.shape.parameterCount
            rows.append(LayerRow(name: g.shape.name, outFeatures: g.shape.outFeatures, inFeatures: g.shape.inFeatures, rank: g.shape.rank,
                                 uploadKeptFraction: Double(upKept) / Double(entries), downloadKeptFraction: Double(downKept) / Double(entries),
                                 aggregateRelativeError: aggregate[l].exact > 0 ? (aggregate[l].error / aggregate[l].exact).squareRoot() : 0))
        }
        let exact = aggregate.reduce(0) { $0 + $1.exact }, error = aggregate.reduce(0) { $0 + $1.error }
        return CodecEvaluation(codec: type(of: codec).name, uploadBytes: encoded.map { $0.bytes.count }, downloadBytes: result.broadcast.count,
                               clientRelativeErrors: clients.map { $0.norm > 0 ? ($0.error / $0.norm).squareRoot() : 0 },
                               clientKeptEnergy: clients.map(UpdateFidelity.keptEnergy),
                               aggregateRelativeError: exact > 0 ? (error / exact).squareRoot() : 0,
                               updateCosine: agreement?.cosine, updateNormRatio: agreement?.normRatio,
                               updateKurtosis: UpdateFidelity.median(afters.flatMap { UpdateFidelity.kurtoses(global: before, trained: $0) }),
                               residual: result.residual, guardEvents: result.guardEvents, seconds: seconds, layers: rows)
    }
}
