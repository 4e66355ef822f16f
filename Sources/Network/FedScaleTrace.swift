import Foundation
import Numerics

/// FedScale's published client traces (SymbioticLab/FedScale, benchmark/dataset/data/device_info,
/// README "Device Trace File Formats"): two pickled dicts keyed by client id.
///
/// - `client_device_capacity`: `{id: {"computation": float, "communication": float}}`.
///   FedScale's `ClientMetadata.get_completion_time` reads `computation` as the model's inference
///   latency in **milliseconds per sample** (training is charged 3× that: forward + backward) and
///   `communication` as a bandwidth in **kbit/s** (the model update's size is `… / 1024 * 8`,
///   "kbits", divided by it), one value for both directions.
/// - `client_behave_trace`: `{id: {"duration": int, "inactive": [int], "finish_time": int,
///   "active": [int], "model": str}}`: the device is available from `active[k]` to `inactive[k]`
///   (seconds); FedScale takes the time modulo `finish_time` (`ClientMetadata.is_active`).
public enum FedScaleTrace {
    /// One client of the device trace.
    public struct Device: Sendable, Equatable {
        public var id: String
        /// Inference latency, ms per sample.
        public var computationMsPerSample: Double
        /// Bandwidth, kbit/s (up and down).
        public var communicationKbps: Double
        public init(id: String, computationMsPerSample: Double, communicationKbps: Double) {
            self.id = id
            self.computationMsPerSample = computationMsPerSample
            self.communicationKbps = communicationKbps
        }
    }

    /// One client of the behaviour trace as FedScale stores it.
    public struct Behaviour: Sendable, Equatable {
        public var id: String
        public var active: [Double]
        public var inactive: [Double]
        public var finishTime: Double
        public var duration: Double?
        public var model: String?
    }

    static func bad(_ file: String, _ keyPath: String, _ what: String) -> InputError {
        InputError(.file(path: file, reason: what), at: keyPath)
    }

    static func entries(_ root: PickleValue, file: String, keyPath: String, what: String) throws -> [PickleValue.Pair] {
        guard case let .dict(items) = root else {
            throw bad(file, keyPath, "expected a dict of \(what) keyed by client id, found a \(root.typeName)")
        }
        guard !items.isEmpty else { throw bad(file, keyPath, "holds no clients") }
        return items
    }

    /// The device trace in a decoded pickle.
    public static func devices(_ root: PickleValue, file: String, keyPath: String = "") throws -> [Device] {
        try entries(root, file: file, keyPath: keyPath, what: "{'computation': ms per sample, 'communication': kbps}").map { item in
            let id = item.key.keyText
            func number(_ key: String) throws -> Double {
                guard let v = item.value[key] else {
                    throw bad(file, keyPath, "client '\(InputError.clipped(id, 40))': expected a '\(key)' entry, found keys \(keysText(item.value))")
                }
                guard let d = v.number, d.isFinite, d > 0 else {
                    throw bad(file, keyPath, "client '\(InputError.clipped(id, 40))': '\(key)' expected a positive number, found \(describe(v))")
                }
                return d
            }
            return Device(id: id, computationMsPerSample: try number("computation"), communicationKbps: try number("communication"))
        }
    }

    /// The behaviour trace in a decoded pickle.
    public static func behaviours(_ root: PickleValue, file: String, keyPath: String = "") throws -> [Behaviour] {
        try entries(root, file: file, keyPath: keyPath, what: "{'active': [s], 'inactive': [s], 'finish_time': s, …}").map { item in
            let id = item.key.keyText
            let v = item.value
            func numbers(_ key: String) throws -> [Double] {
                guard let list = v[key]?.elements else {
                    throw bad(file, keyPath, "client '\(InputError.clipped(id, 40))': expected '\(key)' as a list of seconds, found \(v[key].map(describe) ?? "no such key (keys \(keysText(v)))")")
                }
                return try list.enumerated().map { k, x in
                    guard let d = x.number, d.isFinite, d >= 0 else {
                        throw bad(file, keyPath, "client '\(InputError.clipped(id, 40))': '\(key)'[\(k)] expected seconds ≥ 0, found \(describe(x))")
                    }
                    return d
                }
            }
            guard let finish = v["finish_time"]?.number, finish.isFinite, finish > 0 else {
                throw bad(file, keyPath, "client '\(InputError.clipped(id, 40))': expected 'finish_time' as seconds > 0, found \(v["finish_time"].map(describe) ?? "no such key")")
            }
            var duration: Double?
            if let d = v["duration"] { duration = d.number }
            var model: String?
            if case let .string(m)? = v["model"] { model = m }
            return Behaviour(id: id, active: try numbers("active"), inactive: try numbers("inactive"), finishTime: finish, duration: duration, model: model)
        }
    }

    static func describe(_ v: PickleValue) -> String {
        switch v {
        case let .int(i): return String(i)
        case let .float(d): return Quantity.shortest(d)
        case let .string(s): return "'\(InputError.clipped(s, 40))'"
        default: return "a \(v.typeName)"
        }
    }

    static func keysText(_ v: PickleValue) -> String {
        guard case let .dict(items) = v else { return "(not a dict: a \(v.typeName))" }
        return InputError.clipped(items.map { $0.key.keyText }.joined(separator: ", "), 80)
    }

    /// The behaviour trace as FedSim's availability: each client's intervals [active[k],
    /// inactive[k]) sorted, overlaps merged, clipped to [0, finish_time), empty ones dropped.
    /// `active` and `inactive` must pair up (as many of each, active[k] ≤ inactive[k]).
    public static func trace(_ behaviours: [Behaviour], file: String, keyPath: String = "", source: String) throws -> BehaviourTrace {
        BehaviourTrace(entries: try behaviours.map { b in
            guard b.active.count == b.inactive.count else {
                throw bad(file, keyPath, "client '\(InputError.clipped(b.id, 40))': expected as many 'inactive' as 'active' times, found \(b.active.count) active and \(b.inactive.count) inactive")
            }
            var pairs: [(Double, Double)] = []
            for k in b.active.indices {
                guard b.active[k] <= b.inactive[k] else {
                    throw bad(file, keyPath, "client '\(InputError.clipped(b.id, 40))': expected active[\(k)] ≤ inactive[\(k)], found \(Quantity.shortest(b.active[k])) > \(Quantity.shortest(b.inactive[k]))")
                }
                let s = min(b.active[k], b.finishTime), e = min(b.inactive[k], b.finishTime)
                if e > s { pairs.append((s, e)) }
            }
            pairs.sort { $0.0 < $1.0 }
            var starts: [Double] = [], ends: [Double] = []
            for (s, e) in pairs {
                if let last = ends.last, s <= last { ends[ends.count - 1] = max(last, e) } else { starts.append(s); ends.append(e) }
            }
            return BehaviourTrace.Entry(id: b.id, starts: starts, ends: ends, period: b.finishTime)
        }, source: source)
    }

    // MARK: FedSim's own files (fedsim import fedscale)

    /// The format tag of the behaviour JSON that `fedsim import fedscale` writes.
    public static let behaviourFormat = "fedsim.fedscale-behaviour/1"

    /// The behaviour trace as JSON: `{"format": …, "unit": "s", "source": …, "clients":
    /// [{"id", "finish_time", "active", "inactive", "duration"?, "model"?}, …]}`, clients in the
    /// file's order.
    public static func behaviourJSON(_ behaviours: [Behaviour], source: String) -> JSONValue {
        .object([
            "format": .string(behaviourFormat), "unit": "s", "source": .string(source),
            "clients": .array(behaviours.map { b in
                var o: [String: JSONValue] = ["id": .string(b.id), "finish_time": .number(b.finishTime),
                                              "active": .array(b.active.map { .number($0) }), "inactive": .array(b.inactive.map { .number($0) })]
                if let d = b.duration { o["duration"] = .number(d) }
                if let m = b.model { o["model"] = .string(m) }
                return .object(o)
            }),
        ])
    }

    /// Reads the behaviour JSON back (errors at its key paths, in `file`).
    public static func behaviours(json node: Node, file: String) throws -> [Behaviour] {
        do {
            _ = try node.object(allowed: ["format", "unit", "source", "clients"])
            let format = try node.required("format").string()
            guard format == behaviourFormat else { throw node.invalid("'format': \"\(behaviourFormat)\"") }
            let unitNode = try node.required("unit")
            guard try unitNode.string() == "s" else { throw unitNode.invalid("the unit \"s\" (seconds)") }
            let clients = try node.required("clients").elements()
            guard !clients.isEmpty else { throw node.invalid("at least one client in 'clients'") }
            return try clients.map { c in
                _ = try c.object(allowed: ["id", "finish_time", "active", "inactive", "duration", "model"])
                func seconds(_ key: String) throws -> [Double] { try c.required(key).elements().map { try $0.number(0...Double.greatestFiniteMagnitude, "seconds ≥ 0") } }
                return Behaviour(id: try c.required("id").string(), active: try seconds("active"), inactive: try seconds("inactive"),
                                 finishTime: try c.required("finish_time").positiveNumber("seconds > 0"),
                                 duration: try c.member("duration")?.number(), model: try c.member("model")?.string())
            }
        } catch let error as InputError {
            throw error.inFile(file)
        }
    }

    /// The device trace as CSV: `client,computation_ms_per_sample,communication_kbps` (ids quoted
    /// when they hold a comma, quote or newline), usable as an empirical trace column
    /// (`{"dist": "empirical", "trace": {"file": …, "column": "communication_kbps", "unit": "kbps"}}`).
    /// With `referenceFLOPsPerSample` (the FLOPs of one forward pass of the model FedScale timed),
    /// also `device_speed_flops` = that ÷ the latency (the rate is the same for training, which
    /// FedScale charges 3× the FLOPs and 3× the time).
    public static func deviceCSV(_ devices: [Device], referenceFLOPsPerSample: Double? = nil) -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = "client,computation_ms_per_sample,communication_kbps" + (referenceFLOPsPerSample == nil ? "" : ",device_speed_flops") + "\n"
        for d in devices {
            out += field(d.id) + ",\(d.computationMsPerSample),\(d.communicationKbps)"
            if let f = referenceFLOPsPerSample { out += ",\(f / (d.computationMsPerSample / 1000))" }
            out += "\n"
        }
        return out
    }

    /// Reads a behaviour trace from `path` (as written in the scenario: `shown`): a FedScale pickle
    /// (detected by its first byte, PROTO 0x80) or the JSON `fedsim import fedscale` writes.
    public static func loadBehaviour(path: String, shown: String, keyPath: String) throws -> BehaviourTrace {
        let data: Data
        do { data = try InputFile.read(path, keyPath: keyPath) } catch let error as InputError {
            if case let .file(_, reason) = error.problem { throw InputError(.file(path: shown, reason: reason), at: keyPath) }
            throw error
        }
        let behaviours: [Behaviour]
        if PickleReader.looksLikePickle(data) {
            behaviours = try FedScaleTrace.behaviours(try PickleReader.read(data, file: shown, keyPath: keyPath), file: shown, keyPath: keyPath)
        } else {
            let value = try JSONValue.parse(data, file: shown)
            behaviours = try FedScaleTrace.behaviours(json: Node(value), file: shown)
        }
        return try trace(behaviours, file: shown, keyPath: keyPath, source: shown)
    }
}
