/// Refers to a scheduled event, for cancelling or rescheduling it. Stale handles are harmless:
/// using one after its event fired or was cancelled does nothing.
@frozen
public struct EventHandle: Hashable, Sendable {
    @usableFromInline let slot: UInt32
    @usableFromInline let generation: UInt32
    @inlinable init(slot: UInt32, generation: UInt32) {
        self.slot = slot
        self.generation = generation
    }
}

/// The discrete-event simulator: a clock and a pending-event set (after ns-3's `Simulator` and
/// SimPy's `Environment`). It knows nothing of what the events mean.
///
/// Events fire in (time, insertion) order, so equal times keep FIFO order. Cancelling is O(1): the
/// event's slot changes generation and the queue skips its entry when it surfaces; stale entries
/// are purged in one O(n) pass when they outnumber the live ones. Rescheduling (a flow whose finish
/// time moves) keeps the action and pushes one new entry.
public final class Simulator {
    /// What an event does when it fires; it may schedule, cancel and reschedule others.
    public typealias Action = () -> Void

    @usableFromInline struct Slot {
        @usableFromInline var action: Action?
        @usableFromInline var generation: UInt32
        @usableFromInline init(action: Action?, generation: UInt32) {
            self.action = action
            self.generation = generation
        }
    }

    /// The current simulated time.
    @exclusivity(unchecked) public private(set) var now: SimTime = .zero
    /// Number of events that have fired.
    @exclusivity(unchecked) public private(set) var firedCount: UInt64 = 0
    /// Number of events scheduled and neither fired nor cancelled.
    public var pendingCount: Int { livePending }
    @exclusivity(unchecked) @usableFromInline var livePending = 0

    @exclusivity(unchecked) @usableFromInline var queue: QuaternaryHeap
    @exclusivity(unchecked) @usableFromInline var slots: ContiguousArray<Slot> = []
    @exclusivity(unchecked) @usableFromInline var freeSlots: [UInt32] = []
    @exclusivity(unchecked) @usableFromInline var nextSequence: UInt64 = 0
    @exclusivity(unchecked) @usableFromInline var staleEntries = 0
    private var stopRequested = false

    /// A simulator at time zero with an empty queue.
    public init(expectedPendingEvents: Int = 0) {
        queue = QuaternaryHeap(reservingCapacity: expectedPendingEvents)
        slots.reserveCapacity(expectedPendingEvents)
    }

    /// Schedules `action` at absolute time `time` (not before `now`).
    /// - Complexity: O(log n).
    @discardableResult @inlinable
    public func schedule(at time: SimTime, _ action: @escaping Action) -> EventHandle {
        precondition(time >= now, "cannot schedule an event in the past (\(time) < \(now))")
        precondition(!time.seconds.isNaN, "cannot schedule an event at NaN")
        let slot: UInt32
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[Int(slot)].action = action
        } else {
            precondition(slots.count < Int(UInt32.max), "too many pending events")
            slot = UInt32(slots.count)
            slots.append(Slot(action: action, generation: 0))
        }
        let generation = slots[Int(slot)].generation
        queue.insert(QueuedEvent(time: time.seconds, sequence: nextSequence, slot: slot, generation: generation))
        nextSequence &+= 1
        livePending += 1
        return EventHandle(slot: slot, generation: generation)
    }

    /// Schedules `action` after `delay` (≥ 0) from now.
    /// - Complexity: O(log n).
    @discardableResult @inlinable
    public func schedule(after delay: SimDuration, _ action: @escaping Action) -> EventHandle {
        schedule(at: now + delay, action)
    }

    /// Whether `handle`'s event is still waiting to fire.
    public func isPending(_ handle: EventHandle) -> Bool {
        Int(handle.slot) < slots.count && slots[Int(handle.slot)].generation == handle.generation
            && slots[Int(handle.slot)].action != nil
    }

    /// Cancels `handle`'s event; returns false if it already fired or was cancelled.
    /// - Complexity: O(1) amortised.
    @discardableResult
    public func cancel(_ handle: EventHandle) -> Bool {
        guard isPending(handle) else { return false }
        retire(slot: handle.slot)
        freeSlots.append(handle.slot)
        livePending -= 1
        noteStaleEntry()
        return true
    }

    /// Moves `handle`'s event to `time`, keeping its action and giving it a new place in FIFO order;
    /// returns the new handle, or nil if the event is no longer pending.
    /// - Complexity: O(log n).
    @discardableResult
    public func reschedule(_ handle: EventHandle, to time: SimTime) -> EventHandle? {
        guard isPending(handle) else { return nil }
        precondition(time >= now, "cannot reschedule an event into the past (\(time) < \(now))")
        let slot = Int(handle.slot)
        slots[slot].generation &+= 1
        let generation = slots[slot].generation
        queue.insert(QueuedEvent(time: time.seconds, sequence: nextSequence, slot: handle.slot, generation: generation))
        nextSequence &+= 1
        noteStaleEntry()
        return EventHandle(slot: handle.slot, generation: generation)
    }

    /// Makes `run` return after the event being processed.
    public func stop() { stopRequested = true }

    /// Fires events in order while their time is ≤ `limit`, then advances the clock to `limit`
    /// if it is finite and the run was not stopped. Returns the number of events fired.
    /// - Complexity: O(k log n) for k events.
    @discardableResult
    public func run(until limit: SimTime = .infinity) -> UInt64 {
        stopRequested = false
        let start = firedCount
        while !stopRequested, let next = queue.peek(), next.time <= limit.seconds {
            fireNext()
        }
        if !stopRequested, limit.seconds.isFinite, limit > now { now = limit }
        return firedCount - start
    }

    /// Fires the next live event, if any; returns whether one fired.
    @discardableResult
    public func step() -> Bool {
        while let next = queue.peek() {
            if slots[Int(next.slot)].generation == next.generation {
                fireNext()
                return true
            }
            _ = queue.removeNext()
            staleEntries -= 1
        }
        return false
    }

    /// The time of the next live event, if any.
    public var nextEventTime: SimTime? {
        while let next = queue.peek() {
            if slots[Int(next.slot)].generation == next.generation { return SimTime(seconds: next.time) }
            _ = queue.removeNext()
            staleEntries -= 1
        }
        return nil
    }

    @inline(__always)
    private func fireNext() {
        let entry = queue.removeNext()!
        let slot = Int(entry.slot)
        guard slots[slot].generation == entry.generation else {
            staleEntries -= 1
            return
        }
        let action = slots[slot].action!
        retire(slot: entry.slot)
        freeSlots.append(entry.slot)
        livePending -= 1
        now = SimTime(seconds: entry.time)
        firedCount += 1
        action()
    }

    @inline(__always)
    private func retire(slot: UInt32) {
        slots[Int(slot)].action = nil
        slots[Int(slot)].generation &+= 1
    }

    @usableFromInline
    func noteStaleEntry() {
        staleEntries += 1
        if staleEntries > 1024 && staleEntries > queue.count / 2 {
            let slots = self.slots
            queue.compact { slots[Int($0.slot)].generation == $0.generation }
            staleEntries = 0
        }
    }

    /// Entries in the queue that belong to cancelled or moved events (for tests and diagnostics).
    public var staleEntryCount: Int { staleEntries }
    /// Entries in the queue, live and stale.
    public var queuedEntryCount: Int { queue.count }
}
