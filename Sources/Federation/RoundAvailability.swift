import EventKernel
import Network
import Numerics

/// The run's availability model as a round sees it: who is online to be selected, and when a
/// participant drops out. Every draw is counter-based (common random numbers across arms): the
/// dropout by (`availability.dropout`, round, client), the sessions, trace, time zones and
/// windows by client (`AvailabilityTimeline`).
struct RoundAvailability {
    private let dropoutKey: UInt64
    private let dropout: Double
    private var timeline: AvailabilityTimeline?

    init(_ availability: AvailabilityModel, clients: Int, seed: UInt64) {
        dropoutKey = StreamKey(seed: seed, purpose: "availability.dropout").derivedKey
        dropout = availability.dropoutPerRound
        switch availability {
        case let .sessions(s): timeline = AvailabilityTimeline(sessions: s, clients: clients, seed: seed)
        case let .schedule(s): timeline = AvailabilityTimeline(s, clients: clients, seed: seed)
        case .always, .dropout: timeline = nil
        }
    }

    /// Whether only some clients are selectable at a time (sessions, a trace or a window).
    var hasSessions: Bool { timeline != nil }

    /// Whether client `i` can be selected at `t`: online and inside its window (always, without
    /// a timeline; t must not decrease between calls for one client).
    mutating func isOnline(_ i: Int, at t: SimTime) -> Bool {
        timeline?.isSelectable(i, at: t.seconds) ?? true
    }

    /// When client `i`, starting its work of round `round` at `now`, drops out: a dropout at a
    /// uniform point of its uncontended `work` (drawn only if it drops), or its session's end (or
    /// trace interval's end, or its window's close), whichever is first; nil if neither happens.
    mutating func dropTime(client i: Int, round: Int, now: SimTime, work: () -> SimDuration) -> SimTime? {
        var dropAt = Double.infinity
        if dropout > 0 {
            let counter = UInt64(round) << 33 | UInt64(i) << 1
            if StreamKey.uniform(key: dropoutKey, counter: counter) < dropout {
                dropAt = now.seconds + StreamKey.uniform(key: dropoutKey, counter: counter | 1) * work().seconds
            }
        }
        if timeline != nil { dropAt = min(dropAt, timeline!.availableUntil(i, after: now.seconds)) }
        return dropAt.isFinite ? SimTime(seconds: max(dropAt, now.seconds)) : nil
    }

    /// How long after an empty round (nobody selectable at `now`) the next one starts: a minute,
    /// or, with a participation window, until the next window opens when that is later (so the
    /// hours a window is closed are not a thousand empty rounds).
    func retryAfterEmpty(_ now: SimTime) -> SimDuration {
        let minute = SimDuration(seconds: 60)
        guard let opening = timeline?.nextWindowOpening(after: now.seconds), opening - now.seconds > 60 else { return minute }
        return SimDuration(seconds: opening - now.seconds)
    }

    /// Throws when the session timelines ran out of draws (sessions too short for the run).
    func checkSessions() throws {
        if let timeline, timeline.exhausted {
            throw InputError(.invalidValue(expected: "sessions that change at most \(timeline.drawLimit) times over the run",
                                           found: "more changes (sessions too short for the run's length)"), at: "availability.sessions")
        }
    }
}
