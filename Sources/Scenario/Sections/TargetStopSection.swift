import EventKernel
import Federation
import Numerics

/// `target`: what "time to target" measures against — a metric (accuracy, loss or perplexity)
/// and an absolute value or a fraction of the best arm's result. `{"accuracy": a}` and
/// `{"fraction_of_best": f}` are the accuracy forms (and what accuracy targets resolve to).
enum TargetSection: ScenarioSection {
    typealias Metric = FederationConfig.Target.Metric
    static let name = "target"
    static var keys: [ScenarioKey] {
        [ScenarioKey("metric", ["enum": .array(Metric.allCases.map { .string($0.rawValue) }),
                                "description": "The metric: \"accuracy\" (default; higher is better), \"loss\" (mean cross-entropy in nats) or \"perplexity\" (exp(loss)); lower is better for both."]),
         ScenarioKey("value", SchemaVocabulary.positiveNumber("Absolute target of the metric: accuracy ≥ v (v in (0, 1]), loss ≤ v (v > 0) or perplexity ≤ v (v ≥ 1).")),
         ScenarioKey("accuracy", SchemaVocabulary.ref("fraction-positive-1", "Absolute accuracy target, in (0, 1] (the same as {\"metric\": \"accuracy\", \"value\": a}).")),
         ScenarioKey("fraction_of_best", SchemaVocabulary.ref("fraction-positive-1", "Target as a fraction f in (0, 1] of the best result: accuracy f × the best accuracy any arm reaches; loss or perplexity base − f·(base − best), the base being the frozen base's value before the first round and best the lowest value any arm reaches (no target when no arm improves on the base)."))]
    }
    static var definitions: [String: JSONValue] {
        func only(_ key: String, not others: [String]) -> JSONValue {
            ["required": [.string(key)], "not": ["anyOf": .array(others.map { ["required": [.string($0)]] })]]
        }
        let lowerIsBetter = JSONValue.array(Metric.allCases.filter(\.lowerIsBetter).map { .string($0.rawValue) })
        return [name: objectSchema("The target (with training): {\"metric\": m, \"value\": v} or {\"metric\": m, \"fraction_of_best\": f} with m accuracy (default), loss or perplexity; {\"accuracy\": a} is the accuracy value form. Default {\"fraction_of_best\": 0.95} (of the accuracy).",
                                   extra: ["oneOf": [only("accuracy", not: ["fraction_of_best", "metric", "value"]),
                                                     only("fraction_of_best", not: ["accuracy", "value"]),
                                                     only("value", not: ["accuracy", "fraction_of_best"])],
                                           "allOf": [["if": ["properties": ["metric": ["enum": lowerIsBetter]], "required": ["metric"]],
                                                      "else": ["properties": ["value": ["maximum": 1]]]],
                                                     ["if": ["properties": ["metric": ["const": "perplexity"]], "required": ["metric"]],
                                                      "then": ["properties": ["value": ["minimum": 1]]]]]])]
    }

    static func parse(_ node: Node?) throws -> FederationConfig.Target? {
        guard let node else { return nil }
        _ = try node.object(allowed: keys.names)
        if let a = node.member("accuracy") {
            if node.member("fraction_of_best") != nil { throw node.invalid("either 'accuracy' or 'fraction_of_best', not both") }
            for other in ["metric", "value"] where node.member(other) != nil {
                throw node.invalid("either 'accuracy' (the accuracy form) or 'metric' with 'value', not 'accuracy' with '\(other)'")
            }
            return .accuracy(try value(a, metric: .accuracy))
        }
        var metric = Metric.accuracy
        if let m = node.member("metric") {
            let text = try m.string()
            guard let known = Metric(rawValue: text) else {
                let valid = Metric.allCases.map(\.rawValue)
                throw InputError(.unknownName(kind: "target metric", name: text, suggestion: Suggestion.nearest(to: text, in: valid), valid: valid), at: m.path)
            }
            metric = known
        }
        if let v = node.member("value") {
            if node.member("fraction_of_best") != nil { throw node.invalid("either 'value' or 'fraction_of_best', not both") }
            return Target(metric: metric, .value(try value(v, metric: metric)))
        }
        guard let f = node.member("fraction_of_best") else {
            if node.member("metric") != nil { throw node.invalid("'value' or 'fraction_of_best' with 'metric'") }
            throw InputError(.missingKey("fraction_of_best"), at: node.path)
        }
        let v = try f.number(nil, "a fraction in (0, 1]")
        guard v > 0, v <= 1 else { throw f.invalid("a fraction in (0, 1]") }
        return Target(metric: metric, .fractionOfBest(v))
    }

    typealias Target = FederationConfig.Target

    /// An absolute target of `metric`: accuracy in (0, 1], loss > 0, perplexity ≥ 1.
    static func value(_ n: Node, metric: Metric) throws -> Double {
        let expected: String
        let ok: (Double) -> Bool
        switch metric {
        case .accuracy: (expected, ok) = ("an accuracy in (0, 1]", { $0 > 0 && $0 <= 1 })
        case .loss: (expected, ok) = ("a loss > 0 (nats)", { $0 > 0 })
        case .perplexity: (expected, ok) = ("a perplexity ≥ 1", { $0 >= 1 })
        }
        let v = try n.number(nil, expected)
        guard ok(v) else { throw n.invalid(expected) }
        return v
    }

    /// Accuracy targets in their short forms (`{"accuracy": a}`, `{"fraction_of_best": f}`);
    /// loss and perplexity with their metric.
    static func resolved(_ t: Target) -> JSONValue {
        switch (t.metric, t.level) {
        case let (.accuracy, .value(a)): return ["accuracy": .number(a)]
        case let (.accuracy, .fractionOfBest(f)): return ["fraction_of_best": .number(f)]
        case let (m, .value(v)): return ["metric": .string(m.rawValue), "value": .number(v)]
        case let (m, .fractionOfBest(f)): return ["metric": .string(m.rawValue), "fraction_of_best": .number(f)]
        }
    }
}

/// `stop`: after a number of rounds or of simulated time, whichever comes first.
enum StopSection: ScenarioSection {
    static let name = "stop"
    static var keys: [ScenarioKey] {
        [ScenarioKey("rounds", SchemaVocabulary.integer(1...10_000_000, "Maximum number of rounds, 1 … 10,000,000.")),
         ScenarioKey("time", SchemaVocabulary.ref("quantity-duration-positive", "Maximum simulated time (a duration > 0), e.g. \"48h\"."))]
    }
    static var defaultValue: JSONValue { resolved(FederationConfig.defaultStop) }
    static var definitions: [String: JSONValue] {
        [name: objectSchema("When the simulation stops: after rounds or simulated time, whichever comes first; default \(defaultValue.compactText(width: 1000)).",
                            extra: ["anyOf": [["required": ["rounds"]], ["required": ["time"]]]])]
    }

    static func parse(_ node: Node?) throws -> FederationConfig.Stop {
        guard let node else { return FederationConfig.defaultStop }
        _ = try node.object(allowed: keys.names)
        let rounds = try node.member("rounds")?.integer(1...10_000_000, "a positive number of rounds")
        let time = try node.member("time").map { SimDuration(seconds: try $0.positiveQuantity(.duration, "a positive simulated time such as \"24h\"")) }
        guard rounds != nil || time != nil else { throw InputError(.missingKey("rounds"), at: node.path) }
        return .init(rounds: rounds, time: time)
    }

    static func resolved(_ s: FederationConfig.Stop) -> JSONValue {
        var o: [String: JSONValue] = [:]
        if let r = s.rounds { o["rounds"] = Resolved.integer(r) }
        if let t = s.time { o["time"] = Resolved.quantity(t.seconds, .duration) }
        return .object(o)
    }
}
