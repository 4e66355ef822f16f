import Foundation
import Numerics

extension AvailabilityModel {
    /// Availability with local time: clients spread over time zones (their diurnal phase and
    /// participation windows follow their local clock), hard participation windows with per-client
    /// eligibility conditions (charging, unmetered Wi-Fi), and on/off sessions or a FedScale
    /// behaviour trace. A client is selectable only when every part allows it, and a participant
    /// drops at the first moment one of them stops allowing it.
    public struct Schedule: Sendable, Equatable {
        /// Where on/off states come from.
        public enum Online: Sendable, Equatable {
            /// Always online (only the window and its conditions restrict).
            case always
            /// Drawn on/off sessions (their `dropoutPerRound` is not used: the schedule's is).
            case sessions(Sessions)
            /// A FedScale behaviour trace (client_behave_trace).
            case trace(BehaviourTrace)
        }

        /// On/off states.
        public var online: Online
        /// The clients' time zones; nil: every client on UTC (offset 0).
        public var zones: TimeZones?
        /// Hard participation windows in local time, with eligibility conditions; nil: no window.
        public var window: Window?
        /// Extra dropout probability per round (device errors), as `dropout_per_round`.
        public var dropoutPerRound: Double

        public init(online: Online = .always, zones: TimeZones? = nil, window: Window? = nil, dropoutPerRound: Double = 0) {
            self.online = online
            self.zones = zones
            self.window = window
            self.dropoutPerRound = dropoutPerRound
        }
    }

    /// Clients' UTC offsets: a weighted list of zones, each client's zone drawn once
    /// (counter-based: `availability.zone`, counter = client; the same in every arm).
    public struct TimeZones: Sendable, Equatable {
        /// One zone: its offset from the simulated clock (UTC), seconds, and its weight.
        public struct Zone: Sendable, Equatable {
            public var offset: Double
            public var weight: Double
            public init(offset: Double, weight: Double) {
                self.offset = offset
                self.weight = weight
            }
        }

        /// The zones with positive weights, in the order given.
        public var zones: [Zone]
        /// The preset's name when the zones came from one (kept for the resolved scenario).
        public var preset: String?

        public init(zones: [Zone], preset: String? = nil) {
            self.zones = zones
            self.preset = preset
        }

        /// Client `i`'s zone: the first zone whose cumulative weight share exceeds the uniform
        /// u(`availability.zone`, i).
        public func zoneIndex(client i: Int, key: UInt64) -> Int {
            let total = zones.reduce(0) { $0 + $1.weight }
            let u = StreamKey.uniform(key: key, counter: UInt64(i)) * total
            var sum = 0.0
            for (k, z) in zones.enumerated() {
                sum += z.weight
                if u < sum { return k }
            }
            return zones.count - 1
        }

        /// Every client's offset, seconds, under `seed`.
        public func offsets(clients: Int, seed: UInt64) -> [Double] {
            let key = StreamKey(seed: seed, purpose: "availability.zone").derivedKey
            return (0..<max(clients, 0)).map { zones[zoneIndex(client: $0, key: key)].offset }
        }

        /// Named mixes. `world-population`: the world's population by standard-time UTC offset
        /// (no daylight saving), in millions, from the UN World Population Prospects 2022 estimates
        /// for 2023 with each country at its standard offset and the largest multi-zone countries
        /// (USA, Russia, Brazil, Mexico, Indonesia, Canada, Australia, Kazakhstan, DR Congo) split
        /// by where their people live — an approximation to about ±10 % per zone (docs/SCENARIOS.md).
        public static let presets: [String: TimeZones] = [
            "world-population": TimeZones(zones: [
                (-8, 60), (-7, 30), (-6, 300), (-5, 300), (-4, 80), (-3, 270), (0, 230), (1, 750), (2, 480), (3, 600),
                (3.5, 89), (4, 60), (4.5, 42), (5, 290), (5.5, 1450), (5.75, 31), (6, 190), (6.5, 54), (7, 400), (8, 1600),
                (9, 190), (10, 30), (12, 5),
            ].map { Zone(offset: $0.0 * 3600, weight: $0.1) }, preset: "world-population"),
        ]
    }

    /// Hard participation windows in local time ("00:00–06:00"), and the conditions a device must
    /// meet inside them (on a charger, on unmetered Wi-Fi, idle) as a probability per local hour.
    ///
    /// Conditions are drawn once per client and local day (days start at local noon, so a night
    /// is one draw): u(`availability.conditions`, client, day); the conditions hold at local hour h
    /// iff u < p(h). P(conditions hold at h) is exactly p(h), and with a profile that rises into the
    /// night and falls in the morning a device's eligible hours are one contiguous stretch (a
    /// phone charging overnight), not independent coin flips every hour.
    public struct Window: Sendable, Equatable {
        /// Intervals [start, end) in seconds of the local day; end ≤ start wraps past midnight.
        public var intervals: [Interval]
        /// Probability the conditions hold, per local hour 0 … 23 (24 values).
        public var conditions: [Double]

        /// One local-time interval.
        public struct Interval: Sendable, Equatable {
            public var start: Double
            public var end: Double
            public init(start: Double, end: Double) {
                self.start = start
                self.end = end
            }
            /// Whether local time of day `tod` (seconds in [0, 86400)) is inside.
            public func contains(_ tod: Double) -> Bool {
                start < end ? (tod >= start && tod < end) : (tod >= start || tod < end)
            }
        }

        /// `intervals` of the local day (no interval: the whole day), `conditions` one
        /// probability for every hour or 24.
        public init(intervals: [Interval], conditions: [Double] = [1]) {
            self.intervals = intervals
            self.conditions = conditions.count == 24 ? conditions : Array(repeating: conditions.first ?? 1, count: 24)
        }

        static let day = 86_400.0

        /// Whether the window never closes (no interval restricts, the conditions always hold).
        var alwaysOpen: Bool {
            (intervals.isEmpty || intervals.contains { $0.start == 0 && $0.end >= Window.day }) && conditions.allSatisfy { $0 >= 1 }
        }

        func inWindow(_ tod: Double) -> Bool { intervals.isEmpty || intervals.contains { $0.contains(tod) } }

        /// The counter of client `i`'s conditions draw for the local day starting at local noon
        /// of day `noonDay`.
        static func counter(client i: Int, noonDay: Int) -> UInt64 {
            UInt64(i) << 32 | UInt64(UInt32(truncatingIfNeeded: noonDay &+ (1 << 30)))
        }

        /// Whether client `i` may work at local (day, time of day).
        func eligible(client i: Int, day: Int, tod: Double, key: UInt64) -> Bool {
            guard inWindow(tod) else { return false }
            let p = conditions[min(23, max(0, Int(tod / 3600)))]
            if p >= 1 { return true }
            if p <= 0 { return false }
            let noonDay = tod >= Window.day / 2 ? day : day - 1
            return StreamKey.uniform(key: key, counter: Window.counter(client: i, noonDay: noonDay)) < p
        }

        /// The next change point after local time of day `tod`: the next full hour or window edge
        /// (24 h = the next day's midnight).
        func nextBoundary(after tod: Double) -> Double {
            var next = (floor(tod / 3600) + 1) * 3600
            for w in intervals {
                for e in [w.start, w.end] where e > tod && e < next { next = e }
            }
            return next
        }

        /// Local (day, time of day) of local time `local` seconds.
        static func split(_ local: Double) -> (day: Int, tod: Double) {
            let day = floor(local / Window.day)
            return (Int(day), min(max(local - day * Window.day, 0), Window.day.nextDown))
        }
    }
}

/// A FedScale client behaviour trace (`client_behave_trace`): per trace entry, the intervals in
/// which the device was available (`active[k]` … `inactive[k]`, seconds), repeating every
/// `finish_time` seconds. Client i follows entry i mod (entries), in the file's order (FedScale's
/// own mapping is `keys[client_id % len]`; docs/SCENARIOS.md).
public struct BehaviourTrace: Sendable, Equatable {
    /// One device's trace.
    public struct Entry: Sendable, Equatable {
        /// The trace's key (FedScale's client id), for messages and the CSV.
        public var id: String
        /// Available intervals [start, end) within [0, period), sorted, not overlapping.
        public var starts: [Double]
        public var ends: [Double]
        /// The trace's length (`finish_time`): it repeats after it.
        public var period: Double

        public init(id: String, starts: [Double], ends: [Double], period: Double) {
            self.id = id
            self.starts = starts
            self.ends = ends
            self.period = period
        }

        /// The interval containing phase `x` in [0, period), if any.
        func interval(at x: Double) -> Int? {
            var lo = 0, hi = starts.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if starts[mid] <= x { lo = mid + 1 } else { hi = mid }
            }
            let k = lo - 1
            return k >= 0 && x < ends[k] ? k : nil
        }
    }

    public var entries: [Entry]
    /// The file it was read from, as written in the scenario.
    public var source: String

    public init(entries: [Entry], source: String) {
        self.entries = entries
        self.source = source
    }

    func entry(_ i: Int) -> Entry { entries[i % entries.count] }

    /// Whether client `i` is available at simulated time `t`.
    public func isActive(_ i: Int, at t: Double) -> Bool {
        let e = entry(i)
        let x = t - floor(t / e.period) * e.period
        return e.interval(at: x) != nil
    }

    /// When client `i`, available at `t`, stops being available (t if it is not).
    public func activeUntil(_ i: Int, after t: Double) -> Double {
        let e = entry(i)
        let cycle = floor(t / e.period)
        let x = t - cycle * e.period
        guard let k = e.interval(at: x) else { return t }
        let base = cycle * e.period
        // An interval reaching the period's end continues into the next cycle's first interval
        // when that starts at 0.
        if e.ends[k] >= e.period, let first = e.starts.first, first <= 0 {
            if e.ends[0] >= e.period { return .infinity }
            return base + e.period + e.ends[0]
        }
        return base + e.ends[k]
    }
}

/// Who is selectable under a schedule (or plain sessions), advanced lazily forward in time; every
/// draw counter-based (common random numbers across arms and independent of query order).
public struct AvailabilityTimeline: Sendable {
    private var sessions: SessionTimeline?
    private let trace: BehaviourTrace?
    private let offsets: [Double]?
    private let window: AvailabilityModel.Window?
    private let conditionsKey: UInt64

    /// A timeline of plain sessions (exactly `SessionTimeline`).
    public init(sessions: AvailabilityModel.Sessions, clients: Int, seed: UInt64) {
        self.sessions = SessionTimeline(sessions, clients: clients, seed: seed)
        trace = nil
        offsets = nil
        window = nil
        conditionsKey = 0
        distinctOffsets = [0]
    }

    /// The timeline of `schedule` for `clients` clients under `seed`.
    public init(_ schedule: AvailabilityModel.Schedule, clients: Int, seed: UInt64) {
        let offsets = schedule.zones.map { $0.offsets(clients: clients, seed: seed) }
        self.offsets = offsets
        switch schedule.online {
        case .always: sessions = nil; trace = nil
        case let .sessions(s): sessions = SessionTimeline(s, clients: clients, seed: seed, offsets: offsets); trace = nil
        case let .trace(t): sessions = nil; trace = t
        }
        window = schedule.window
        conditionsKey = StreamKey(seed: seed, purpose: "availability.conditions").derivedKey
        distinctOffsets = schedule.zones.map { Array(Set($0.zones.map(\.offset))).sorted() } ?? [0]
    }

    /// The distinct UTC offsets of the clients (0 without zones).
    private let distinctOffsets: [Double]

    /// The first time after `t` at which some client's local window opens or its conditions'
    /// probability rises from 0 (over every zone); nil without a window or when neither ever
    /// happens (a window of the whole day with conditions never 0).
    public func nextWindowOpening(after t: Double) -> Double? {
        guard let window else { return nil }
        var opens: [Double] = window.intervals.filter { !($0.start == 0 && $0.end >= AvailabilityModel.Window.day) }.map(\.start)
        for h in 0..<24 where window.conditions[h] > 0 && window.conditions[(h + 23) % 24] <= 0 { opens.append(Double(h) * 3600) }
        var best = Double.infinity
        for o in distinctOffsets {
            let (_, tod) = AvailabilityModel.Window.split(t + o)
            for start in opens {
                var delta = start - tod
                if delta <= 0 { delta += AvailabilityModel.Window.day }
                best = min(best, t + delta)
            }
        }
        return best.isFinite ? best : nil
    }

    /// Client `i`'s UTC offset, seconds.
    public func offset(_ i: Int) -> Double { offsets?[i] ?? 0 }

    /// Whether the session timeline ran out of draws (see `SessionTimeline.exhausted`).
    public var exhausted: Bool { sessions?.exhausted ?? false }
    /// The session timeline's draw limit.
    public var drawLimit: Int { sessions?.drawLimit ?? SessionTimeline.defaultDrawLimit }
    /// Whether on/off states restrict (sessions or a trace).
    public var hasOnOff: Bool { sessions != nil || trace != nil }

    /// Whether client `i` is online at `t` by its sessions or trace (t must not decrease between
    /// calls for one client).
    public mutating func isOnline(_ i: Int, at t: Double) -> Bool {
        if sessions != nil { return sessions!.isOnline(i, at: t) }
        if let trace { return trace.isActive(i, at: t) }
        return true
    }

    /// Whether client `i` is inside its local window with its conditions met at `t`.
    public func isEligible(_ i: Int, at t: Double) -> Bool {
        guard let window else { return true }
        let (day, tod) = AvailabilityModel.Window.split(t + offset(i))
        return window.eligible(client: i, day: day, tod: tod, key: conditionsKey)
    }

    /// Whether client `i` can be selected at `t`: online and eligible.
    public mutating func isSelectable(_ i: Int, at t: Double) -> Bool {
        isOnline(i, at: t) && isEligible(i, at: t)
    }

    /// When client `i`, selectable at `t`, stops being so: its session's or trace interval's end,
    /// or its window's close (or its conditions' end), whichever is first; `t` if it is not
    /// selectable, infinity if nothing ends it.
    public mutating func availableUntil(_ i: Int, after t: Double) -> Double {
        var end = Double.infinity
        if sessions != nil { end = sessions!.sessionEnd(i, after: t) }
        if let trace { end = min(end, trace.isActive(i, at: t) ? trace.activeUntil(i, after: t) : t) }
        if let window, !window.alwaysOpen {
            let off = offset(i)
            var (day, tod) = AvailabilityModel.Window.split(t + off)
            guard window.eligible(client: i, day: day, tod: tod, key: conditionsKey) else { return t }
            // Walk the change points (hours and window edges) for at most a week.
            var steps = 0
            while steps < 24 * 7 * 3 {
                var next = window.nextBoundary(after: tod)
                if next >= AvailabilityModel.Window.day { day += 1; next = 0 }
                tod = next
                let at = Double(day) * AvailabilityModel.Window.day + tod - off
                if at >= end { break }
                if !window.eligible(client: i, day: day, tod: tod, key: conditionsKey) { end = min(end, at); break }
                steps += 1
            }
        }
        return end
    }
}

/// Availability over a run, for the report's plot: at regular instants, the fraction of clients
/// online (sessions or trace) and selectable (online, inside their window, conditions met).
/// Sampled from fresh timelines of the same model and seed — every draw is counter-based, so they
/// are the very timelines the run used — and without touching the run's own.
public enum AvailabilityOverTime {
    /// One instant.
    public struct Sample: Sendable, Equatable {
        /// Simulated time, seconds.
        public var seconds: Double
        /// Fraction of the sampled clients online by their sessions or trace.
        public var online: Double
        /// Fraction of the sampled clients that could be selected.
        public var selectable: Double
        /// How many clients were sampled (all, or every k-th of a large population).
        public var clients: Int
        public init(seconds: Double, online: Double, selectable: Double, clients: Int) {
            self.seconds = seconds
            self.online = online
            self.selectable = selectable
            self.clients = clients
        }
    }

    /// Instants sampled over the run (the first at 0, the last at the horizon).
    public static let points = 241
    /// At most this many clients are followed (every k-th client of a larger population).
    public static let maxClients = 20_000

    /// The samples of `availability` for `clients` clients under `seed` over [0, `horizon`]; nil
    /// when the model has no timeline (dropouts only, or always available).
    public static func sample(_ availability: AvailabilityModel, clients: Int, seed: UInt64, horizon: Double) -> [Sample]? {
        var timeline: AvailabilityTimeline
        switch availability {
        case .always, .dropout: return nil
        case let .sessions(s): timeline = AvailabilityTimeline(sessions: s, clients: clients, seed: seed)
        case let .schedule(s): timeline = AvailabilityTimeline(s, clients: clients, seed: seed)
        }
        guard clients > 0 else { return [] }
        let step = max(1, (clients + maxClients - 1) / maxClients)
        let followed = Array(stride(from: 0, to: clients, by: step))
        let end = horizon.isFinite && horizon > 0 ? horizon : 0
        var samples: [Sample] = []
        samples.reserveCapacity(points)
        for k in 0..<points {
            let t = end * Double(k) / Double(points - 1)
            var online = 0, selectable = 0
            for i in followed {
                let on = timeline.isOnline(i, at: t)
                if on { online += 1 }
                if on, timeline.isEligible(i, at: t) { selectable += 1 }
            }
            let n = Double(followed.count)
            samples.append(Sample(seconds: t, online: Double(online) / n, selectable: Double(selectable) / n, clients: followed.count))
            if end == 0 { break }
        }
        return samples
    }
}
