import LoRA
import Numerics

/// Options shared by every codec (a codec ignores what does not apply to it).
public struct CodecOptions: Sendable, Equatable, Codable {
    /// α: target sparsity of uploads (fraction of entries dropped).
    public var sparsity: Double = 0.9
    /// How a message's kept entries are shared among its matrices (upload; the download too when cross-layer).
    public var allocation: SparsityAllocation = .threshold
    /// `allocation.isAdaptive`.
    public var adaptive: Bool {
        get { allocation.isAdaptive }
        set { allocation.isAdaptive = newValue }
    }
    /// α_down: target sparsity of broadcasts; nil means `sparsity`.
    public var downloadSparsity: Double?
    /// J: alternations of FedSRD's decomposition.
    public var iterations: Int = 2
    /// How values travel.
    public var valueType: ValueType = .f32
    /// Client-side error feedback: what a client's upload dropped is added to its next delta.
    public var residual: Bool = false
    /// Tensors with fewer entries are sent dense, both ways.
    public var minSparseEntries: Int = 1024
    /// ε of the relative ridge terms in the decomposition.
    public var ridge: Double = 1e-2
    /// γ, ρ_min, ρ_max of the kurtosis rule.
    public var gamma: Double = 0.1
    public var rhoMin: Double = 0.5
    public var rhoMax: Double = 0.99
    /// How many past broadcasts the server keeps for stale clients' catch-up.
    public var historyRounds: Int = 8
    /// Run FedSRD's server step on dense d_out × d_in matrices (the test oracle) instead of factored.
    public var denseServer: Bool = false
    /// Compute FedSRD-e's residual against the true ΔW (costs the reconstruction).
    public var reportResidual: Bool = false
    /// Which matrices the download's sparsity rule compares (FedSRD's decomposition, FedSRD-e's re-sparsification).
    public var downloadScope: RuleScope = .crossLayer
    /// What the kurtosis rule holds fixed, both ways.
    public var budget: SparsityBudget = .exact

    /// Default options.
    public init() {}

    /// The upload rule.
    public var uploadRule: SparsityRule {
        SparsityRule(alpha: sparsity, allocation: allocation, gamma: gamma, rhoMin: rhoMin, rhoMax: rhoMax, minSparseEntries: minSparseEntries,
                     scope: .crossLayer, budget: budget)
    }
    /// The download rule.
    public var downloadRule: SparsityRule {
        var rule = uploadRule
        rule.alpha = downloadSparsity ?? sparsity
        rule.scope = downloadScope
        return rule
    }
}

/// A codec's per-client memory (error feedback).
public struct ClientCodecState: Sendable {
    /// What earlier uploads dropped, added to the next delta when `residual` is on.
    public var residual: LoRAAdapter?
    /// A fresh state.
    public init() {}
}

/// A client's encoded update and what it kept.
public struct EncodedUpdate: Sendable {
    /// The bytes on the wire.
    public var bytes: [UInt8]
    /// Values sent per tensor, in message order, with the tensor's size.
    public var kept: [(layer: Int, matrix: LoRAMatrix, kept: Int, count: Int)]
    /// Total values sent / total entries of the update.
    public var keptFraction: Double {
        let k = kept.reduce(0) { $0 + $1.kept }, n = kept.reduce(0) { $0 + $1.count }
        return n == 0 ? 0 : Double(k) / Double(n)
    }
}

/// One arrived upload with its aggregation weight (the client's sample count).
public struct WeightedUpdate: Sendable {
    public var bytes: [UInt8]
    public var weight: Double
    public init(bytes: [UInt8], weight: Double) {
        self.bytes = bytes
        self.weight = weight
    }
}

/// The server's result of a round.
public struct AggregationResult: Sendable {
    /// What every client downloads (a delta or the full adapter).
    public var broadcast: [UInt8]
    /// `broadcast` decoded (once, by the codec, to build `global`): what the broadcast history records.
    public var decodedBroadcast: WireMessage
    /// The new global adapter: the old one with the decoded broadcast applied, exactly as clients hold it
    /// (what `apply(broadcast:to:)` gives, without decoding again).
    public var global: LoRAAdapter
    /// ‖ΔW − fitted‖_F / ‖ΔW‖_F of the decomposition (FedSRD; FedSRD-e when asked).
    public var residual: Double?
    /// Times the guard halved δA (FedSRD).
    public var guardEvents: Int = 0
    /// Values broadcast per tensor.
    public var kept: [(layer: Int, matrix: LoRAMatrix, kept: Int, count: Int)]
}

/// Decoding or aggregation failed.
public enum CodecError: Error, Equatable, CustomStringConvertible {
    case wire(WireError)
    case shapeMismatch(String)
    case nonFinite(String)
    case noUpdates
    case unknownCodec(String, valid: [String])

    public var description: String {
        switch self {
        case let .wire(e): return e.description
        case let .shapeMismatch(s): return "shape mismatch: \(s)"
        case let .nonFinite(s): return "non-finite values in \(s)"
        case .noUpdates: return "no update arrived: nothing to aggregate"
        case let .unknownCodec(name, valid): return "unknown codec '\(name)'; valid: \(valid.joined(separator: ", "))"
        }
    }
}

/// A federated LoRA codec: the whole cycle — client encode, server decode + aggregate + broadcast,
/// client apply — and the exact size of its messages for given shapes and kept counts.
///
/// A new codec is one file with a conforming type plus one line in `CodecRegistry.all`.
public protocol Codec: Sendable {
    /// The codec's name in scenarios and on the command line.
    static var name: String { get }
    /// Its id on the wire.
    static var wireID: UInt8 { get }
    /// One line for listings.
    static var summary: String { get }
    /// Whether clients train B only, A kept at its initialisation (FFA-LoRA); default false.
    static var freezesA: Bool { get }
    /// The options it runs with.
    var options: CodecOptions { get }
    /// Creates the codec.
    init(options: CodecOptions)

    /// Client: encode the local update `delta` (trained − global) given the `global` adapter.
    func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate
    /// Server: decode the arrived updates, aggregate with weights p_i = w_i / Σ w_j, and broadcast.
    func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult
    /// Client (and server): the global adapter after applying `broadcast`.
    func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter
    /// Per tensor of `shapes` (A then B of each layer), the values an upload and a broadcast carry
    /// when a sparsified A/B keeps the given fractions: the plan the size function prices.
    func plan(shapes: [LoRALayerShape], keptFraction: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan])
}

/// Fractions of A and B entries that sparsified tensors keep (measured on a real run, or 1 − α).
public struct KeptFraction: Sendable, Equatable {
    public var uploadA: Double
    public var uploadB: Double
    public var downloadA: Double
    public var downloadB: Double
    public init(uploadA: Double, uploadB: Double, downloadA: Double, downloadB: Double) {
        self.uploadA = uploadA
        self.uploadB = uploadB
        self.downloadA = downloadA
        self.downloadB = downloadB
    }
    /// The nominal fractions of `options`: 1 − α up, 1 − α_down down.
    public static func nominal(_ options: CodecOptions) -> KeptFraction {
        let up = 1 - options.sparsity, down = 1 - (options.downloadSparsity ?? options.sparsity)
        return KeptFraction(uploadA: up, uploadB: up, downloadA: down, downloadB: down)
    }
}

/// One tensor of a message to be priced: which, how big, how many values.
public struct TensorPlan: Sendable, Equatable {
    public var layer: Int
    public var matrix: LoRAMatrix
    public var rows: Int
    public var cols: Int
    public var kept: Int
    public init(layer: Int, matrix: LoRAMatrix, rows: Int, cols: Int, kept: Int) {
        self.layer = layer
        self.matrix = matrix
        self.rows = rows
        self.cols = cols
        self.kept = kept
    }
}

extension Codec {
    /// The exact encoded size of a message carrying `plan`.
    public static func messageBytes(_ plan: [TensorPlan], valueType: ValueType) -> Int {
        WireMessage.headerBytes(tensorCount: plan.count)
            + plan.reduce(0) { $0 + WireMessage.tensorBytes(layer: $1.layer, rows: $1.rows, cols: $1.cols, kept: $1.kept, valueType: valueType) } + 4
    }

    /// Exact upload and broadcast sizes for `shapes` at `keptFraction`, without building tensors.
    public func payloadBytes(shapes: [LoRALayerShape], keptFraction: KeptFraction? = nil) -> (upload: Int, download: Int) {
        let p = plan(shapes: shapes, keptFraction: keptFraction ?? .nominal(options))
        return (Self.messageBytes(p.upload, valueType: options.valueType), Self.messageBytes(p.download, valueType: options.valueType))
    }

    /// The size of the full dense adapter as a broadcast (what a stale client falls back to).
    public func denseAdapterBytes(shapes: [LoRALayerShape]) -> Int {
        Self.messageBytes(CodecPlans.dense(shapes), valueType: options.valueType)
    }
}

/// Plans shared by the codecs.
public enum CodecPlans {
    /// Every tensor (A and B of each layer), dense.
    public static func dense(_ shapes: [LoRALayerShape], matrices: [LoRAMatrix] = [.a, .b]) -> [TensorPlan] {
        shapes.enumerated().flatMap { layer, shape in
            matrices.map { m in
                let d = shape.dimensions(m)
                return TensorPlan(layer: layer, matrix: m, rows: d.rows, cols: d.cols, kept: d.rows * d.cols)
            }
        }
    }

    /// Every tensor, with sparsified ones (at least `minSparseEntries`) keeping the given fractions.
    public static func sparse(_ shapes: [LoRALayerShape], a: Double, b: Double, minSparseEntries: Int) -> [TensorPlan] {
        dense(shapes).map { t in
            var t = t
            let n = t.rows * t.cols
            if n >= minSparseEntries {
                t.kept = SparsityRule.kept(count: n, sparsity: 1 - (t.matrix == .a ? a : b))
            }
            return t
        }
    }
}

extension Codec {
    public static var freezesA: Bool { false }
}
