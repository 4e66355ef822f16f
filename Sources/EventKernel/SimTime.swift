/// A point in simulated time, in seconds since the start of the simulation.
///
/// Its own type so that simulated and wall-clock time can never be mixed by accident.
@frozen
public struct SimTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Seconds since the start of the simulation.
    public var seconds: Double

    /// The time `seconds` after the start.
    @inlinable public init(seconds: Double) { self.seconds = seconds }

    /// The start of the simulation.
    public static let zero = SimTime(seconds: 0)
    /// A time after every finite time (for "run until the queue is empty").
    public static let infinity = SimTime(seconds: .infinity)

    @inlinable public static func < (a: SimTime, b: SimTime) -> Bool { a.seconds < b.seconds }
    /// The time `d` after `t`.
    @inlinable public static func + (t: SimTime, d: SimDuration) -> SimTime { SimTime(seconds: t.seconds + d.seconds) }
    /// The time `d` before `t`.
    @inlinable public static func - (t: SimTime, d: SimDuration) -> SimTime { SimTime(seconds: t.seconds - d.seconds) }
    /// The span from `b` to `a`.
    @inlinable public static func - (a: SimTime, b: SimTime) -> SimDuration { SimDuration(seconds: a.seconds - b.seconds) }

    public var description: String { "t=\(seconds)s" }
}

/// A span of simulated time, in seconds.
@frozen
public struct SimDuration: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The length in seconds.
    public var seconds: Double

    /// A span of `seconds`.
    @inlinable public init(seconds: Double) { self.seconds = seconds }
    /// A span of `milliseconds`.
    @inlinable public static func milliseconds(_ ms: Double) -> SimDuration { SimDuration(seconds: ms / 1000) }

    /// No time at all.
    public static let zero = SimDuration(seconds: 0)

    @inlinable public static func < (a: SimDuration, b: SimDuration) -> Bool { a.seconds < b.seconds }
    @inlinable public static func + (a: SimDuration, b: SimDuration) -> SimDuration { SimDuration(seconds: a.seconds + b.seconds) }
    @inlinable public static func - (a: SimDuration, b: SimDuration) -> SimDuration { SimDuration(seconds: a.seconds - b.seconds) }
    @inlinable public static func * (a: SimDuration, k: Double) -> SimDuration { SimDuration(seconds: a.seconds * k) }

    public var description: String { "\(seconds)s" }
}
