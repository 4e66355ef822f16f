import Numerics

/// One Llama block's weights. Projections are out × in, as a PyTorch `Linear` stores them.
public struct TransformerLayerWeights: Sendable, Equatable {
    /// RMSNorm gain before attention (`input_layernorm`), `width` entries.
    public var attentionNorm: [Float]
    public var q: Matrix, k: Matrix, v: Matrix, o: Matrix
    /// RMSNorm gain before the MLP (`post_attention_layernorm`), `width` entries.
    public var mlpNorm: [Float]
    public var gate: Matrix, up: Matrix, down: Matrix

    /// The projection `module`.
    public subscript(_ module: TransformerModule) -> Matrix {
        get {
            switch module {
            case .q: return q
            case .k: return k
            case .v: return v
            case .o: return o
            case .gate: return gate
            case .up: return up
            case .down: return down
            }
        }
        _modify {
            // In place (a get/set pair would copy the matrix on every write through the subscript).
            switch module {
            case .q: yield &q
            case .k: yield &k
            case .v: yield &v
            case .o: yield &o
            case .gate: yield &gate
            case .up: yield &up
            case .down: yield &down
            }
        }
    }

    /// A block from its tensors.
    public init(attentionNorm: [Float], q: Matrix, k: Matrix, v: Matrix, o: Matrix, mlpNorm: [Float],
                gate: Matrix, up: Matrix, down: Matrix) {
        self.attentionNorm = attentionNorm
        self.q = q; self.k = k; self.v = v; self.o = o
        self.mlpNorm = mlpNorm
        self.gate = gate; self.up = up; self.down = down
    }

    /// Zeros of the shapes of `config` (a gradient accumulator).
    init(zeros config: TransformerConfig) {
        let d = config.width
        attentionNorm = [Float](repeating: 0, count: d)
        mlpNorm = attentionNorm
        q = .zeros(rows: d, cols: d); k = q; v = q; o = q
        gate = .zeros(rows: config.hidden, cols: d); up = gate
        down = .zeros(rows: d, cols: config.hidden)
    }
}

/// The base model's weights (Hugging Face `LlamaForCausalLM` layout, untied head).
public struct TransformerWeights: Sendable, Equatable {
    public let config: TransformerConfig
    /// `model.embed_tokens.weight`, vocabulary × width.
    public var embedding: Matrix
    public var layers: [TransformerLayerWeights]
    /// `model.norm.weight`, `width` entries.
    public var finalNorm: [Float]
    /// `lm_head.weight`, vocabulary × width.
    public var head: Matrix

    /// Llama's initialisation (`initializer_range` 0.02): every matrix normal(0, `std`) from the
    /// stream `transformer.init` of `seed`, every norm gain 1.
    /// - Precondition: `config.validate()` passes.
    public init(config: TransformerConfig, seed: UInt64, std: Double = 0.02) {
        self.config = config
        let s = RandomStream(seed: seed, purpose: "transformer.init")
        func normal(_ rows: Int, _ cols: Int) -> Matrix {
            Matrix(rows: rows, cols: cols) { _, _ in Float(s.standardNormal() * std) }
        }
        let d = config.width, f = config.hidden
        let ones = [Float](repeating: 1, count: d)
        embedding = normal(config.vocabulary, d)
        layers = (0..<config.layers).map { _ in
            TransformerLayerWeights(attentionNorm: ones, q: normal(d, d), k: normal(d, d), v: normal(d, d), o: normal(d, d),
                                    mlpNorm: ones, gate: normal(f, d), up: normal(f, d), down: normal(d, f))
        }
        finalNorm = ones
        head = normal(config.vocabulary, d)
    }

    /// Zeros of the shapes of `config` (a gradient accumulator).
    init(zeros config: TransformerConfig) {
        self.config = config
        embedding = .zeros(rows: config.vocabulary, cols: config.width)
        layers = (0..<config.layers).map { _ in TransformerLayerWeights(zeros: config) }
        finalNorm = [Float](repeating: 0, count: config.width)
        head = embedding
    }

    /// Hugging Face's tensor names in `state_dict` order, with their element counts.
    public var tensorNames: [String] {
        var names = ["model.embed_tokens.weight"]
        for i in 0..<layers.count {
            let p = "model.layers.\(i)."
            names += TransformerModule.allCases.prefix(4).map { p + $0.peftPath + ".weight" }
            names += TransformerModule.allCases.suffix(3).map { p + $0.peftPath + ".weight" }
            names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
        }
        return names + ["model.norm.weight", "lm_head.weight"]
    }

    /// Every parameter buffer, in `tensorNames` order, for optimisers (read, or updated in place by `body`).
    mutating func forEachBuffer(_ body: (_ index: Int, _ buffer: inout [Float]) -> Void) {
        var index = 0
        func visit(_ b: inout [Float]) { body(index, &b); index += 1 }
        visit(&embedding.storage)
        for l in layers.indices {
            for m in TransformerModule.allCases { visit(&layers[l][m].storage) }
            visit(&layers[l].attentionNorm)
            visit(&layers[l].mlpNorm)
        }
        visit(&finalNorm)
        visit(&head.storage)
    }

    /// The buffers in `forEachBuffer` order (copies; for reading).
    var buffers: [[Float]] {
        var copy = self, out: [[Float]] = []
        copy.forEachBuffer { _, b in out.append(b) }
        return out
    }

    /// Total parameters.
    public var parameterCount: Int { buffers.reduce(0) { $0 + $1.count } }

    /// Whether every weight is finite.
    public var isFinite: Bool { buffers.allSatisfy(allFinite) }
}
