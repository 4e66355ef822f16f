import Numerics

/// The shared vocabulary of the scenario schema (`$defs`): quantities with units, fractions,
/// distributions of each dimension and trace references. Unit patterns come from `Quantity`'s
/// own unit tables, so the schema accepts exactly the units the reader does.
enum SchemaVocabulary {
    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/$defs/\(name)")] }

    /// A reference with its own description (what this key means, beside what the type is).
    static func ref(_ name: String, _ description: String) -> JSONValue {
        ["$ref": .string("#/$defs/\(name)"), "description": .string(description)]
    }

    /// `schema` with `extra` members added (e.g. a default).
    static func with(_ schema: JSONValue, _ extra: [String: JSONValue]) -> JSONValue {
        guard case var .object(members) = schema else { return schema }
        members.merge(extra) { $1 }
        return .object(members)
    }

    static func integer(_ range: ClosedRange<Int>? = nil, minimum: Int? = nil, _ description: String, default value: JSONValue? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["type": "integer", "description": .string(description)]
        if let range { o["minimum"] = .number(Double(range.lowerBound)); o["maximum"] = .number(Double(range.upperBound)) }
        if let minimum { o["minimum"] = .number(Double(minimum)) }
        if let value { o["default"] = value }
        return .object(o)
    }

    static func positiveNumber(_ description: String) -> JSONValue {
        ["type": "number", "exclusiveMinimum": 0, "description": .string(description)]
    }

    // MARK: quantities

    static let signedNumber = #"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"#
    static let nonNegativeNumber = #"\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"#
    static let positiveNumberPattern = #"\+?(?:\d*[1-9]\d*\.?\d*|\d*\.\d*[1-9]\d*)(?:[eE][+-]?\d+)?"#

    /// The schema's short names of the dimensions (`quantity-rate`, `distribution-flop-rate`, …).
    static let dimensions: [(name: String, dimension: Quantity.Dimension)] = [
        ("rate", .bitRate), ("duration", .duration), ("bytes", .bytes), ("flop-rate", .flopRate), ("flops", .flops), ("plain", .dimensionless),
    ]

    /// The unit alternatives of `dimension` as a regular expression group.
    static func units(_ dimension: Quantity.Dimension) -> String {
        "(?:" + dimension.suffixes.map { $0.replacingOccurrences(of: "/", with: "/") }.joined(separator: "|") + ")"
    }
    static var anyUnit: String { "(?:" + dimensions.map { units($0.dimension) }.joined(separator: "|") + ")" }

    static func pattern(_ number: String, _ unit: String) -> String { #"^\s*"# + number + #"\s*"# + unit + #"\s*$"# }

    static let unitText: [String: String] = [
        "rate": "bps, kbps, Mbps, Gbps, Tbps (bit/s) or B/s, kB/s, MB/s, GB/s, TB/s (bytes per second, ×8); case-sensitive",
        "duration": "ns, us, µs, ms, s, min, h, d (case-sensitive)",
        "bytes": "B, kB/KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024); case-sensitive",
        "flop-rate": "FLOPS, kFLOPS, MFLOPS, GFLOPS, TFLOPS, PFLOPS; case-sensitive",
        "flops": "FLOP, kFLOP, MFLOP, GFLOP, TFLOP, PFLOP; case-sensitive",
    ]
    static let exampleValues: [String: JSONValue] = [
        "rate": ["10Mbps", "1.5Gbps", "12MB/s"], "duration": ["80ms", "15min", "24h"], "bytes": ["16MB", "4.2MiB"],
        "flop-rate": ["30TFLOPS"], "flops": ["2TFLOP"],
    ]

    enum Sign: CaseIterable { case signed, nonNegative, positive }

    static func quantity(_ name: String, _ sign: Sign) -> JSONValue {
        let number: String, minimum: [String: JSONValue], what: String
        switch sign {
        case .signed: (number, minimum, what) = (signedNumber, [:], "")
        case .nonNegative: (number, minimum, what) = (nonNegativeNumber, ["minimum": 0], " that is ≥ 0")
        case .positive: (number, minimum, what) = (positiveNumberPattern, ["exclusiveMinimum": 0], " that is > 0")
        }
        let description: String, examples: JSONValue, unit: String
        switch name {
        case "any":
            description = "A quantity\(what): a bare number in the base unit of its dimension (bit/s, s, B, FLOP/s, FLOP, plain) "
                + "or a string with a unit, e.g. \"10Mbps\", \"80ms\", \"16MB\", \"30TFLOPS\", \"8%\"."
            examples = ["10Mbps", "80ms", "16MB", "30TFLOPS", 0.01]
            unit = anyUnit
        case "plain":
            description = "A plain number\(what), or a percentage string (\"8%\" = 0.08)."
            examples = [0.08, "8%"]
            unit = units(.dimensionless)
        default:
            // A scenario key never implies a unit: a quantity with units is a string with its unit.
            let dimension = dimensions.first { $0.name == name }?.dimension ?? .dimensionless
            return ["description": .string("A \(name) quantity\(what): a string with a unit (\(unitText[name] ?? "")); a bare number is rejected."),
                    "examples": exampleValues[name] ?? [], "type": "string", "pattern": .string(pattern(number, units(dimension)))]
        }
        return ["description": .string(description), "examples": examples,
                "anyOf": [.object(["type": "number"].merging(minimum) { $1 }), ["type": "string", "pattern": .string(pattern(number, unit))]]]
    }

    // MARK: fractions and loss rates

    static let percentBelow100 = #"(?:\d{1,2}(?:\.\d*)?|\.\d+)"#
    static let percentUpTo100 = #"(?:\d{1,2}(?:\.\d*)?|\.\d+|100(?:\.0*)?)"#
    static func percent(_ body: String, positive: Bool = false) -> String {
        #"^\s*\+?"# + (positive ? #"(?!0*(?:\.0*)?\s*%)"# : "") + body + #"\s*%\s*$"#
    }

    static var scalars: [String: JSONValue] {
        [
            "loss-value": ["description": "A loss probability in [0, 1): a number, or a percentage below 100% (\"0.1%\").",
                           "anyOf": [["type": "number", "minimum": 0, "exclusiveMaximum": 1], ["type": "string", "pattern": .string(percent(percentBelow100))]]],
            "loss-nonneg": ["description": "A loss-rate parameter in [0, 1]: a number, or a percentage up to 100%.",
                            "anyOf": [["type": "number", "minimum": 0, "maximum": 1], ["type": "string", "pattern": .string(percent(percentUpTo100))]]],
            "loss-positive": ["description": "A loss-rate parameter in (0, 1]: a number, or a percentage in (0%, 100%].",
                              "anyOf": [["type": "number", "exclusiveMinimum": 0, "maximum": 1],
                                        ["type": "string", "pattern": .string(percent(percentUpTo100, positive: true))]]],
            // Scalar settings outside distributions are plain JSON numbers (no percentage strings).
            "fraction-0-1-open": ["type": "number", "minimum": 0, "exclusiveMaximum": 1, "description": "A plain number in [0, 1)."],
            "fraction-positive-1": ["type": "number", "exclusiveMinimum": 0, "maximum": 1, "description": "A plain number in (0, 1]."],
            "lognormal-forms": [
                "description": "The accepted parameter sets of a lognormal: median + p90 (+ p10 for the two-piece form), median + sigma, or mu + sigma.",
                "oneOf": [
                    ["title": "median + p90 (+ optional p10)", "required": ["median", "p90"], "not": ["anyOf": [["required": ["sigma"]], ["required": ["mu"]]]]],
                    ["title": "median + sigma", "required": ["median", "sigma"],
                     "not": ["anyOf": [["required": ["p90"]], ["required": ["p10"]], ["required": ["mu"]]]]],
                    ["title": "mu + sigma", "required": ["mu", "sigma"],
                     "not": ["anyOf": [["required": ["median"]], ["required": ["p90"]], ["required": ["p10"]]]]],
                ],
            ],
            "empirical-forms": [
                "description": "An empirical distribution has exactly one of values / trace, and no weights with method \"interpolate\".",
                "oneOf": [["title": "values", "required": ["values"], "not": ["required": ["trace"]]],
                          ["title": "trace", "required": ["trace"], "not": ["required": ["values"]]]],
                "if": ["required": ["method"], "properties": ["method": ["const": "interpolate"]]],
                "then": ["not": ["required": ["weights"]]],
            ],
        ]
    }

    /// Every `$defs` entry of the vocabulary.
    static var definitions: [String: JSONValue] {
        var defs = scalars
        for name in dimensions.map(\.name) + ["any"] {
            let suffix = name == "any" ? "" : "-" + name
            defs["quantity\(suffix)"] = quantity(name, .signed)
            defs["quantity\(suffix)-nonneg"] = quantity(name, .nonNegative)
            defs["quantity\(suffix)-positive"] = quantity(name, .positive)
        }
        for kind in DistributionSchema.kinds { defs.merge(DistributionSchema.definitions(kind)) { $1 } }
        return defs
    }
}
