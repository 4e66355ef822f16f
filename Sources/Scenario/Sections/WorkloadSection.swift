import Codec
import Federation
import Numerics

/// `workload`: the payload that travels (a catalogue model's LoRA adapter, or the proxy's real
/// messages), the compute it costs, and the proxy's real training (`TrainingSection`).
enum WorkloadSection: ScenarioSection {
    static let name = "workload"
    static var keys: [ScenarioKey] {
        [ScenarioKey("payload", ["oneOf": [SchemaVocabulary.ref("payload"), ["const": "measured", "description": "The proxy's real encoded messages (needs train)."]],
                                 "description": "The LoRA payload of a catalogue model or of a model shape of your own, or \"measured\" (the proxy's real messages; needs train)."]),
         ScenarioKey("compute", ["description": "Local training cost: FLOPs = samples·tokens_per_sample·epochs·(4·N_base + 6·N_lora).",
                                 "type": "object", "additionalProperties": false, "properties": computeKeys.properties]),
         ScenarioKey("train", SchemaVocabulary.ref("train"))]
    }
    static var computeKeys: [ScenarioKey] {
        let d = FederationConfig.Workload(payloadModel: .measured)
        return [ScenarioKey("tokens_per_sample", SchemaVocabulary.integer(1...1_000_000, "Tokens per training sample, 1 … 1,000,000; default \(d.tokensPerSample).",
                                                                          default: Resolved.integer(d.tokensPerSample))),
                ScenarioKey("epochs", SchemaVocabulary.integer(1...10_000, "Local epochs per round, 1 … 10,000; default \(d.epochs).", default: Resolved.integer(d.epochs)))]
    }
    static var payloadKeys: [ScenarioKey] {
        let models = ModelCatalog.all.map(\.name)
        return [
            ScenarioKey("model", ["oneOf": [["type": "string", "minLength": 1, "examples": .array(models.map { .string($0) }),
                                             "description": .string("A catalogue model (`fedsim codec --catalog`): \(models.joined(separator: ", ")); "
                                                 + "case-insensitive, Hugging Face ids and aliases accepted.")],
                                            SchemaVocabulary.ref("custom-model")],
                                  "description": "Base model: a catalogue name, or a Llama-family shape of your own {\"layers\", \"hidden\", …}."]),
            ScenarioKey("rank", SchemaVocabulary.integer(minimum: 1, "LoRA rank r, 1 … the model's hidden size.")),
            ScenarioKey("targets", ["type": "array", "minItems": 1, "uniqueItems": true, "items": ["type": "string", "minLength": 1],
                                    "examples": [["q", "v"], ["q", "k", "v", "o"]],
                                    "description": "Adapted modules, e.g. [\"q\", \"v\"] or [\"q_proj\", \"v_proj\"] (at least one, no module twice)."]),
            ScenarioKey("values", SchemaVocabulary.ref("value-type", "How adapter values travel: f32 (default), f16 or bf16; the arms' default.")),
        ]
    }
    /// The keys of a custom model shape (`CustomModelShape`).
    static var customModelKeys: [ScenarioKey] {
        let integers: [String: String] = [
            "layers": "Transformer blocks (num_hidden_layers).", "hidden": "Residual width (hidden_size).",
            "intermediate": "MLP inner width (intermediate_size); SwiGLU: gate, up and down.",
            "heads": "Attention heads (num_attention_heads); must divide hidden unless head_dim is given.",
            "kv_heads": "Key/value heads (num_key_value_heads); must divide heads.",
            "head_dim": "Width of one head (head_dim); default hidden / heads; heads · head_dim ≤ \(CustomModelShape.maxAttentionWidth).",
            "vocab": "Embedding rows (vocab_size).",
        ]
        return [ScenarioKey("name", ["type": "string", "pattern": .string(#"^[A-Za-z0-9._+-]{1,"# + "\(CustomModelShape.maxNameLength)}$"),
                                     "default": .string(CustomModelShape.defaultName),
                                     "description": "Label in reports: ASCII letters, digits and . _ - + (not a catalogue model's name)."])]
            + CustomModelShape.fields.map { f in
                ScenarioKey(f.key, SchemaVocabulary.integer(f.range, "\(integers[f.key] ?? f.meaning) \(f.range.lowerBound) … \(f.range.upperBound)."))
            }
            + [ScenarioKey("tied_embeddings", ["type": "boolean", "default": false,
                                               "description": "The LM head reuses the token embedding (tie_word_embeddings); default false."])]
    }
    static var definitions: [String: JSONValue] {
        [name: objectSchema("What is trained and exchanged (required, for its payload).", required: ["payload"]),
         "payload": ["description": "The LoRA adapter exchanged each round (required).", "type": "object", "additionalProperties": false,
                     "required": ["model", "rank", "targets"], "properties": payloadKeys.properties],
         "custom-model": ["description": .string("A Llama-family model shape (SwiGLU, RMSNorm, rotary, no biases), keys as in its config.json: "
                                                  + "layers, hidden, intermediate, heads, kv_heads and vocab required."),
                          "type": "object", "additionalProperties": false, "required": ["layers", "hidden", "intermediate", "heads", "kv_heads", "vocab"],
                          "properties": customModelKeys.properties],
         "value-type": ["enum": .array(ValueType.allCases.map { .string($0.rawValue) }), "description": "Value encoding on the wire: f32, f16 or bf16."]]
    }

    static func valueType(_ node: Node) throws -> ValueType {
        let text = try node.string()
        guard let v = ValueType(rawValue: text) else {
            let valid = ValueType.allCases.map(\.rawValue)
            throw InputError(.unknownName(kind: "value type", name: text, suggestion: Suggestion.nearest(to: text, in: valid), valid: valid), at: node.path)
        }
        return v
    }

    /// `payload.model`: a catalogue name, or a custom shape object.
    static func model(_ node: Node) throws -> ModelArchitecture {
        switch node.value {
        case let .string(name): return try ModelCatalog.named(name, keyPath: node.path)
        case .object:
            _ = try node.object(allowed: customModelKeys.names)
            func integer(_ f: CustomModelShape.Field) throws -> Int { try node.required(f.key).integer(f.range, f.expected) }
            return try CustomModelShape.architecture(
                name: try node.member("name")?.string() ?? CustomModelShape.defaultName,
                layers: try integer(CustomModelShape.layers), hidden: try integer(CustomModelShape.hidden),
                intermediate: try integer(CustomModelShape.intermediate), heads: try integer(CustomModelShape.heads),
                keyValueHeads: try integer(CustomModelShape.keyValueHeads),
                headDim: try node.member("head_dim")?.integer(CustomModelShape.headDim.range, CustomModelShape.headDim.expected),
                vocabulary: try integer(CustomModelShape.vocabulary), tiedEmbeddings: try node.member("tied_embeddings")?.bool() ?? false,
                keyPath: node.path)
        default:
            throw node.invalid("a catalogue model name or a model shape {\"layers\", \"hidden\", \"intermediate\", \"heads\", \"kv_heads\", \"vocab\"}")
        }
    }

    /// A model as `payload.model` writes it: the catalogue id, or the custom shape with every default filled in.
    static func resolved(_ m: ModelArchitecture) -> JSONValue {
        guard !m.isCatalogued else { return .string(m.name) }
        return ["name": .string(m.name), "layers": Resolved.integer(m.layers), "hidden": Resolved.integer(m.hiddenSize),
                "intermediate": Resolved.integer(m.intermediateSize), "heads": Resolved.integer(m.attentionHeads),
                "kv_heads": Resolved.integer(m.keyValueHeads), "head_dim": Resolved.integer(m.headDim),
                "vocab": Resolved.integer(m.vocabularySize), "tied_embeddings": .bool(m.tiedEmbeddings)]
    }

    static func parse(_ node: Node) throws -> FederationConfig.Workload {
        _ = try node.object(allowed: keys.names)
        let training = try node.member("train").map(TrainingSection.parse)
        let p = try node.required("payload")
        let payloadModel: FederationConfig.PayloadModel
        if case let .string(text) = p.value {
            guard text == "measured" else { throw p.invalid("\"measured\" or a catalogue payload {\"model\", \"rank\", \"targets\"}") }
            guard training != nil else {
                throw p.invalid("a catalogue payload {\"model\", \"rank\", \"targets\"}: \"measured\" needs workload.train (real messages come from real training)")
            }
            payloadModel = .measured
        } else {
            _ = try p.object(allowed: payloadKeys.names)
            let modelNode = try p.required("model")
            let model = try self.model(modelNode)
            let rankNode = try p.required("rank")
            let rank = try rankNode.integer(1...model.hiddenSize, "a LoRA rank in 1…\(model.hiddenSize) (the model's hidden size)")
            let targetsNode = try p.required("targets")
            let targets = try targetsNode.elements().map { try $0.string() }
            let values = try p.member("values").map(valueType) ?? .f32
            payloadModel = .catalogue(try FederationConfig.Payload(model: model, rank: rank, targets: targets, valueType: values, keyPath: p.path))
        }
        var workload = FederationConfig.Workload(payloadModel: payloadModel, training: training)
        if let c = node.member("compute") {
            _ = try c.object(allowed: computeKeys.names)
            workload.tokensPerSample = try c.member("tokens_per_sample")?.integer(1...1_000_000, "a positive number of tokens per sample") ?? workload.tokensPerSample
            workload.epochs = try c.member("epochs")?.integer(1...10_000, "a positive number of local epochs") ?? workload.epochs
        }
        return workload
    }

    static func resolved(_ w: FederationConfig.Workload) -> JSONValue {
        var o: [String: JSONValue] = ["compute": ["tokens_per_sample": Resolved.integer(w.tokensPerSample), "epochs": Resolved.integer(w.epochs)]]
        switch w.payloadModel {
        case let .catalogue(p):
            o["payload"] = ["model": resolved(p.model), "rank": Resolved.integer(p.rank), "targets": .array(p.targets.map { .string($0) }),
                            "values": .string(p.valueType.rawValue)]
        case .measured:
            o["payload"] = "measured"
        }
        if let t = w.training { o["train"] = TrainingSection.resolved(t) }
        return .object(o)
    }
}
