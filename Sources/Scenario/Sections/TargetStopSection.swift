import EventKernel
import Federation
import Numerics

/// `target`: the accuracy that "time to target" measures against.
enum TargetSection: ScenarioSection {
    static let name = "target"
    static var keys: [ScenarioKey] {
        [ScenarioKey("accuracy", SchemaVocabulary.ref("fraction-positive-1", "Absolute accuracy target, in (0, 1].")),
         ScenarioKey("fraction_of_best", SchemaVocabulary.ref("fraction-positive-1", "Target as a fraction of the best arm's final accuracy, in (0, 1]."))]
    }
    static var definitions: [String: JSONValue] {
        [name: objectSchema("The accuracy target (with training): {\"accuracy\": a} or {\"fraction_of_best\": f}, not both; default fraction_of_best 0.95.",
                            extra: ["oneOf": [["required": ["accuracy"], "not": ["required": ["fraction_of_best"]]],
                                              ["required": ["fraction_of_best"], "not": ["required": ["accuracy"]]]]])]
    }

    static func parse(_ node: Node?) throws -> FederationConfig.Target? {
        guard let node else { return nil }
        _ = try node.object(allowed: keys.names)
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

    static func resolved(_ t: FederationConfig.Target) -> JSONValue {
        switch t {
        case let .accuracy(a): return ["accuracy": .number(a)]
        case let .fractionOfBest(f): return ["fraction_of_best": .number(f)]
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
