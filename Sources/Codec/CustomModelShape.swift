import Numerics

/// A model shape of one's own instead of a catalogue name (`workload.payload.model` as an object):
/// a Llama-family decoder — SwiGLU MLP, RMSNorm (two per block), rotary positions, no biases,
/// PEFT module names `self_attn.{q,k,v,o}_proj` and `mlp.{gate,up,down}_proj`.
public enum CustomModelShape {
    /// One integer field of the shape: its scenario key, what it counts and its bounds.
    public struct Field: Sendable {
        /// The scenario key, e.g. `kv_heads`.
        public let key: String
        /// What the value is, for messages, e.g. "a number of layers".
        public let meaning: String
        /// The accepted values.
        public let range: ClosedRange<Int>

        /// What a message expects: the meaning with its bounds.
        public var expected: String { "\(meaning) in \(range.lowerBound)…\(range.upperBound)" }
    }

    // The bounds leave a wide margin over every published model (Llama 3 405B: 126 layers, hidden
    // 16384, intermediate 53248, 128 heads of 128; the largest vocabularies ≈ 256k) and keep every
    // count in range of Int: with hidden and heads·head_dim ≤ 2^17, intermediate ≤ 2^20, vocab ≤ 2^22
    // and layers ≤ 2^10, a block has < 2^39 parameters, the model < 2^50, and a LoRA adapter on all
    // seven projections at the largest rank (hidden) < 2^51.
    /// `layers`: transformer blocks.
    public static let layers = Field(key: "layers", meaning: "a number of layers", range: 1...1024)
    /// `hidden`: the residual width.
    public static let hidden = Field(key: "hidden", meaning: "a hidden size", range: 1...131_072)
    /// `intermediate`: the MLP's inner width.
    public static let intermediate = Field(key: "intermediate", meaning: "an intermediate (MLP) size", range: 1...1_048_576)
    /// `heads`: attention (query) heads.
    public static let heads = Field(key: "heads", meaning: "a number of attention heads", range: 1...16384)
    /// `kv_heads`: key/value heads; must divide `heads` (grouped-query attention when fewer).
    public static let keyValueHeads = Field(key: "kv_heads", meaning: "a number of key/value heads", range: 1...16384)
    /// `head_dim`: the width of one head (default hidden / heads).
    public static let headDim = Field(key: "head_dim", meaning: "a head width", range: 1...16384)
    /// `vocab`: embedding rows.
    public static let vocabulary = Field(key: "vocab", meaning: "a vocabulary size", range: 1...4_194_304)
    /// The largest attention width heads · head_dim.
    public static let maxAttentionWidth = 131_072
    /// The integer fields in scenario order.
    public static let fields: [Field] = [layers, hidden, intermediate, heads, keyValueHeads, headDim, vocabulary]
    /// The name a shape gets when none is given.
    public static let defaultName = "custom"
    /// The longest name accepted.
    public static let maxNameLength = 64

    /// The architecture of this shape; every violated bound or relation is an `InputError` at
    /// `keyPath.<key>` (the scenario key of the offending field). `headDim` nil: hidden / heads, which
    /// must then divide evenly.
    public static func architecture(name: String = defaultName, layers: Int, hidden: Int, intermediate: Int, heads: Int, keyValueHeads: Int,
                                    headDim: Int? = nil, vocabulary: Int, tiedEmbeddings: Bool = false,
                                    keyPath: String = "payload.model") throws -> ModelArchitecture {
        func path(_ key: String) -> String { ModelArchitecture.join(keyPath, key) }
        func check(_ value: Int, _ field: Field) throws {
            guard field.range.contains(value) else { throw InputError(.invalidValue(expected: field.expected, found: "\(value)"), at: path(field.key)) }
        }
        try checkName(name, keyPath: path("name"))
        try check(layers, Self.layers)
        try check(hidden, Self.hidden)
        try check(intermediate, Self.intermediate)
        try check(heads, Self.heads)
        try check(keyValueHeads, Self.keyValueHeads)
        if let headDim { try check(headDim, Self.headDim) }
        try check(vocabulary, Self.vocabulary)
        guard heads % keyValueHeads == 0 else {
            throw InputError(.invalidValue(expected: "a number of key/value heads dividing heads (\(heads))", found: "\(keyValueHeads)"),
                             at: path(Self.keyValueHeads.key))
        }
        let width: Int
        if let headDim {
            // Both factors are at most 16384: the product cannot overflow.
            guard heads * headDim <= maxAttentionWidth else {
                throw InputError(.invalidValue(expected: "a head width with heads · head_dim at most \(maxAttentionWidth)",
                                               found: "\(headDim) (\(heads) · \(headDim) = \(heads * headDim))"), at: path(Self.headDim.key))
            }
            width = headDim
        } else {
            guard hidden % heads == 0 else {
                throw InputError(.invalidValue(expected: "a number of attention heads dividing hidden (\(hidden)), or head_dim given",
                                               found: "\(heads)"), at: path(Self.heads.key))
            }
            width = hidden / heads
        }
        var model = ModelArchitecture(name: name, displayName: name, huggingFaceID: "", family: .llama,
                                      hiddenSize: hidden, intermediateSize: intermediate, layers: layers, attentionHeads: heads,
                                      keyValueHeads: keyValueHeads, headDim: width, vocabularySize: vocabulary, tiedEmbeddings: tiedEmbeddings,
                                      attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false, norm: .rmsNorm,
                                      positionEmbedding: .rotary, publishedParameters: 0)
        model.publishedParameters = model.parameterCount()
        return model
    }

    /// Refuses a name that is empty, too long, not of letters, digits and `. _ - +`, or a catalogue
    /// model's (a report would then name a catalogued model whose shapes these are not).
    static func checkName(_ name: String, keyPath: String) throws {
        if let catalogued = ModelCatalog.lookup(name) {
            throw InputError(.invalidValue(expected: "a name that is not a catalogue model's (for the catalogued one write \"model\": \"\(catalogued.name)\")",
                                           found: "'\(InputError.clipped(name, 40))'"), at: keyPath)
        }
        guard !name.isEmpty, name.count <= maxNameLength, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-+".contains($0)) }) else {
            throw InputError(.invalidValue(expected: "a name of 1…\(maxNameLength) ASCII letters, digits and . _ - +", found: "'\(InputError.clipped(name, 40))'"), at: keyPath)
        }
    }
}

extension ModelArchitecture {
    /// Whether this is one of `ModelCatalog.all` (false for a custom shape).
    public var isCatalogued: Bool { ModelCatalog.all.contains(self) }
}
