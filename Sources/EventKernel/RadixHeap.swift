/// A radix heap over the 128-bit packed entries (Ahuja, Mehlhorn, Orlin & Tarjan 1990): a monotone
/// priority queue, which is what a discrete-event simulator needs, since no event is scheduled
/// before the clock.
///
/// `last` is a lower bound of every entry (the last minimum found). Bucket 0 holds entries equal to
/// `last`; bucket b ≥ 1 holds the entries whose highest bit differing from `last` is bit b − 1.
/// Finding the minimum takes the lowest non-empty bucket, makes its minimum (tracked on insertion)
/// the new `last`, and spreads its entries over lower buckets in one sequential pass. An entry only
/// moves down, at most 128 times, and in practice a few times: O(1) amortised removal on hold-like
/// workloads, with streaming memory access instead of one cache miss per heap level.
///
/// Unlike a textbook radix heap it also accepts an entry below `last` (possible after `peek` looked
/// past a `run(until:)` limit): every stored entry is then above the new one, so the buckets below
/// the highest bit where it differs from `last` merge into one, and the new entry becomes `last`.
/// Order is exact: the full (time, sequence) key decides, so equal times keep FIFO order.
public final class RadixHeap: EventScheduler {
    @usableFromInline static let bucketCount = 129

    /// One bucket: an unordered, manually managed array of packed entries and its minimum.
    @usableFromInline struct Bucket {
        @usableFromInline var base: UnsafeMutablePointer<UInt128>
        @usableFromInline var count: Int
        @usableFromInline var capacity: Int
        @usableFromInline var minimum: UInt128
    }

    @exclusivity(unchecked) @usableFromInline var buckets: UnsafeMutablePointer<Bucket>
    /// Bit b − 1 set when bucket b ≥ 1 is non-empty.
    @exclusivity(unchecked) @usableFromInline var occupied: UInt128 = 0
    @exclusivity(unchecked) @usableFromInline var last: UInt128 = 0
    @exclusivity(unchecked) @usableFromInline var size = 0

    /// The entries of the last small bucket spread by `redistribute` (the next few to come out),
    /// not yet reported by `takeUpcoming`: `upcomingCount` entries from `upcoming`, which is that
    /// bucket's buffer (entries may since have been overwritten; `grow` clears the hint).
    @exclusivity(unchecked) @usableFromInline var upcoming: UnsafeMutablePointer<UInt128>?
    @exclusivity(unchecked) @usableFromInline var upcomingCount = 0

    /// Number of entries.
    public var count: Int { size }
    public var isEmpty: Bool { size == 0 }

    /// An empty queue; `capacity` is a hint for the first buckets' sizes.
    public init(reservingCapacity capacity: Int = 64) {
        buckets = .allocate(capacity: RadixHeap.bucketCount)
        let initial = max(16, min(capacity, 1 << 12))
        for b in 0..<RadixHeap.bucketCount {
            (buckets + b).initialize(to: Bucket(base: .allocate(capacity: initial), count: 0, capacity: initial, minimum: .max))
        }
    }

    deinit {
        for b in 0..<RadixHeap.bucketCount { buckets[b].base.deallocate() }
        buckets.deallocate()
    }

    /// The bucket of `key` relative to `last` (`key` ≥ `last`).
    @inlinable @inline(__always)
    static func bucket(of key: UInt128, relativeTo last: UInt128) -> Int {
        128 &- (key ^ last).leadingZeroBitCount
    }

    @usableFromInline func grow(_ b: Int) {
        if buckets[b].base == upcoming { upcomingCount = 0 }
        let capacity = buckets[b].capacity * 2
        let bigger = UnsafeMutablePointer<UInt128>.allocate(capacity: capacity)
        bigger.moveInitialize(from: buckets[b].base, count: buckets[b].count)
        buckets[b].base.deallocate()
        buckets[b].base = bigger
        buckets[b].capacity = capacity
    }

    /// Appends `key` to bucket `b` and keeps its minimum and the occupancy mask.
    @inlinable @inline(__always)
    func append(_ key: UInt128, to b: Int) {
        let bucket = buckets + b
        if bucket.pointee.count == bucket.pointee.capacity { grow(b) }
        bucket.pointee.base[bucket.pointee.count] = key
        bucket.pointee.count &+= 1
        if key < bucket.pointee.minimum { bucket.pointee.minimum = key }
        if b > 0 { occupied |= UInt128(1) &<< UInt128(b &- 1) }
    }

    /// - Complexity: O(1) (amortised O(n) once after an entry below `last`).
    @inlinable
    public func insert(_ event: QueuedEvent) {
        let key = event.packed
        if key < last { lower(to: key) }
        append(key, to: RadixHeap.bucket(of: key, relativeTo: last))
        size &+= 1
        checkAfterMutation()
    }

    /// Makes `key` (< `last`, so below every entry) the new `last`: buckets 0…d, where d is the
    /// highest bit in which `key` and `last` differ, all fall into bucket d + 1 (empty so far).
    @usableFromInline func lower(to key: UInt128) {
        let d = 127 - (key ^ last).leadingZeroBitCount
        for b in 0...d where buckets[b].count > 0 {
            let from = buckets[b]
            for i in 0..<from.count { append(from.base[i], to: d + 1) }
            buckets[b].count = 0
            buckets[b].minimum = .max
        }
        if d > 0 { occupied &= ~((UInt128(1) << UInt128(d)) - 1) }
        last = key
    }

    /// Makes the minimum the content of bucket 0 (and `last`), if any entry is left.
    @inlinable @inline(__always)
    func settle() -> Bool {
        if buckets[0].count > 0 { return true }
        if occupied == 0 { return false }
        let b = occupied.trailingZeroBitCount &+ 1
        redistribute(b)
        return true
    }

    /// Spreads bucket `b` over the buckets below it, relative to its minimum (one sequential pass;
    /// the minimum itself lands in bucket 0).
    @usableFromInline func redistribute(_ b: Int) {
        let from = buckets + b
        let source = from.pointee.base
        let n = from.pointee.count
        let newLast = from.pointee.minimum
        last = newLast
        from.pointee.count = 0
        from.pointee.minimum = .max
        var mask = occupied & ~(UInt128(1) &<< UInt128(b &- 1))
        var i = 0
        while i < n {
            let key = source[i]
            let t = RadixHeap.bucket(of: key, relativeTo: newLast)
            let to = buckets + t
            let c = to.pointee.count
            if c == to.pointee.capacity { grow(t) }
            to.pointee.base[c] = key
            to.pointee.count = c &+ 1
            if key < to.pointee.minimum { to.pointee.minimum = key }
            // Bucket t ≥ 1 is bit t − 1; bucket 0 (t = 0) wraps to bit 127, fixed below.
            mask |= UInt128(1) &<< UInt128((t &- 1) & 127)
            i &+= 1
        }
        if buckets[128].count == 0 { mask &= ~(UInt128(1) &<< 127) }
        occupied = mask
        // The entries of a small lowest bucket are the next few to come out: offer them as a hint.
        if n <= 32 {
            upcoming = source
            upcomingCount = n
        } else {
            upcomingCount = 0
        }
    }

    /// Reports the entries of the last small bucket spread over the lower ones (at most 32), once.
    @inlinable @inline(__always)
    public func takeUpcoming(_ body: (QueuedEvent) -> Void) {
        let n = upcomingCount
        guard n > 0, let source = upcoming else { return }
        upcomingCount = 0
        for j in 0..<n { body(QueuedEvent(packed: source[j])) }
    }

    /// - Complexity: O(1) amortised.
    @inlinable
    public func peek() -> QueuedEvent? {
        settle() ? QueuedEvent(packed: last) : nil
    }

    /// - Complexity: O(1) amortised.
    @inlinable
    public func removeNext() -> QueuedEvent? {
        guard settle() else { return nil }
        let zero = buckets
        zero.pointee.count &-= 1
        if zero.pointee.count == 0 { zero.pointee.minimum = .max }
        size &-= 1
        checkAfterMutation()
        return QueuedEvent(packed: last)
    }

    /// - Complexity: O(size of the entry's bucket): the bucket is known from the key, then searched.
    public func remove(_ event: QueuedEvent) -> Bool {
        let key = event.packed
        guard size > 0, key >= last else { return false }
        let b = RadixHeap.bucket(of: key, relativeTo: last)
        let bucket = buckets + b
        let n = bucket.pointee.count
        var i = 0
        while i < n && bucket.pointee.base[i] != key { i += 1 }
        guard i < n else { return false }
        bucket.pointee.base[i] = bucket.pointee.base[n - 1]
        bucket.pointee.count = n - 1
        if key == bucket.pointee.minimum {
            var minimum = UInt128.max
            for j in 0..<(n - 1) { minimum = Swift.min(minimum, bucket.pointee.base[j]) }
            bucket.pointee.minimum = minimum
        }
        if n == 1 && b > 0 { occupied &= ~(UInt128(1) << UInt128(b - 1)) }
        size -= 1
        checkAfterMutation()
        return true
    }

    /// - Complexity: O(n).
    public func compact(keeping isLive: (QueuedEvent) -> Bool) {
        occupied = 0
        size = 0
        for b in 0..<RadixHeap.bucketCount {
            let bucket = buckets + b
            var kept = 0
            var minimum = UInt128.max
            for i in 0..<bucket.pointee.count {
                let key = bucket.pointee.base[i]
                if isLive(QueuedEvent(packed: key)) {
                    bucket.pointee.base[kept] = key
                    kept += 1
                    minimum = Swift.min(minimum, key)
                }
            }
            bucket.pointee.count = kept
            bucket.pointee.minimum = minimum
            size += kept
            if b > 0 && kept > 0 { occupied |= UInt128(1) << UInt128(b - 1) }
        }
        checkAfterMutation()
    }
}

extension RadixHeap {
    /// The first broken invariant, or nil: `size` is the sum of the bucket counts; bit b − 1 of
    /// `occupied` is set exactly when bucket b ≥ 1 is non-empty; a bucket's `minimum` is `.max` when
    /// it is empty and otherwise one of its entries, at or above `last`. With `entries` (O(n)), also
    /// that every entry sits in the bucket of its highest bit differing from `last` and is at least
    /// the bucket's minimum. In builds with FEDSIM_INTERNAL_CHECKS (the debug build) the structural
    /// part runs after every mutation, and the entry part while the queue holds at most 64 entries.
    public func invariantViolation(entries: Bool = true) -> String? {
        var total = 0
        for b in 0..<RadixHeap.bucketCount {
            let bucket = buckets[b]
            total += bucket.count
            if b > 0 && ((occupied >> UInt128(b - 1)) & 1 == 1) != (bucket.count > 0) { return "occupancy bit of bucket \(b) is wrong" }
            if bucket.count == 0 && bucket.minimum != .max { return "empty bucket \(b) has a minimum" }
            if bucket.count > 0 && bucket.minimum < last { return "bucket \(b)'s minimum is below last" }
            if entries {
                var found = bucket.count == 0
                for i in 0..<bucket.count {
                    let key = bucket.base[i]
                    if key < bucket.minimum { return "an entry of bucket \(b) is below its minimum" }
                    if key == bucket.minimum { found = true }
                    if RadixHeap.bucket(of: key, relativeTo: last) != b { return "an entry of bucket \(b) belongs in bucket \(RadixHeap.bucket(of: key, relativeTo: last))" }
                }
                if !found { return "bucket \(b)'s minimum is not one of its entries" }
            }
        }
        if occupied >> 128 != 0 { return "occupancy mask out of range" }
        return total == size ? nil : "size \(size) but the buckets hold \(total)"
    }

    /// Checks the invariants after a mutation (only with FEDSIM_INTERNAL_CHECKS).
    @usableFromInline func checkAfterMutation() {
        #if FEDSIM_INTERNAL_CHECKS
        if let problem = invariantViolation(entries: size <= 64) { preconditionFailure("RadixHeap: \(problem)") }
        #endif
    }
}
