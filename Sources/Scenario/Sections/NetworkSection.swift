import Federation
import Network
import Numerics

/// `network`: the clients' access networks (a profile, a mix, or inline link distributions),
/// user-defined profiles, the transfer model and connection reuse.
enum NetworkSection: ScenarioSection {
    static let name = "network"
    static let linkKeys: [ScenarioKey] = [
        ScenarioKey("down", ["anyOf": [SchemaVocabulary.ref("distribution-rate"), SchemaVocabulary.ref("link-trace")],
                             "description": "Downlink (server → client) rate per client: a bit-rate distribution, e.g. \"20Mbps\", or a time-varying link {\"trace\": …}."]),
        ScenarioKey("up", ["anyOf": [SchemaVocabulary.ref("distribution-rate"), SchemaVocabulary.ref("link-trace")],
                           "description": "Uplink (client → server) rate per client: a bit-rate distribution, e.g. \"2Mbps\", or a time-varying link {\"trace\": …}."]),
        ScenarioKey("rtt", SchemaVocabulary.ref("distribution-duration", "Round-trip time per client: a duration distribution, e.g. \"40ms\".")),
        ScenarioKey("loss", SchemaVocabulary.ref("distribution-loss", "Packet-loss rate per client, in [0, 1): a number, a percentage or a distribution; default 0.")),
    ]
    static let profileKeys: [ScenarioKey] = linkKeys + [
        ScenarioKey("summary", ["type": "string", "description": "One line: what access network this is (default \"user-defined\")."]),
        ScenarioKey("sources", ["type": "array", "items": ["type": "string"],
                                "description": "Where the figures come from, and which are assumptions (default [\"defined in the scenario\"])."]),
    ]
    static var keys: [ScenarioKey] {
        let d = FederationConfig.Network()
        return [
            ScenarioKey("profile", SchemaVocabulary.with(SchemaVocabulary.ref("profile-name"), ["default": .string(d.profile.name)])),
            ScenarioKey("mix", SchemaVocabulary.ref("mix")),
            ScenarioKey("profiles", [
                "type": "object", "description": "Optional user-defined profiles, by name, usable in \"profile\" and \"mix\".",
                "propertyNames": ["minLength": 1, "not": ["enum": .array(NetworkProfile.builtInNames.map { .string($0) })],
                                  "description": "A new profile name; the built-in names cannot be redefined."],
                "additionalProperties": SchemaVocabulary.ref("profile-definition"),
            ]),
            ScenarioKey("model", ["enum": .array(TransferModel.allCases.map { .string($0.rawValue) }), "default": .string(d.model.rawValue),
                                  "description": .string("Transfer model: \"tcp\" (default: connection set-up, slow start, then the rate limited by link, loss "
                                      + "and the fair share of the server link) or \"fluid\" (RTT/2 + bytes / rate; see docs/NETWORK-MODEL.md).")]),
            ScenarioKey("keep_connections", ["type": "boolean", "default": .bool(d.keepConnections),
                                             "description": "Default true: connection set-up (handshake + TLS) only on a client's first transfer."]),
            ScenarioKey("tcp", SchemaVocabulary.ref("tcp")),
        ] + linkKeys
    }
    static var definitions: [String: JSONValue] {
        let inline: JSONValue = [["required": ["down"]], ["required": ["up"]], ["required": ["rtt"]], ["required": ["loss"]]]
        guard case let .array(inlineForms) = inline else { return [:] }
        let names = NetworkProfile.builtInNames
        return [
            name: objectSchema("The clients' access networks: a \"profile\" (default \"\(FederationConfig.Network().profile.name)\"), or a \"mix\" of profiles, "
                               + "or inline distributions \"down\", \"up\", \"rtt\" (+ optional \"loss\") — exactly one of these forms.", extra: [
                "oneOf": [
                    ["title": "profile (or the default web-mix)", "not": ["anyOf": .array([["required": ["mix"]]] + inlineForms)]],
                    ["title": "mix", "required": ["mix"], "not": ["anyOf": .array([["required": ["profile"]]] + inlineForms)]],
                    ["title": "inline down/up/rtt (+ loss)", "required": ["down", "up", "rtt"],
                     "not": ["anyOf": [["required": ["profile"]], ["required": ["mix"]]]]],
                ],
            ]),
            "tcp": tcpSchema,
            "link": ["description": "The per-client link distributions: down, up and rtt are required together; loss is optional (default 0).",
                     "type": "object", "properties": linkKeys.properties],
            "profile-name": ["type": "string", "minLength": 1,
                             "description": .string("A network profile: built-in \(names.joined(separator: ", ")) (see `fedsim profiles`), or one defined under network.profiles."),
                             "examples": .array(names.map { .string($0) })],
            "mix-member": ["description": "One weighted member of a mix: {\"weight\": w > 0, \"profile\": name}.", "type": "object",
                           "required": ["weight", "profile"], "additionalProperties": false,
                           "properties": ["weight": SchemaVocabulary.positiveNumber("Relative weight (> 0); weights are normalised."),
                                          "profile": SchemaVocabulary.ref("profile-name")]],
            "mix": ["description": "A weighted mix of profiles; each client draws a member by weight, then all four link attributes from it.",
                    "type": "array", "minItems": 1, "items": SchemaVocabulary.ref("mix-member")],
            "link-trace": linkTraceSchema,
            "profile-definition": ["description": .string("A user-defined network profile: the link distributions down, up, rtt (required) and loss "
                                       + "(optional, default 0), plus an optional one-line summary and sources."),
                                   "type": "object", "additionalProperties": false, "required": ["down", "up", "rtt"], "properties": profileKeys.properties],
        ]
    }

    static func parseLink(_ node: Node) throws -> LinkDistributions {
        let (down, downTrace) = try rate(node.required("down"))
        let (up, upTrace) = try rate(node.required("up"))
        let link = LinkDistributions(downlink: down, uplink: up,
                                     rtt: try node.required("rtt").distribution(.duration),
                                     loss: try node.member("loss")?.distribution(.dimensionless) ?? Distribution(.constant(0), dimension: .dimensionless),
                                     downlinkTrace: downTrace, uplinkTrace: upTrace)
        return try link.validated(at: node.path)
    }

    /// A rate key: a distribution, or a time-varying link (an object with "trace" and no "dist"),
    /// whose distribution is then the constant mean of its first trace.
    static func rate(_ node: Node) throws -> (Distribution, LinkTrace?) {
        guard node.member("trace") != nil, node.member("dist") == nil else { return (try node.distribution(.bitRate), nil) }
        let trace = try linkTrace(node)
        return (Distribution(.constant(trace.traces[0].meanRate), dimension: .bitRate), trace)
    }

    static let traceKeys = ["trace", "format", "column", "time_column", "unit", "time_unit", "bin", "loop", "offset", "groups"]
    static let traceFormats = ["csv", "mahimahi"]
    /// The default bin of a Mahimahi trace.
    static let defaultMahimahiBin = 1.0

    /// `{"trace": "f.csv" | ["a.csv", …], "column": …, "time_column"?, "unit"?, "time_unit"?, "loop"?, "offset"?, "groups"?}`
    /// or `{"trace": …, "format": "mahimahi", "bin"?: "1s", …}`.
    static func linkTrace(_ node: Node) throws -> LinkTrace {
        _ = try node.object(allowed: traceKeys)
        let traceNode = try node.required("trace")
        let files: [(String, Node)]
        let list: Bool
        if case .array = traceNode.value {
            let items = try traceNode.elements()
            guard !items.isEmpty else { throw traceNode.invalid("a trace file or a non-empty array of trace files") }
            files = try items.map { (try $0.string(), $0) }
            list = true
        } else {
            guard case let .string(f) = traceNode.value else { throw traceNode.invalid("a trace file or a non-empty array of trace files") }
            files = [(f, traceNode)]
            list = false
        }
        for (f, n) in files where f.isEmpty { throw n.invalid("a trace file's path") }
        let formatName = try node.member("format")?.string() ?? "csv"
        guard traceFormats.contains(formatName) else {
            throw InputError(.unknownName(kind: "trace format", name: formatName, suggestion: Suggestion.nearest(to: formatName, in: traceFormats), valid: traceFormats),
                             at: node.child("format"))
        }
        func column(_ key: String) throws -> String? {
            guard let c = node.member(key) else { return nil }
            if case let .number(d) = c.value, let index = Int(exactly: d), index >= 0 { return String(index) }
            let text = try c.string()
            guard !text.isEmpty else { throw c.invalid("a column name or a 0-based column index") }
            return text
        }
        var source = LinkTrace.Source(files: files.map(\.0), list: list, format: formatName)
        var traces: [CapacityTrace] = []
        if formatName == "mahimahi" {
            for key in ["column", "time_column", "unit", "time_unit"] where node.member(key) != nil {
                throw InputError(.invalidValue(expected: "no '\(key)' with format 'mahimahi' (one millisecond timestamp per 1500-byte delivery opportunity)", found: "'\(key)'"),
                                 at: node.child(key))
            }
            let bin = try node.member("bin")?.positiveQuantity(.duration, "a positive bin duration, e.g. \"1s\"") ?? defaultMahimahiBin
            source.bin = bin
            for (f, n) in files {
                let series = try TraceFile.readMahimahi(file: f, relativeTo: node.baseDirectory, keyPath: n.path, bin: bin)
                traces.append(try capacityTrace(series, file: f, at: n.path))
            }
        } else {
            if let b = node.member("bin") {
                throw InputError(.invalidValue(expected: "'bin' only with format 'mahimahi'", found: "'bin'"), at: b.path)
            }
            guard let valueColumn = try column("column") else {
                throw InputError(.missingKey("column"), at: node.path)
            }
            source.column = valueColumn
            source.timeColumn = try column("time_column")
            source.unit = try node.member("unit")?.string()
            source.timeUnit = try node.member("time_unit")?.string()
            for (f, n) in files {
                let series = try TraceFile.readCSV(file: f, relativeTo: node.baseDirectory, keyPath: n.path, unitsAt: node.path,
                                                   valueColumn: valueColumn, valueUnit: source.unit, valueDimension: .bitRate,
                                                   timeColumn: source.timeColumn, timeUnit: source.timeUnit)
                traces.append(try capacityTrace(series, file: f, at: n.path))
            }
        }
        let loop = try node.member("loop")?.bool() ?? true
        var offset = LinkTrace.Offset.random
        if let o = node.member("offset") {
            if case .string("random") = o.value {
                offset = .random
            } else {
                let seconds = try o.quantity(.duration)
                guard seconds >= 0 else { throw o.invalid("\"random\" or a duration ≥ 0 into the trace, e.g. \"30s\"") }
                offset = .fixed(seconds)
            }
        }
        let groups = try node.member("groups")?.integer(1...10_000_000, "a number of shared timelines in 1…10,000,000")
        return LinkTrace(traces: traces, loop: loop, offset: offset, groups: groups, source: source)
    }

    static func capacityTrace(_ series: TraceFile.Series, file: String, at path: String) throws -> CapacityTrace {
        if let length = series.length, let first = series.times.first, !(length > (series.times.last ?? first)) {
            throw InputError(.file(path: file, reason: "has no length after its last sample"), at: path)
        }
        let trace = CapacityTrace(times: series.times, rates: series.values, length: series.length)
        guard trace.meanRate > 0 else {
            throw InputError(.file(path: file, reason: "has no capacity: expected a trace whose time-weighted mean is positive, found 0"), at: path)
        }
        return trace
    }

    /// The schema of a time-varying link.
    static var linkTraceSchema: JSONValue {
        let column: JSONValue = ["anyOf": [["type": "string", "minLength": 1], ["type": "integer", "minimum": 0]]]
        return [
            "description": .string("A time-varying link (docs/NETWORK-MODEL.md): the rate follows a trace during the run, piecewise constant. "
                + "CSV: a header row naming each column with its unit (time_s,down_mbps or \"time (s)\",\"down (Mbps)\"), or the units given here. "
                + "Each client has its own timeline unless \"groups\" is given."),
            "type": "object", "required": ["trace"], "additionalProperties": false, "not": ["required": ["dist"]],
            "properties": [
                "trace": ["description": "A trace file (relative to the scenario), or an array of them: timeline k uses file k mod their number.",
                          "anyOf": [["type": "string", "minLength": 1], ["type": "array", "minItems": 1, "items": ["type": "string", "minLength": 1]]]],
                "format": ["enum": .array(traceFormats.map { .string($0) }), "default": "csv",
                           "description": "\"csv\" (default): a time column and a rate column; \"mahimahi\": one millisecond timestamp per 1500-byte delivery opportunity."],
                "column": SchemaVocabulary.with(column, ["description": "The rate column (CSV; required): a header name or a 0-based index."]),
                "time_column": SchemaVocabulary.with(column, ["description": "The time column (CSV): a header name or a 0-based index; default the first column."]),
                "unit": ["type": "string", "pattern": .string(#"^\s*"# + SchemaVocabulary.units(.bitRate) + #"\s*$"#),
                         "description": "The rate column's unit when its header names none (e.g. \"Mbps\"); must agree with the header's if it names one."],
                "time_unit": ["type": "string", "pattern": .string(#"^\s*"# + SchemaVocabulary.units(.duration) + #"\s*$"#),
                              "description": "The time column's unit when its header names none (e.g. \"s\"); must agree with the header's if it names one."],
                "bin": SchemaVocabulary.ref("quantity-duration-positive", "Mahimahi only: the width of the bins delivery opportunities are counted in; default \"1s\"."),
                "loop": ["type": "boolean", "default": true,
                         "description": "Default true: the trace repeats after its length (the last sample holds as long as the interval before it); false: the last rate holds."],
                "offset": ["anyOf": [["const": "random"], SchemaVocabulary.ref("quantity-duration-nonneg")], "default": "random",
                           "description": "Where each timeline starts in its trace: \"random\" (default: uniform over the trace's length, the same draw in every arm) or a duration."],
                "groups": SchemaVocabulary.integer(1...10_000_000, "Clients share this many timelines (client i on timeline i mod groups); default: one timeline per client."),
            ],
        ]
    }

    static func traceJSON(_ t: LinkTrace) -> JSONValue {
        let s = t.source
        var o: [String: JSONValue] = ["trace": s.list ? .array(s.files.map { .string($0) }) : .string(s.files[0]),
                                      "format": .string(s.format), "loop": .bool(t.loop)]
        if let c = s.column { o["column"] = .string(c) }
        if let c = s.timeColumn { o["time_column"] = .string(c) }
        if let u = s.unit { o["unit"] = .string(u) }
        if let u = s.timeUnit { o["time_unit"] = .string(u) }
        if let b = s.bin { o["bin"] = Resolved.quantity(b, .duration) }
        switch t.offset {
        case .random: o["offset"] = "random"
        case let .fixed(seconds): o["offset"] = Resolved.quantity(seconds, .duration)
        }
        if let g = t.groups { o["groups"] = Resolved.integer(g) }
        return .object(o)
    }

    static func parse(_ node: Node?) throws -> (FederationConfig.Network, Scenario.NetworkForm, [NetworkProfile]) {
        let d = FederationConfig.Network()
        guard let node else { return (d, .named(d.profile.name), []) }
        _ = try node.object(allowed: keys.names)
        var user: [NetworkProfile] = []
        if let profiles = node.member("profiles") {
            guard case let .object(members) = profiles.value else { throw profiles.invalid("an object of named profiles") }
            for name in members.keys.sorted() {
                guard let p = profiles.member(name) else {
                    throw InputError(.invalidValue(expected: "a profile definition {\"down\", \"up\", \"rtt\"}", found: "null"), at: profiles.child(name))
                }
                _ = try p.object(allowed: profileKeys.names)
                if NetworkProfile.builtIn(named: name) != nil {
                    throw InputError(.invalidValue(expected: "a name that is not a built-in profile's", found: "'\(name)'"), at: p.path)
                }
                let sources = try p.member("sources")?.elements().map { try $0.string() } ?? ["defined in the scenario"]
                user.append(NetworkProfile(name: name, summary: try p.member("summary")?.string() ?? "user-defined",
                                           body: .link(try parseLink(p)), sources: sources))
            }
        }
        func lookup(_ n: Node) throws -> NetworkProfile {
            let name = try n.string()
            if let p = user.first(where: { $0.name == name }) ?? NetworkProfile.builtIn(named: name) { return p }
            let valid = NetworkProfile.builtInNames + user.map(\.name)
            throw InputError(.unknownName(kind: "network profile", name: name, suggestion: Suggestion.nearest(to: name, in: valid), valid: valid), at: n.path)
        }
        let inlineKeys = linkKeys.names.filter { node.member($0) != nil }
        let forms = ["profile", "mix"].filter { node.member($0) != nil } + (inlineKeys.isEmpty ? [] : ["inline " + inlineKeys.joined(separator: "/")])
        guard forms.count <= 1 else {
            throw InputError(.invalidValue(expected: "one of 'profile', 'mix' or inline down/up/rtt/loss", found: forms.map { "'\($0)'" }.joined(separator: " and ")), at: node.path)
        }
        var network = d
        let form: Scenario.NetworkForm
        if let p = node.member("profile") {
            network.profile = try lookup(p)
            form = .named(network.profile.name)
        } else if let mix = node.member("mix") {
            let items = try mix.elements()
            guard !items.isEmpty else { throw mix.invalid("a non-empty array of {\"weight\", \"profile\"}") }
            var components: [NetworkProfile.Component] = []
            for item in items {
                _ = try item.object(allowed: ["weight", "profile"])
                let w = try item.required("weight")
                let weight = try w.number(nil)
                guard weight > 0 else { throw w.invalid("a positive weight") }
                components.append(.init(weight: weight, profile: try lookup(try item.required("profile"))))
            }
            network.profile = NetworkProfile(name: "mix", summary: "a mix of " + components.map(\.profile.name).joined(separator: ", "),
                                             body: .mix(components), sources: ["the scenario's mix; see each profile"])
            form = .mix(components.map { ($0.weight, $0.profile.name) })
        } else if !inlineKeys.isEmpty {
            network.profile = NetworkProfile(name: "inline", summary: "defined inline in the scenario", body: .link(try parseLink(node)),
                                             sources: ["defined in the scenario"])
            form = .inline
        } else {
            form = .named(d.profile.name)
        }
        if let m = node.member("model") {
            let text = try m.string()
            guard let parsed = TransferModel(rawValue: text) else {
                let valid = TransferModel.allCases.map(\.rawValue)
                throw InputError(.unknownName(kind: "transfer model", name: text, suggestion: Suggestion.nearest(to: text, in: valid), valid: valid), at: m.path)
            }
            network.model = parsed
        }
        network.keepConnections = try node.member("keep_connections")?.bool() ?? d.keepConnections
        if let t = node.member("tcp") { network.tcp = try parseTCP(t) }
        return (network, form, user)
    }

    /// The schema of `network.tcp`: every `TCPSetting`, by its scenario type.
    static var tcpSchema: JSONValue {
        var properties: [String: JSONValue] = [:]
        for setting in TCPSetting.allCases {
            let description = JSONValue.string(setting.summary)
            switch setting {
            case .stack: properties[setting.rawValue] = ["enum": .array(TCPStack.allCases.map { .string($0.rawValue) }), "description": description]
            case .congestionControl: properties[setting.rawValue] = ["enum": .array(CongestionControl.allCases.map { .string($0.rawValue) }), "description": description]
            case .ackCounting: properties[setting.rawValue] = ["enum": .array(AckCounting.allCases.map { .string($0.rawValue) }), "description": description]
            case .lossSpacing: properties[setting.rawValue] = ["enum": .array(LossSpacing.allCases.map { .string($0.rawValue) }), "description": description]
            case .tls, .hyStart, .limitedTransmit: properties[setting.rawValue] = ["type": "boolean", "description": description]
            case .tcpFriendly: properties[setting.rawValue] = ["oneOf": [["type": "boolean"], ["enum": ["on", "off"]]], "description": description]
            case .minRTO, .delayedAck: properties[setting.rawValue] = ["type": "string", "description": description, "examples": ["200ms"]]
            case .mss, .frame: properties[setting.rawValue] = ["oneOf": [["type": "number"], ["type": "string"]], "description": description]
            case .initialWindow, .bufferBDP, .minimumBuffer: properties[setting.rawValue] = ["type": "number", "description": description]
            }
        }
        return ["type": "object", "additionalProperties": false, "properties": .object(properties),
                "description": "The TCP stack of the tcp model (docs/NETWORK-MODEL.md): a preset (\"stack\") and the settings that modify it."]
    }

    /// `network.tcp`: each setting's JSON value as the text `TCPParameters(settings:)` reads.
    static func parseTCP(_ node: Node) throws -> TCPParameters {
        _ = try node.object(allowed: TCPSetting.allCases.map(\.rawValue))
        var settings: [(TCPSetting, String)] = []
        for setting in TCPSetting.allCases {
            guard let member = node.member(setting.rawValue) else { continue }
            let text: String
            switch member.value {
            case let .string(s): text = s
            case let .bool(b): text = b ? "true" : "false"
            case let .number(n): text = Quantity.shortest(n)
            default: throw member.invalid(setting.expected)
            }
            settings.append((setting, text))
        }
        do {
            return try TCPParameters(settings: settings)
        } catch let error as TCPSettingError {
            let at = node.member(error.setting.rawValue)?.path ?? node.path
            throw InputError(.invalidValue(expected: error.expected, found: "'\(InputError.clipped(error.found))'"), at: at)
        }
    }

    /// `network.tcp` as the resolved scenario shows it: every setting's value.
    static func resolvedTCP(_ t: TCPParameters) -> JSONValue {
        [TCPSetting.congestionControl.rawValue: .string(t.congestionControl.rawValue), TCPSetting.tls.rawValue: .bool(t.tlsRoundTrips > 0),
         TCPSetting.tcpFriendly.rawValue: .bool(t.renoFriendly), TCPSetting.minRTO.rawValue: .string(Quantity.humanReadable(t.minRTOSeconds, as: .duration)),
         TCPSetting.delayedAck.rawValue: .string(Quantity.humanReadable(t.delayedAckSeconds, as: .duration)),
         TCPSetting.initialWindow.rawValue: .number(t.initialWindowSegments), TCPSetting.mss.rawValue: .number(t.mssBytes),
         TCPSetting.frame.rawValue: .number(t.frameBytes), TCPSetting.hyStart.rawValue: .bool(t.hyStart),
         TCPSetting.ackCounting.rawValue: .string(t.ackCounting.rawValue), TCPSetting.limitedTransmit.rawValue: .bool(t.limitedTransmit),
         TCPSetting.lossSpacing.rawValue: .string(t.lossSpacing.rawValue), TCPSetting.bufferBDP.rawValue: .number(t.bufferBDP),
         TCPSetting.minimumBuffer.rawValue: .number(t.minimumBufferSegments)]
    }

    static func link(_ l: LinkDistributions) -> [String: JSONValue] {
        ["down": l.downlinkTrace.map(traceJSON) ?? l.downlink.json, "up": l.uplinkTrace.map(traceJSON) ?? l.uplink.json,
         "rtt": l.rtt.json, "loss": l.loss.json]
    }

    static func resolved(_ network: FederationConfig.Network, form: Scenario.NetworkForm, userProfiles: [NetworkProfile]) -> JSONValue {
        var net: [String: JSONValue] = ["model": .string(network.model.rawValue), "keep_connections": .bool(network.keepConnections),
                                        "tcp": resolvedTCP(network.tcp)]
        switch form {
        case let .named(n): net["profile"] = .string(n)
        case let .mix(items): net["mix"] = .array(items.map { ["weight": .number($0.weight), "profile": .string($0.profile)] })
        case .inline: if case let .link(l) = network.profile.body { net.merge(link(l)) { $1 } }
        }
        if !userProfiles.isEmpty {
            var profiles: [String: JSONValue] = [:]
            for p in userProfiles {
                guard case let .link(l) = p.body else { continue }
                var o = link(l)
                o["summary"] = .string(p.summary)
                o["sources"] = .array(p.sources.map { .string($0) })
                profiles[p.name] = .object(o)
            }
            net["profiles"] = .object(profiles)
        }
        return .object(net)
    }
}
