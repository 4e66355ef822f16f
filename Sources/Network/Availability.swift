import Foundation
import Numerics

/// When clients can work. Either a per-round dropout probability (production federated learning
/// reports 6–10 %: Bonawitz et al. 2019), or on/off sessions with drawn durations, optionally
/// modulated by a day/night cycle.
public enum AvailabilityModel: Sendable, Equatable {
    /// Every client is always online and never drops.
    case always
    /// Each selected client drops out of a round with probability `p`, at a uniformly random point
    /// of its round's work.
    case dropout(perRound: Double)
    /// Alternating online/offline sessions; a client is selectable only while online and drops
    /// when its session ends mid-round.
    case sessions(Sessions)
    /// Local time: time zones, hard participation windows with eligibility conditions, and
    /// sessions or a FedScale behaviour trace (`Schedule.swift`).
    case schedule(Schedule)

    /// On/off session durations and the optional day/night modulation.
    public struct Sessions: Sendable, Equatable {
        /// Online session length, seconds.
        public var online: Distribution
        /// Offline gap length, seconds.
        public var offline: Distribution
        /// Day/night cycle: durations drawn at time t are scaled by 1 ± a·cos(2π(t − peak)/period)
        /// (online longer and offline shorter near the peak). nil: no cycle.
        public var diurnal: Diurnal?
        /// Extra dropout probability per round on top of session ends (device errors, eligibility).
        public var dropoutPerRound: Double

        public init(online: Distribution, offline: Distribution, diurnal: Diurnal? = nil, dropoutPerRound: Double = 0) {
            self.online = online
            self.offline = offline
            self.diurnal = diurnal
            self.dropoutPerRound = dropoutPerRound
        }
    }

    /// A day/night cycle.
    public struct Diurnal: Sendable, Equatable {
        /// a in [0, 1): a 4× day/night swing in availability (Bonawitz et al.) is about a = 0.6.
        public var amplitude: Double
        /// The cycle length, seconds (a day).
        public var period: Double
        /// Simulated time of the availability peak, seconds.
        public var peak: Double

        public init(amplitude: Double, period: Double = 86_400, peak: Double = 72_000) {
            self.amplitude = amplitude
            self.period = period
            self.peak = peak
        }

        /// The modulation c(t) = cos(2π(t − peak)/period) in [−1, 1].
        public func phase(at t: Double) -> Double { cos(2 * Double.pi * (t - peak) / period) }
    }

    /// The per-round dropout probability (sessions add theirs on top of session ends).
    public var dropoutPerRound: Double {
        switch self {
        case .always: return 0
        case let .dropout(p): return p
        case let .sessions(s): return s.dropoutPerRound
        case let .schedule(s): return s.dropoutPerRound
        }
    }

    /// Whether only some clients are selectable at a time (sessions, a trace or a window).
    public var hasTimeline: Bool {
        switch self {
        case .always, .dropout: return false
        case .sessions, .schedule: return true
        }
    }

    /// The on/off sessions, if any (plain or inside a schedule).
    public var sessionModel: Sessions? {
        switch self {
        case let .sessions(s): return s
        case let .schedule(s): if case let .sessions(x) = s.online { return x }; return nil
        default: return nil
        }
    }
}

/// The on/off state of every client under a session model, advanced lazily and only forward in
/// time. Every duration is a counter-based draw (`availability.session`, index = client,
/// counter = the client's session number), so a client's timeline is the same whichever arm asks
/// and in whatever order: common random numbers.
///
/// Start: a client is online at t = 0 with the stationary probability E[on]/(E[on] + E[off]), and
/// its first period is a fresh duration times a uniform (an approximation of the residual life).
public struct SessionTimeline: Sendable {
    private let sessions: AvailabilityModel.Sessions
    private let keys: (start: UInt64, durations: UInt64)
    private var online: [Bool]
    private var nextToggle: [Double]
    private var drawn: [UInt32]
    /// Each client's UTC offset, seconds (time zones: the diurnal phase follows local time); nil: 0.
    private let offsets: [Double]?
    /// Session durations drawn so far, over every client, and the most that may be drawn.
    public private(set) var draws = 0
    public let drawLimit: Int
    /// Whether `drawLimit` was reached: from then on no client changes state, and the run's
    /// availability is wrong — the caller must refuse it (`Sessions.checkWork` does so up front).
    public private(set) var exhausted = false

    /// The default `drawLimit`: 2³² durations (minutes of drawing; beyond any run the up-front
    /// check `Sessions.checkWork` lets through). A client's own counter also stops at 2³² − 1, so
    /// its draws never wrap onto another's.
    public static let defaultDrawLimit = 1 << 32

    /// Bytes per client of a timeline: online flag, next change, draw counter.
    public static let bytesPerClient = Double(MemoryLayout<Bool>.stride + MemoryLayout<Double>.stride + MemoryLayout<UInt32>.stride)

    /// `offsets` (one per client, seconds): each client's diurnal phase is taken at its local time
    /// t + offset; nil: every client at offset 0.
    public init(_ sessions: AvailabilityModel.Sessions, clients: Int, seed: UInt64, drawLimit: Int = SessionTimeline.defaultDrawLimit,
                offsets: [Double]? = nil) {
        precondition(offsets.map { $0.count == clients } ?? true, "one offset per client")
        self.sessions = sessions
        self.offsets = offsets
        self.drawLimit = drawLimit
        keys = (StreamKey(seed: seed, purpose: "availability.start").derivedKey,
                StreamKey(seed: seed, purpose: "availability.session").derivedKey)
        let meanOn = sessions.online.mean ?? sessions.online.quantile(0.5)
        let meanOff = sessions.offline.mean ?? sessions.offline.quantile(0.5)
        let pOnline = meanOn / (meanOn + meanOff)
        online = [Bool](repeating: false, count: clients)
        nextToggle = [Double](repeating: 0, count: clients)
        drawn = [UInt32](repeating: 0, count: clients)
        for i in 0..<clients {
            let u = StreamKey.uniform(key: keys.start, counter: UInt64(i) << 1)
            online[i] = u < pOnline
            let fraction = StreamKey.uniform(key: keys.start, counter: UInt64(i) << 1 | 1)
            nextToggle[i] = fraction * duration(client: i, online: online[i], at: 0)
        }
    }

    private mutating func duration(client i: Int, online: Bool, at t: Double) -> Double {
        let counter = UInt64(i) << 32 | UInt64(drawn[i])
        drawn[i] &+= 1
        draws += 1
        let u = StreamKey.uniform(key: keys.durations, counter: counter)
        var d = (online ? sessions.online : sessions.offline).quantile(u)
        if let diurnal = sessions.diurnal {
            let c = diurnal.phase(at: t + (offsets?[i] ?? 0)) * diurnal.amplitude
            d *= online ? 1 + c : 1 - c
        }
        return max(d, 1e-3)
    }

    private mutating func advance(_ i: Int, to t: Double) {
        while nextToggle[i] <= t {
            guard draws < drawLimit, drawn[i] < UInt32.max else { exhausted = true; return }
            let start = nextToggle[i]
            online[i].toggle()
            nextToggle[i] = start + duration(client: i, online: online[i], at: start)
        }
    }

    /// Whether client `i` is online at `t` (t must not decrease between calls for one client).
    public mutating func isOnline(_ i: Int, at t: Double) -> Bool {
        advance(i, to: t)
        return online[i]
    }

    /// When client `i`, online at `t`, goes offline.
    public mutating func sessionEnd(_ i: Int, after t: Double) -> Double {
        advance(i, to: t)
        return online[i] ? nextToggle[i] : t
    }
}

extension AvailabilityModel.Sessions {
    /// The most session durations a run may draw, over all clients (about a minute of drawing); a run
    /// expected to need more is refused by `checkWork`.
    public static let workLimit = 1e9

    /// Expected session durations one client draws over `horizon` seconds: one per session start,
    /// horizon / E[on or off length] with each length at least the timeline's 1 ms floor (the
    /// day/night cycle scales lengths by 1 ± a·cos, about 1 on average).
    public func expectedDraws(horizon: Double) -> Double {
        let meanOn = max(online.mean ?? online.quantile(0.5), 1e-3), meanOff = max(offline.mean ?? offline.quantile(0.5), 1e-3)
        return 1 + 2 * horizon / (meanOn + meanOff)
    }

    /// Throws (at `keyPath`) when `clients` clients over `horizon` simulated seconds are expected to
    /// draw more than `workLimit` session durations, stating the estimate; call it before a run.
    public func checkWork(clients: Int, horizon: Double, keyPath: String = "availability") throws {
        let total = Double(max(clients, 0)) * expectedDraws(horizon: horizon)
        guard total > AvailabilityModel.Sessions.workLimit || total.isNaN else { return }
        let meanOn = online.mean ?? online.quantile(0.5), meanOff = offline.mean ?? offline.quantile(0.5)
        throw InputError(.invalidValue(
            expected: "sessions long enough for at most \(TransferModel.scientific(AvailabilityModel.Sessions.workLimit)) session changes over the run",
            found: "≈ \(TransferModel.scientific(total)) (\(clients) clients, sessions of \(TransferModel.describe(meanOn, .duration)) online and \(TransferModel.describe(meanOff, .duration)) offline on average, over \(TransferModel.describe(seconds: horizon)))"),
            at: keyPath)
    }
}
