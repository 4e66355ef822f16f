import Federation
import Learning
import Numerics

/// `workload.train`: real training of the proxy model (docs/LEARNING.md) — its data, partition,
/// frozen base, LoRA and local optimiser.
enum TrainingSection: ScenarioSection {
    static let name = "train"
    /// Defaults of the synthetic dataset, and of the optimisers' learning rates and momentum.
    static let synthetic = (classes: 4, dimension: 20, train: 2000, test: 1000)
    static let sgdLearningRate: Float = 0.05, sgdMomentum: Float = 0.9
    /// The fraction of classes the base is pretrained on by default (the rest are new to it).
    static let pretrainedShare = (numerator: 7, denominator: 10)

    static var keys: [ScenarioKey] {
        let d = FederationConfig.Training(data: .fashionMNIST(directory: FashionMNIST.defaultDirectory))
        let adam: Float = { if case let .adam(lr) = TrainingSettings().optimizer { return lr }; return 0 }()
        return [
            ScenarioKey("external", externalSchema()),
            ScenarioKey("model", modelSchema()),
            ScenarioKey("dataset", ["oneOf": [
                ["const": "fashion-mnist", "description": "Debian's dataset-fashion-mnist (default)."],
                ["type": "object", "additionalProperties": false, "required": ["synthetic"], "properties": ["synthetic": [
                    "type": "object", "additionalProperties": false, "properties": [
                        "classes": SchemaVocabulary.integer(2...1000, "Classes (default \(synthetic.classes))."),
                        "dimension": SchemaVocabulary.integer(1...100_000, "Input dimension (default \(synthetic.dimension))."),
                        "train": SchemaVocabulary.integer(1...10_000_000, "Training samples (default \(synthetic.train))."),
                        "test": SchemaVocabulary.integer(1...10_000_000, "Test samples (default \(synthetic.test)).")]]]],
                textDatasetSchema(),
            ], "description": "\"fashion-mnist\" (default) or {\"synthetic\": {classes, dimension, train, test}} for the MLP; {\"text\": {pretrain, domains, root, bytes, held_out_every, evaluation_windows}} (fortunes domains: en, de, es, …) for the transformer."]),
            ScenarioKey("data", ["type": "string", "minLength": 1,
                                 "description": .string("Folder with the four Fashion-MNIST IDX files (default \(FashionMNIST.defaultDirectory)); relative to the scenario file.")]),
            ScenarioKey("partition", ["oneOf": [
                ["const": "iid"],
                ["type": "object", "additionalProperties": false, "required": ["dirichlet"], "properties": ["dirichlet": ["type": "number", "exclusiveMinimum": 0]]],
                ["type": "object", "additionalProperties": false, "required": ["shards"], "properties": ["shards": ["type": "integer", "minimum": 1, "maximum": 1000]]],
            ], "description": .string("\"iid\", {\"dirichlet\": β > 0} or {\"shards\": n}; default \(partitionJSON(d.partition).compactText(width: 1000)).")]),
            ScenarioKey("hidden", ["type": "array", "items": ["type": "integer", "minimum": 1, "maximum": 100_000],
                                   "description": .string("Hidden layer widths (default \(JSONValue.array(d.hidden.map(Resolved.integer)).compactText(width: 1000))).")]),
            ScenarioKey("pretrain", ["type": "object", "additionalProperties": false, "properties": [
                "classes": ["type": "array", "minItems": 1, "items": ["type": "integer", "minimum": 0]],
                "epochs": ["type": "integer", "minimum": 0, "maximum": 1000],
                "learning_rate": ["type": "number", "exclusiveMinimum": 0],
                "seed": ["type": "integer", "minimum": 0, "maximum": .number(Double(Node.maxExactInteger))],
                "steps": ["type": "integer", "minimum": 0, "maximum": 1_000_000], "batch": ["type": "integer", "minimum": 1],
            ], "description": .string("Pretraining of the frozen base: the classes it sees (default the first \(pretrainedShare.numerator * 100 / pretrainedShare.denominator)%), "
                + "epochs (\(d.pretrainEpochs)), learning rate (\(d.pretrainLearningRate)), seed (\(d.pretrainSeed)); the transformer's: steps, batch, learning rate (AdamW), seed.")]),
            ScenarioKey("lora", ["type": "object", "additionalProperties": false, "properties": [
                "rank": ["type": "integer", "minimum": 1], "alpha": ["type": "number", "exclusiveMinimum": 0],
                "targets": ["type": "array", "minItems": 1, "items": ["enum": .array(TransformerModule.allCases.map { .string($0.rawValue) })]],
            ], "description": .string("LoRA on every linear layer of the MLP: rank (default \(d.rank), at most the narrowest input/hidden width), alpha (default 2·rank); "
                + "the transformer's on targets (default [\"q\", \"v\"]).")]),
            ScenarioKey("local", ["type": "object", "additionalProperties": false, "properties": [
                "epochs": ["type": "integer", "minimum": 1, "maximum": 1000], "batch": ["type": "integer", "minimum": 1],
                "optimizer": ["enum": ["adam", "sgd", "adamw"]], "learning_rate": ["type": "number", "exclusiveMinimum": 0],
                "momentum": ["type": "number", "minimum": 0, "exclusiveMaximum": 1],
                "steps": ["type": "integer", "minimum": 1, "maximum": 1_000_000], "weight_decay": ["type": "number", "minimum": 0, "maximum": 1],
            ], "description": .string("Local training: epochs (\(d.local.epochs)), batch (\(d.local.batchSize)), optimizer adam (lr \(adam)) "
                + "or sgd (lr \(sgdLearningRate), momentum \(sgdMomentum)); the transformer's: steps, batch (windows), optimizer adamw (default, lr 0.001), adam or sgd, weight_decay.")]),
            ScenarioKey("evaluate_every", SchemaVocabulary.integer(minimum: 1, "Rounds between test-set evaluations (default \(d.evaluateEvery)).")),
            ScenarioKey("test_samples", SchemaVocabulary.integer(minimum: 1, "Test samples used (default: all).")),
        ]
    }
    static var definitions: [String: JSONValue] {
        [name: objectSchema("Real training of the proxy model (docs/LEARNING.md): a frozen pretrained MLP with LoRA on every layer.")]
    }

    static func parse(_ node: Node) throws -> FederationConfig.Training {
        _ = try node.object(allowed: keys.names)
        if node.member("external") != nil { return try parseExternal(node) }
        if wantsTransformer(node) { return try parseTransformer(node) }
        if let m = node.member("model") {
            let name = try m.string()
            guard name == "mlp" else { throw m.invalid("\"mlp\" or {\"transformer\": {layers, width, heads, context}}") }
        }
        var t = FederationConfig.Training(data: .fashionMNIST(directory: FashionMNIST.defaultDirectory))
        var classes = 10, inputs = 784
        if let d = node.member("dataset") {
            if case .string = d.value {
                let name = try d.string()
                guard name == "fashion-mnist" else {
                    throw InputError(.unknownName(kind: "dataset", name: name, suggestion: Suggestion.nearest(to: name, in: ["fashion-mnist", "synthetic"]),
                                                  valid: ["fashion-mnist", "synthetic"]), at: d.path)
                }
            } else {
                if d.member("text") != nil { throw d.invalid("a dataset of the MLP: a text dataset needs \"model\": {\"transformer\": …}") }
                _ = try d.object(allowed: ["synthetic"])
                let syn = try d.required("synthetic")
                _ = try syn.object(allowed: ["classes", "dimension", "train", "test"])
                classes = try syn.member("classes")?.integer(2...1000, "a number of classes in 2…1000") ?? synthetic.classes
                inputs = try syn.member("dimension")?.integer(1...100_000, "a positive dimension") ?? synthetic.dimension
                t.data = .synthetic(classes: classes, dimension: inputs,
                                    train: try syn.member("train")?.integer(1...10_000_000, "a positive number of samples") ?? synthetic.train,
                                    test: try syn.member("test")?.integer(1...10_000_000, "a positive number of samples") ?? synthetic.test)
            }
        }
        if let dir = node.member("data") {
            guard case .fashionMNIST = t.data else { throw dir.invalid("no 'data' folder with a synthetic dataset") }
            var path = try dir.string()
            if !path.hasPrefix("/"), let base = node.baseDirectory { path = base + "/" + path }
            t.data = .fashionMNIST(directory: path)
        }
        if let p = node.member("partition") {
            if case let .string(text) = p.value {
                guard text == "iid" else { throw p.invalid("\"iid\", {\"dirichlet\": β} or {\"shards\": n}") }
                t.partition = .iid
            } else {
                let members = try p.object(allowed: ["dirichlet", "shards"])
                guard members.count == 1 else { throw p.invalid("one of {\"dirichlet\": β} or {\"shards\": n}") }
                if let b = p.member("dirichlet") {
                    t.partition = .dirichlet(beta: try b.positiveNumber("a concentration β > 0"))
                } else {
                    t.partition = .shards(perClient: try p.required("shards").integer(1...1000, "a number of shards per client in 1…1000"))
                }
            }
        }
        t.hidden = try node.member("hidden")?.elements().map { try $0.integer(1...100_000, "a positive layer width") } ?? t.hidden
        t.pretrainClasses = Array(0..<(classes * pretrainedShare.numerator / pretrainedShare.denominator))
        if let pre = node.member("pretrain") {
            _ = try pre.object(allowed: ["classes", "epochs", "learning_rate", "seed"])
            if let c = pre.member("classes") {
                let list = try c.elements().map { try $0.integer(0...(classes - 1), "a class in 0…\(classes - 1)") }
                if list.isEmpty { throw c.invalid("at least one class") }
                t.pretrainClasses = list
            }
            t.pretrainEpochs = try pre.member("epochs")?.integer(0...1000, "a number of epochs in 0…1000") ?? t.pretrainEpochs
            if let lr = pre.member("learning_rate") { t.pretrainLearningRate = Float(try lr.positiveNumber("a learning rate > 0")) }
            t.pretrainSeed = try pre.member("seed").map { try $0.seed() } ?? t.pretrainSeed
        }
        let narrowest = min(t.hidden.min() ?? inputs, inputs)
        if let l = node.member("lora") {
            _ = try l.object(allowed: ["rank", "alpha"])
            if let r = l.member("rank") { t.rank = try r.integer(1...narrowest, "a LoRA rank in 1…\(narrowest) (the narrowest of the input and hidden layers)") }
            if let a = l.member("alpha") {
                t.alpha = Float(try a.positiveNumber("a LoRA alpha > 0"))
            } else {
                t.alpha = Float(2 * t.rank)
            }
        }
        if let l = node.member("local") {
            _ = try l.object(allowed: ["epochs", "batch", "optimizer", "learning_rate", "momentum"])
            t.local.epochs = try l.member("epochs")?.integer(1...1000, "a number of local epochs in 1…1000") ?? t.local.epochs
            t.local.batchSize = try l.member("batch")?.integer(1...100_000, "a positive batch size") ?? t.local.batchSize
            let name = try l.member("optimizer")?.string() ?? "adam"
            let defaultAdam: Float = { if case let .adam(lr) = TrainingSettings().optimizer { return lr }; return 1e-3 }()
            var lr: Float = name == "sgd" ? sgdLearningRate : defaultAdam
            if let n = l.member("learning_rate") { lr = Float(try n.positiveNumber("a learning rate > 0")) }
            switch name {
            case "adam": t.local.optimizer = .adam(learningRate: lr)
            case "sgd":
                t.local.optimizer = .sgd(learningRate: lr, momentum: Float(try l.member("momentum")?.number(0...0.999, "a momentum in [0, 1)") ?? Double(sgdMomentum)))
            default:
                throw InputError(.unknownName(kind: "optimizer", name: name, suggestion: Suggestion.nearest(to: name, in: ["adam", "sgd"]), valid: ["adam", "sgd"]),
                                 at: l.child("optimizer"))
            }
        }
        t.evaluateEvery = try node.member("evaluate_every")?.integer(1...100_000, "a positive number of rounds") ?? t.evaluateEvery
        t.testSamples = try node.member("test_samples")?.integer(1...10_000_000, "a positive number of test samples")
        return t
    }

    static func partitionJSON(_ p: Partition) -> JSONValue {
        switch p {
        case .iid: return "iid"
        case let .dirichlet(beta): return ["dirichlet": .number(beta)]
        case let .shards(n): return ["shards": Resolved.integer(n)]
        }
    }

    static func resolved(_ t: FederationConfig.Training) -> JSONValue {
        if case let .transformer(x) = t.model { return resolvedTransformer(t, x) }
        if case let .external(x) = t.model { return resolvedExternal(t, x) }
        var train: [String: JSONValue] = [:]
        switch t.data {
        case let .fashionMNIST(directory):
            train["dataset"] = "fashion-mnist"
            train["data"] = .string(directory)
        case let .synthetic(classes, dimension, n, test):
            train["dataset"] = ["synthetic": ["classes": Resolved.integer(classes), "dimension": Resolved.integer(dimension),
                                              "train": Resolved.integer(n), "test": Resolved.integer(test)]]
        }
        train["partition"] = partitionJSON(t.partition)
        train["hidden"] = .array(t.hidden.map(Resolved.integer))
        var pre: [String: JSONValue] = ["epochs": Resolved.integer(t.pretrainEpochs), "learning_rate": Resolved.float(t.pretrainLearningRate),
                                        "seed": .number(Double(t.pretrainSeed))]
        if let c = t.pretrainClasses { pre["classes"] = .array(c.map(Resolved.integer)) }
        train["pretrain"] = .object(pre)
        train["lora"] = ["rank": Resolved.integer(t.rank), "alpha": Resolved.float(t.alpha)]
        var local: [String: JSONValue] = ["epochs": Resolved.integer(t.local.epochs), "batch": Resolved.integer(t.local.batchSize)]
        switch t.local.optimizer {
        case let .adam(lr): local["optimizer"] = "adam"; local["learning_rate"] = Resolved.float(lr)
        case let .sgd(lr, m): local["optimizer"] = "sgd"; local["learning_rate"] = Resolved.float(lr); local["momentum"] = Resolved.float(m)
        }
        train["local"] = .object(local)
        train["evaluate_every"] = Resolved.integer(t.evaluateEvery)
        if let n = t.testSamples { train["test_samples"] = Resolved.integer(n) }
        return .object(train)
    }
}
