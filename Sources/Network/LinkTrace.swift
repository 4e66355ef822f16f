import Numerics

/// A link capacity over time: piecewise constant, each rate holding from its start until the
/// next one's. Times are relative to the first sample (which is at 0).
public struct CapacityTrace: Sendable, Equatable {
    /// Capacities below this run at it (as the population clamps drawn rates): a trace's 0
    /// (an outage) becomes 1 kbit/s, so no flow divides by zero.
    public static let minimumRate = 1e3

    /// Segment starts, seconds from the first sample: 0, then strictly increasing. Consecutive
    /// samples of equal rate are merged into one segment.
    public let starts: [Double]
    /// The rate of each segment, bit/s (≥ 0 as read; `rate(ofSegment:)` applies `minimumRate`).
    public let rates: [Double]
    /// The trace's length (its period when it loops): the last sample holds for as long as the
    /// interval before it, unless the format fixes the length; infinity for a single sample.
    public let length: Double
    /// The time-weighted mean rate over one length, bit/s (a single sample: its rate).
    public let meanRate: Double

    /// A trace from sample times (seconds, strictly increasing; shifted so the first is 0) and
    /// their rates (bit/s, finite, ≥ 0); `length` when the format fixes it (it must exceed the
    /// last sample's time; else it is one ulp past it).
    public init(times: [Double], rates: [Double], length fixed: Double? = nil) {
        precondition(!times.isEmpty && times.count == rates.count, "a trace needs one rate per time")
        let t0 = times[0]
        let relative = times.map { $0 - t0 }
        let n = relative.count
        let length: Double
        if let fixed { length = fixed - t0 } else if n == 1 { length = .infinity } else { length = relative[n - 1] + (relative[n - 1] - relative[n - 2]) }
        // At the very edge of Double's precision the last interval may round away: one ulp then.
        self.length = length > relative[n - 1] ? length : relative[n - 1].nextUp
        if length.isFinite {
            var sum = 0.0
            for k in 0..<n { sum += rates[k] * ((k + 1 < n ? relative[k + 1] : length) - relative[k]) }
            meanRate = sum / length
        } else {
            meanRate = rates[0]
        }
        var starts: [Double] = [], merged: [Double] = []
        for k in 0..<n where merged.last != rates[k] {
            starts.append(relative[k])
            merged.append(rates[k])
        }
        self.starts = starts
        self.rates = merged
    }

    /// The segment holding trace time `t` in [0, length): the last start ≤ t.
    public func segment(at t: Double) -> Int {
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The rate a flow sees in segment `k`: at least `minimumRate`.
    public func rate(ofSegment k: Int) -> Double { max(rates[k], CapacityTrace.minimumRate) }
}

/// A time-varying link in one direction for the clients of one profile: the trace or traces,
/// how clients map onto timelines, looping and offsets (docs/NETWORK-MODEL.md, "Time-varying links").
public struct LinkTrace: Sendable, Equatable {
    /// Where a client's timeline starts in its trace.
    public enum Offset: Sendable, Equatable {
        /// Every timeline at this many seconds into its trace.
        case fixed(Double)
        /// Each timeline at a uniform point of its trace's length, a counter-based draw per
        /// timeline (`network.trace.offset`), the same in every arm.
        case random
    }

    /// Where the traces came from, as the scenario gave them (for its resolved form).
    public struct Source: Sendable, Equatable {
        /// The files, as written; `list`: given as an array.
        public var files: [String]
        public var list: Bool
        /// `"csv"` or `"mahimahi"`.
        public var format: String
        /// The rate column (CSV).
        public var column: String?
        /// The time column as given (CSV; nil: the first column).
        public var timeColumn: String?
        /// Units given in the scenario (nil: from the header).
        public var unit: String?
        public var timeUnit: String?
        /// The bin of a Mahimahi trace, seconds.
        public var bin: Double?
        /// Creates a source.
        public init(files: [String], list: Bool, format: String, column: String? = nil, timeColumn: String? = nil,
                    unit: String? = nil, timeUnit: String? = nil, bin: Double? = nil) {
            self.files = files
            self.list = list
            self.format = format
            self.column = column
            self.timeColumn = timeColumn
            self.unit = unit
            self.timeUnit = timeUnit
            self.bin = bin
        }
    }

    /// One or more traces; timeline k uses `traces[k mod count]`.
    public var traces: [CapacityTrace]
    /// Whether a trace repeats after its length (default), or holds its last rate.
    public var loop: Bool
    public var offset: Offset
    /// Clients share `groups` timelines (client i is on timeline i mod groups); nil: every
    /// client has its own.
    public var groups: Int?
    public var source: Source

    /// Creates a time-varying link.
    public init(traces: [CapacityTrace], loop: Bool = true, offset: Offset = .random, groups: Int? = nil, source: Source) {
        precondition(!traces.isEmpty, "a time-varying link needs a trace")
        self.traces = traces
        self.loop = loop
        self.offset = offset
        self.groups = groups
        self.source = source
    }

    /// The purpose of the counter-based offset draws.
    public static let offsetPurpose = "network.trace.offset"

    /// Client `i`'s timeline (on leaf profile `leaf`), with `offsetKey` the derived key of
    /// `network.trace.offset` under the run's seed. The draw's counter is the client for per-client
    /// timelines, else (2⁶³ | leaf·2³² | group), so the downlink and the uplink of one timeline
    /// start at the same uniform point (a trace file with both columns stays aligned).
    public func timeline(client i: Int, leaf: Int, offsetKey: UInt64) -> CapacityTimeline {
        let index = groups.map { i % $0 } ?? i
        let trace = traces[index % traces.count]
        let start: Double
        switch offset {
        case let .fixed(seconds):
            // Looping, only the offset's place in one length matters (and huge offsets keep their precision).
            start = loop && trace.length.isFinite ? seconds.truncatingRemainder(dividingBy: trace.length) : seconds
        case .random:
            let counter = groups == nil ? UInt64(i) : (1 << 63 | UInt64(leaf) << 32 | UInt64(index))
            start = trace.length.isFinite ? StreamKey.uniform(key: offsetKey, counter: counter) * trace.length : 0
        }
        return CapacityTimeline(trace: trace, offset: start, loop: loop)
    }
}

/// One client's capacity over simulated time: its trace, started `offset` seconds in, looping
/// or holding its last rate.
public struct CapacityTimeline: Sendable, Equatable {
    public var trace: CapacityTrace
    /// Trace time at simulated time 0, seconds.
    public var offset: Double
    public var loop: Bool

    /// A cursor on the segment in force at simulated time `t`.
    public func cursor(at t: Double) -> TraceCursor { TraceCursor(self, at: t) }
}

/// Walks a timeline's segments forward in simulated time. Segment k of cycle c starts at
/// simulated time c·length + starts[k] − offset, computed from (k, c), never by accumulating, so
/// a long run does not drift off the trace's breakpoints.
public struct TraceCursor: Sendable {
    public let timeline: CapacityTimeline
    /// The current segment and cycle.
    public private(set) var segment: Int
    public private(set) var cycle: Double

    /// The cursor at simulated time `t`.
    public init(_ timeline: CapacityTimeline, at t: Double) {
        self.timeline = timeline
        let trace = timeline.trace
        let tau = t + timeline.offset
        if timeline.loop && trace.length.isFinite {
            var c = (tau / trace.length).rounded(.down)
            var r = tau - c * trace.length
            if r >= trace.length { c += 1; r = 0 }
            if r < 0 { c -= 1; r += trace.length }
            cycle = c
            segment = trace.segment(at: max(0, r))
        } else {
            cycle = 0
            segment = trace.segment(at: max(0, tau))
        }
        // Rounding may leave the cursor one segment early: step until the next change is after t
        // (bounded: a whole cycle is at most every segment once more).
        var steps = 0
        while nextChange <= t && steps <= trace.starts.count {
            advance()
            steps += 1
        }
    }

    /// The rate in force, bit/s (at least `CapacityTrace.minimumRate`).
    public var rate: Double { timeline.trace.rate(ofSegment: segment) }

    /// When the rate next changes, in simulated seconds (infinity: never).
    public var nextChange: Double {
        let trace = timeline.trace
        if segment + 1 < trace.starts.count { return cycle * trace.length + trace.starts[segment + 1] - timeline.offset }
        guard timeline.loop, trace.length.isFinite, trace.starts.count > 1 else { return .infinity }
        return (cycle + 1) * trace.length - timeline.offset
    }

    /// Moves to the next segment (no-op when the rate never changes again).
    public mutating func advance() {
        let trace = timeline.trace
        if segment + 1 < trace.starts.count {
            segment += 1
        } else if timeline.loop, trace.length.isFinite, trace.starts.count > 1 {
            segment = 0
            cycle += 1
        }
    }
}
