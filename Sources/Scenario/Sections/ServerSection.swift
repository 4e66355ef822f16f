import EventKernel
import Federation
import Numerics

/// `server`: the shared server link and aggregation time.
enum ServerSection: ScenarioSection {
    static let name = "server"
    static var keys: [ScenarioKey] {
        let d = FederationConfig.Server()
        let down = Resolved.quantity(d.downlink, .bitRate), up = Resolved.quantity(d.uplink, .bitRate)
        let aggregation = Resolved.quantity(d.aggregation.seconds, .duration)
        return [
            ScenarioKey("down", SchemaVocabulary.with(SchemaVocabulary.ref("quantity-rate-positive"), [
                "default": down, "description": .string("Egress capacity shared by all downloads (a bit rate > 0); default \(Resolved.shown(down))."),
            ])),
            ScenarioKey("up", SchemaVocabulary.with(SchemaVocabulary.ref("quantity-rate-positive"), [
                "default": up, "description": .string("Ingress capacity shared by all uploads (a bit rate > 0); default \(Resolved.shown(up))."),
            ])),
            ScenarioKey("aggregation", SchemaVocabulary.with(SchemaVocabulary.ref("quantity-duration-nonneg"), [
                "default": aggregation, "description": .string("Server time to aggregate and re-encode (a duration ≥ 0); default \(Resolved.shown(aggregation))."),
            ])),
        ]
    }
    static var definitions: [String: JSONValue] { [name: objectSchema("The aggregation server.")] }

    static func rate(_ node: Node) throws -> Double {
        try node.positiveQuantity(.bitRate, "a positive rate such as \"10Gbps\"")
    }

    static func parse(_ node: Node?) throws -> FederationConfig.Server {
        let d = FederationConfig.Server()
        guard let node else { return d }
        _ = try node.object(allowed: keys.names)
        let aggregation = try node.member("aggregation").map { n -> SimDuration in
            let v = try n.quantity(.duration)
            guard v >= 0 else { throw n.invalid("a duration ≥ 0 such as \"2s\"") }
            return SimDuration(seconds: v)
        } ?? d.aggregation
        return .init(downlink: try node.member("down").map(rate) ?? d.downlink, uplink: try node.member("up").map(rate) ?? d.uplink,
                     aggregation: aggregation)
    }

    static func resolved(_ s: FederationConfig.Server) -> JSONValue {
        ["down": Resolved.quantity(s.downlink, .bitRate), "up": Resolved.quantity(s.uplink, .bitRate),
         "aggregation": Resolved.quantity(s.aggregation.seconds, .duration)]
    }
}
