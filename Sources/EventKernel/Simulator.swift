/// Refers to a scheduled event, for cancelling or rescheduling it. Stale handles are harmless:
/// using one after its event fired or was cancelled does nothing.
@frozen
public struct EventHandle: Hashable, Sendable {
    /// The event's queue entry (time, sequence, slot) when the handle was made.
    @usableFromInline let entry: QueuedEvent
    @inlinable init(_ entry: QueuedEvent) { self.entry = entry }

    @inlinable var slot: Int { Int(entry.slot) }
    @inlinable var sequence: UInt64 { entry.sequence }

    /// A handle that never refers to a pending event (cancelling it does nothing): its sequence is
    /// one no event is given.
    public static let none = EventHandle(QueuedEvent(packed: .max))
}

/// The simulator's default form: events on a radix heap.
public typealias Simulator = EventSimulator<RadixHeap>

/// The discrete-event simulator: a clock and a pending-event set (after ns-3's `Simulator` and
/// SimPy's `Environment`). It knows nothing of what the events mean. Generic over the pending-event
/// set, chosen at construction (`EventSimulator<QuaternaryHeap>()`), so that no queue call is
/// dispatched at run time; `Simulator` is the radix-heap form.
///
/// An event is either a closure (`schedule(at:_:)`) or a payload for a registered `EventHandler`
/// (`register(_:)`, `schedule(at:_:payload:)`: no closure to store, retain or release, one call
/// through the handler table when it fires); both kinds share one queue and one order.
///
/// Events fire in (time, insertion) order, so equal times keep FIFO order. Each pending event
/// owns a slot holding its action (or handler and payload) and the sequence number of its live
/// queue entry; an entry whose
/// sequence no longer matches its slot is stale (cancelled or moved) and is skipped when it
/// surfaces. Cancelling is O(1); rescheduling (a flow whose finish time moves) keeps the action
/// and pushes one new entry; stale entries are purged in one O(n) pass once they outnumber the
/// live ones. The queue holds entries only: the slots are this class's own.
///
/// Limits: 2^24 (16.7 M) events pending at once, 2^40 − 1 events scheduled per run, 2^24 − 1
/// registered handlers.
public final class EventSimulator<Queue: EventScheduler> {
    /// What an event does when it fires; it may schedule, cancel and reschedule others.
    public typealias Action = () -> Void

    /// The current simulated time.
    @inlinable public var now: SimTime { SimTime(seconds: clock) }
    /// Number of events that have fired.
    @inlinable public var firedCount: UInt64 { fired }
    /// Number of events scheduled and neither fired nor cancelled.
    @inlinable public var pendingCount: Int { livePending }

    @exclusivity(unchecked) @usableFromInline var fired: UInt64 = 0
    @exclusivity(unchecked) @usableFromInline var clock = 0.0
    @exclusivity(unchecked) @usableFromInline var livePending = 0
    /// The pending-event set.
    @usableFromInline let queue: Queue
    /// The slots: actions and live sequences, and the free list.
    @exclusivity(unchecked) @usableFromInline var slots: EventSlots
    @exclusivity(unchecked) @usableFromInline var nextSequence: UInt64 = 0
    @exclusivity(unchecked) @usableFromInline var staleEntries = 0
    @exclusivity(unchecked) @usableFromInline var stopRequested = false
    /// The registered handlers' boxes (retained here), from index 1; index 0 is never read.
    @exclusivity(unchecked) @usableFromInline var handlers: UnsafeMutablePointer<Unmanaged<EventHandlerBox>>
    @exclusivity(unchecked) @usableFromInline var handlerCount = 1
    @exclusivity(unchecked) @usableFromInline var handlerCapacity = 8

    /// A simulator at time zero with an empty queue.
    public init(expectedPendingEvents: Int = 0) {
        let capacity = max(64, expectedPendingEvents)
        queue = Queue(reservingCapacity: capacity)
        slots = EventSlots(capacity: capacity)
        handlers = .allocate(capacity: handlerCapacity)
    }

    deinit {
        slots.deallocate()
        for h in 1..<handlerCount { handlers[h].release() }
        handlers.deallocate()
    }

    /// Registers `handler` for `schedule(at:_:payload:)`. The simulator does not keep it alive
    /// (most handlers own their simulator, and a reference back would be a cycle): it must outlive
    /// every event scheduled for it, which debug builds check when such an event fires.
    /// - Complexity: O(1) amortised.
    public func register(_ handler: some EventHandler) -> EventHandlerID {
        precondition(handlerCount < 1 << 24, "more than 2^24 - 1 event handlers registered")
        if handlerCount == handlerCapacity {
            let bigger = UnsafeMutablePointer<Unmanaged<EventHandlerBox>>.allocate(capacity: handlerCapacity * 2)
            bigger.moveInitialize(from: handlers, count: handlerCount)
            handlers.deallocate()
            handlers = bigger
            handlerCapacity *= 2
        }
        let box: EventHandlerBox = TypedEventHandlerBox(handler)
        (handlers + handlerCount).initialize(to: Unmanaged.passRetained(box))
        handlerCount += 1
        return EventHandlerID(index: UInt32(handlerCount - 1))
    }

    /// Takes a sequence number for a new entry.
    @inlinable @inline(__always)
    func takeSequence() -> UInt64 {
        let sequence = nextSequence
        precondition(sequence < QueuedEvent.maxSequence, "more than 2^40 - 1 events scheduled in one run")
        nextSequence = sequence &+ 1
        return sequence
    }

    /// Schedules `action` at absolute time `time` (not before `now`).
    /// - Complexity: O(1) amortised (radix heap) or O(log n) (heap).
    @discardableResult @inlinable @inline(__always)
    public func schedule(at time: SimTime, _ action: __owned @escaping Action) -> EventHandle {
        // The fast path is small enough to inline into the caller, so that the caller's copy of
        // the action goes straight into the slot (one retain, instead of a retain/release pair
        // around the call plus a retain inside it).
        if !(time.seconds >= clock) { schedulingInThePast(time) }
        let slot = slots.take(action)
        let sequence = takeSequence()
        slots.cells[slot].tag = sequence
        return enqueue(time: time, sequence: sequence, slot: slot)
    }

    /// Puts a new entry for `slot` (its cell already written) into the queue.
    @inlinable @inline(__always)
    func enqueue(time: SimTime, sequence: UInt64, slot: Int) -> EventHandle {
        let entry = QueuedEvent(time: time.seconds, sequence: sequence, slot: UInt32(truncatingIfNeeded: slot))
        queue.insert(entry)
        livePending &+= 1
        return EventHandle(entry)
    }

    /// Schedules an event for `handler` at absolute time `time` (not before `now`): when it fires,
    /// the simulator calls `handler`'s `handle(payload)`.
    /// - Complexity: as `schedule(at:_:)`.
    @discardableResult @inlinable @inline(__always)
    public func schedule(at time: SimTime, _ handler: EventHandlerID, payload: UInt64 = 0) -> EventHandle {
        if !(time.seconds >= clock) { schedulingInThePast(time) }
        // 1 ≤ index < handlerCount in one unsigned comparison (index 0 wraps around).
        if !(UInt(handler.index) &- 1 < UInt(handlerCount &- 1)) { unknownHandler(handler) }
        let slot = slots.take()
        let sequence = takeSequence()
        slots.cells[slot] = EventSlot(tag: UInt64(handler.index) << EventSlots.handlerShift | sequence, payload: payload)
        return enqueue(time: time, sequence: sequence, slot: slot)
    }

    /// Schedules an event for `handler` after `delay` (≥ 0) from now.
    /// - Complexity: as `schedule(at:_:)`.
    @discardableResult @inlinable @inline(__always)
    public func schedule(after delay: SimDuration, _ handler: EventHandlerID, payload: UInt64 = 0) -> EventHandle {
        schedule(at: SimTime(seconds: clock + delay.seconds), handler, payload: payload)
    }

    @usableFromInline @inline(never)
    func unknownHandler(_ handler: EventHandlerID) -> Never {
        preconditionFailure("event handler \(handler.index) is not registered with this simulator")
    }

    @usableFromInline @inline(never)
    func schedulingInThePast(_ time: SimTime) -> Never {
        preconditionFailure("cannot schedule an event in the past (\(time) < \(now))")
    }

    /// Schedules `action` after `delay` (≥ 0) from now.
    /// - Complexity: as `schedule(at:_:)`.
    @discardableResult @inlinable @inline(__always)
    public func schedule(after delay: SimDuration, _ action: __owned @escaping Action) -> EventHandle {
        schedule(at: SimTime(seconds: clock + delay.seconds), action)
    }

    /// Whether `handle`'s event is still waiting to fire.
    @inlinable
    public func isPending(_ handle: EventHandle) -> Bool {
        slots.isLive(handle.entry)
    }

    /// Cancels `handle`'s event; returns false if it already fired or was cancelled. The queue
    /// entry stays until it surfaces or a compaction purges it (ns-3's `Simulator::Cancel`).
    /// - Complexity: O(1) amortised.
    @discardableResult @inlinable
    public func cancel(_ handle: EventHandle) -> Bool {
        guard isPending(handle) else { return false }
        release(handle.slot)
        noteStaleEntry()
        return true
    }

    /// Cancels `handle`'s event and takes its entry out of the queue now (ns-3's
    /// `Simulator::Remove`); returns false if it already fired or was cancelled.
    /// - Complexity: the queue's `remove`: a search of one bucket (radix heap) or of the heap.
    @discardableResult
    public func remove(_ handle: EventHandle) -> Bool {
        guard isPending(handle) else { return false }
        let removed = queue.remove(handle.entry)
        precondition(removed, "a pending event's entry is missing from the queue")
        release(handle.slot)
        return true
    }

    /// Moves `handle`'s event to `time`, keeping its action (or handler and payload) and giving it a
    /// new place in FIFO order;
    /// returns the new handle, or nil if the event is no longer pending.
    /// - Complexity: as `schedule(at:_:)`.
    @discardableResult @inlinable
    public func reschedule(_ handle: EventHandle, to time: SimTime) -> EventHandle? {
        guard isPending(handle) else { return nil }
        precondition(time.seconds >= clock, "cannot reschedule an event into the past (\(time) < \(now))")
        let sequence = takeSequence()
        let handler = slots.cells[handle.slot].tag & ~EventSlots.sequenceMask
        slots.cells[handle.slot].tag = handler | sequence
        let entry = QueuedEvent(time: time.seconds, sequence: sequence, slot: handle.entry.slot)
        queue.insert(entry)
        noteStaleEntry()
        return EventHandle(entry)
    }

    /// Makes `run` return after the event being processed.
    @inlinable public func stop() { stopRequested = true }

    /// Fires events in order while their time is ≤ `limit`, then advances the clock to `limit`
    /// if it is finite and the run was not stopped. Returns the number of events fired.
    /// - Complexity: k queue removals for k events.
    @discardableResult @inlinable
    public func run(until limit: SimTime = .infinity) -> UInt64 {
        stopRequested = false
        let start = fired
        let limitSeconds = limit.seconds
        while !stopRequested, let next = queue.removeNext(notAfter: limitSeconds) {
            touchUpcoming()
            fire(next)
        }
        if !stopRequested, limit.seconds.isFinite, limit.seconds > clock { clock = limit.seconds }
        return fired &- start
    }

    /// Fires the next live event, if any; returns whether one fired.
    @discardableResult @inlinable
    public func step() -> Bool {
        while let next = queue.removeNext() {
            touchUpcoming()
            if fire(next) { return true }
        }
        return false
    }

    /// The time of the next live event, if any.
    @inlinable
    public var nextEventTime: SimTime? {
        while let next = queue.peek() {
            if slots.isLive(next) { return SimTime(seconds: next.time) }
            _ = queue.removeNext()
            staleEntries -= 1
        }
        return nil
    }

    /// Brings the slots of the entries the queue says come out next into cache, so that their
    /// misses overlap with the event being fired instead of following it.
    @inlinable @inline(__always)
    func touchUpcoming() {
        let cells = slots.cells
        let count = slots.count
        var sink = slots.touchSink
        queue.takeUpcoming { entry in
            let slot = Int(entry.slot)
            if slot < count { sink ^= cells[slot].tag }
        }
        slots.touchSink = sink
    }

    /// Runs `entry`'s action, or calls its handler, if the entry is live; returns whether it was.
    @inlinable @inline(__always) @discardableResult
    func fire(_ entry: QueuedEvent) -> Bool {
        let slot = Int(entry.slot)
        let cell = slots.cells[slot]
        guard cell.tag & EventSlots.sequenceMask == entry.sequence else {
            staleEntries -= 1
            return false
        }
        slots.cells[slot].tag = EventSlots.noEntry
        let handler = Int(truncatingIfNeeded: cell.tag >> EventSlots.handlerShift)
        if handler == 0 {
            let action = slots.actions[slot].action.take()!
            slots.free(slot)
            livePending &-= 1
            clock = entry.time
            fired &+= 1
            action()
        } else {
            slots.free(slot)
            livePending &-= 1
            clock = entry.time
            fired &+= 1
            handlers[handler]._withUnsafeGuaranteedRef { $0.fire(cell.payload) }
        }
        return true
    }

    @inlinable @inline(__always)
    func release(_ slot: Int) {
        slots.actions[slot].action = nil
        slots.cells[slot].tag = EventSlots.noEntry
        slots.free(slot)
        livePending &-= 1
    }

    @inlinable
    func noteStaleEntry() {
        staleEntries += 1
        if staleEntries > 1024 && staleEntries > queue.count / 2 { purgeStaleEntries() }
    }

    @usableFromInline @inline(never)
    func purgeStaleEntries() {
        let live = slots
        queue.compact { live.isLive($0) }
        staleEntries = 0
    }

    /// Entries in the queue that belong to cancelled or moved events (for tests and diagnostics).
    public var staleEntryCount: Int { staleEntries }
    /// Entries in the queue, live and stale.
    public var queuedEntryCount: Int { queue.count }
}
