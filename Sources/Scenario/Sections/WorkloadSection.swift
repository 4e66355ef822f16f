import Codec
import Federation
import Numerics

/// `workload`: the payload that travels (a catalogue model's LoRA adapter, or the proxy's real
/// messages), the compute it costs, and the proxy's real training (`TrainingSection`).
enum WorkloadSection: ScenarioSection {
    static let name = "workload"
    static var keys: [ScenarioKey] {
        [ScenarioKey("payload", ["oneOf": [SchemaVocabulary.ref("payload"), ["const": "measured", "description": "The proxy's real encoded messages (needs train)."]],
                                 "description": "A catalogue model's LoRA payload, or \"measured\" (the proxy's real messages; needs train)."]),
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
            ScenarioKey("model", ["type": "string", "minLength": 1, "examples": .array(models.map { .string($0) }),
                                  "description": .string("Base model from the model catalogue (`fedsim codec --catalog`): \(models.joined(separator: ", ")); "
                                      + "case-insensitive, Hugging Face ids and aliases accepted.")]),
            ScenarioKey("rank", SchemaVocabulary.integer(minimum: 1, "LoRA rank r, 1 … the model's hidden size.")),
            ScenarioKey("targets", ["type": "array", "minItems": 1, "uniqueItems": true, "items": ["type": "string", "minLength": 1],
                                    "examples": [["q", "v"], ["q", "k", "v", "o"]],
                                    "description": "Adapted modules, e.g. [\"q\", \"v\"] or [\"q_proj\", \"v_proj\"] (at least one, no module twice)."]),
            ScenarioKey("values", SchemaVocabulary.ref("value-type", "How adapter values travel: f32 (default), f16 or bf16; the arms' default.")),
        ]
    }
    static var definitions: [String: JSONValue] {
        [name: objectSchema("What is trained and exchanged (required, for its payload).", required: ["payload"]),
         "payload": ["description": "The LoRA adapter exchanged each round (required).", "type": "object", "additionalProperties": false,
                     "required": ["model", "rank", "targets"], "properties": payloadKeys.properties],
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
            let model = try ModelCatalog.named(try modelNode.string(), keyPath: modelNode.path)
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
            o["payload"] = ["model": .string(p.model.name), "rank": Resolved.integer(p.rank), "targets": .array(p.targets.map { .string($0) }),
                            "values": .string(p.valueType.rawValue)]
        case .measured:
            o["payload"] = "measured"
        }
        if let t = w.training { o["train"] = TrainingSection.resolved(t) }
        return .object(o)
    }
}
