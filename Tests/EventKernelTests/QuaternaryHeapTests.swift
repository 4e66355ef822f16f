import EventKernel
import Numerics
import XCTest

/// A repeatable generator for tests (Numerics' SplitMix64).
struct TestRNG {
    var base: SplitMix64
    init(state: UInt64) { base = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { base.next() }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

final class QuaternaryHeapTests: XCTestCase {
    /// Random inserts and removals against a sorted array, over many seeds, with many equal times.
    func testAgainstSortedReference() {
        for seed in 0..<50 {
            var rng = TestRNG(state: UInt64(seed))
            let heap = QuaternaryHeap()
            var reference: [QueuedEvent] = []
            var sequence: UInt64 = 0
            for _ in 0..<2000 {
                if rng.unit() < 0.6 || reference.isEmpty {
                    // Coarse times make ties common, so FIFO order is exercised.
                    let event = QueuedEvent(time: Double(rng.below(50)), sequence: sequence, slot: UInt32(sequence % 1000))
                    sequence += 1
                    heap.insert(event)
                    reference.append(event)
                    reference.sort { QueuedEvent.precedes($0, $1) }
                } else {
                    XCTAssertEqual(heap.peek(), reference.first)
                    XCTAssertEqual(heap.removeNext(), reference.removeFirst())
                }
                XCTAssertEqual(heap.count, reference.count)
            }
            XCTAssertTrue(heap.satisfiesHeapOrder)
            while let next = heap.removeNext() { XCTAssertEqual(next, reference.removeFirst()) }
            XCTAssertTrue(reference.isEmpty)
        }
    }

    func testCompactKeepsOrderAndOnlyLiveEntries() {
        var rng = TestRNG(state: 7)
        let heap = QuaternaryHeap()
        for i in 0..<5000 {
            heap.insert(QueuedEvent(time: rng.unit(), sequence: UInt64(i), slot: UInt32(i)))
        }
        heap.compact { $0.slot % 3 != 0 }
        XCTAssertTrue(heap.satisfiesHeapOrder)
        XCTAssertEqual(heap.count, 5000 - 1667)
        var last = -1.0
        while let next = heap.removeNext() {
            XCTAssertNotEqual(next.slot % 3, 0)
            XCTAssertGreaterThanOrEqual(next.time, last)
            last = next.time
        }
    }
}
