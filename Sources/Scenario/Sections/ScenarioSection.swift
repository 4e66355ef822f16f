import Numerics

/// One key of a scenario section, with its JSON Schema: the one place a key is declared. The
/// section's reader allows exactly these keys (in this order for "did you mean"), and
/// `fedsim schema` emits these schemas.
struct ScenarioKey {
    let name: String
    let schema: JSONValue
    init(_ name: String, _ schema: JSONValue) {
        self.name = name
        self.schema = schema
    }
}

extension Array where Element == ScenarioKey {
    var names: [String] { map(\.name) }
    var properties: JSONValue { .object(Dictionary(map { ($0.name, $0.schema) }, uniquingKeysWith: { $1 })) }
}

/// A section of a scenario file (docs/SCENARIOS.md): its keys and their schema, its reader (every
/// default taken from `FederationConfig`'s initialisers), and its resolved form (what `fedsim
/// validate` prints, which reads back to the same value). Each section lives in a file of its own.
protocol ScenarioSection {
    /// The section's name in `$defs` and its key at the top of a scenario.
    static var name: String { get }
    static var keys: [ScenarioKey] { get }
    /// `$defs` entries the section contributes (its own object schema and any helpers).
    static var definitions: [String: JSONValue] { get }
}

extension ScenarioSection {
    /// An object schema of `keys` with `description` (unknown keys rejected).
    static func objectSchema(_ description: String, required: [String] = [], extra: [String: JSONValue] = [:]) -> JSONValue {
        var o: [String: JSONValue] = ["description": .string(description), "type": "object", "additionalProperties": false,
                                      "properties": keys.properties]
        if !required.isEmpty { o["required"] = .array(required.map { .string($0) }) }
        o.merge(extra) { $1 }
        return .object(o)
    }
}

/// Shared resolved-form helpers.
enum Resolved {
    static func quantity(_ v: Double, _ d: Quantity.Dimension) -> JSONValue { .string(Quantity.format(v, as: d)) }
    static func integer(_ n: Int) -> JSONValue { .number(Double(n)) }
    /// A value as a description shows it: strings without quotes, anything else as JSON.
    static func shown(_ v: JSONValue) -> String {
        if case let .string(s) = v { return s }
        return v.compactText(width: 1000)
    }
    /// A Float as the shortest decimal that reads back as it (0.001, not 0.0010000000474974513).
    static func float(_ x: Float) -> JSONValue { .number(Double("\(x)") ?? Double(x)) }
}

extension Double {
    /// `self` unless it is 1 (for ranges [0, 1)).
    func nonOne(_ node: Node, _ expected: String = "a value in [0, 1)") throws -> Double {
        guard self < 1 else { throw node.invalid(expected) }
        return self
    }
}
