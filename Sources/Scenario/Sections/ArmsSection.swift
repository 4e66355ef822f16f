import Codec
import Federation
import Numerics

/// `arms`: the codecs compared, each with its options.
enum ArmsSection: ScenarioSection {
    static let name = "arm"
    static var keys: [ScenarioKey] {
        let d = CodecOptions()
        return [
            ScenarioKey("codec", ["enum": .array(CodecRegistry.names.map { .string($0) }), "description": "The update codec."]),
            ScenarioKey("name", ["type": "string", "pattern": #"^[\w.+-]+$"#,
                                 "description": "Label used in reports, CSV rows and plots: letters, digits and . _ - + (default: the codec name); arm names must be unique."]),
            ScenarioKey("sparsity", SchemaVocabulary.ref("fraction-0-1-open", "α: target upload sparsity (fraction of entries dropped), in [0, 1); default \(Quantity.shortest(d.sparsity)).")),
            ScenarioKey("allocation", ["enum": .array(SparsityAllocation.allCases.map { .string($0.rawValue) }),
                                       "description": .string("How a message's kept entries are shared among its matrices (uploads; downloads too with download_rule cross-layer): fixed (ρ = α each), kurtosis (the paper's rule) or threshold (one importance threshold across the message); default \(d.allocation.rawValue).")]),
            ScenarioKey("adaptive", ["type": "boolean", "description": .string("Older form of allocation: true is kurtosis, false is fixed (both keys only if they agree).")]),
            ScenarioKey("download_rule", ["enum": .array(RuleScope.allCases.map { .string($0.rawValue) }),
                                          "description": .string("Which matrices the download's sparsity rule compares (fedsrd, fedsrd-e): cross-layer (the allocation runs across the broadcast's layers) or per-layer (each layer decomposed alone at ρ = download_sparsity); default \(d.downloadScope.rawValue).")]),
            ScenarioKey("budget", ["enum": .array(SparsityBudget.allCases.map { .string($0.rawValue) }),
                                   "description": .string("What the kurtosis rule holds fixed: exact (each kind's kept count never exceeds what ρ = α keeps) or mean (the paper's: mean ρ = α before clamping); default \(d.budget.rawValue).")]),
            ScenarioKey("download_sparsity", SchemaVocabulary.ref("fraction-0-1-open", "Target broadcast sparsity, in [0, 1); default: sparsity.")),
            ScenarioKey("iterations", ["type": "integer", "minimum": 1, "maximum": 100,
                                       "description": .string("J: FedSRD decomposition alternations (1 … 100); default \(d.iterations).")]),
            ScenarioKey("values", SchemaVocabulary.ref("value-type", "How this arm's values travel: f32, f16 or bf16; default workload.payload.values.")),
            ScenarioKey("residual", ["type": "boolean",
                                     "description": .string("Client-side error feedback: what an upload dropped is added to the client's next delta; default \(d.residual).")]),
            ScenarioKey("history_rounds", ["type": "integer", "minimum": 1, "maximum": 1000,
                                           "description": .string("K: how many past broadcasts the server keeps for stale clients' catch-up, 1 … 1000 (default \(d.historyRounds)): a client up to K broadcasts behind downloads their merged deltas, one further behind the dense adapter. Matters only for codecs that broadcast deltas (fedsrd, fedsrd-e, topk).")]),
        ]
    }
    /// The `arms` key of the top level.
    static var arrayKey: ScenarioKey {
        let defaults = JSONValue.array(FederationConfig.defaultArms.map { ["codec": .string($0.codec)] })
        return ScenarioKey("arms", ["type": "array", "minItems": 1, "items": SchemaVocabulary.ref(name), "default": defaults,
                                    "description": .string("The codecs compared; default \(defaults.compactText(width: 1000)).")])
    }
    static var definitions: [String: JSONValue] {
        [name: objectSchema("One arm of the experiment: a codec and its options.", required: ["codec"])]
    }

    static func parse(_ node: Node?, defaultValueType: ValueType) throws -> [FederationConfig.Arm] {
        let items: [Node]
        if let node {
            items = try node.elements()
            guard !items.isEmpty else { throw node.invalid("a non-empty array of arms {\"codec\": …}") }
        } else {
            items = FederationConfig.defaultArms.enumerated().map { Node(["codec": .string($1.codec)], path: "arms[\($0)]") }
        }
        var arms: [FederationConfig.Arm] = []
        for item in items {
            _ = try item.object(allowed: keys.names)
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
            if let n = item.member("allocation") { o.allocation = try n.choice(SparsityAllocation.self) }
            if let n = item.member("adaptive") {
                let adaptive = try n.bool()
                if let a = item.member("allocation") {
                    guard (o.allocation == .fixed) != adaptive else {
                        throw n.invalid("a value that agrees with allocation \"\(o.allocation.rawValue)\" at \(a.path) (or only one of the two keys)")
                    }
                    guard !adaptive || o.allocation == .kurtosis else {
                        throw n.invalid("no adaptive with allocation \"\(o.allocation.rawValue)\" at \(a.path) (adaptive: true means kurtosis)")
                    }
                } else {
                    o.allocation = adaptive ? .kurtosis : .fixed
                }
            }
            if let n = item.member("download_rule") { o.downloadScope = try n.choice(RuleScope.self) }
            if let n = item.member("budget") { o.budget = try n.choice(SparsityBudget.self) }
            if let n = item.member("iterations") { o.iterations = try n.integer(1...100, "a number of iterations in 1…100") }
            if let n = item.member("values") { o.valueType = try WorkloadSection.valueType(n) }
            if let n = item.member("residual") { o.residual = try n.bool() }
            if let n = item.member("history_rounds") { o.historyRounds = try n.integer(1...1000, "a number of rounds in 1…1000") }
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

    static func resolved(_ arms: [FederationConfig.Arm]) -> JSONValue {
        .array(arms.map { arm in
            let o = arm.options
            return ["codec": .string(arm.codec), "name": .string(arm.name), "sparsity": .number(o.sparsity), "allocation": .string(o.allocation.rawValue),
                    "iterations": Resolved.integer(o.iterations), "values": .string(o.valueType.rawValue), "residual": .bool(o.residual),
                    "history_rounds": Resolved.integer(o.historyRounds), "download_sparsity": .number(o.downloadSparsity ?? o.sparsity),
                    "download_rule": .string(o.downloadScope.rawValue), "budget": .string(o.budget.rawValue)]
        })
    }
}
