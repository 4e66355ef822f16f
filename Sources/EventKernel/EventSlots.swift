/// One slot: an event's action and the sequence of its live queue entry, side by side so that
/// firing an event touches one cache line. (A struct also keeps the closure at its natural
/// abstraction: a bare optional closure in pointer memory is re-abstracted through a
/// heap-allocated thunk on every store.)
@usableFromInline struct EventSlot {
    @usableFromInline var action: (() -> Void)?
    @usableFromInline var liveSequence: UInt64
    @inlinable init(_ action: (() -> Void)?, liveSequence: UInt64) {
        self.action = action
        self.liveSequence = liveSequence
    }
}

/// The simulator's slots: one cell per event that is, or was, pending, reused LIFO through a
/// free list. Manually managed buffers, so the hot paths carry no copy-on-write or bounds checks;
/// the owner calls `deallocate()` once.
@usableFromInline struct EventSlots {
    /// The sequence a free or cancelled slot holds: no entry matches it.
    @inlinable static var noEntry: UInt64 { .max }

    @usableFromInline var cells: UnsafeMutablePointer<EventSlot>
    @usableFromInline var capacity: Int
    /// Cells initialised so far.
    @usableFromInline var count = 0
    @usableFromInline var freeList: UnsafeMutablePointer<UInt32>
    @usableFromInline var freeCount = 0
    /// Where prefetching loads go, so that the optimiser keeps them.
    @usableFromInline var touchSink: UInt64 = 0

    init(capacity: Int) {
        self.capacity = capacity
        cells = .allocate(capacity: capacity)
        freeList = .allocate(capacity: capacity)
    }

    func deallocate() {
        cells.deinitialize(count: count)
        cells.deallocate()
        freeList.deallocate()
    }

    /// Whether `entry` is its slot's live entry.
    @inlinable @inline(__always)
    func isLive(_ entry: QueuedEvent) -> Bool {
        let slot = Int(entry.slot)
        return slot < count && cells[slot].liveSequence == entry.sequence
    }

    /// A slot holding `action` (its live sequence is the caller's to set).
    @inlinable @inline(__always)
    mutating func take(_ action: __owned @escaping () -> Void) -> Int {
        guard freeCount > 0 else { return takeNew(action) }
        freeCount &-= 1
        let slot = Int(freeList[freeCount])
        cells[slot].action = action
        return slot
    }

    /// A never-used slot for `action` (no free slot left).
    @usableFromInline @inline(never)
    mutating func takeNew(_ action: @escaping () -> Void) -> Int {
        if count == capacity { grow() }
        let slot = count
        count &+= 1
        (cells + slot).initialize(to: EventSlot(action, liveSequence: EventSlots.noEntry))
        return slot
    }

    mutating func grow() {
        precondition(count <= Int(QueuedEvent.maxSlot), "more than 2^24 events pending at once")
        let bigger = capacity * 2
        let newCells = UnsafeMutablePointer<EventSlot>.allocate(capacity: bigger)
        newCells.moveInitialize(from: cells, count: count)
        cells.deallocate()
        cells = newCells
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
