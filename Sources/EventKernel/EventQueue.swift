/// One entry of the pending-event set: when, in which order among equal times, and which slot.
@frozen
public struct QueuedEvent: Sendable, Equatable {
    /// When the event fires, in simulated seconds.
    public var time: Double
    /// Insertion order; breaks ties so that equal times fire first-in, first-out.
    public var sequence: UInt64
    /// The simulator's slot holding the action.
    public var slot: UInt32
    /// The slot's generation when scheduled; a mismatch means cancelled or rescheduled.
    public var generation: UInt32

    /// Creates an entry.
    @inlinable
    public init(time: Double, sequence: UInt64, slot: UInt32, generation: UInt32) {
        self.time = time
        self.sequence = sequence
        self.slot = slot
        self.generation = generation
    }

    /// Strict (time, sequence) order.
    @inlinable @inline(__always)
    public static func precedes(_ a: QueuedEvent, _ b: QueuedEvent) -> Bool {
        a.time < b.time || (a.time == b.time && a.sequence < b.sequence)
    }
}

/// The pending-event set behind a small interface (after ns-3's `Scheduler`): insert, peek,
/// remove the next, is-empty. A different structure (calendar queue, ladder queue) is one
/// conforming type.
public protocol EventQueue {
    /// Number of entries, including stale ones the simulator has not yet skipped.
    var count: Int { get }
    /// Whether no entry is left.
    var isEmpty: Bool { get }
    /// The earliest entry by (time, sequence), if any.
    func peek() -> QueuedEvent?
    /// Adds an entry.
    mutating func insert(_ event: QueuedEvent)
    /// Removes and returns the earliest entry by (time, sequence).
    mutating func removeNext() -> QueuedEvent?
    /// Keeps only entries for which `isLive` holds, then restores the queue order.
    mutating func compact(keeping isLive: (QueuedEvent) -> Bool)
}

/// An array-backed 4-ary min-heap of `QueuedEvent`.
///
/// Four children per node halve the tree height of a binary heap and keep siblings in one cache
/// line (4 × 24 bytes), which is what matters once the heap outgrows the cache.
@frozen
public struct QuaternaryHeap: EventQueue {
    @usableFromInline var storage: ContiguousArray<QueuedEvent>

    /// An empty heap.
    public init() { storage = [] }

    /// An empty heap with room for `capacity` entries.
    public init(reservingCapacity capacity: Int) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { storage.count }
    @inlinable public var isEmpty: Bool { storage.isEmpty }

    /// - Complexity: O(1).
    @inlinable public func peek() -> QueuedEvent? { storage.first }

    /// - Complexity: O(log₄ n).
    @inlinable
    public mutating func insert(_ event: QueuedEvent) {
        storage.append(event)
        storage.withUnsafeMutableBufferPointer { heap in
            var hole = heap.count - 1
            while hole > 0 {
                let parent = (hole - 1) >> 2
                guard QueuedEvent.precedes(event, heap[parent]) else { break }
                heap[hole] = heap[parent]
                hole = parent
            }
            heap[hole] = event
        }
    }

    /// - Complexity: O(log₄ n).
    @inlinable
    public mutating func removeNext() -> QueuedEvent? {
        guard let last = storage.popLast() else { return nil }
        guard !storage.isEmpty else { return last }
        let first = storage[0]
        storage.withUnsafeMutableBufferPointer { heap in
            QuaternaryHeap.siftDown(last, from: 0, in: heap)
        }
        return first
    }

    /// Places `event` at `start` and moves it down until both heap rules hold.
    @inlinable @inline(__always)
    static func siftDown(_ event: QueuedEvent, from start: Int, in heap: UnsafeMutableBufferPointer<QueuedEvent>) {
        let n = heap.count
        var hole = start
        while true {
            let firstChild = 4 * hole + 1
            if firstChild >= n { break }
            var best = firstChild
            let end = min(firstChild + 4, n)
            var c = firstChild + 1
            while c < end {
                if QueuedEvent.precedes(heap[c], heap[best]) { best = c }
                c += 1
            }
            guard QueuedEvent.precedes(heap[best], event) else { break }
            heap[hole] = heap[best]
            hole = best
        }
        heap[hole] = event
    }

    /// - Complexity: O(n) (filter, then Floyd's bottom-up heap construction).
    public mutating func compact(keeping isLive: (QueuedEvent) -> Bool) {
        storage.removeAll(where: { !isLive($0) })
        storage.withUnsafeMutableBufferPointer { heap in
            guard heap.count > 1 else { return }
            var i = (heap.count - 2) >> 2
            while i >= 0 {
                QuaternaryHeap.siftDown(heap[i], from: i, in: heap)
                i -= 1
            }
        }
    }

    /// Whether every parent precedes its children (for tests; O(n)).
    public var satisfiesHeapOrder: Bool {
        for i in 1..<max(1, storage.count) where QueuedEvent.precedes(storage[i], storage[(i - 1) >> 2]) { return false }
        return true
    }
}
