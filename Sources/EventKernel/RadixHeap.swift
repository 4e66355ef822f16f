/// A radix heap over the 128-bit packed entries (Ahuja, Mehlhorn, Orlin & Tarjan 1990) with 4-bit
/// digits (radix 16) and a sorted front: a monotone priority queue, which is what a discrete-event
/// simulator needs, since no event is scheduled before the clock.
///
/// `last` is a lower bound of every bucketed entry. An entry equal to `last` sits in bucket 0; any
/// other in bucket 16·p + d, where p is the highest 4-bit digit in which it differs from `last` and d
/// its own digit there (d ≥ 1, since it is above `last`): 32 digit positions × 16 values, 512
/// buckets, whose index order is the key order (every entry of a bucket is below every entry of a
/// higher one). The next entries to come out wait in the *front*, a short sorted array, all below
/// every bucketed entry and at most `last`.
///
/// When the front is empty, the lowest non-empty bucket (a two-level bit mask finds it) is either
/// small (≤ 32 entries: sorted into the front, and its maximum becomes `last`) or spread over lower
/// digit positions relative to its minimum (tracked on insertion), in one sequential pass. An entry
/// only moves to a lower digit position, and in practice a few times (≈ 1.3 moves and one sorted
/// insertion per event at 1,000 pending on the hold model, ≈ 4 at 10⁵, against ≈ 5.7 and ≈ 11 moves
/// with binary digits and no front): O(1) amortised removal on hold-like workloads, with streaming
/// memory access instead of one cache miss per heap level.
///
/// Unlike a textbook radix heap it also accepts an entry below `last` (possible after `peek` looked
/// past a `run(until:)` limit): it is inserted into the sorted front; should the front grow past 64
/// entries that way, the heap is re-based on the new minimum (the buckets below the highest digit
/// where it differs from `last` merge into one) and the front goes back into the buckets.
/// Order is exact: the full (time, sequence) key decides, so equal times keep FIFO order.
public final class RadixHeap: EventScheduler {
    /// 32 digit positions × 16 values.
    @usableFromInline static let bucketCount = 512
    /// Words of the occupancy mask.
    @usableFromInline static let maskWords = 8
    /// A lowest bucket with at most this many entries is sorted into the front.
    @usableFromInline static let smallBucket = 32
    /// Inserts below `last` go into the front while it holds fewer than this many entries.
    @usableFromInline static let frontLimit = 64

    /// One bucket: an unordered, manually managed array of packed entries and its minimum
    /// (32 bytes, two to a cache line).
    @usableFromInline struct Bucket {
        @usableFromInline var base: UnsafeMutablePointer<UInt128>
        @usableFromInline var count: Int32
        @usableFromInline var capacity: Int32
        @usableFromInline var minimum: UInt128
    }

    @exclusivity(unchecked) @usableFromInline var buckets: UnsafeMutablePointer<Bucket>
    /// Bit b % 64 of word b / 64 set when bucket b is non-empty.
    @exclusivity(unchecked) @usableFromInline var occupied: UnsafeMutablePointer<UInt64>
    /// Bit w set when word w of `occupied` is non-zero.
    @exclusivity(unchecked) @usableFromInline var summary: UInt64 = 0
    @exclusivity(unchecked) @usableFromInline var last: UInt128 = 0
    @exclusivity(unchecked) @usableFromInline var size = 0

    /// The front: entries `front[frontStart..<frontEnd]`, ascending.
    @exclusivity(unchecked) @usableFromInline var front: UnsafeMutablePointer<UInt128>
    @exclusivity(unchecked) @usableFromInline var frontStart = 0
    @exclusivity(unchecked) @usableFromInline var frontEnd = 0
    @exclusivity(unchecked) @usableFromInline var frontCapacity = 2 * RadixHeap.frontLimit

    /// Entries of the front just filled from a bucket, not yet reported by `takeUpcoming`.
    @exclusivity(unchecked) @usableFromInline var upcomingCount = 0

    /// Number of entries.
    public var count: Int { size }
    public var isEmpty: Bool { size == 0 }

    /// An empty queue; `capacity` is a hint for the first buckets' sizes.
    public init(reservingCapacity capacity: Int = 64) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: RadixHeap.bucketCount * MemoryLayout<Bucket>.stride, alignment: 64)
        buckets = raw.bindMemory(to: Bucket.self, capacity: RadixHeap.bucketCount)
        occupied = .allocate(capacity: RadixHeap.maskWords)
        occupied.initialize(repeating: 0, count: RadixHeap.maskWords)
        front = .allocate(capacity: frontCapacity)
        let initial = max(16, min(capacity / 16, 1 << 10))
        for b in 0..<RadixHeap.bucketCount {
            (buckets + b).initialize(to: Bucket(base: .allocate(capacity: initial), count: 0, capacity: Int32(initial), minimum: .max))
        }
    }

    deinit {
        for b in 0..<RadixHeap.bucketCount { buckets[b].base.deallocate() }
        UnsafeMutableRawPointer(buckets).deallocate()
        occupied.deallocate()
        front.deallocate()
    }

    /// The bucket of `key` relative to `last` (`key` ≥ `last`): 0 if equal, else 16·p + d for the
    /// highest differing digit p and `key`'s digit d there.
    @inlinable @inline(__always)
    static func bucket(of key: UInt128, relativeTo last: UInt128) -> Int {
        // On the two 64-bit halves: which half holds the highest differing bit is predictable (the
        // time half, unless times are equal), and each half's shift is one instruction.
        let keyHigh = UInt64(truncatingIfNeeded: key &>> 64)
        let high = keyHigh ^ UInt64(truncatingIfNeeded: last &>> 64)
        if high != 0 {
            // The highest differing bit, rounded down to its digit's lowest bit.
            let low = (63 &- high.leadingZeroBitCount) & ~3
            let digit = Int(truncatingIfNeeded: keyHigh &>> UInt64(truncatingIfNeeded: low)) & 15
            return (64 &+ low) &* 4 &+ digit
        }
        let keyLow = UInt64(truncatingIfNeeded: key)
        let x = keyLow ^ UInt64(truncatingIfNeeded: last)
        let low = (63 &- (x | 1).leadingZeroBitCount) & ~3
        let digit = Int(truncatingIfNeeded: keyLow &>> UInt64(truncatingIfNeeded: low)) & 15
        return x == 0 ? 0 : low &* 4 &+ digit
    }

    @usableFromInline func grow(_ b: Int) {
        let capacity = Int(buckets[b].capacity) * 2
        precondition(capacity <= Int(Int32.max), "a radix heap bucket outgrew 2^31 entries")
        let bigger = UnsafeMutablePointer<UInt128>.allocate(capacity: capacity)
        bigger.moveInitialize(from: buckets[b].base, count: Int(buckets[b].count))
        buckets[b].base.deallocate()
        buckets[b].base = bigger
        buckets[b].capacity = Int32(capacity)
    }

    /// Marks bucket `b` non-empty.
    @inlinable @inline(__always)
    func markOccupied(_ b: Int) {
        occupied[b &>> 6] |= 1 &<< UInt64(truncatingIfNeeded: b & 63)
        summary |= 1 &<< UInt64(truncatingIfNeeded: b &>> 6)
    }

    /// Marks bucket `b` empty.
    @inlinable @inline(__always)
    func markEmpty(_ b: Int) {
        let w = b &>> 6
        let word = occupied[w] & ~(1 &<< UInt64(truncatingIfNeeded: b & 63))
        occupied[w] = word
        if word == 0 { summary &= ~(1 &<< UInt64(truncatingIfNeeded: w)) }
    }

    /// Appends `key` to bucket `b` and keeps its minimum and the occupancy mask.
    @inlinable @inline(__always)
    func append(_ key: UInt128, to b: Int) {
        let bucket = buckets + b
        let c = bucket.pointee.count
        if c == bucket.pointee.capacity { grow(b) }
        bucket.pointee.base[Int(c)] = key
        bucket.pointee.count = c &+ 1
        if key < bucket.pointee.minimum { bucket.pointee.minimum = key }
        markOccupied(b)
    }

    /// - Complexity: O(1) (an entry below `last`: O(front), amortised O(n) once the front is full).
    @inlinable @inline(__always)
    public func insert(_ event: QueuedEvent) {
        let key = event.packed
        if key < last {
            insertBelowLast(key)
        } else {
            append(key, to: RadixHeap.bucket(of: key, relativeTo: last))
        }
        size &+= 1
        checkAfterMutation()
    }

    /// Puts `key` (< `last`, so below every bucketed entry) into the sorted front, or, when the front
    /// is full, re-bases the heap on the smaller of `key` and the front's minimum and moves the front
    /// back into the buckets.
    @usableFromInline func insertBelowLast(_ key: UInt128) {
        let n = frontEnd - frontStart
        upcomingCount = 0
        if n < RadixHeap.frontLimit {
            if frontEnd == frontCapacity {
                // Room at the end: the consumed part of the buffer is reused (n < frontCapacity / 2).
                front.update(from: front + frontStart, count: n)
                frontStart = 0
                frontEnd = n
            }
            var i = frontEnd
            while i > frontStart && front[i - 1] > key {
                front[i] = front[i - 1]
                i -= 1
            }
            front[i] = key
            frontEnd += 1
            return
        }
        lower(to: Swift.min(key, front[frontStart]))
        for i in frontStart..<frontEnd { append(front[i], to: RadixHeap.bucket(of: front[i], relativeTo: last)) }
        frontStart = 0
        frontEnd = 0
        append(key, to: RadixHeap.bucket(of: key, relativeTo: last))
    }

    /// Makes `key` (< `last`, so below every bucketed entry) the new `last`. With p the highest digit
    /// in which `key` and `last` differ, every entry in bucket 0 or at a digit position below p agrees
    /// with `last` at p, so relative to `key` it falls into bucket 16·p + (`last`'s digit p), empty so
    /// far; the buckets at position p keep their entries (their digit is above `last`'s).
    @usableFromInline func lower(to key: UInt128) {
        let low = (127 - (key ^ last).leadingZeroBitCount) & ~3
        let target = low * 4 + (Int(truncatingIfNeeded: last >> UInt128(low)) & 15)
        let end = max(1, low * 4)  // bucket 0, and the buckets below position p
        for b in 0..<end where buckets[b].count > 0 {
            let from = buckets[b]
            for i in 0..<Int(from.count) { append(from.base[i], to: target) }
            buckets[b].count = 0
            buckets[b].minimum = .max
            markEmpty(b)
        }
        last = key
    }

    /// Makes the front non-empty, if any entry is left.
    @inlinable @inline(__always)
    func settle() -> Bool {
        if frontStart < frontEnd { return true }
        return refill()
    }

    /// Fills the empty front from the lowest bucket, spreading large buckets first.
    @usableFromInline func refill() -> Bool {
        while summary != 0 {
            let w = summary.trailingZeroBitCount
            let b = w &* 64 &+ occupied[w].trailingZeroBitCount
            let from = buckets + b
            let n = Int(from.pointee.count)
            if n <= RadixHeap.smallBucket {
                sortIntoFront(b)
                return true
            }
            redistribute(b)
        }
        return false
    }

    /// Moves bucket `b` (the lowest, ≤ 32 entries) into the empty front in order (insertion sort),
    /// and makes its maximum `last`: every other bucket stays valid, since they hold larger entries.
    @usableFromInline func sortIntoFront(_ b: Int) {
        let from = buckets + b
        let source = from.pointee.base
        let n = Int(from.pointee.count)
        from.pointee.count = 0
        from.pointee.minimum = .max
        markEmpty(b)
        let f = front
        f[0] = source[0]
        var j = 1
        while j < n {
            let key = source[j]
            var i = j
            while i > 0 && f[i &- 1] > key {
                f[i] = f[i &- 1]
                i &-= 1
            }
            f[i] = key
            j &+= 1
        }
        frontStart = 0
        frontEnd = n
        last = f[n &- 1]
        upcomingCount = n
    }

    /// Spreads bucket `b` over the buckets below it, relative to its minimum (one sequential pass;
    /// the minimum itself lands in bucket 0).
    @usableFromInline func redistribute(_ b: Int) {
        let all = buckets
        let from = all + b
        let source = from.pointee.base
        let n = Int(from.pointee.count)
        let newLast = from.pointee.minimum
        last = newLast
        from.pointee.count = 0
        from.pointee.minimum = .max
        markEmpty(b)
        // The occupancy words and the summary are kept in locals through the pass (a store and a
        // reload per entry otherwise, each depending on the one before).
        let mask = occupied
        var summaryBits = summary
        var i = 0
        while i < n {
            let key = source[i]
            let t = RadixHeap.bucket(of: key, relativeTo: newLast)
            let to = all + t
            let c = to.pointee.count
            if c == to.pointee.capacity { grow(t) }
            to.pointee.base[Int(c)] = key
            to.pointee.count = c &+ 1
            if key < to.pointee.minimum { to.pointee.minimum = key }
            mask[t &>> 6] |= 1 &<< UInt64(truncatingIfNeeded: t & 63)
            summaryBits |= 1 &<< UInt64(truncatingIfNeeded: t &>> 6)
            i &+= 1
        }
        summary = summaryBits
    }

    /// Reports the entries of the front just filled from a bucket (the next ≤ 32 to come out), once.
    @inlinable @inline(__always)
    public func takeUpcoming(_ body: (QueuedEvent) -> Void) {
        let n = upcomingCount
        guard n > 0 else { return }
        upcomingCount = 0
        let f = front
        for j in 0..<n { body(QueuedEvent(packed: f[j])) }
    }

    /// - Complexity: O(1) amortised.
    @inlinable
    public func peek() -> QueuedEvent? {
        settle() ? QueuedEvent(packed: front[frontStart]) : nil
    }

    /// - Complexity: O(1) amortised.
    @inlinable
    public func removeNext() -> QueuedEvent? {
        guard settle() else { return nil }
        let next = front[frontStart]
        frontStart &+= 1
        size &-= 1
        checkAfterMutation()
        return QueuedEvent(packed: next)
    }

    /// - Complexity: O(1) amortised.
    @inlinable @inline(__always)
    public func removeNext(notAfter limit: Double) -> QueuedEvent? {
        if frontStart == frontEnd { guard refill() else { return nil } }
        let next = QueuedEvent(packed: front[frontStart])
        guard next.time <= limit else { return nil }
        frontStart &+= 1
        size &-= 1
        checkAfterMutation()
        return next
    }

    /// - Complexity: O(front + size of the entry's bucket): the bucket is known from the key, then
    ///   searched.
    public func remove(_ event: QueuedEvent) -> Bool {
        let key = event.packed
        guard size > 0 else { return false }
        for i in frontStart..<frontEnd where front[i] == key {
            (front + i).update(from: front + i + 1, count: frontEnd - i - 1)
            frontEnd -= 1
            upcomingCount = 0
            size -= 1
            checkAfterMutation()
            return true
        }
        guard key >= last else { return false }
        let b = RadixHeap.bucket(of: key, relativeTo: last)
        let bucket = buckets + b
        let n = Int(bucket.pointee.count)
        var i = 0
        while i < n && bucket.pointee.base[i] != key { i += 1 }
        guard i < n else { return false }
        bucket.pointee.base[i] = bucket.pointee.base[n - 1]
        bucket.pointee.count = Int32(n - 1)
        if key == bucket.pointee.minimum {
            var minimum = UInt128.max
            for j in 0..<(n - 1) { minimum = Swift.min(minimum, bucket.pointee.base[j]) }
            bucket.pointee.minimum = minimum
        }
        if n == 1 { markEmpty(b) }
        size -= 1
        checkAfterMutation()
        return true
    }

    /// - Complexity: O(n).
    public func compact(keeping isLive: (QueuedEvent) -> Bool) {
        occupied.update(repeating: 0, count: RadixHeap.maskWords)
        summary = 0
        upcomingCount = 0
        var kept = 0
        for i in frontStart..<frontEnd where isLive(QueuedEvent(packed: front[i])) {
            front[kept] = front[i]
            kept += 1
        }
        frontStart = 0
        frontEnd = kept
        size = kept
        for b in 0..<RadixHeap.bucketCount {
            let bucket = buckets + b
            var kept = 0
            var minimum = UInt128.max
            for i in 0..<Int(bucket.pointee.count) {
                let key = bucket.pointee.base[i]
                if isLive(QueuedEvent(packed: key)) {
                    bucket.pointee.base[kept] = key
                    kept += 1
                    minimum = Swift.min(minimum, key)
                }
            }
            bucket.pointee.count = Int32(kept)
            bucket.pointee.minimum = minimum
            size += kept
            if kept > 0 { markOccupied(b) }
        }
        checkAfterMutation()
    }
}

extension RadixHeap {
    /// The first broken invariant, or nil: `size` is the front's count plus the bucket counts; the
    /// front is ascending, at most `last` and below every bucketed entry; bucket b's bit of
    /// `occupied` is set exactly when the bucket is non-empty, and `summary` marks the non-zero words
    /// of `occupied`; a bucket's `minimum` is `.max` when it is empty and otherwise one of its
    /// entries, at or above `last`. With `entries` (O(n)), also that every entry sits in the bucket
    /// of its highest digit differing from `last` (and its own digit there) and is at least the
    /// bucket's minimum. In builds with FEDSIM_INTERNAL_CHECKS (the debug build) the structural part
    /// runs after every mutation, and the entry part while the queue holds at most 64 entries.
    public func invariantViolation(entries: Bool = true) -> String? {
        var total = frontEnd - frontStart
        if frontStart > frontEnd || frontEnd > frontCapacity { return "front bounds are wrong" }
        for i in frontStart..<frontEnd {
            if i > frontStart && front[i - 1] >= front[i] { return "the front is not in ascending order" }
            if front[i] > last { return "a front entry is above last" }
        }
        for w in 0..<RadixHeap.maskWords where (summary >> UInt64(w) & 1 == 1) != (occupied[w] != 0) {
            return "summary bit of mask word \(w) is wrong"
        }
        if summary >> UInt64(RadixHeap.maskWords) != 0 { return "summary mask out of range" }
        for b in 0..<RadixHeap.bucketCount {
            let bucket = buckets[b]
            let count = Int(bucket.count)
            total += count
            let bit = (occupied[b >> 6] >> UInt64(b & 63)) & 1 == 1
            if bit != (count > 0) { return "occupancy bit of bucket \(b) is wrong" }
            if count == 0 && bucket.minimum != .max { return "empty bucket \(b) has a minimum" }
            if count > 0 && bucket.minimum < last { return "bucket \(b)'s minimum is below last" }
            if count > 0 && frontEnd > frontStart && bucket.minimum <= front[frontEnd - 1] { return "bucket \(b) holds an entry below the front's" }
            if entries {
                var found = count == 0
                for i in 0..<count {
                    let key = bucket.base[i]
                    if key < bucket.minimum { return "an entry of bucket \(b) is below its minimum" }
                    if key == bucket.minimum { found = true }
                    if RadixHeap.bucket(of: key, relativeTo: last) != b { return "an entry of bucket \(b) belongs in bucket \(RadixHeap.bucket(of: key, relativeTo: last))" }
                }
                if !found { return "bucket \(b)'s minimum is not one of its entries" }
            }
        }
        return total == size ? nil : "size \(size) but the heap holds \(total)"
    }

    /// Checks the invariants after a mutation (only with FEDSIM_INTERNAL_CHECKS).
    @usableFromInline func checkAfterMutation() {
        #if FEDSIM_INTERNAL_CHECKS
        if let problem = invariantViolation(entries: size <= 64) { preconditionFailure("RadixHeap: \(problem)") }
        #endif
    }
}
