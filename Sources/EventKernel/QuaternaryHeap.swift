/// A cache-aligned 4-ary min-heap of `QueuedEvent` (LaMarca & Ladner 1996).
///
/// Entries are 16 bytes and the array is offset so that the four children of every node share
/// one 64-byte cache line: a removal touches one line per level, log₄ n levels. Storage is one
/// manually managed buffer, so the hot loops carry no copy-on-write or bounds checks.
public final class QuaternaryHeap: EventScheduler {
    /// Node i lives at `base[i + offset]`; children of i (4i+1…4i+4) then start on a line boundary.
    @usableFromInline static let offset = 3
    @exclusivity(unchecked) @usableFromInline var base: UnsafeMutablePointer<QueuedEvent>
    @exclusivity(unchecked) @usableFromInline var capacity: Int
    /// Where the speculative grandchild loads go, so the optimiser keeps them.
    @exclusivity(unchecked) @usableFromInline var prefetchSink: UInt64 = 0
    /// Number of entries.
    public var count: Int { size }
    @exclusivity(unchecked) @usableFromInline var size = 0

    /// An empty heap with room for `capacity` entries before it grows.
    public init(reservingCapacity capacity: Int = 64) {
        self.capacity = max(capacity, 16)
        base = QuaternaryHeap.allocate(self.capacity)
    }

    deinit { UnsafeMutableRawPointer(base - QuaternaryHeap.offset).deallocate() }

    @usableFromInline static func allocate(_ capacity: Int) -> UnsafeMutablePointer<QueuedEvent> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (capacity + offset) * MemoryLayout<QueuedEvent>.stride, alignment: 64)
        return raw.bindMemory(to: QueuedEvent.self, capacity: capacity + offset) + offset
    }

    @usableFromInline func grow() {
        let bigger = QuaternaryHeap.allocate(capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        UnsafeMutableRawPointer(base - QuaternaryHeap.offset).deallocate()
        base = bigger
        capacity *= 2
    }

    public var isEmpty: Bool { count == 0 }

    /// - Complexity: O(1).
    @inlinable public func peek() -> QueuedEvent? { count > 0 ? base[0] : nil }

    /// - Complexity: O(log₄ n).
    @inlinable
    public func insert(_ event: QueuedEvent) {
        if size == capacity { grow() }
        size += 1
        siftUp(event, from: size - 1)
    }

    /// Places `event` at `start` and moves it up while it precedes its parent.
    @inlinable @inline(__always)
    func siftUp(_ event: QueuedEvent, from start: Int) {
        var hole = start
        while hole > 0 {
            let parent = (hole &- 1) >> 2
            guard QueuedEvent.precedes(event, base[parent]) else { break }
            base[hole] = base[parent]
            hole = parent
        }
        base[hole] = event
    }

    /// - Complexity: O(log₄ n).
    @inlinable
    public func removeNext() -> QueuedEvent? {
        guard count > 0 else { return nil }
        let first = base[0]
        size -= 1
        if size > 0 { siftDown(base[size], from: 0) }
        return first
    }

    /// 1 if `condition`, else 0, without a branch.
    @inlinable @inline(__always)
    static func bit(_ condition: Bool) -> Int { unsafeBitCast(condition, to: UInt8.self) == 0 ? 0 : 1 }

    /// `x` if `condition`, else `y`, without a branch.
    @inlinable @inline(__always)
    static func select(_ condition: Bool, _ x: Int, _ y: Int) -> Int { y ^ ((x ^ y) & (0 &- bit(condition))) }

    /// Places `event` at `start` and moves it down until every parent precedes its children.
    @inlinable @inline(__always)
    func siftDown(_ event: QueuedEvent, from start: Int) {
        let n = size
        var hole = start
        while true {
            let first = 4 &* hole &+ 1
            if first &+ 3 < n {
                // Touch the four grandchild groups now, so that their cache misses overlap with
                // this level's comparisons instead of following one another (large heaps only).
                let grandchildren = 4 &* first &+ 1
                if grandchildren &+ 15 < n {
                    prefetchSink = base[grandchildren].key ^ base[grandchildren &+ 4].key
                        ^ base[grandchildren &+ 8].key ^ base[grandchildren &+ 12].key
                }
                // Full group: a branch-light tournament over the four siblings.
                // Index arithmetic instead of conditionals: which child wins is unpredictable,
                // and a mispredicted branch costs more than the whole comparison.
                let a = first &+ QuaternaryHeap.bit(QueuedEvent.precedes(base[first &+ 1], base[first]))
                let b = first &+ 2 &+ QuaternaryHeap.bit(QueuedEvent.precedes(base[first &+ 3], base[first &+ 2]))
                let best = QuaternaryHeap.select(QueuedEvent.precedes(base[b], base[a]), b, a)
                guard QueuedEvent.precedes(base[best], event) else { break }
                base[hole] = base[best]
                hole = best
            } else {
                if first < n {
                    var best = first
                    var c = first &+ 1
                    while c < n {
                        if QueuedEvent.precedes(base[c], base[best]) { best = c }
                        c &+= 1
                    }
                    if QueuedEvent.precedes(base[best], event) {
                        base[hole] = base[best]
                        hole = best
                    }
                }
                break
            }
        }
        base[hole] = event
    }

    /// - Complexity: O(n): a linear search (as ns-3's heap scheduler), then O(log₄ n) to restore order.
    public func remove(_ event: QueuedEvent) -> Bool {
        var i = 0
        while i < size && base[i] != event { i += 1 }
        guard i < size else { return false }
        size -= 1
        guard i < size else { return true }
        // The last entry fills the hole and moves whichever way restores the order.
        let moved = base[size]
        if i > 0 && QueuedEvent.precedes(moved, base[(i - 1) >> 2]) {
            siftUp(moved, from: i)
        } else {
            siftDown(moved, from: i)
        }
        return true
    }

    /// - Complexity: O(n) (filter, then Floyd's bottom-up heap construction).
    public func compact(keeping isLive: (QueuedEvent) -> Bool) {
        var kept = 0
        for i in 0..<count where isLive(base[i]) {
            base[kept] = base[i]
            kept += 1
        }
        size = kept
        guard size > 1 else { return }
        var i = (count - 2) >> 2
        while i >= 0 {
            siftDown(base[i], from: i)
            i -= 1
        }
    }

    /// Whether every parent precedes its children (for tests; O(n)).
    public var satisfiesHeapOrder: Bool {
        for i in 1..<max(1, count) where QueuedEvent.precedes(base[i], base[(i - 1) >> 2]) { return false }
        return true
    }
}
