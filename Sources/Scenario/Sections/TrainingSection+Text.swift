import Foundation
import Federation
import Learning
import Numerics

/// `workload.train` with `model: {"transformer": …}`: the byte-level transformer LM on text domains.
extension TrainingSection {
    typealias TextModel = FederationConfig.Training.TextModel

    /// Keys that only the MLP reads (refused with the transformer).
    static let mlpOnlyKeys = ["data", "hidden", "test_samples"]

    /// SwiGLU's hidden width when not given: 8/3 of the width, rounded up to a multiple of 8.
    static func defaultHidden(width: Int) -> Int { (8 * width / 3 + 7) / 8 * 8 }

    /// Whether `node` (the `workload.train` object) asks for the transformer.
    static func wantsTransformer(_ node: Node) -> Bool {
        if let m = node.member("model"), case .object = m.value { return true }
        return false
    }

    static func modelSchema() -> JSONValue {
        let d = TextModel()
        return ["oneOf": [
            ["const": "mlp", "description": "The MLP on Fashion-MNIST or synthetic data (default)."],
            ["type": "object", "additionalProperties": false, "required": ["transformer"], "properties": ["transformer": [
                "type": "object", "additionalProperties": false, "properties": [
                    "layers": SchemaVocabulary.integer(1...TransformerConfig.maximumDimension, "Blocks (default \(d.config.layers))."),
                    "width": SchemaVocabulary.integer(1...TransformerConfig.maximumDimension, "Model width, divisible by heads (default \(d.config.width))."),
                    "heads": SchemaVocabulary.integer(1...TransformerConfig.maximumDimension, "Attention heads; width / heads must be even (default \(d.config.heads))."),
                    "context": SchemaVocabulary.integer(1...TransformerConfig.maximumDimension, "Context length in bytes (default \(d.config.context))."),
                    "hidden": SchemaVocabulary.integer(1...TransformerConfig.maximumDimension, "SwiGLU hidden width (default 8/3 of the width, rounded up to a multiple of 8)."),
                ]]]],
        ], "description": "\"mlp\" (default) or {\"transformer\": {layers, width, heads, context, hidden}}: a byte-level Llama-shaped LM (docs/LEARNING.md)."]
    }

    static func textDatasetSchema() -> JSONValue {
        let d = TextModel()
        let names: JSONValue = ["type": "array", "minItems": 1, "items": ["type": "string", "minLength": 1]]
        return ["type": "object", "additionalProperties": false, "required": ["text"], "properties": ["text": [
            "type": "object", "additionalProperties": false, "properties": [
                "pretrain": names, "domains": names,
                "root": ["type": "string", "minLength": 1],
                "bytes": SchemaVocabulary.integer(1...FortuneFile.maximumFileBytes, "Bytes read per domain (default \(d.bytesPerDomain))."),
                "held_out_every": SchemaVocabulary.integer(2...1000, "Every n-th 4 kB block is held out (default \(d.heldOutEvery))."),
                "evaluation_windows": SchemaVocabulary.integer(1...1_000_000, "Held-out windows per domain per evaluation (default \(d.evaluationWindows))."),
            ]]]]
    }

    /// Parses `workload.train` for the transformer.
    static func parseTransformer(_ node: Node) throws -> FederationConfig.Training {
        for key in mlpOnlyKeys { if let n = node.member(key) { throw n.invalid("no '\(key)' with the transformer model (it is the MLP's)") } }
        var t = FederationConfig.Training(data: .fashionMNIST(directory: FashionMNIST.defaultDirectory))
        var x = TextModel()
        let m = try node.required("model")
        _ = try m.object(allowed: ["transformer"])
        let spec = try m.required("transformer")
        _ = try spec.object(allowed: ["layers", "width", "heads", "context", "hidden"])
        func size(_ key: String, _ fallback: Int) throws -> Int {
            try spec.member(key)?.integer(1...TransformerConfig.maximumDimension, "a positive integer up to \(TransformerConfig.maximumDimension)") ?? fallback
        }
        let width = try size("width", x.config.width)
        x.config = TransformerConfig(layers: try size("layers", x.config.layers), width: width, heads: try size("heads", x.config.heads),
                                     context: try size("context", x.config.context), hidden: try size("hidden", defaultHidden(width: width)))
        try x.config.validate(keyPath: spec.path)

        guard let data = node.member("dataset") else { throw InputError(.missingKey("dataset"), at: node.path) }
        _ = try data.object(allowed: ["text"])
        let text = try data.required("text")
        _ = try text.object(allowed: ["pretrain", "domains", "root", "bytes", "held_out_every", "evaluation_windows"])
        if let r = text.member("root") {
            var path = try r.string()
            if !path.hasPrefix("/"), let base = node.baseDirectory { path = base + "/" + path }
            x.root = path
        }
        func domains(_ key: String, _ fallback: [String]) throws -> [String] {
            guard let list = text.member(key) else { return fallback }
            let names = try list.elements().map { try $0.string() }
            if names.isEmpty { throw list.invalid("at least one domain") }
            for (i, n) in names.enumerated() {
                let folder = TextCorpus.folder(of: n, root: x.root)
                if n.isEmpty || n.contains("/") || n.hasPrefix(".") || !FileManager.default.fileExists(atPath: folder) {
                    throw InputError(.invalidValue(expected: "a fortunes domain: en (the root folder) or a subfolder of \(x.root)", found: "\"\(n)\""), at: "\(list.path)[\(i)]")
                }
            }
            return names
        }
        x.pretrainDomains = try domains("pretrain", x.pretrainDomains)
        x.domains = try domains("domains", x.domains)
        x.bytesPerDomain = try text.member("bytes")?.integer(1...FortuneFile.maximumFileBytes, "a positive number of bytes") ?? x.bytesPerDomain
        x.heldOutEvery = try text.member("held_out_every")?.integer(2...1000, "an integer in 2…1000") ?? x.heldOutEvery
        x.evaluationWindows = try text.member("evaluation_windows")?.integer(1...1_000_000, "a positive number of windows") ?? x.evaluationWindows

        if let p = node.member("partition") {
            if case let .string(s) = p.value, s == "iid" { t.partition = .iid } else {
                _ = try p.object(allowed: ["dirichlet"])
                t.partition = .dirichlet(beta: try p.required("dirichlet").positiveNumber("a concentration β > 0 (over domains)"))
            }
        }
        if let pre = node.member("pretrain") {
            _ = try pre.object(allowed: ["steps", "batch", "learning_rate", "seed"])
            x.pretrain.steps = try pre.member("steps")?.integer(0...1_000_000, "a number of steps in 0…1000000") ?? x.pretrain.steps
            x.pretrain.batchSize = try pre.member("batch")?.integer(1...100_000, "a positive batch size") ?? x.pretrain.batchSize
            if let lr = pre.member("learning_rate") { x.pretrain.optimizer = .adamW(learningRate: Float(try lr.positiveNumber("a learning rate > 0"))) }
            x.pretrainSeed = try pre.member("seed").map { try $0.seed() } ?? x.pretrainSeed
        }
        if let l = node.member("lora") {
            _ = try l.object(allowed: ["rank", "alpha", "targets"])
            var targets = x.lora.targets
            if let names = l.member("targets") {
                targets = try TransformerLoRAConfig.modules(named: try names.elements().map { try $0.string() }, keyPath: names.path)
            }
            let rank = try l.member("rank")?.integer(1...TransformerConfig.maximumDimension, "a positive LoRA rank") ?? x.lora.rank
            let alpha = try l.member("alpha").map { Float(try $0.positiveNumber("a LoRA alpha > 0")) } ?? Float(2 * rank)
            x.lora = TransformerLoRAConfig(targets: targets, rank: rank, alpha: alpha)
            try x.lora.validate(for: x.config, keyPath: l.path)
        } else {
            try x.lora.validate(for: x.config, keyPath: node.child("lora"))
        }
        if let l = node.member("local") {
            _ = try l.object(allowed: ["steps", "batch", "optimizer", "learning_rate", "momentum", "weight_decay"])
            x.local.steps = try l.member("steps")?.integer(1...1_000_000, "a number of local steps in 1…1000000") ?? x.local.steps
            x.local.batchSize = try l.member("batch")?.integer(1...100_000, "a positive batch size") ?? x.local.batchSize
            let name = try l.member("optimizer")?.string() ?? "adamw"
            var lr: Float = name == "sgd" ? sgdLearningRate : 1e-3
            if let n = l.member("learning_rate") { lr = Float(try n.positiveNumber("a learning rate > 0")) }
            let wd = Float(try l.member("weight_decay")?.number(0...1, "a weight decay in [0, 1]") ?? 0)
            switch name {
            case "adamw": x.local.optimizer = .adamW(learningRate: lr, weightDecay: wd)
            case "adam": x.local.optimizer = .adam(learningRate: lr, weightDecay: wd)
            case "sgd": x.local.optimizer = .sgd(learningRate: lr, momentum: Float(try l.member("momentum")?.number(0...0.999, "a momentum in [0, 1)") ?? Double(sgdMomentum)))
            default:
                let valid = ["adamw", "adam", "sgd"]
                throw InputError(.unknownName(kind: "optimizer", name: name, suggestion: Suggestion.nearest(to: name, in: valid), valid: valid), at: l.child("optimizer"))
            }
        }
        t.evaluateEvery = try node.member("evaluate_every")?.integer(1...100_000, "a positive number of rounds") ?? t.evaluateEvery
        t.model = .transformer(x)
        return t
    }

    static func optimizerJSON(_ o: TransformerOptimizer) -> [String: JSONValue] {
        switch o {
        case let .adamW(lr, _, _, _, wd): return ["optimizer": "adamw", "learning_rate": Resolved.float(lr), "weight_decay": Resolved.float(wd)]
        case let .adam(lr, _, _, _, wd): return ["optimizer": "adam", "learning_rate": Resolved.float(lr), "weight_decay": Resolved.float(wd)]
        case let .sgd(lr, m): return ["optimizer": "sgd", "learning_rate": Resolved.float(lr), "momentum": Resolved.float(m)]
        }
    }

    static func resolvedTransformer(_ t: FederationConfig.Training, _ x: TextModel) -> JSONValue {
        let c = x.config
        var local = optimizerJSON(x.local.optimizer)
        local["steps"] = Resolved.integer(x.local.steps)
        local["batch"] = Resolved.integer(x.local.batchSize)
        return [
            "model": ["transformer": ["layers": Resolved.integer(c.layers), "width": Resolved.integer(c.width), "heads": Resolved.integer(c.heads),
                                      "context": Resolved.integer(c.context), "hidden": Resolved.integer(c.hidden)]],
            "dataset": ["text": ["pretrain": .array(x.pretrainDomains.map { .string($0) }), "domains": .array(x.domains.map { .string($0) }),
                                 "root": .string(x.root), "bytes": Resolved.integer(x.bytesPerDomain),
                                 "held_out_every": Resolved.integer(x.heldOutEvery), "evaluation_windows": Resolved.integer(x.evaluationWindows)]],
            "partition": partitionJSON(t.partition),
            "pretrain": ["steps": Resolved.integer(x.pretrain.steps), "batch": Resolved.integer(x.pretrain.batchSize),
                         "learning_rate": Resolved.float(x.pretrain.optimizer.learningRate), "seed": .number(Double(x.pretrainSeed))],
            "lora": ["rank": Resolved.integer(x.lora.rank), "alpha": Resolved.float(x.lora.alpha), "targets": .array(x.lora.targets.map { .string($0.rawValue) })],
            "local": .object(local),
            "evaluate_every": Resolved.integer(t.evaluateEvery),
        ]
    }
}
