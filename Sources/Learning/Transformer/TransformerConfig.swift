import Numerics

/// The shape of a decoder-only, Llama-shaped transformer language model.
///
/// Token embedding (vocabulary × width), `layers` blocks of pre-norm causal multi-head self-attention
/// with rotary positions and a SwiGLU MLP, a final RMSNorm and an untied output head (vocabulary × width).
public struct TransformerConfig: Sendable, Equatable, Hashable {
    /// Number of transformer blocks.
    public var layers: Int
    /// Model width `d` (the embedding and residual-stream size).
    public var width: Int
    /// Number of attention heads; `width / heads` is the head size, which must be even for RoPE.
    public var heads: Int
    /// Context length `T`: the longest sequence the model sees (positions 0 ..< T).
    public var context: Int
    /// Vocabulary size `V` (256 for the byte-level tokenizer).
    public var vocabulary: Int
    /// Hidden width of the SwiGLU MLP (gate and up project width → hidden, down hidden → width).
    public var hidden: Int
    /// RMSNorm's ε (Hugging Face `LlamaConfig.rms_norm_eps` defaults to 1e-6).
    public var normEpsilon: Float
    /// RoPE base θ (Llama: 10000).
    public var ropeTheta: Double

    /// Creates a configuration; `validate()` says whether it is usable.
    public init(layers: Int = 4, width: Int = 128, heads: Int = 4, context: Int = 64, vocabulary: Int = 256,
                hidden: Int = 344, normEpsilon: Float = 1e-6, ropeTheta: Double = 10000) {
        self.layers = layers
        self.width = width
        self.heads = heads
        self.context = context
        self.vocabulary = vocabulary
        self.hidden = hidden
        self.normEpsilon = normEpsilon
        self.ropeTheta = ropeTheta
    }

    /// The head size, `width / heads`.
    public var headSize: Int { heads > 0 ? width / heads : 0 }

    /// The largest accepted size of any dimension (keeps every product of two sizes far inside `Int`
    /// and every BLAS dimension inside 32 bits).
    public static let maximumDimension = 1 << 16

    /// Throws an `InputError` at `keyPath.<key>` for the first unusable setting: a size that is not
    /// positive or above `maximumDimension`, a width not divisible by the heads, an odd head size,
    /// a non-positive or non-finite ε or θ.
    public func validate(keyPath: String = "model") throws {
        func key(_ name: String) -> String { keyPath.isEmpty ? name : keyPath + "." + name }
        for (name, value) in [("layers", layers), ("width", width), ("heads", heads), ("context", context),
                              ("vocabulary", vocabulary), ("hidden", hidden)] {
            guard value > 0 else {
                throw InputError(.invalidValue(expected: "a positive integer", found: String(value)), at: key(name))
            }
            guard value <= Self.maximumDimension else {
                throw InputError(.invalidValue(expected: "at most \(Self.maximumDimension)", found: String(value)), at: key(name))
            }
        }
        guard width % heads == 0 else {
            throw InputError(.invalidValue(expected: "a width divisible by the \(heads) heads", found: String(width)), at: key("width"))
        }
        guard headSize % 2 == 0 else {
            throw InputError(.invalidValue(expected: "an even head size width/heads for rotary positions",
                                           found: "\(width)/\(heads) = \(headSize)"), at: key("heads"))
        }
        guard normEpsilon.isFinite, normEpsilon > 0 else {
            throw InputError(.invalidValue(expected: "a positive finite ε", found: "\(normEpsilon)"), at: key("norm_epsilon"))
        }
        guard ropeTheta.isFinite, ropeTheta > 1 else {
            throw InputError(.invalidValue(expected: "a finite RoPE base above 1", found: "\(ropeTheta)"), at: key("rope_theta"))
        }
    }

    /// Parameters of the base model: embedding, head, final norm and per layer 4·d² + 3·d·hidden + 2·d.
    public var parameterCount: Int {
        let perLayer = 4 * width * width + 3 * width * hidden + 2 * width
        return 2 * vocabulary * width + width + layers * perLayer
    }
}

/// A linear projection of a Llama block that LoRA can adapt, in PEFT's order of a layer's modules.
public enum TransformerModule: String, Sendable, Equatable, Hashable, CaseIterable, Comparable {
    case q, k, v, o, gate, up, down

    /// PEFT's module path inside a layer, e.g. `self_attn.q_proj`, `mlp.gate_proj`.
    public var peftPath: String {
        switch self {
        case .q, .k, .v, .o: return "self_attn.\(rawValue)_proj"
        case .gate, .up, .down: return "mlp.\(rawValue)_proj"
        }
    }

    /// (out, in) of the projection's weight.
    public func shape(_ config: TransformerConfig) -> (out: Int, in: Int) {
        switch self {
        case .q, .k, .v, .o: return (config.width, config.width)
        case .gate, .up: return (config.hidden, config.width)
        case .down: return (config.width, config.hidden)
        }
    }

    /// Declaration order.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Which projections carry LoRA adapters, their rank and alpha (scaling alpha / rank; dropout 0).
public struct TransformerLoRAConfig: Sendable, Equatable, Hashable {
    /// The adapted projections, kept sorted in module order and without repeats.
    public private(set) var targets: [TransformerModule]
    /// The rank r.
    public var rank: Int
    /// alpha; the update is (alpha / r) · B · A.
    public var alpha: Float

    /// LoRA on `targets` (default q and v, as PEFT's default for Llama) with rank and alpha.
    public init(targets: [TransformerModule] = [.q, .v], rank: Int = 8, alpha: Float = 16) {
        self.targets = Array(Set(targets)).sorted()
        self.rank = rank
        self.alpha = alpha
    }

    /// Parses target names (`q`, `q_proj`, `gate_proj` …), throwing an `InputError` at `keyPath` for an unknown one.
    public static func modules(named names: [String], keyPath: String = "lora.targets") throws -> [TransformerModule] {
        try names.enumerated().map { index, name in
            let bare = name.hasSuffix("_proj") ? String(name.dropLast(5)) : name
            guard let module = TransformerModule(rawValue: bare) else {
                throw InputError(.unknownName(kind: "LoRA target module", name: name, suggestion: nil,
                                              valid: TransformerModule.allCases.map(\.rawValue)), at: "\(keyPath)[\(index)]")
            }
            return module
        }
    }

    /// The scaling alpha / r.
    public var scaling: Float { alpha / Float(rank) }

    /// Throws an `InputError` at `keyPath.<key>`: no targets, a rank below 1 or above the smallest
    /// dimension of an adapted projection (at most the width), a non-finite alpha.
    public func validate(for config: TransformerConfig, keyPath: String = "lora") throws {
        func key(_ name: String) -> String { keyPath.isEmpty ? name : keyPath + "." + name }
        guard !targets.isEmpty else {
            throw InputError(.invalidValue(expected: "at least one target module", found: "[]"), at: key("targets"))
        }
        let limit = targets.map { min($0.shape(config).out, $0.shape(config).in) }.min() ?? config.width
        guard rank >= 1, rank <= limit else {
            throw InputError(.invalidValue(expected: "a rank from 1 to \(limit) (the smallest dimension of an adapted projection)",
                                           found: String(rank)), at: key("rank"))
        }
        guard alpha.isFinite else {
            throw InputError(.invalidValue(expected: "a finite alpha", found: "\(alpha)"), at: key("alpha"))
        }
    }
}
