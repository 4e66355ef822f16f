/// One slot's hot part: the sequence of its live queue entry and who handles the event, in one
/// word, and the handler's payload; 16 bytes, so four share a cache line and none straddles two.
///
/// `tag` is `handler << 40 | sequence`: handler 0 is a closure (its action is in the slot's
/// `EventAction`), handler h ≥ 1 the simulator's h-th registered `EventHandler`. A free or
/// cancelled slot holds `EventSlots.noEntry`, whose sequence (2^40 − 1) no entry is given.
@usableFromInline struct EventSlot {
    @usableFromInline var tag: UInt64
    @usableFromInline var payload: UInt64
    @inlinable init(tag: UInt64, payload: UInt64) {
        self.tag = tag
        self.payload = payload
    }
}

/// A closure event's action, beside the slot array (handler events never touch it). A struct keeps
/// the closure at its natural abstraction: a bare optional closure in pointer memory is
/// re-abstracted through a heap-allocated thunk on every store.
@usableFromInline struct EventAction {
    @usableFromInline var action: (() -> Void)?
    @inlinable init(_ action: (() -> Void)?) { self.action = action }
}

/// The simulator's slots: one cell per event that is, or was, pending, reused LIFO through a
/// free list, and beside each cell the closure of a closure event. Manually managed buffers, so the
/// hot paths carry no copy-on-write or bounds checks; the owner calls `deallocate()` once.
@usableFromInline struct EventSlots {
    /// The tag of a free or cancelled slot: no entry matches its sequence.
    @inlinable static var noEntry: UInt64 { .max }
    /// The sequence bits of a tag.
    @inlinable static var sequenceMask: UInt64 { (1 << 40) - 1 }
    /// Where the handler sits in a tag.
    @inlinable static var handlerShift: UInt64 { 40 }

    @usableFromInline var cells: UnsafeMutablePointer<EventSlot>
    @usableFromInline var actions: UnsafeMutablePointer<EventAction>
    @usableFromInline var capacity: Int
    /// Cells initialised so far.
    @usableFromInline var count = 0
    @usableFromInline var freeList: UnsafeMutablePointer<UInt32>
    @usableFromInline var freeCount = 0
    /// Where prefetching loads go, so that the optimiser keeps them.
    @usableFromInline var touchSink: UInt64 = 0

    init(capacity: Int) {
        self.capacity = capacity
        cells = EventSlots.allocateCells(capacity)
        actions = .allocate(capacity: capacity)
        freeList = .allocate(capacity: capacity)
    }

    /// Cells on a cache-line boundary, so that no cell straddles two lines.
    static func allocateCells(_ capacity: Int) -> UnsafeMutablePointer<EventSlot> {
        UnsafeMutableRawPointer.allocate(byteCount: capacity * MemoryLayout<EventSlot>.stride, alignment: 64)
            .bindMemory(to: EventSlot.self, capacity: capacity)
    }

    func deallocate() {
        actions.deinitialize(count: count)
        actions.deallocate()
        UnsafeMutableRawPointer(cells).deallocate()
        freeList.deallocate()
    }

    /// Whether `entry` is its slot's live entry.
    @inlinable @inline(__always)
    func isLive(_ entry: QueuedEvent) -> Bool {
        let slot = Int(entry.slot)
        return slot < count && cells[slot].tag & EventSlots.sequenceMask == entry.sequence
    }

    /// A slot holding `action` (its tag is the caller's to set).
    @inlinable @inline(__always)
    mutating func take(_ action: __owned @escaping () -> Void) -> Int {
        guard freeCount > 0 else { return takeNew(action) }
        freeCount &-= 1
        let slot = Int(freeList[freeCount])
        actions[slot].action = action
        return slot
    }

    /// A slot for a handler event (its tag and payload are the caller's to set).
    @inlinable @inline(__always)
    mutating func take() -> Int {
        guard freeCount > 0 else { return takeNew(nil) }
        freeCount &-= 1
        return Int(freeList[freeCount])
    }

    /// A never-used slot for `action` (no free slot left).
    @usableFromInline @inline(never)
    mutating func takeNew(_ action: (() -> Void)?) -> Int {
        if count == capacity { grow() }
        let slot = count
        count &+= 1
        (cells + slot).initialize(to: EventSlot(tag: EventSlots.noEntry, payload: 0))
        (actions + slot).initialize(to: EventAction(action))
        return slot
    }

    mutating func grow() {
        precondition(count <= Int(QueuedEvent.maxSlot), "more than 2^24 events pending at once")
        let bigger = capacity * 2
        let newCells = EventSlots.allocateCells(bigger)
        newCells.moveInitialize(from: cells, count: count)
        UnsafeMutableRawPointer(cells).deallocate()
        cells = newCells
        let newActions = UnsafeMutablePointer<EventAction>.allocate(capacity: bigger)
        newActions.moveInitialize(from: actions, count: count)
        actions.deallocate()
        actions = newActions
        let newFree = UnsafeMutablePointer<UInt32>.allocate(capacity: bigger)
        newFree.moveInitialize(from: freeList, count: freeCount)
        freeList.deallocate()
        freeList = newFree
        capacity = bigger
    }

    /// Returns `slot` (already cleared) to the free list.
    @inlinable @inline(__always)
    mutating func free(_ slot: Int) {
        freeList[freeCount] = UInt32(truncatingIfNeeded: slot)
        freeCount &+= 1
    }
}
