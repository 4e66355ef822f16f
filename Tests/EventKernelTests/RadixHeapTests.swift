@testable import EventKernel
import XCTest

final class RadixHeapTests: XCTestCase {
    /// The bucket index on 64-bit halves equals the definition on the 128-bit key: 0 when equal,
    /// else 16·p + d for the highest differing 4-bit digit p and the key's digit d there.
    func testBucketIndexMatchesItsDefinition() {
        func reference(_ key: UInt128, _ last: UInt128) -> Int {
            let x = key ^ last
            guard x != 0 else { return 0 }
            let p = (127 - x.leadingZeroBitCount) / 4
            return 16 * p + Int(truncatingIfNeeded: key >> UInt128(4 * p)) & 15
        }
        var rng = TestRNG(state: 77)
        for _ in 0..<200_000 {
            let last = UInt128(rng.next()) << 64 | UInt128(rng.next())
            // Keys at or above `last` differing from it in the high half, the low half only, or not at all.
            let shift = UInt128(rng.below(128))
            let key: UInt128
            switch rng.below(3) {
            case 0: key = last
            case 1: key = last | (UInt128(1) << shift) | UInt128(rng.next() & 0xff)
            default: key = last &+ (UInt128(rng.next()) >> UInt128(rng.below(64)))
            }
            guard key >= last else { continue }
            XCTAssertEqual(RadixHeap.bucket(of: key, relativeTo: last), reference(key, last))
        }
    }

    /// Random inserts and removals against a sorted array, with many equal times, inserts at or after
    /// the last removed entry (the simulator's case) and, after a peek, below the peeked minimum.
    func testAgainstSortedReference() {
        for seed in 0..<50 {
            var rng = TestRNG(state: UInt64(seed) &+ 1000)
            let heap = RadixHeap()
            var reference: [QueuedEvent] = []
            var sequence: UInt64 = 0
            var floor = 0.0
            for _ in 0..<3000 {
                let r = rng.unit()
                if r < 0.55 || reference.isEmpty {
                    if r < 0.1 { _ = heap.peek() }  // moves `last` up to the minimum
                    let event = QueuedEvent(time: floor + Double(rng.below(50)) * (seed % 2 == 0 ? 1 : 0.001),
                                            sequence: sequence, slot: UInt32(sequence % 1000))
                    sequence += 1
                    heap.insert(event)
                    reference.append(event)
                    reference.sort { QueuedEvent.precedes($0, $1) }
                } else {
                    XCTAssertEqual(heap.peek(), reference.first)
                    let next = heap.removeNext()
                    XCTAssertEqual(next, reference.removeFirst())
                    floor = next!.time
                }
                XCTAssertEqual(heap.count, reference.count)
            }
            while let next = heap.removeNext() { XCTAssertEqual(next, reference.removeFirst()) }
            XCTAssertTrue(reference.isEmpty)
            XCTAssertNil(heap.peek())
        }
    }

    /// Arbitrary (non-monotone) inserts are accepted too: an entry below `last` lowers it.
    func testNonMonotoneInsertsAfterPeek() {
        var rng = TestRNG(state: 99)
        let heap = RadixHeap()
        var reference: [QueuedEvent] = []
        for i in 0..<5000 {
            let event = QueuedEvent(time: rng.unit() * 100, sequence: UInt64(i), slot: UInt32(i % 4096))
            heap.insert(event)
            reference.append(event)
            if i % 7 == 0 { _ = heap.peek() }
            if i % 3 == 0 {
                reference.sort { QueuedEvent.precedes($0, $1) }
                XCTAssertEqual(heap.removeNext(), reference.removeFirst())
            }
        }
        reference.sort { QueuedEvent.precedes($0, $1) }
        while let next = heap.removeNext() { XCTAssertEqual(next, reference.removeFirst()) }
        XCTAssertTrue(reference.isEmpty)
    }

    func testCompactKeepsOrderAndOnlyLiveEntries() {
        var rng = TestRNG(state: 7)
        let heap = RadixHeap()
        for i in 0..<5000 {
            heap.insert(QueuedEvent(time: rng.unit(), sequence: UInt64(i), slot: UInt32(i)))
        }
        _ = heap.removeNext()
        heap.compact { $0.slot % 3 != 0 }
        var last = -1.0
        var n = 0
        while let next = heap.removeNext() {
            XCTAssertNotEqual(next.slot % 3, 0)
            XCTAssertGreaterThanOrEqual(next.time, last)
            last = next.time
            n += 1
        }
        XCTAssertEqual(n, heap.count + n)
    }
}

final class RadixHeapInvariantTests: XCTestCase {
    /// The invariants hold after every operation of random workloads (inserts at and above the last
    /// removal, inserts below it after a peek, removals, eager removals, compaction).
    func testInvariantsHoldAfterEveryMutation() {
        var rng = TestRNG(state: 77)
        let heap = RadixHeap()
        var sequence: UInt64 = 0
        var now: Double = 0
        var inserted: [QueuedEvent] = []
        for step in 0..<20_000 {
            let r = rng.next() % 10
            if r < 5 || heap.isEmpty {
                let t = now + Double(rng.next() % 1000) / 10
                inserted.append(QueuedEvent(time: t, sequence: sequence, slot: UInt32(sequence % 1000)))
                heap.insert(inserted[inserted.count - 1])
                sequence += 1
            } else if r < 9 {
                if let e = heap.removeNext() { now = e.time }
            } else if let p = heap.peek(), p.time > 1 {
                // Below the peeked minimum (the simulator's run(until:) case).
                inserted.append(QueuedEvent(time: p.time / 2, sequence: sequence, slot: 0))
                heap.insert(inserted[inserted.count - 1])
                sequence += 1
                now = min(now, p.time / 2)
            }
            if step % 7 == 3, sequence > 0 {
                // An eager removal of a random earlier entry (still queued or not).
                _ = heap.remove(inserted[Int(rng.next() % UInt64(inserted.count))])
            }
            if step % 5000 == 4999 { heap.compact { $0.sequence % 3 != 0 } }
            if let problem = heap.invariantViolation() { return XCTFail("step \(step): \(problem)") }
        }
    }
}
