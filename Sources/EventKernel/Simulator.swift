/// Refers to a scheduled event, for cancelling or rescheduling it. Stale handles are harmless:
/// using one after its event fired or was cancelled does nothing.
@frozen
public struct EventHandle: Hashable, Sendable {
    @usableFromInline let slot: UInt32
    @usableFromInline let sequence: UInt64
    @inlinable init(slot: UInt32, sequence: UInt64) {
        self.slot = slot
        self.sequence = sequence
    }

    /// A handle that never refers to a pending event (cancelling it does nothing).
    public static let none = EventHandle(slot: .max, sequence: .max)
}

/// The discrete-event simulator: a clock and a pending-event set (after ns-3's `Simulator` and
/// SimPy's `Environment`). It knows nothing of what the events mean.
///
/// Events fire in (time, insertion) order, so equal times keep FIFO order. Each pending event
/// owns a slot holding its action and the sequence number of its live queue entry; an entry whose
/// sequence no longer matches its slot is stale (cancelled or moved) and is skipped when it
/// surfaces. Cancelling is O(1); rescheduling (a flow whose finish time moves) keeps the action
/// and pushes one new entry; stale entries are purged in one O(n) pass once they outnumber the
/// live ones.
///
/// Limits: 2^24 (16.7 M) events pending at once, 2^40 events scheduled per run.
public final class Simulator {
    /// What an event does when it fires; it may schedule, cancel and reschedule others.
    public typealias Action = () -> Void

    /// One slot: the action and the sequence of the slot's live queue entry, side by side so that
    /// firing an event touches one cache line. (A struct also keeps the closure at its natural
    /// abstraction: a bare `Action?` in pointer memory is re-abstracted through a heap-allocated
    /// thunk on every store.)
    @usableFromInline struct Slot {
        @usableFromInline var action: Action?
        @usableFromInline var liveSequence: UInt64
        @inlinable init(_ action: Action?, liveSequence: UInt64) {
            self.action = action
            self.liveSequence = liveSequence
        }
    }

    /// The sequence a free or cancelled slot holds: no entry matches it.
    @usableFromInline static let noEntry = UInt64.max

    /// The current simulated time.
    public var now: SimTime { SimTime(seconds: clock) }
    /// Number of events that have fired.
    @exclusivity(unchecked) public private(set) var firedCount: UInt64 = 0
    /// Number of events scheduled and neither fired nor cancelled.
    public var pendingCount: Int { livePending }

    @exclusivity(unchecked) @usableFromInline var clock = 0.0
    @exclusivity(unchecked) @usableFromInline var livePending = 0
    /// The pending-event set (a compile-time choice: `RadixHeap` or `QuaternaryHeap`).
    public typealias Queue = RadixHeap
    /// Which queue this build uses (for benchmarks).
    public static var queueKind: String { String(describing: Queue.self) }
    @usableFromInline let queue: Queue
    /// Per slot: the action, and the sequence of the slot's live entry (`noEntry` when none).
    @exclusivity(unchecked) @usableFromInline var slots: UnsafeMutablePointer<Slot>
    @exclusivity(unchecked) @usableFromInline var slotCapacity: Int
    @exclusivity(unchecked) @usableFromInline var slotCount = 0
    @exclusivity(unchecked) @usableFromInline var freeSlots: UnsafeMutablePointer<UInt32>
    @exclusivity(unchecked) @usableFromInline var freeCount = 0
    @exclusivity(unchecked) @usableFromInline var nextSequence: UInt64 = 0
    @exclusivity(unchecked) @usableFromInline var staleEntries = 0
    @exclusivity(unchecked) private var stopRequested = false

    /// A simulator at time zero with an empty queue.
    public init(expectedPendingEvents: Int = 0) {
        let capacity = max(64, expectedPendingEvents)
        queue = Queue(reservingCapacity: capacity)
        slotCapacity = capacity
        slots = .allocate(capacity: capacity)
        freeSlots = .allocate(capacity: capacity)
        noteSlotsMoved()
    }

    /// Lets a radix heap touch the slots of the entries about to fire.
    private func noteSlotsMoved() {
        if let radix = queue as AnyObject as? RadixHeap {
            radix.touchBase = UnsafeRawPointer(slots)
            radix.touchStride = MemoryLayout<Slot>.stride
        }
    }

    deinit {
        slots.deinitialize(count: slotCount)
        slots.deallocate()
        freeSlots.deallocate()
    }

    @usableFromInline func growSlots() {
        precondition(slotCount <= Int(QueuedEvent.maxSlot), "more than 2^24 events pending at once")
        let capacity = slotCapacity * 2
        let newSlots = UnsafeMutablePointer<Slot>.allocate(capacity: capacity)
        newSlots.moveInitialize(from: slots, count: slotCount)
        slots.deallocate()
        slots = newSlots
        let newFree = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        newFree.moveInitialize(from: freeSlots, count: freeCount)
        freeSlots.deallocate()
        freeSlots = newFree
        slotCapacity = capacity
        noteSlotsMoved()
    }

    /// Takes a sequence number for a new entry.
    @inlinable @inline(__always)
    func takeSequence() -> UInt64 {
        let sequence = nextSequence
        precondition(sequence <= QueuedEvent.maxSequence, "more than 2^40 events scheduled in one run")
        nextSequence = sequence &+ 1
        return sequence
    }

    /// Schedules `action` at absolute time `time` (not before `now`).
    /// - Complexity: O(log n) (heap) or O(1) amortised (radix heap).
    @discardableResult @inlinable @inline(__always)
    public func schedule(at time: SimTime, _ action: __owned @escaping Action) -> EventHandle {
        // The fast path is small enough to inline into the caller, so that the caller's copy of
        // the action goes straight into the slot (one retain, instead of a retain/release pair
        // around the call plus a retain inside it).
        if !(time.seconds >= clock) { schedulingInThePast(time) }
        let slot: Int
        if freeCount > 0 {
            freeCount &-= 1
            slot = Int(freeSlots[freeCount])
            slots[slot].action = action
        } else {
            slot = takeNewSlot(action)
        }
        let sequence = takeSequence()
        slots[slot].liveSequence = sequence
        queue.insert(QueuedEvent(time: time.seconds, sequence: sequence, slot: UInt32(truncatingIfNeeded: slot)))
        livePending &+= 1
        return EventHandle(slot: UInt32(truncatingIfNeeded: slot), sequence: sequence)
    }

    @usableFromInline @inline(never)
    func schedulingInThePast(_ time: SimTime) -> Never {
        preconditionFailure("cannot schedule an event in the past (\(time) < \(now))")
    }

    /// A never-used slot for `action` (no free slot left).
    @usableFromInline @inline(never)
    func takeNewSlot(_ action: @escaping Action) -> Int {
        if slotCount == slotCapacity { growSlots() }
        let slot = slotCount
        slotCount &+= 1
        (slots + slot).initialize(to: Slot(action, liveSequence: Simulator.noEntry))
        return slot
    }

    /// Schedules `action` after `delay` (≥ 0) from now.
    /// - Complexity: O(log n).
    @discardableResult @inlinable @inline(__always)
    public func schedule(after delay: SimDuration, _ action: __owned @escaping Action) -> EventHandle {
        schedule(at: SimTime(seconds: clock + delay.seconds), action)
    }

    /// Whether `handle`'s event is still waiting to fire.
    public func isPending(_ handle: EventHandle) -> Bool {
        Int(handle.slot) < slotCount && slots[Int(handle.slot)].liveSequence == handle.sequence
    }

    /// Cancels `handle`'s event; returns false if it already fired or was cancelled.
    /// - Complexity: O(1) amortised.
    @discardableResult
    public func cancel(_ handle: EventHandle) -> Bool {
        guard isPending(handle) else { return false }
        release(slot: Int(handle.slot))
        noteStaleEntry()
        return true
    }

    /// Moves `handle`'s event to `time`, keeping its action and giving it a new place in FIFO order;
    /// returns the new handle, or nil if the event is no longer pending.
    /// - Complexity: O(log n).
    @discardableResult
    public func reschedule(_ handle: EventHandle, to time: SimTime) -> EventHandle? {
        guard isPending(handle) else { return nil }
        precondition(time.seconds >= clock, "cannot reschedule an event into the past (\(time) < \(now))")
        let sequence = takeSequence()
        slots[Int(handle.slot)].liveSequence = sequence
        queue.insert(QueuedEvent(time: time.seconds, sequence: sequence, slot: handle.slot))
        noteStaleEntry()
        return EventHandle(slot: handle.slot, sequence: sequence)
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
            _ = queue.removeNext()
            fire(next)
        }
        if !stopRequested, limit.seconds.isFinite, limit.seconds > clock { clock = limit.seconds }
        return firedCount - start
    }

    /// Fires the next live event, if any; returns whether one fired.
    @discardableResult
    public func step() -> Bool {
        while let next = queue.removeNext() {
            if fire(next) { return true }
        }
        return false
    }

    /// The time of the next live event, if any.
    public var nextEventTime: SimTime? {
        while let next = queue.peek() {
            if slots[Int(next.slot)].liveSequence == next.sequence { return SimTime(seconds: next.time) }
            _ = queue.removeNext()
            staleEntries -= 1
        }
        return nil
    }

    /// Runs `entry`'s action if the entry is live; returns whether it was.
    @inline(__always) @discardableResult
    private func fire(_ entry: QueuedEvent) -> Bool {
        let slot = Int(entry.slot)
        guard slots[slot].liveSequence == entry.sequence else {
            staleEntries -= 1
            return false
        }
        let action = slots[slot].action.take()!
        slots[slot].liveSequence = Simulator.noEntry
        freeSlots[freeCount] = UInt32(truncatingIfNeeded: slot)
        freeCount &+= 1
        livePending &-= 1
        clock = entry.time
        firedCount &+= 1
        action()
        return true
    }

    @inline(__always)
    private func release(slot: Int) {
        slots[slot].action = nil
        slots[slot].liveSequence = Simulator.noEntry
        freeSlots[freeCount] = UInt32(truncatingIfNeeded: slot)
        freeCount &+= 1
        livePending &-= 1
    }

    private func noteStaleEntry() {
        staleEntries += 1
        if staleEntries > 1024 && staleEntries > queue.count / 2 {
            let live = slots
            queue.compact { live[Int($0.slot)].liveSequence == $0.sequence }
            staleEntries = 0
        }
    }

    /// Entries in the queue that belong to cancelled or moved events (for tests and diagnostics).
    public var staleEntryCount: Int { staleEntries }
    /// Entries in the queue, live and stale.
    public var queuedEntryCount: Int { queue.count }
}
