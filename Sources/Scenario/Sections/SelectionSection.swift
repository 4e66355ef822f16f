import EventKernel
import Federation
import Numerics

/// `selection`: K per round, over-selection, the deadline and the completions a round needs.
enum SelectionSection: ScenarioSection {
    static let name = "selection"
    static var keys: [ScenarioKey] {
        let d = FederationConfig.Selection()
        return [
            ScenarioKey("per_round", SchemaVocabulary.integer(1...10_000_000,
                "K: the number of uploads the server waits for, at most population.clients; default \(d.perRound) (or all clients if fewer).",
                default: Resolved.integer(d.perRound))),
            ScenarioKey("over_selection", ["type": "number", "minimum": 0, "maximum": 100, "default": .number(d.overSelection),
                "description": .string("Select ceil(K·(1 + over_selection)) clients and keep the first K uploads; 0 … 100, default \(Quantity.shortest(d.overSelection)).")]),
            ScenarioKey("deadline", SchemaVocabulary.ref("quantity-duration-positive",
                "The round closes at this deadline if K uploads have not arrived (a duration > 0); default none.")),
            ScenarioKey("min_completions", SchemaVocabulary.integer(minimum: 1,
                "With fewer arrivals than this by the deadline the round fails (no update); 1 … per_round, default \(d.minCompletions).",
                default: Resolved.integer(d.minCompletions))),
        ]
    }
    static var definitions: [String: JSONValue] { [name: objectSchema("Client selection per round.")] }

    static func parse(_ node: Node?, clients: Int) throws -> FederationConfig.Selection {
        var s = FederationConfig.Selection()
        s.perRound = min(s.perRound, clients)
        guard let node else { return s }
        _ = try node.object(allowed: keys.names)
        if let k = node.member("per_round") {
            s.perRound = try k.integer(1...Int(Int32.max), "a positive number of clients per round")
            guard s.perRound <= clients else {
                throw k.invalid("at most the population's \(clients) clients (population.clients)")
            }
        }
        if let o = node.member("over_selection") { s.overSelection = try o.number(0...100, "an over-selection fraction ≥ 0 (0.3 selects 30% more)") }
        if let d = node.member("deadline") {
            s.deadline = SimDuration(seconds: try d.positiveQuantity(.duration, "a positive deadline such as \"15min\""))
        }
        if let m = node.member("min_completions") {
            s.minCompletions = try m.integer(1...s.perRound, "a number of completions in 1…\(s.perRound) (selection.per_round)")
        }
        return s
    }

    static func resolved(_ s: FederationConfig.Selection) -> JSONValue {
        var o: [String: JSONValue] = ["per_round": Resolved.integer(s.perRound), "over_selection": .number(s.overSelection),
                                      "min_completions": Resolved.integer(s.minCompletions)]
        if let d = s.deadline { o["deadline"] = Resolved.quantity(d.seconds, .duration) }
        return .object(o)
    }
}
