import LoRA
import Numerics

/// The shape of a real decoder-only LLM: enough to count its parameters and name its LoRA-adaptable layers.
public struct ModelArchitecture: Sendable, Equatable, Codable {
    /// Module naming and LoRA target vocabulary of a checkpoint.
    public enum Family: String, Sendable, Codable {
        /// LLaMA, Mistral, Qwen2, Gemma 2: `model.layers.N.self_attn.{q,k,v,o}_proj`, `model.layers.N.mlp.{gate,up,down}_proj`.
        case llama
        /// Phi-3: q, k and v fused into `model.layers.N.self_attn.qkv_proj`, gate and up into
        /// `model.layers.N.mlp.gate_up_proj`; `self_attn.o_proj` and `mlp.down_proj` as in LLaMA.
        case phi3
        /// GPT-2: `transformer.h.N.attn.{c_attn,c_proj}`, `transformer.h.N.mlp.{c_fc,c_proj}` (Conv1D, weights stored d_in × d_out).
        case gpt2
    }

    /// Which attention projections carry a bias vector.
    public enum AttentionBias: String, Sendable, Codable {
        /// No biases (LLaMA, Mistral).
        case none
        /// Biases on q, k and v but not on the output projection (Qwen2, Qwen2.5).
        case qkv
        /// Biases on q, k, v and the output projection (GPT-2).
        case all
    }

    /// The feed-forward block.
    public enum MLPKind: String, Sendable, Codable {
        /// SwiGLU: down(silu(gate(x)) ⊙ up(x)) — three hidden × intermediate matrices.
        case gatedSwiGLU
        /// GeGLU (Gemma): down(gelu_tanh(gate(x)) ⊙ up(x)) — the same three matrices as SwiGLU.
        case gatedGeGLU
        /// GPT-2: c_proj(gelu(c_fc(x))) — two hidden × intermediate matrices.
        case plainGELU
    }

    /// The normalisation layer.
    public enum NormKind: String, Sendable, Codable {
        /// RMSNorm: a scale vector only (hidden parameters).
        case rmsNorm
        /// LayerNorm: scale and shift (2 · hidden parameters).
        case layerNorm
    }

    /// How token positions enter the model.
    public enum PositionEmbedding: Sendable, Equatable, Codable {
        /// Rotary embeddings: no parameters.
        case rotary
        /// A learned table of `positions` × hidden (GPT-2's `wpe`).
        case learned(positions: Int)
    }

    /// Catalogue id, lowercase, e.g. `llama-2-7b`.
    public var name: String
    /// Human-readable name, e.g. `Llama 2 7B`.
    public var displayName: String
    /// The Hugging Face repository the values come from, e.g. `meta-llama/Llama-2-7b-hf` (empty for a `CustomModelShape`).
    public var huggingFaceID: String
    /// Module naming and LoRA target vocabulary.
    public var family: Family
    /// `hidden_size` (GPT-2: `n_embd`).
    public var hiddenSize: Int
    /// `intermediate_size` (GPT-2: `n_inner`, default 4 · n_embd).
    public var intermediateSize: Int
    /// `num_hidden_layers` (GPT-2: `n_layer`).
    public var layers: Int
    /// `num_attention_heads` (GPT-2: `n_head`).
    public var attentionHeads: Int
    /// `num_key_value_heads`: fewer than the attention heads under grouped-query attention.
    public var keyValueHeads: Int
    /// `head_dim`: the width of one attention head. Usually hidden / heads, but a config may set it
    /// apart (Gemma 2 2B: 256 with hidden 2304 and 8 heads, so q_proj is 2304→2048); every shape
    /// below uses it, never hidden / heads.
    public var headDim: Int
    /// `vocab_size` (the embedding rows, including padding rows).
    public var vocabularySize: Int
    /// `tie_word_embeddings`: the LM head reuses the token embedding matrix.
    public var tiedEmbeddings: Bool
    /// Which attention projections have biases.
    public var attentionBias: AttentionBias
    /// The feed-forward block.
    public var mlp: MLPKind
    /// Whether the feed-forward matrices have biases.
    public var mlpBias: Bool
    /// The normalisation layer.
    public var norm: NormKind
    /// Norm layers per transformer block (a final norm follows the last block).
    public var normsPerLayer: Int
    /// How positions are embedded.
    public var positionEmbedding: PositionEmbedding
    /// The published total parameter count; each catalogue entry cites its source (a `CustomModelShape`: its computed count).
    public var publishedParameters: Int

    /// Creates an architecture; `headDim` defaults to hidden / heads.
    public init(name: String, displayName: String, huggingFaceID: String, family: Family,
                hiddenSize: Int, intermediateSize: Int, layers: Int, attentionHeads: Int, keyValueHeads: Int,
                headDim: Int? = nil, vocabularySize: Int, tiedEmbeddings: Bool, attentionBias: AttentionBias,
                mlp: MLPKind, mlpBias: Bool, norm: NormKind, normsPerLayer: Int = 2,
                positionEmbedding: PositionEmbedding, publishedParameters: Int) {
        precondition(attentionHeads > 0 && keyValueHeads > 0 && attentionHeads % keyValueHeads == 0,
                     "attention heads must be a multiple of key/value heads")
        self.name = name
        self.displayName = displayName
        self.huggingFaceID = huggingFaceID
        self.family = family
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.attentionHeads = attentionHeads
        self.keyValueHeads = keyValueHeads
        self.headDim = headDim ?? hiddenSize / attentionHeads
        self.vocabularySize = vocabularySize
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionBias = attentionBias
        self.mlp = mlp
        self.mlpBias = mlpBias
        self.norm = norm
        self.normsPerLayer = normsPerLayer
        self.positionEmbedding = positionEmbedding
        self.publishedParameters = publishedParameters
    }

    /// Parameters in the embedding lookups: the token table plus a learned position table.
    public var embeddingParameters: Int {
        var count = vocabularySize * hiddenSize
        if case let .learned(positions) = positionEmbedding { count += positions * hiddenSize }
        return count
    }

    /// Parameters of one transformer block: attention, MLP and its norms.
    public var parametersPerLayer: Int {
        let qWidth = attentionHeads * headDim, kvWidth = keyValueHeads * headDim
        var attention = hiddenSize * qWidth + 2 * hiddenSize * kvWidth + qWidth * hiddenSize
        if attentionBias != .none { attention += qWidth + 2 * kvWidth }
        if attentionBias == .all { attention += hiddenSize }
        var feedForward: Int
        switch mlp {
        case .gatedSwiGLU, .gatedGeGLU:
            feedForward = 3 * hiddenSize * intermediateSize
            if mlpBias { feedForward += 2 * intermediateSize + hiddenSize }
        case .plainGELU:
            feedForward = 2 * hiddenSize * intermediateSize
            if mlpBias { feedForward += intermediateSize + hiddenSize }
        }
        return attention + feedForward + normsPerLayer * parametersPerNorm
    }

    /// Parameters of one norm layer.
    public var parametersPerNorm: Int { norm == .rmsNorm ? hiddenSize : 2 * hiddenSize }

    // Phi-3's fused qkv_proj and gate_up_proj hold exactly the weights of the separate q, k, v and
    // gate, up matrices, so the count is the same formula.
    /// Total parameters: embeddings + blocks + final norm + LM head (none when tied; no bias).
    public func parameterCount() -> Int {
        embeddingParameters + layers * parametersPerLayer + parametersPerNorm
            + (tiedEmbeddings ? 0 : vocabularySize * hiddenSize)
    }

    /// Parameters that cost one multiply–add per token: all but the embedding lookups, LM head counted even when tied.
    public var computeParameters: Int {
        layers * parametersPerLayer + parametersPerNorm + vocabularySize * hiddenSize
    }

    // The usual estimate of training compute is C ≈ 6·N per token (Kaplan et al. 2020, "Scaling Laws
    // for Neural Language Models", §2.1): a forward pass costs 2N (one multiply–add per weight), and the
    // backward pass 4N — 2N for the gradient with respect to the activations and 2N for the gradient
    // with respect to the weights. Under LoRA the base weights are frozen: their weight gradient is never
    // formed, but activation gradients must still flow back through every frozen layer to reach the
    // adapters below it. So the base costs 2N_base + 2N_base = 4·N_base, and the adapters, which are
    // trained in full (x → A → B is 2·r·(d_in + d_out) = 2·N_lora forward), cost 6·N_lora. We use
    // N_base = `computeParameters` (embedding lookups are gathers, not multiplies; a tied LM head is
    // still a multiply). Omitted: the attention scores, ≈ 2·layers·context·heads·headDim per token
    // forward (small next to 2N for contexts well below ~6·hidden), and the extra forward pass of
    // activation checkpointing (+2·N_base) when it is used.
    /// Training FLOPs per token with LoRA: ≈ 4·N_base + 6·N_lora (vs. 6·N for full fine-tuning).
    public func trainingFLOPsPerToken(loraParameters: Int) -> Double {
        4 * Double(computeParameters) + 6 * Double(loraParameters)
    }

    /// The LoRA layers for `targets` at `rank`: one shape per (layer, target), layers outermost, targets in the given order.
    public func loraShapes(rank: Int, targets: [String], keyPath: String = "payload") throws -> [LoRALayerShape] {
        let rankPath = Self.join(keyPath, "rank"), targetsPath = Self.join(keyPath, "targets")
        guard !targets.isEmpty else {
            let example = switch family { case .gpt2: "\"c_attn\""; case .phi3: "\"qkv_proj\""; case .llama: "\"q\", \"v\"" }
            throw InputError(.invalidValue(expected: "at least one LoRA target (e.g. \(example))",
                                           found: "an empty list"), at: targetsPath)
        }
        guard rank > 0 else {
            throw InputError(.invalidValue(expected: "a positive rank", found: "\(rank)"), at: rankPath)
        }
        var modules: [Module] = []
        var firstIndex: [String: Int] = [:]
        for (index, target) in targets.enumerated() {
            let path = "\(targetsPath)[\(index)]"
            let module = try resolve(target, keyPath: path)
            if let earlier = firstIndex[module.path] {
                throw InputError(.invalidValue(expected: "each module targeted once",
                                               found: "'\(target)', which is \(module.path) again (as targets[\(earlier)] '\(targets[earlier])')"),
                                 at: path)
            }
            firstIndex[module.path] = index
            modules.append(module)
        }
        if let tightest = modules.min(by: { min($0.inFeatures, $0.outFeatures) < min($1.inFeatures, $1.outFeatures) }),
           rank > min(tightest.inFeatures, tightest.outFeatures) {
            let bound = min(tightest.inFeatures, tightest.outFeatures)
            throw InputError(.invalidValue(expected: "a rank of at most \(bound) (\(tightest.path) of \(name) is \(tightest.inFeatures)→\(tightest.outFeatures))",
                                           found: "\(rank)"), at: rankPath)
        }
        let prefix = family == .gpt2 ? "transformer.h" : "model.layers"
        return (0..<layers).flatMap { layer in
            modules.map { LoRALayerShape(name: "\(prefix).\(layer).\($0.path)", inFeatures: $0.inFeatures, outFeatures: $0.outFeatures, rank: rank) }
        }
    }

    /// Trainable LoRA parameters for `targets` at `rank`: Σ r·(d_in + d_out) over the shapes.
    public func loraParameterCount(rank: Int, targets: [String], keyPath: String = "payload") throws -> Int {
        try loraShapes(rank: rank, targets: targets, keyPath: keyPath).reduce(0) { $0 + $1.parameterCount }
    }

    /// The target names this model accepts, short names first.
    public var loraTargetNames: [String] {
        switch family {
        case .llama: ["q", "k", "v", "o", "gate", "up", "down", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        case .gpt2: ["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj", "o", "up", "down"]
        case .phi3: ["qkv", "o", "gate_up", "down", "qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
        }
    }

    /// One adaptable linear layer inside a block: its path below the block and its widths.
    private struct Module {
        var path: String
        var inFeatures: Int
        var outFeatures: Int
    }

    // LLaMA family: short names and Hugging Face module names, as PEFT's `target_modules` spells them.
    // GPT-2: c_attn is q, k and v fused into one 768→2304 Conv1D, so "q"/"k"/"v" cannot be adapted
    // separately; the role names map as o → attn.c_proj, up → c_fc, down → mlp.c_proj. A bare "c_proj"
    // is refused: in PEFT it would match both attn.c_proj and mlp.c_proj.
    // Phi-3: the checkpoint stores self_attn.qkv_proj (hidden → (heads + 2·kv_heads)·head_dim) and
    // mlp.gate_up_proj (hidden → 2·intermediate), and PEFT's target_modules for it are qkv_proj, o_proj,
    // gate_up_proj, down_proj. q, k, v, gate and up have no module of their own there: they are refused,
    // naming the fused module, rather than silently widened to it.
    private func resolve(_ target: String, keyPath: String) throws -> Module {
        let key = target.lowercased()
        let h = hiddenSize, q = attentionHeads * headDim, kv = keyValueHeads * headDim, m = intermediateSize
        switch family {
        case .llama:
            switch key {
            case "q", "q_proj": return Module(path: "self_attn.q_proj", inFeatures: h, outFeatures: q)
            case "k", "k_proj": return Module(path: "self_attn.k_proj", inFeatures: h, outFeatures: kv)
            case "v", "v_proj": return Module(path: "self_attn.v_proj", inFeatures: h, outFeatures: kv)
            case "o", "o_proj": return Module(path: "self_attn.o_proj", inFeatures: q, outFeatures: h)
            case "gate", "gate_proj": return Module(path: "mlp.gate_proj", inFeatures: h, outFeatures: m)
            case "up", "up_proj": return Module(path: "mlp.up_proj", inFeatures: h, outFeatures: m)
            case "down", "down_proj": return Module(path: "mlp.down_proj", inFeatures: m, outFeatures: h)
            default: break
            }
        case .gpt2:
            switch key {
            case "c_attn", "attn.c_attn": return Module(path: "attn.c_attn", inFeatures: h, outFeatures: q + 2 * kv)
            case "attn.c_proj", "o": return Module(path: "attn.c_proj", inFeatures: q, outFeatures: h)
            case "c_fc", "mlp.c_fc", "up": return Module(path: "mlp.c_fc", inFeatures: h, outFeatures: m)
            case "mlp.c_proj", "down": return Module(path: "mlp.c_proj", inFeatures: m, outFeatures: h)
            case "q", "k", "v", "q_proj", "k_proj", "v_proj", "qkv":
                throw InputError(.invalidValue(expected: "'c_attn' (GPT-2 fuses q, k and v into one \(h)→\(q + 2 * kv) projection, c_attn)",
                                               found: "'\(target)'"), at: keyPath)
            case "gate", "gate_proj":
                throw InputError(.invalidValue(expected: "'c_fc' or 'mlp.c_proj' (GPT-2's MLP is not gated: c_fc → GELU → c_proj, no gate)",
                                               found: "'\(target)'"), at: keyPath)
            case "c_proj":
                throw InputError(.invalidValue(expected: "'attn.c_proj' or 'mlp.c_proj' (GPT-2 has a c_proj in attention and another in the MLP)",
                                               found: "'\(target)'"), at: keyPath)
            case "o_proj", "up_proj", "down_proj":
                let equivalent = ["o_proj": "attn.c_proj", "up_proj": "c_fc", "down_proj": "mlp.c_proj"][key]
                throw InputError(.unknownName(kind: "\(name) LoRA target", name: target, suggestion: equivalent, valid: loraTargetNames), at: keyPath)
            default: break
            }
        case .phi3:
            switch key {
            case "qkv", "qkv_proj": return Module(path: "self_attn.qkv_proj", inFeatures: h, outFeatures: q + 2 * kv)
            case "o", "o_proj": return Module(path: "self_attn.o_proj", inFeatures: q, outFeatures: h)
            case "gate_up", "gate_up_proj": return Module(path: "mlp.gate_up_proj", inFeatures: h, outFeatures: 2 * m)
            case "down", "down_proj": return Module(path: "mlp.down_proj", inFeatures: m, outFeatures: h)
            case "q", "k", "v", "q_proj", "k_proj", "v_proj":
                throw InputError(.invalidValue(expected: "'qkv_proj' (\(name) fuses q, k and v into one \(h)→\(q + 2 * kv) projection, self_attn.qkv_proj)",
                                               found: "'\(target)'"), at: keyPath)
            case "gate", "up", "gate_proj", "up_proj":
                throw InputError(.invalidValue(expected: "'gate_up_proj' (\(name) fuses gate and up into one \(h)→\(2 * m) projection, mlp.gate_up_proj)",
                                               found: "'\(target)'"), at: keyPath)
            default: break
            }
        }
        throw InputError(.unknownName(kind: "\(name) LoRA target", name: target,
                                      suggestion: Suggestion.nearest(to: key, in: loraTargetNames), valid: loraTargetNames), at: keyPath)
    }

    static func join(_ prefix: String, _ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
}

/// The catalogue of real architectures, looked up by id or alias.
public enum ModelCatalog {
    // Shapes are the `config.json` values of each Hugging Face repository (cited per entry).
    // `publishedParameters` is the exact total the Hugging Face Hub reports from the checkpoint's
    // safetensors metadata (the "N params" figure on the model page), cross-checked against the rounded
    // figure of the model card or paper given in each comment.
    /// Every catalogued architecture.
    public static let all: [ModelArchitecture] = [
        // openai-community/gpt2 config.json: n_embd 768, n_layer 12, n_head 12, n_inner null (→ 4·768), n_positions 1024,
        // vocab_size 50257; the LM head is tied to wte. 124,439,808 is `GPT2LMHeadModel.num_parameters()` — the model
        // card's "124M" (the GPT-2 paper's "117M" was a miscount). The Hub's safetensors total reads higher (≈137M)
        // because the checkpoint also stores the twelve 1024×1024 causal-mask buffers `attn.bias`, which are not weights.
        ModelArchitecture(name: "gpt2", displayName: "GPT-2 small", huggingFaceID: "openai-community/gpt2", family: .gpt2,
                          hiddenSize: 768, intermediateSize: 3072, layers: 12, attentionHeads: 12, keyValueHeads: 12,
                          vocabularySize: 50257, tiedEmbeddings: true, attentionBias: .all, mlp: .plainGELU, mlpBias: true,
                          norm: .layerNorm, positionEmbedding: .learned(positions: 1024), publishedParameters: 124_439_808),
        // Qwen/Qwen2.5-0.5B config.json: hidden 896, intermediate 4864, 24 layers, 14 heads, 2 KV heads, vocab 151936,
        // tie_word_embeddings true; q/k/v biases. Model card: "Number of Parameters: 0.49B" (0.36B non-embedding).
        ModelArchitecture(name: "qwen2.5-0.5b", displayName: "Qwen2.5 0.5B", huggingFaceID: "Qwen/Qwen2.5-0.5B", family: .llama,
                          hiddenSize: 896, intermediateSize: 4864, layers: 24, attentionHeads: 14, keyValueHeads: 2,
                          vocabularySize: 151_936, tiedEmbeddings: true, attentionBias: .qkv, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 494_032_768),
        // Qwen/Qwen2.5-1.5B config.json: hidden 1536, intermediate 8960, 28 layers, 12 heads, 2 KV heads, vocab 151936,
        // tie_word_embeddings true; q/k/v biases. Hub: 1.54B params; model card: "1.54B" (1.31B non-embedding).
        ModelArchitecture(name: "qwen2.5-1.5b", displayName: "Qwen2.5 1.5B", huggingFaceID: "Qwen/Qwen2.5-1.5B", family: .llama,
                          hiddenSize: 1536, intermediateSize: 8960, layers: 28, attentionHeads: 12, keyValueHeads: 2,
                          vocabularySize: 151_936, tiedEmbeddings: true, attentionBias: .qkv, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 1_543_714_304),
        // Qwen/Qwen2.5-3B config.json: hidden 2048, intermediate 11008, 36 layers, 16 heads, 2 KV heads, vocab 151936,
        // tie_word_embeddings true; q/k/v biases. Hub: 3.09B params; model card: "3.09B" (2.77B non-embedding).
        ModelArchitecture(name: "qwen2.5-3b", displayName: "Qwen2.5 3B", huggingFaceID: "Qwen/Qwen2.5-3B", family: .llama,
                          hiddenSize: 2048, intermediateSize: 11008, layers: 36, attentionHeads: 16, keyValueHeads: 2,
                          vocabularySize: 151_936, tiedEmbeddings: true, attentionBias: .qkv, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 3_085_938_688),
        // Qwen/Qwen2.5-7B config.json: hidden 3584, intermediate 18944, 28 layers, 28 heads, 4 KV heads, vocab 152064,
        // tie_word_embeddings false; q/k/v biases. Model card: "Number of Parameters: 7.61B" (6.53B non-embedding).
        ModelArchitecture(name: "qwen2.5-7b", displayName: "Qwen2.5 7B", huggingFaceID: "Qwen/Qwen2.5-7B", family: .llama,
                          hiddenSize: 3584, intermediateSize: 18944, layers: 28, attentionHeads: 28, keyValueHeads: 4,
                          vocabularySize: 152_064, tiedEmbeddings: false, attentionBias: .qkv, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 7_615_616_512),
        // google/gemma-2-2b config.json: hidden 2304, intermediate 9216, 26 layers, 8 heads, 4 KV heads, head_dim 256
        // (not 2304 / 8: q_proj is 2304→2048, k/v 2304→1024, o 2048→2304), vocab 256000, tied; GeGLU
        // (gelu_pytorch_tanh); four RMSNorms per block (input, post-attention, pre- and post-feedforward). Soft-capping,
        // the √hidden embedding scale and sliding windows have no parameters. Hub: 2.61B params; Gemma 2 report: 2.6B
        // (590M embedding, 2,024M non-embedding).
        ModelArchitecture(name: "gemma-2-2b", displayName: "Gemma 2 2B", huggingFaceID: "google/gemma-2-2b", family: .llama,
                          hiddenSize: 2304, intermediateSize: 9216, layers: 26, attentionHeads: 8, keyValueHeads: 4, headDim: 256,
                          vocabularySize: 256_000, tiedEmbeddings: true, attentionBias: .none, mlp: .gatedGeGLU, mlpBias: false,
                          norm: .rmsNorm, normsPerLayer: 4, positionEmbedding: .rotary, publishedParameters: 2_614_341_888),
        // microsoft/Phi-3-mini-4k-instruct config.json: hidden 3072, intermediate 8192, 32 layers, 32 heads, 32 KV heads,
        // vocab 32064, untied. The checkpoint fuses q, k, v into self_attn.qkv_proj (3072→9216) and gate, up into
        // mlp.gate_up_proj (3072→16384). Hub: 3.82B params; model card: "3.8B".
        ModelArchitecture(name: "phi-3-mini", displayName: "Phi-3 mini 4k", huggingFaceID: "microsoft/Phi-3-mini-4k-instruct", family: .phi3,
                          hiddenSize: 3072, intermediateSize: 8192, layers: 32, attentionHeads: 32, keyValueHeads: 32,
                          vocabularySize: 32064, tiedEmbeddings: false, attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 3_821_079_552),
        // meta-llama/Llama-2-7b-hf config.json: hidden 4096, intermediate 11008, 32 layers, 32 heads, 32 KV heads,
        // vocab 32000, untied. Hub: 6.74B params; model card and paper: "7B".
        ModelArchitecture(name: "llama-2-7b", displayName: "Llama 2 7B", huggingFaceID: "meta-llama/Llama-2-7b-hf", family: .llama,
                          hiddenSize: 4096, intermediateSize: 11008, layers: 32, attentionHeads: 32, keyValueHeads: 32,
                          vocabularySize: 32000, tiedEmbeddings: false, attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 6_738_415_616),
        // meta-llama/Llama-2-13b-hf config.json: hidden 5120, intermediate 13824, 40 layers, 40 heads, 40 KV heads,
        // vocab 32000, untied. Hub: 13.0B params; model card and paper: "13B".
        ModelArchitecture(name: "llama-2-13b", displayName: "Llama 2 13B", huggingFaceID: "meta-llama/Llama-2-13b-hf", family: .llama,
                          hiddenSize: 5120, intermediateSize: 13824, layers: 40, attentionHeads: 40, keyValueHeads: 40,
                          vocabularySize: 32000, tiedEmbeddings: false, attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 13_015_864_320),
        // meta-llama/Llama-2-70b-hf config.json: hidden 8192, intermediate 28672, 80 layers, 64 heads, 8 KV heads (GQA),
        // vocab 32000, untied. Hub: 69.0B params; model card and paper: "70B".
        ModelArchitecture(name: "llama-2-70b", displayName: "Llama 2 70B", huggingFaceID: "meta-llama/Llama-2-70b-hf", family: .llama,
                          hiddenSize: 8192, intermediateSize: 28672, layers: 80, attentionHeads: 64, keyValueHeads: 8,
                          vocabularySize: 32000, tiedEmbeddings: false, attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 68_976_648_192),
        // meta-llama/Meta-Llama-3-8B config.json: hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads (GQA),
        // vocab 128256, untied. Hub: 8.03B params; model card: "8B".
        ModelArchitecture(name: "llama-3-8b", displayName: "Llama 3 8B", huggingFaceID: "meta-llama/Meta-Llama-3-8B", family: .llama,
                          hiddenSize: 4096, intermediateSize: 14336, layers: 32, attentionHeads: 32, keyValueHeads: 8,
                          vocabularySize: 128_256, tiedEmbeddings: false, attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 8_030_261_248),
        // meta-llama/Meta-Llama-3-70B config.json: hidden 8192, intermediate 28672, 80 layers, 64 heads, 8 KV heads (GQA),
        // vocab 128256, untied. Hub: 70.6B params; model card: "70B".
        ModelArchitecture(name: "llama-3-70b", displayName: "Llama 3 70B", huggingFaceID: "meta-llama/Meta-Llama-3-70B", family: .llama,
                          hiddenSize: 8192, intermediateSize: 28672, layers: 80, attentionHeads: 64, keyValueHeads: 8,
                          vocabularySize: 128_256, tiedEmbeddings: false, attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 70_553_706_496),
        // mistralai/Mistral-7B-v0.1 config.json: hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads (GQA),
        // vocab 32000, untied, sliding window 4096 (no parameters). Hub: 7.24B params; Mistral's announcement: "7.3B".
        ModelArchitecture(name: "mistral-7b", displayName: "Mistral 7B v0.1", huggingFaceID: "mistralai/Mistral-7B-v0.1", family: .llama,
                          hiddenSize: 4096, intermediateSize: 14336, layers: 32, attentionHeads: 32, keyValueHeads: 8,
                          vocabularySize: 32000, tiedEmbeddings: false, attentionBias: .none, mlp: .gatedSwiGLU, mlpBias: false,
                          norm: .rmsNorm, positionEmbedding: .rotary, publishedParameters: 7_241_732_096),
    ]

    /// The catalogue ids, in catalogue order.
    public static var names: [String] { all.map(\.name) }

    // Instruct/chat variants share their base model's shapes. Mistral v0.2/v0.3 are not aliased: v0.3 has a
    // larger vocabulary (32768). Phi-3-mini-128k is not aliased either: its weights have the 4k model's shapes,
    // but it is a different checkpoint (LongRoPE), and the catalogue names the one its values come from.
    /// Other spellings (lowercase) → catalogue id; each entry's Hugging Face id is accepted as well.
    public static let aliases: [String: String] = [
        "gpt-2": "gpt2", "gpt2-small": "gpt2",
        "qwen2.5-0.5b-instruct": "qwen2.5-0.5b", "qwen/qwen2.5-0.5b-instruct": "qwen2.5-0.5b",
        "qwen2.5-1.5b-instruct": "qwen2.5-1.5b", "qwen/qwen2.5-1.5b-instruct": "qwen2.5-1.5b",
        "qwen2.5-3b-instruct": "qwen2.5-3b", "qwen/qwen2.5-3b-instruct": "qwen2.5-3b",
        "qwen2.5-7b-instruct": "qwen2.5-7b", "qwen/qwen2.5-7b-instruct": "qwen2.5-7b",
        "gemma2-2b": "gemma-2-2b", "gemma-2-2b-it": "gemma-2-2b", "google/gemma-2-2b-it": "gemma-2-2b",
        "phi-3-mini-4k-instruct": "phi-3-mini", "phi-3-mini-4k": "phi-3-mini", "phi3-mini": "phi-3-mini",
        "llama2-7b": "llama-2-7b", "llama-2-7b-hf": "llama-2-7b", "llama-2-7b-chat": "llama-2-7b",
        "meta-llama/llama-2-7b-chat-hf": "llama-2-7b",
        "llama2-13b": "llama-2-13b", "llama-2-13b-hf": "llama-2-13b", "llama-2-13b-chat": "llama-2-13b",
        "meta-llama/llama-2-13b-chat-hf": "llama-2-13b",
        "llama2-70b": "llama-2-70b", "llama-2-70b-hf": "llama-2-70b", "llama-2-70b-chat": "llama-2-70b",
        "meta-llama/llama-2-70b-chat-hf": "llama-2-70b",
        "llama3-8b": "llama-3-8b", "meta-llama-3-8b": "llama-3-8b", "llama-3-8b-instruct": "llama-3-8b",
        "meta-llama/meta-llama-3-8b-instruct": "llama-3-8b",
        "llama3-70b": "llama-3-70b", "meta-llama-3-70b": "llama-3-70b", "llama-3-70b-instruct": "llama-3-70b",
        "meta-llama/meta-llama-3-70b-instruct": "llama-3-70b",
        "mistral-7b-v0.1": "mistral-7b", "mistral7b": "mistral-7b",
    ]

    /// Every accepted spelling (lowercase: ids, Hugging Face ids, aliases) → catalogue id.
    static var lookupTable: [String: String] {
        var table = aliases
        for model in all {
            table[model.name] = model.name
            table[model.huggingFaceID.lowercased()] = model.name
        }
        return table
    }

    /// The architecture called `name` (case-insensitive id, Hugging Face id or alias), or nil.
    public static func lookup(_ name: String) -> ModelArchitecture? {
        lookupTable[name.lowercased()].flatMap { id in all.first { $0.name == id } }
    }

    /// The architecture called `name` (case-insensitive id, Hugging Face id or alias); an `InputError` at `keyPath` otherwise.
    public static func named(_ name: String, keyPath: String = "payload.model") throws -> ModelArchitecture {
        if let model = lookup(name) { return model }
        let key = name.lowercased(), table = lookupTable
        let suggestion = Suggestion.nearest(to: key, in: table.keys.sorted()).flatMap { table[$0] }
        throw InputError(.unknownName(kind: "model", name: name, suggestion: suggestion, valid: names), at: keyPath)
    }
}
