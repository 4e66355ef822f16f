import Federation
import Network
import Numerics

/// `population`: how many clients, their local samples and device speeds.
enum PopulationSection: ScenarioSection {
    static let name = "population"
    static var keys: [ScenarioKey] {
        let d = FederationConfig.Population()
        return [
            ScenarioKey("clients", SchemaVocabulary.integer(1...10_000_000, "Number of clients, 1 … 10,000,000; default \(d.clients).", default: Resolved.integer(d.clients))),
            ScenarioKey("samples", SchemaVocabulary.ref("distribution-count", "Local training samples per client (a plain positive distribution); default \(d.samples.json.compactText(width: 1000)).")),
            ScenarioKey("device_speed", SchemaVocabulary.ref("distribution-flop-rate", "Client compute speed (FLOP/s distribution); default \(d.deviceSpeed.json.compactText(width: 1000)).")),
        ]
    }
    static var definitions: [String: JSONValue] { [name: objectSchema("The client population.")] }

    static func parse(_ node: Node?) throws -> FederationConfig.Population {
        let d = FederationConfig.Population()
        guard let node else { return d }
        _ = try node.object(allowed: keys.names)
        let clients = try node.member("clients")?.integer(1...10_000_000, "a number of clients in 1…10000000") ?? d.clients
        let samples = try node.member("samples").map { try $0.distribution(.dimensionless).requiringPositive("sample counts", at: $0.path) } ?? d.samples
        let speed = try node.member("device_speed").map { try $0.distribution(.flopRate).requiringPositive("device speeds", at: $0.path) } ?? d.deviceSpeed
        return .init(clients: clients, samples: samples, deviceSpeed: speed)
    }

    static func resolved(_ p: FederationConfig.Population) -> JSONValue {
        ["clients": Resolved.integer(p.clients), "samples": p.samples.json, "device_speed": p.deviceSpeed.json]
    }
}
