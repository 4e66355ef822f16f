/// One entry of the pending-event set: when, and a key that orders equal times and names the slot.
///
/// Packed into one 128-bit integer, `time bits << 64 | sequence << 24 | slot`, so that the
/// (time, sequence) order is a single unsigned comparison that compiles to branch-free code:
/// simulated times are never negative, and the IEEE-754 bit patterns of non-negative doubles
/// order like the doubles. 16 bytes, so four siblings of the 4-ary heap fill one cache line.
@frozen
public struct QueuedEvent: Sendable, Hashable {
    /// The packed entry.
    public var packed: UInt128

    /// Bits that hold the slot: at most 2^24 (16.7 M) events pending at once.
    public static let slotBits: UInt64 = 24
    /// The largest sequence number: 2^40 (1.1 × 10^12) events scheduled in one run.
    public static let maxSequence: UInt64 = (1 << 40) - 1
    /// The largest slot number.
    public static let maxSlot: UInt32 = (1 << 24) - 1

    /// Creates an entry; `time` must be ≥ 0 (−0 is read as +0).
    @inlinable
    public init(time: Double, sequence: UInt64, slot: UInt32) {
        let key = sequence << QueuedEvent.slotBits | UInt64(slot)
        packed = UInt128((time + 0.0).bitPattern) << 64 | UInt128(key)
    }

    /// An entry from its packed form.
    @inlinable public init(packed: UInt128) { self.packed = packed }

    /// When the event fires, in simulated seconds.
    @inlinable public var time: Double { Double(bitPattern: UInt64(truncatingIfNeeded: packed >> 64)) }
    /// `sequence << 24 | slot`.
    @inlinable public var key: UInt64 { UInt64(truncatingIfNeeded: packed) }
    /// The insertion order.
    @inlinable public var sequence: UInt64 { key >> QueuedEvent.slotBits }
    /// The simulator's slot.
    @inlinable public var slot: UInt32 { UInt32(truncatingIfNeeded: key & ((1 << QueuedEvent.slotBits) - 1)) }

    /// Strict (time, sequence) order.
    @inlinable @inline(__always)
    public static func precedes(_ a: QueuedEvent, _ b: QueuedEvent) -> Bool { a.packed < b.packed }
}

/// The pending-event set (after ns-3's `Scheduler`: `Insert`, `IsEmpty`, `PeekNext`, `RemoveNext`,
/// `Remove`). It holds `QueuedEvent`s and nothing else: it never sees the simulator's actions or
/// slots. `EventSimulator` is generic over it, so every call is resolved at compile time; a
/// calendar or ladder queue would be one more conforming type.
///
/// Entries are unique (the sequence makes them so). Any entry with a non-negative time may be
/// inserted, also one below an entry already peeked (`RadixHeap` takes that too).
///
/// Like ns-3, the simulator cancels lazily: a cancelled or moved event's entry stays queued and is
/// skipped when it surfaces, and `compact(keeping:)` purges such entries in bulk. `remove(_:)` is
/// the eager form (ns-3's `Simulator::Remove`), which may cost a search.
public protocol EventScheduler: AnyObject {
    /// An empty set with room for about `capacity` entries before it grows.
    init(reservingCapacity capacity: Int)
    /// Number of entries, including stale ones the simulator has not yet skipped.
    var count: Int { get }
    /// Whether no entry is left.
    var isEmpty: Bool { get }
    /// Adds an entry.
    func insert(_ event: QueuedEvent)
    /// The earliest entry by (time, sequence), if any.
    func peek() -> QueuedEvent?
    /// Removes and returns the earliest entry by (time, sequence).
    func removeNext() -> QueuedEvent?
    /// Removes and returns the earliest entry if its time is at most `limit`; otherwise leaves it
    /// (and returns nil). The run loop's one call per event.
    func removeNext(notAfter limit: Double) -> QueuedEvent?
    /// Removes `event`; returns false if it is not queued.
    func remove(_ event: QueuedEvent) -> Bool
    /// Keeps only entries for which `isLive` holds, then restores the queue order.
    func compact(keeping isLive: (QueuedEvent) -> Bool)
    /// Calls `body`, once each, with entries that have just become the next few to come out, so
    /// that the caller can bring what they refer to into cache before it needs it. Only a hint:
    /// an implementation may call it for none (the default), and an entry it reports may already
    /// be gone.
    func takeUpcoming(_ body: (QueuedEvent) -> Void)
}

extension EventScheduler {
    /// `peek`, then `removeNext` if the entry is due.
    @inlinable @inline(__always)
    public func removeNext(notAfter limit: Double) -> QueuedEvent? {
        guard let next = peek(), next.time <= limit else { return nil }
        return removeNext()
    }

    /// No hint.
    @inlinable @inline(__always)
    public func takeUpcoming(_ body: (QueuedEvent) -> Void) {}
}
