import Codec
import Federation
import Foundation
import Learning
import Network
import Numerics

/// Reads scenario files: JSON → `Scenario`, every error an `InputError` naming the file, the key
/// path and what was expected. The format and its defaults are in docs/SCENARIOS.md.
public enum ScenarioParser {
    public static let topKeys = ["name", "seed", "population", "network", "server", "availability", "selection",
                                 "workload", "arms", "target", "stop", "description"]

    /// The largest scenario file read (64 MiB: far above any hand-written or generated scenario).
    public static let maxScenarioBytes = 64 << 20

    /// Reads (a regular file only, see `InputFile`) and parses `path`.
    public static func load(file path: String) throws -> Scenario {
        let data = try InputFile.read(path, maxBytes: maxScenarioBytes)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            return try parse(try JSONValue.parse(data, file: path), baseDirectory: base)
        } catch let error as InputError {
            if case .file = error.problem, error.keyPath.isEmpty { throw error }
            throw error.inFile(path)
        }
    }

    /// Parses a scenario document; relative trace paths resolve against `baseDirectory`.
    public static func parse(_ document: JSONValue, baseDirectory: String? = nil) throws -> Scenario {
        let root = Node(document, baseDirectory: baseDirectory)
        _ = try root.object(allowed: topKeys)
        let name = try root.required("name").string()
        guard !name.isEmpty else { throw try root.required("name").invalid("a non-empty name") }
        if let d = root.member("description") { _ = try d.string() }
        let seed = try root.member("seed").map { try $0.seed() } ?? 1

        let population = try parsePopulation(root.member("population"))
        let (network, form, userProfiles) = try parseNetwork(root.member("network"))
        let server = try parseServer(root.member("server"))
        let availability = try parseAvailability(root.member("availability"))
        let selection = try parseSelection(root.member("selection"), clients: population.clients)
        let workload = try parseWorkload(try root.required("workload"))
        let arms = try parseArms(root.member("arms"), defaultValueType: workload.payload?.valueType ?? .f32)
        let target = try parseTarget(root.member("target"))
        let stop = try parseStop(root.member("stop"))
        let config = FederationConfig(seed: seed, population: population, network: network, server: server, availability: availability,
                                      selection: selection, workload: workload, arms: arms, target: target, stop: stop)
        return Scenario(name: name, config: config, networkForm: form, userProfiles: userProfiles)
    }

    // MARK: sections

    static let defaultSamples = PopulationSpec.defaultSamples
    static let defaultSpeed = PopulationSpec.defaultDeviceSpeed

    static func parsePopulation(_ node: Node?) throws -> Scenario.Population {
        guard let node else { return .init() }
        _ = try node.object(allowed: ["clients", "samples", "device_speed"])
        let clients = try node.member("clients")?.integer(1...10_000_000, "a number of clients in 1…10000000") ?? 100
        let samples = try node.member("samples").map { try $0.distribution(.dimensionless).requiringPositive("sample counts", at: $0.path) } ?? defaultSamples
        let speed = try node.member("device_speed").map { try $0.distribution(.flopRate).requiringPositive("device speeds", at: $0.path) } ?? defaultSpeed
        return .init(clients: clients, samples: samples, deviceSpeed: speed)
    }

    static let linkKeys = ["down", "up", "rtt", "loss"]

    static func parseLink(_ node: Node) throws -> LinkDistributions {
        let link = LinkDistributions(downlink: try node.required("down").distribution(.bitRate),
                                     uplink: try node.required("up").distribution(.bitRate),
                                     rtt: try node.required("rtt").distribution(.duration),
                                     loss: try node.member("loss")?.distribution(.dimensionless) ?? Distribution(.constant(0), dimension: .dimensionless))
        return try link.validated(at: node.path)
    }

    static func parseNetwork(_ node: Node?) throws -> (Scenario.Network, Scenario.NetworkForm, [NetworkProfile]) {
        let defaultProfile = Scenario.Network().profile
        guard let node else { return (.init(), .named(defaultProfile.name), []) }
        _ = try node.object(allowed: ["profile", "mix", "profiles", "model", "keep_connections"] + linkKeys)
        var user: [NetworkProfile] = []
        if let profiles = node.member("profiles") {
            guard case let .object(members) = profiles.value else { throw profiles.invalid("an object of named profiles") }
            for name in members.keys.sorted() {
                let p = profiles.member(name)!
                _ = try p.object(allowed: linkKeys + ["summary", "sources"])
                if NetworkProfile.builtIn(named: name) != nil {
                    throw InputError(.invalidValue(expected: "a name that is not a built-in profile's", found: "'\(name)'"), at: p.path)
                }
                let sources = try p.member("sources")?.elements().map { try $0.string() } ?? ["defined in the scenario"]
                user.append(NetworkProfile(name: name, summary: try p.member("summary")?.string() ?? "user-defined",
                                           body: .link(try parseLink(p)), sources: sources))
            }
        }
        func lookup(_ n: Node) throws -> NetworkProfile {
            let name = try n.string()
            if let p = user.first(where: { $0.name == name }) ?? NetworkProfile.builtIn(named: name) { return p }
            let valid = NetworkProfile.builtInNames + user.map(\.name)
            throw InputError(.unknownName(kind: "network profile", name: name, suggestion: Suggestion.nearest(to: name, in: valid), valid: valid), at: n.path)
        }
        let inlineKeys = linkKeys.filter { node.member($0) != nil }
        let forms = ["profile", "mix"].filter { node.member($0) != nil } + (inlineKeys.isEmpty ? [] : ["inline " + inlineKeys.joined(separator: "/")])
        guard forms.count <= 1 else {
            throw InputError(.invalidValue(expected: "one of 'profile', 'mix' or inline down/up/rtt/loss", found: forms.map { "'\($0)'" }.joined(separator: " and ")), at: node.path)
        }
        let profile: NetworkProfile, form: Scenario.NetworkForm
        if let p = node.member("profile") {
            profile = try lookup(p)
            form = .named(profile.name)
        } else if let mix = node.member("mix") {
            let items = try mix.elements()
            guard !items.isEmpty else { throw mix.invalid("a non-empty array of {\"weight\", \"profile\"}") }
            var components: [NetworkProfile.Component] = []
            for item in items {
                _ = try item.object(allowed: ["weight", "profile"])
                let w = try item.required("weight")
                let weight = try w.number(nil)
                guard weight > 0 else { throw w.invalid("a positive weight") }
                components.append(.init(weight: weight, profile: try lookup(try item.required("profile"))))
            }
            profile = NetworkProfile(name: "mix", summary: "a mix of " + components.map(\.profile.name).joined(separator: ", "),
                                     body: .mix(components), sources: ["the scenario's mix; see each profile"])
            form = .mix(components.map { ($0.weight, $0.profile.name) })
        } else if !inlineKeys.isEmpty {
            profile = NetworkProfile(name: "inline", summary: "defined inline in the scenario", body: .link(try parseLink(node)),
                                     sources: ["defined in the scenario"])
            form = .inline
        } else {
            profile = defaultProfile
            form = .named(defaultProfile.name)
        }
        var model = TransferModel.tcp
        if let m = node.member("model") {
            let text = try m.string()
            guard let parsed = TransferModel(rawValue: text) else {
                let valid = TransferModel.allCases.map(\.rawValue)
                throw InputError(.unknownName(kind: "transfer model", name: text, suggestion: Suggestion.nearest(to: text, in: valid), valid: valid), at: m.path)
            }
            model = parsed
        }
        let keep = try node.member("keep_connections")?.bool() ?? true
        return (.init(profile: profile, model: model, keepConnections: keep), form, user)
    }

    static func rate(_ node: Node) throws -> Double {
        try node.positiveQuantity(.bitRate, "a positive rate such as \"10Gbps\"")
    }

    static func parseServer(_ node: Node?) throws -> Scenario.Server {
        guard let node else { return .init(downlink: 10e9, uplink: 10e9, aggregationSeconds: 0) }
        _ = try node.object(allowed: ["down", "up", "aggregation"])
        let aggregation = try node.member("aggregation").map { n -> Double in
            let v = try n.quantity(.duration)
            guard v >= 0 else { throw n.invalid("a duration ≥ 0 such as \"2s\"") }
            return v
        } ?? 0
        return .init(downlink: try node.member("down").map(rate) ?? 10e9, uplink: try node.member("up").map(rate) ?? 10e9,
                     aggregationSeconds: aggregation)
    }

    static func probability(_ node: Node) throws -> Double {
        try node.number(0...1, "a probability in [0, 1)").nonOne(node, "a probability in [0, 1)")
    }

    static func parseAvailability(_ node: Node?) throws -> AvailabilityModel {
        guard let node else { return .always }
        _ = try node.object(allowed: ["dropout_per_round", "sessions"])
        let dropout = try node.member("dropout_per_round").map(probability) ?? 0
        guard let s = node.member("sessions") else { return dropout > 0 ? .dropout(perRound: dropout) : .always }
        _ = try s.object(allowed: ["online", "offline", "diurnal"])
        let onlineNode = try s.required("online")
        let online = try onlineNode.distribution(.duration).requiringPositive("session lengths", at: onlineNode.path)
        let offlineNode = try s.required("offline")
        let offline = try offlineNode.distribution(.duration).requiringPositive("offline gaps", at: offlineNode.path)
        var diurnal: AvailabilityModel.Diurnal?
        if let d = s.member("diurnal") {
            _ = try d.object(allowed: ["amplitude", "period", "peak"])
            let amplitude = try d.required("amplitude").number(0...1, "an amplitude in [0, 1)").nonOne(try d.required("amplitude"), "an amplitude in [0, 1)")
            var period = 86_400.0
            if let p = d.member("period") {
                period = try p.positiveQuantity(.duration, "a positive period such as \"24h\"")
            }
            diurnal = .init(amplitude: amplitude, period: period, peak: try d.member("peak")?.quantity(.duration) ?? 72_000)
        }
        return .sessions(.init(online: online, offline: offline, diurnal: diurnal, dropoutPerRound: dropout))
    }

    static func parseSelection(_ node: Node?, clients: Int) throws -> Scenario.Selection {
        var s = Scenario.Selection(perRound: min(10, clients), overSelection: 0.3, deadline: nil, minCompletions: 1)
        guard let node else { return s }
        _ = try node.object(allowed: ["per_round", "over_selection", "deadline", "min_completions"])
        if let k = node.member("per_round") {
            s.perRound = try k.integer(1...Int(Int32.max), "a positive number of clients per round")
            guard s.perRound <= clients else {
                throw k.invalid("at most the population's \(clients) clients (population.clients)")
            }
        }
        if let o = node.member("over_selection") { s.overSelection = try o.number(0...100, "an over-selection fraction ≥ 0 (0.3 selects 30% more)") }
        if let d = node.member("deadline") {
            s.deadline = try d.positiveQuantity(.duration, "a positive deadline such as \"15min\"")
        }
        if let m = node.member("min_completions") {
            s.minCompletions = try m.integer(1...s.perRound, "a number of completions in 1…\(s.perRound) (selection.per_round)")
        }
        return s
    }

    static func parseWorkload(_ node: Node) throws -> Scenario.Workload {
        _ = try node.object(allowed: ["payload", "compute", "train"])
        let training = try node.member("train").map(parseTraining)
        let p = try node.required("payload")
        let payloadModel: Scenario.PayloadModel
        if case let .string(text) = p.value {
            guard text == "measured" else { throw p.invalid("\"measured\" or a catalogue payload {\"model\", \"rank\", \"targets\"}") }
            guard training != nil else {
                throw p.invalid("a catalogue payload {\"model\", \"rank\", \"targets\"}: \"measured\" needs workload.train (real messages come from real training)")
            }
            payloadModel = .measured
        } else {
            _ = try p.object(allowed: ["model", "rank", "targets", "values"])
            let modelNode = try p.required("model")
            let model = try ModelCatalog.named(try modelNode.string(), keyPath: modelNode.path)
            let rankNode = try p.required("rank")
            let rank = try rankNode.integer(1...model.hiddenSize, "a LoRA rank in 1…\(model.hiddenSize) (the model's hidden size)")
            let targetsNode = try p.required("targets")
            let targets = try targetsNode.elements().map { try $0.string() }
            let values = try p.member("values").map(valueType) ?? .f32
            payloadModel = .catalogue(try Scenario.Payload(model: model, rank: rank, targets: targets, valueType: values, keyPath: p.path))
        }
        var tokens = 512, epochs = 1
        if let c = node.member("compute") {
            _ = try c.object(allowed: ["tokens_per_sample", "epochs"])
            tokens = try c.member("tokens_per_sample")?.integer(1...1_000_000, "a positive number of tokens per sample") ?? 512
            epochs = try c.member("epochs")?.integer(1...10_000, "a positive number of local epochs") ?? 1
        }
        return .init(payloadModel: payloadModel, tokensPerSample: tokens, epochs: epochs, training: training)
    }

    static let defaultDataDirectory = FashionMNIST.defaultDirectory

    static func parseTraining(_ node: Node) throws -> Scenario.Training {
        _ = try node.object(allowed: ["dataset", "data", "partition", "hidden", "pretrain", "lora", "local", "evaluate_every", "test_samples"])
        var data = Scenario.Training.Data.fashionMNIST(directory: defaultDataDirectory)
        var classes = 10, inputs = 784
        if let d = node.member("dataset") {
            if case .string = d.value {
                let name = try d.string()
                guard name == "fashion-mnist" else {
                    throw InputError(.unknownName(kind: "dataset", name: name, suggestion: Suggestion.nearest(to: name, in: ["fashion-mnist", "synthetic"]),
                                                  valid: ["fashion-mnist", "synthetic"]), at: d.path)
                }
            } else {
                _ = try d.object(allowed: ["synthetic"])
                let syn = try d.required("synthetic")
                _ = try syn.object(allowed: ["classes", "dimension", "train", "test"])
                classes = try syn.member("classes")?.integer(2...1000, "a number of classes in 2…1000") ?? 4
                inputs = try syn.member("dimension")?.integer(1...100_000, "a positive dimension") ?? 20
                data = .synthetic(classes: classes, dimension: inputs,
                                  train: try syn.member("train")?.integer(1...10_000_000, "a positive number of samples") ?? 2000,
                                  test: try syn.member("test")?.integer(1...10_000_000, "a positive number of samples") ?? 1000)
            }
        }
        if let dir = node.member("data") {
            guard case .fashionMNIST = data else { throw dir.invalid("no 'data' folder with a synthetic dataset") }
            var path = try dir.string()
            if !path.hasPrefix("/"), let base = node.baseDirectory { path = base + "/" + path }
            data = .fashionMNIST(directory: path)
        }
        var partition = Partition.dirichlet(beta: 0.5)
        if let p = node.member("partition") {
            if case let .string(text) = p.value {
                guard text == "iid" else { throw p.invalid("\"iid\", {\"dirichlet\": β} or {\"shards\": n}") }
                partition = .iid
            } else {
                let members = try p.object(allowed: ["dirichlet", "shards"])
                guard members.count == 1 else { throw p.invalid("one of {\"dirichlet\": β} or {\"shards\": n}") }
                if let b = p.member("dirichlet") {
                    partition = .dirichlet(beta: try b.positiveNumber("a concentration β > 0"))
                } else {
                    partition = .shards(perClient: try p.required("shards").integer(1...1000, "a number of shards per client in 1…1000"))
                }
            }
        }
        let hidden = try node.member("hidden")?.elements().map { try $0.integer(1...100_000, "a positive layer width") } ?? [256, 128]
        var pretrainClasses: [Int]? = Array(0..<(classes * 7 / 10))
        var pretrainEpochs = 3, pretrainLR: Float = 0.05, pretrainSeed: UInt64 = 1
        if let pre = node.member("pretrain") {
            _ = try pre.object(allowed: ["classes", "epochs", "learning_rate", "seed"])
            if let c = pre.member("classes") {
                pretrainClasses = try c.elements().map { try $0.integer(0...(classes - 1), "a class in 0…\(classes - 1)") }
                if pretrainClasses!.isEmpty { throw c.invalid("at least one class") }
            }
            pretrainEpochs = try pre.member("epochs")?.integer(0...1000, "a number of epochs in 0…1000") ?? 3
            if let lr = pre.member("learning_rate") {
                pretrainLR = Float(try lr.positiveNumber("a learning rate > 0"))
            }
            pretrainSeed = try pre.member("seed").map { try $0.seed() } ?? 1
        }
        var rank = 8, alpha: Float = 16
        let narrowest = min(hidden.min() ?? inputs, inputs)
        if let l = node.member("lora") {
            _ = try l.object(allowed: ["rank", "alpha"])
            if let r = l.member("rank") { rank = try r.integer(1...narrowest, "a LoRA rank in 1…\(narrowest) (the narrowest of the input and hidden layers)") }
            if let a = l.member("alpha") {
                alpha = Float(try a.positiveNumber("a LoRA alpha > 0"))
            } else {
                alpha = Float(2 * rank)
            }
        }
        var local = TrainingSettings(epochs: 1, batchSize: 32, optimizer: .adam(learningRate: 1e-3))
        if let l = node.member("local") {
            _ = try l.object(allowed: ["epochs", "batch", "optimizer", "learning_rate", "momentum"])
            local.epochs = try l.member("epochs")?.integer(1...1000, "a number of local epochs in 1…1000") ?? 1
            local.batchSize = try l.member("batch")?.integer(1...100_000, "a positive batch size") ?? 32
            let name = try l.member("optimizer")?.string() ?? "adam"
            var lr: Float = name == "sgd" ? 0.05 : 1e-3
            if let n = l.member("learning_rate") {
                lr = Float(try n.positiveNumber("a learning rate > 0"))
            }
            switch name {
            case "adam": local.optimizer = .adam(learningRate: lr)
            case "sgd": local.optimizer = .sgd(learningRate: lr, momentum: Float(try l.member("momentum")?.number(0...0.999, "a momentum in [0, 1)") ?? 0.9))
            default:
                throw InputError(.unknownName(kind: "optimizer", name: name, suggestion: Suggestion.nearest(to: name, in: ["adam", "sgd"]), valid: ["adam", "sgd"]),
                                 at: l.child("optimizer"))
            }
        }
        let every = try node.member("evaluate_every")?.integer(1...100_000, "a positive number of rounds") ?? 1
        let testSamples = try node.member("test_samples")?.integer(1...10_000_000, "a positive number of test samples")
        return .init(data: data, partition: partition, hidden: hidden, pretrainClasses: pretrainClasses, pretrainEpochs: pretrainEpochs,
                     pretrainLearningRate: pretrainLR, pretrainSeed: pretrainSeed, rank: rank, alpha: alpha, local: local,
                     evaluateEvery: every, testSamples: testSamples)
    }

    static func valueType(_ node: Node) throws -> ValueType {
        let text = try node.string()
        guard let v = ValueType(rawValue: text) else {
            let valid = ["f32", "f16", "bf16"]
            throw InputError(.unknownName(kind: "value type", name: text, suggestion: Suggestion.nearest(to: text, in: valid), valid: valid), at: node.path)
        }
        return v
    }

    static let armKeys = ["codec", "name", "sparsity", "adaptive", "download_sparsity", "iterations", "values", "residual", "history_rounds"]

    static func parseArms(_ node: Node?, defaultValueType: ValueType) throws -> [Scenario.Arm] {
        let items: [Node]
        if let node {
            items = try node.elements()
            guard !items.isEmpty else { throw node.invalid("a non-empty array of arms {\"codec\": …}") }
        } else {
            items = [Node(.object(["codec": .string("lora")]), path: "arms[0]"), Node(.object(["codec": .string("fedsrd")]), path: "arms[1]")]
        }
        var arms: [Scenario.Arm] = []
        for item in items {
            let members = try item.object(allowed: armKeys)
            let codecNode = try item.required("codec")
            let codec = try codecNode.string()
            guard CodecRegistry.names.contains(codec) else {
                throw InputError(.unknownName(kind: "codec", name: codec, suggestion: Suggestion.nearest(to: codec, in: CodecRegistry.names),
                                              valid: CodecRegistry.names), at: codecNode.path)
            }
            var o = CodecOptions()
            o.valueType = defaultValueType
            if let n = item.member("sparsity") { o.sparsity = try n.number(0...1, "a sparsity α in [0, 1)").nonOne(n, "a sparsity α in [0, 1)") }
            if let n = item.member("download_sparsity") { o.downloadSparsity = try n.number(0...1, "a sparsity in [0, 1)").nonOne(n, "a sparsity in [0, 1)") }
            if let n = item.member("adaptive") { o.adaptive = try n.bool() }
            if let n = item.member("iterations") { o.iterations = try n.integer(1...100, "a number of iterations in 1…100") }
            if let n = item.member("values") { o.valueType = try valueType(n) }
            if let n = item.member("residual") { o.residual = try n.bool() }
            if let n = item.member("history_rounds") { o.historyRounds = try n.integer(0...1000, "a number of rounds in 0…1000") }
            let nameNode = item.member("name")
            let name = try nameNode?.string() ?? codec
            if let nameNode, name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || "._-+".contains($0) }) {
                throw nameNode.invalid("a name of letters, digits and . _ - + (it labels CSV rows and plots)")
            }
            if arms.contains(where: { $0.name == name }) {
                throw InputError(.invalidValue(expected: "arm names that are unique (add \"name\" to tell two \(codec) arms apart)", found: "a second '\(name)'"),
                                 at: nameNode?.path ?? item.path)
            }
            arms.append(.init(name: name, codec: codec, options: o))
        }
        return arms
    }

    static func parseTarget(_ node: Node?) throws -> Scenario.Target? {
        guard let node else { return nil }
        _ = try node.object(allowed: ["accuracy", "fraction_of_best"])
        if let a = node.member("accuracy") {
            if node.member("fraction_of_best") != nil { throw node.invalid("either 'accuracy' or 'fraction_of_best', not both") }
            let v = try a.number(nil, "an accuracy in (0, 1]")
            guard v > 0, v <= 1 else { throw a.invalid("an accuracy in (0, 1]") }
            return .accuracy(v)
        }
        let f = try node.required("fraction_of_best")
        let v = try f.number(nil, "a fraction in (0, 1]")
        guard v > 0, v <= 1 else { throw f.invalid("a fraction in (0, 1]") }
        return .fractionOfBest(v)
    }

    static func parseStop(_ node: Node?) throws -> Scenario.Stop {
        guard let node else { return .init(rounds: 100, seconds: nil) }
        _ = try node.object(allowed: ["rounds", "time"])
        let rounds = try node.member("rounds")?.integer(1...10_000_000, "a positive number of rounds")
        let seconds = try node.member("time").map { try $0.positiveQuantity(.duration, "a positive simulated time such as \"24h\"") }
        guard rounds != nil || seconds != nil else { throw InputError(.missingKey("rounds"), at: node.path) }
        return .init(rounds: rounds, seconds: seconds)
    }
}

extension Double {
    /// `self` unless it is 1 (for ranges [0, 1)).
    func nonOne(_ node: Node, _ expected: String = "a value in [0, 1)") throws -> Double {
        guard self < 1 else { throw node.invalid(expected) }
        return self
    }
}
