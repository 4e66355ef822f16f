import Federation
import Network
import Numerics

/// `availability`: per-round dropouts and on/off sessions (with an optional daily cycle).
enum AvailabilitySection: ScenarioSection {
    static let name = "availability"
    static var keys: [ScenarioKey] {
        [
            ScenarioKey("dropout_per_round", SchemaVocabulary.with(SchemaVocabulary.ref("fraction-0-1-open"), [
                "default": 0, "description": "Probability that a selected client drops during a round, in [0, 1); default 0.",
            ])),
            ScenarioKey("sessions", [
                "description": "Alternating online/offline sessions per client: {\"online\": D, \"offline\": D, \"diurnal\"?: {…}}.",
                "type": "object", "additionalProperties": false, "required": ["online", "offline"],
                "properties": .object(Dictionary(uniqueKeysWithValues: sessionKeys.map { ($0.name, $0.schema) })),
            ]),
        ]
    }
    static var sessionKeys: [ScenarioKey] {
        [ScenarioKey("online", SchemaVocabulary.ref("distribution-duration", "Length of an online session (duration distribution).")),
         ScenarioKey("offline", SchemaVocabulary.ref("distribution-duration", "Length of an offline gap (duration distribution).")),
         ScenarioKey("diurnal", SchemaVocabulary.ref("diurnal"))]
    }
    static var diurnalKeys: [ScenarioKey] {
        let d = AvailabilityModel.Diurnal(amplitude: 0)
        let period = Resolved.quantity(d.period, .duration), peak = Resolved.quantity(d.peak, .duration)
        return [
            ScenarioKey("amplitude", SchemaVocabulary.ref("fraction-0-1-open", "Relative amplitude of the modulation, in [0, 1).")),
            ScenarioKey("period", SchemaVocabulary.with(SchemaVocabulary.ref("quantity-duration-positive"), [
                "default": period, "description": .string("Period of the cycle (a duration > 0); default \(Resolved.shown(period))."),
            ])),
            ScenarioKey("peak", SchemaVocabulary.with(SchemaVocabulary.ref("quantity-duration"), [
                "default": peak, "description": .string("Time within the period at which availability peaks; default \(Resolved.shown(peak))."),
            ])),
        ]
    }
    static var definitions: [String: JSONValue] {
        [name: objectSchema("When clients are reachable: a per-round dropout probability and/or on/off sessions."),
         "diurnal": ["description": "Daily modulation of availability: {\"amplitude\": 0.6, \"period\": \"24h\", \"peak\": \"20h\"}.",
                     "type": "object", "additionalProperties": false, "required": ["amplitude"], "properties": diurnalKeys.properties]]
    }

    static func probability(_ node: Node) throws -> Double {
        try node.number(0...1, "a probability in [0, 1)").nonOne(node, "a probability in [0, 1)")
    }

    static func parse(_ node: Node?) throws -> AvailabilityModel {
        guard let node else { return .always }
        _ = try node.object(allowed: keys.names)
        let dropout = try node.member("dropout_per_round").map(probability) ?? 0
        guard let s = node.member("sessions") else { return dropout > 0 ? .dropout(perRound: dropout) : .always }
        _ = try s.object(allowed: sessionKeys.names)
        let onlineNode = try s.required("online")
        let online = try onlineNode.distribution(.duration).requiringPositive("session lengths", at: onlineNode.path)
        let offlineNode = try s.required("offline")
        let offline = try offlineNode.distribution(.duration).requiringPositive("offline gaps", at: offlineNode.path)
        var diurnal: AvailabilityModel.Diurnal?
        if let d = s.member("diurnal") {
            _ = try d.object(allowed: diurnalKeys.names)
            let amplitudeNode = try d.required("amplitude")
            var cycle = AvailabilityModel.Diurnal(amplitude: try amplitudeNode.number(0...1, "an amplitude in [0, 1)").nonOne(amplitudeNode, "an amplitude in [0, 1)"))
            if let p = d.member("period") { cycle.period = try p.positiveQuantity(.duration, "a positive period such as \"24h\"") }
            if let p = d.member("peak") { cycle.peak = try p.quantity(.duration) }
            diurnal = cycle
        }
        return .sessions(.init(online: online, offline: offline, diurnal: diurnal, dropoutPerRound: dropout))
    }

    static func resolved(_ availability: AvailabilityModel) -> JSONValue {
        var o: [String: JSONValue] = ["dropout_per_round": .number(availability.dropoutPerRound)]
        if case let .sessions(s) = availability {
            var sessions: [String: JSONValue] = ["online": s.online.json, "offline": s.offline.json]
            if let d = s.diurnal {
                sessions["diurnal"] = ["amplitude": .number(d.amplitude), "period": Resolved.quantity(d.period, .duration),
                                       "peak": Resolved.quantity(d.peak, .duration)]
            }
            o["sessions"] = .object(sessions)
        }
        return .object(o)
    }
}
