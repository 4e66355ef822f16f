import Federation
import Network
import Numerics

/// `availability`: per-round dropouts and on/off sessions (with an optional daily cycle); time
/// zones, hard participation windows with eligibility conditions, and FedScale behaviour traces
/// (`AvailabilityModel.Schedule`).
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
            ScenarioKey("time_zones", ["oneOf": [
                ["type": "string", "enum": .array(AvailabilityModel.TimeZones.presets.keys.sorted().map { .string($0) }),
                 "description": "A named mix of UTC offsets (docs/SCENARIOS.md)."],
                ["type": "array", "minItems": 1, "items": SchemaVocabulary.ref("time-zone")],
            ], "description": "Clients' time zones: each client's diurnal phase and window follow its local time; a preset name or [{\"utc_offset\": \"-5h\", \"weight\": 0.3}, …]."]),
            ScenarioKey("window", SchemaVocabulary.ref("participation-window")),
            ScenarioKey("fedscale", [
                "description": "A FedScale behaviour trace instead of sessions: {\"behaviour\": \"client_behave_trace\"} (the pickle, or the JSON of fedsim import fedscale).",
                "type": "object", "additionalProperties": false, "required": ["behaviour"],
                "properties": ["behaviour": ["type": "string", "minLength": 1, "description": "Path relative to the scenario file."]],
            ]),
        ]
    }
    static var windowKeys: [ScenarioKey] {
        [ScenarioKey("local", ["type": "array", "minItems": 1,
                               "items": ["type": "string", "pattern": #"^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$"#],
                               "description": "Local-time intervals \"HH:MM-HH:MM\" (an end before the start wraps past midnight); default the whole day."]),
         ScenarioKey("conditions", ["oneOf": [
             ["type": "number", "minimum": 0, "maximum": 1],
             ["type": "array", "minItems": 24, "maxItems": 24, "items": ["type": "number", "minimum": 0, "maximum": 1]],
         ], "description": "Probability that a device meets its conditions (charging, unmetered Wi-Fi, idle): one value, or 24, per local hour; default 1."])]
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
        [name: objectSchema("When clients are reachable: a per-round dropout probability and/or on/off sessions (or a FedScale trace), time zones and participation windows."),
         "time-zone": ["type": "object", "additionalProperties": false, "required": ["utc_offset", "weight"],
                       "description": "A time zone: its offset from the simulated clock (UTC, -14h … 14h) and its weight.",
                       "properties": ["utc_offset": SchemaVocabulary.ref("quantity-duration"),
                                      "weight": ["type": "number", "exclusiveMinimum": 0]]],
         "participation-window": ["type": "object", "additionalProperties": false,
                                  "description": "Hard participation windows in local time with eligibility conditions: {\"local\": [\"00:00-06:00\"], \"conditions\": 0.6}.",
                                  "properties": windowKeys.properties],
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
        let sessions = try node.member("sessions").map(parseSessions)
        let zonesNode = node.member("time_zones"), windowNode = node.member("window"), fedscaleNode = node.member("fedscale")
        guard zonesNode != nil || windowNode != nil || fedscaleNode != nil else {
            guard let sessions else { return dropout > 0 ? .dropout(perRound: dropout) : .always }
            return .sessions(.init(online: sessions.online, offline: sessions.offline, diurnal: sessions.diurnal, dropoutPerRound: dropout))
        }
        var schedule = AvailabilityModel.Schedule(dropoutPerRound: dropout)
        if let sessions { schedule.online = .sessions(sessions) }
        if let f = fedscaleNode {
            if sessions != nil {
                throw InputError(.invalidValue(expected: "either 'sessions' or 'fedscale' (a behaviour trace), not both", found: "both"), at: f.path)
            }
            _ = try f.object(allowed: ["behaviour"])
            let b = try f.required("behaviour")
            let file = try b.string()
            var resolved = file
            if !file.hasPrefix("/"), let base = b.baseDirectory { resolved = base + "/" + file }
            schedule.online = .trace(try FedScaleTrace.loadBehaviour(path: resolved, shown: file, keyPath: b.path))
        }
        if let z = zonesNode { schedule.zones = try parseZones(z) }
        if let w = windowNode { schedule.window = try parseWindow(w) }
        if let z = zonesNode, schedule.window == nil, sessions?.diurnal == nil {
            throw InputError(.invalidValue(expected: "time zones together with a 'window' or 'sessions.diurnal' (local time matters only to them)",
                                           found: "neither"), at: z.path)
        }
        return .schedule(schedule)
    }

    static func parseZones(_ node: Node) throws -> AvailabilityModel.TimeZones {
        if case .string = node.value {
            let name = try node.string()
            guard let preset = AvailabilityModel.TimeZones.presets[name] else {
                let valid = AvailabilityModel.TimeZones.presets.keys.sorted()
                throw InputError(.unknownName(kind: "time-zone preset", name: name, suggestion: Suggestion.nearest(to: name, in: valid), valid: valid), at: node.path)
            }
            return preset
        }
        let items = try node.elements()
        guard !items.isEmpty else { throw node.invalid("a preset name or a non-empty list of {\"utc_offset\": \"-5h\", \"weight\": 0.3}") }
        return AvailabilityModel.TimeZones(zones: try items.map { z in
            _ = try z.object(allowed: ["utc_offset", "weight"])
            let o = try z.required("utc_offset")
            let offset = try o.quantity(.duration)
            guard (-14 * 3600.0...14 * 3600).contains(offset) else { throw o.invalid("a UTC offset in -14h … 14h, e.g. \"-5h\" or \"5.5h\"") }
            let weight = try z.required("weight").positiveNumber("a weight > 0")
            return .init(offset: offset, weight: weight)
        })
    }

    /// "HH:MM" as seconds of the day (24:00 allowed as an end).
    static func clock(_ text: Substring, _ node: Node) throws -> Double {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let h = Int(parts[0]), let m = Int(parts[1]), m < 60, h < 24 || (h == 24 && m == 0) else {
            throw node.invalid("a local-time interval \"HH:MM-HH:MM\" with times in 00:00 … 24:00, e.g. \"00:00-06:00\"")
        }
        return Double(h * 3600 + m * 60)
    }

    static func parseWindow(_ node: Node) throws -> AvailabilityModel.Window {
        _ = try node.object(allowed: windowKeys.names)
        var intervals: [AvailabilityModel.Window.Interval] = []
        if let local = node.member("local") {
            let items = try local.elements()
            guard !items.isEmpty else { throw local.invalid("a non-empty list of local-time intervals such as \"00:00-06:00\"") }
            for item in items {
                let text = try item.string()
                let halves = text.split(separator: "-", omittingEmptySubsequences: false)
                guard halves.count == 2 else { throw item.invalid("a local-time interval \"HH:MM-HH:MM\", e.g. \"00:00-06:00\"") }
                var start = try clock(halves[0], item), end = try clock(halves[1], item)
                if start == 86_400 { start = 0 }
                if end == 0 { end = 86_400 }
                guard start != end else { throw item.invalid("an interval of positive length (start ≠ end; \"00:00-24:00\" is the whole day)") }
                intervals.append(.init(start: start, end: end))
            }
        }
        var conditions: [Double] = [1]
        if let c = node.member("conditions") {
            if case .array = c.value {
                let items = try c.elements()
                guard items.count == 24 else { throw c.invalid("a probability, or 24 of them (one per local hour 0 … 23)") }
                conditions = try items.map { try $0.number(0...1, "a probability in [0, 1]") }
            } else {
                conditions = [try c.number(0...1, "a probability in [0, 1], or 24 of them (one per local hour)")]
            }
        }
        return AvailabilityModel.Window(intervals: intervals, conditions: conditions)
    }

    static func parseSessions(_ s: Node) throws -> AvailabilityModel.Sessions {
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
        return .init(online: online, offline: offline, diurnal: diurnal)
    }

    static func resolved(_ availability: AvailabilityModel) -> JSONValue {
        var o: [String: JSONValue] = ["dropout_per_round": .number(availability.dropoutPerRound)]
        if let s = availability.sessionModel { o["sessions"] = resolved(s) }
        if case let .schedule(s) = availability {
            if case let .trace(t) = s.online { o["fedscale"] = ["behaviour": .string(t.source)] }
            if let z = s.zones {
                o["time_zones"] = z.preset.map { .string($0) }
                    ?? .array(z.zones.map { ["utc_offset": Resolved.quantity($0.offset, .duration), "weight": .number($0.weight)] })
            }
            if let w = s.window {
                var window: [String: JSONValue] = [:]
                if !w.intervals.isEmpty {
                    func hhmm(_ x: Double) -> String { String(format: "%02d:%02d", Int(x) / 3600, Int(x) % 3600 / 60) }
                    window["local"] = .array(w.intervals.map { .string(hhmm($0.start) + "-" + hhmm($0.end)) })
                }
                window["conditions"] = Set(w.conditions).count == 1 ? .number(w.conditions[0]) : .array(w.conditions.map { .number($0) })
                o["window"] = .object(window)
            }
        }
        return .object(o)
    }

    static func resolved(_ s: AvailabilityModel.Sessions) -> JSONValue {
        var sessions: [String: JSONValue] = ["online": s.online.json, "offline": s.offline.json]
        if let d = s.diurnal {
            sessions["diurnal"] = ["amplitude": .number(d.amplitude), "period": Resolved.quantity(d.period, .duration),
                                   "peak": Resolved.quantity(d.peak, .duration)]
        }
        return .object(sessions)
    }
}
