import EventKernel
import XCTest

/// The `EventScheduler` contract, the same checks on every conforming queue.
final class EventSchedulerTests: XCTestCase {
    func testInsertsRemovalsAndEagerRemovesAgainstSortedReference() {
        SchedulerChecks<RadixHeap>().againstSortedReference()
        SchedulerChecks<QuaternaryHeap>().againstSortedReference()
    }

    func testRemoveOfAMissingEntryChangesNothing() {
        SchedulerChecks<RadixHeap>().removeOfAMissingEntry()
        SchedulerChecks<QuaternaryHeap>().removeOfAMissingEntry()
    }

    /// The radix heap's hint names the entries about to come out, once, and is dropped when the
    /// bucket buffer it points into is reallocated.
    func testRadixHeapReportsUpcomingEntriesOnce() {
        let heap = RadixHeap(reservingCapacity: 16)
        // Equal times: one bucket, spread by the first removal.
        for i in 0..<10 { heap.insert(QueuedEvent(time: 5, sequence: UInt64(i), slot: UInt32(i))) }
        var reported: [UInt32] = []
        heap.takeUpcoming { reported.append($0.slot) }
        XCTAssertEqual(reported, [], "nothing spread yet")
        XCTAssertEqual(heap.removeNext()?.slot, 0)
        heap.takeUpcoming { reported.append($0.slot) }
        XCTAssertEqual(Set(reported), Set(0..<10), "the whole small bucket was spread")
        reported = []
        heap.takeUpcoming { reported.append($0.slot) }
        XCTAssertEqual(reported, [], "each hint is reported once")

        // A spread of 20 (their bucket's buffer has grown to 32), then an entry below them:
        // lowering moves the 20 back into the spread bucket, and 20 more inserts there make its
        // buffer reallocate, so the hint must be gone.
        let lowered = RadixHeap(reservingCapacity: 16)
        for i in 0..<20 { lowered.insert(QueuedEvent(time: 5, sequence: UInt64(i), slot: UInt32(i))) }
        XCTAssertEqual(lowered.peek()?.slot, 0)
        lowered.insert(QueuedEvent(time: 1, sequence: 20, slot: 20))
        for i in 21..<41 { lowered.insert(QueuedEvent(time: 5, sequence: UInt64(i), slot: UInt32(i))) }
        lowered.takeUpcoming { reported.append($0.slot) }
        XCTAssertEqual(reported, [], "the hint's buffer was reallocated")
        XCTAssertNil(lowered.invariantViolation())
        XCTAssertEqual(lowered.removeNext()?.slot, 20)
    }

    /// A queue without hints (the protocol's default) reports nothing.
    func testQuaternaryHeapGivesNoHint() {
        let heap = QuaternaryHeap()
        for i in 0..<10 { heap.insert(QueuedEvent(time: Double(i), sequence: UInt64(i), slot: UInt32(i))) }
        _ = heap.removeNext()
        var reported = 0
        heap.takeUpcoming { _ in reported += 1 }
        XCTAssertEqual(reported, 0)
    }
}

/// Checks of one queue type.
struct SchedulerChecks<Queue: EventScheduler> {
    /// Random inserts (many equal times, some below an entry already peeked), removals of the next
    /// (also bounded by a time limit, as the run loop asks) and eager removals of random entries,
    /// against a sorted array.
    func againstSortedReference() {
        for seed in 0..<40 {
            var rng = TestRNG(state: UInt64(seed) &+ 5000)
            let queue = Queue(reservingCapacity: 16)
            var reference: [QueuedEvent] = []
            var sequence: UInt64 = 0
            var floor = 0.0
            for _ in 0..<2500 {
                let r = rng.unit()
                if r < 0.5 || reference.isEmpty {
                    if r < 0.05 { _ = queue.peek() }
                    let event = QueuedEvent(time: floor + Double(rng.below(40)), sequence: sequence, slot: UInt32(sequence % 4096))
                    sequence += 1
                    queue.insert(event)
                    reference.append(event)
                    reference.sort { QueuedEvent.precedes($0, $1) }
                } else if r < 0.75 {
                    let index = rng.below(reference.count)
                    XCTAssertTrue(queue.remove(reference[index]), "\(Queue.self) seed \(seed)")
                    XCTAssertFalse(queue.remove(reference[index]), "\(Queue.self): removed twice")
                    reference.remove(at: index)
                } else if r < 0.85 {
                    // The run loop's call: the next entry only if it is due by `limit`.
                    let limit = floor + Double(rng.below(40)) - 0.5
                    let due = reference.first.flatMap { $0.time <= limit ? $0 : nil }
                    XCTAssertEqual(queue.removeNext(notAfter: limit), due, "\(Queue.self) seed \(seed)")
                    if let due {
                        reference.removeFirst()
                        floor = due.time
                    }
                } else {
                    XCTAssertEqual(queue.peek(), reference.first, "\(Queue.self) seed \(seed)")
                    let next = queue.removeNext()
                    XCTAssertEqual(next, reference.removeFirst(), "\(Queue.self) seed \(seed)")
                    floor = next?.time ?? floor
                }
                XCTAssertEqual(queue.count, reference.count)
                XCTAssertEqual(queue.isEmpty, reference.isEmpty)
            }
            while let next = queue.removeNext() { XCTAssertEqual(next, reference.removeFirst()) }
            XCTAssertTrue(reference.isEmpty, "\(Queue.self) seed \(seed)")
        }
    }

    func removeOfAMissingEntry() {
        let queue = Queue(reservingCapacity: 16)
        XCTAssertFalse(queue.remove(QueuedEvent(time: 1, sequence: 0, slot: 0)), "\(Queue.self): empty")
        for i in 0..<100 { queue.insert(QueuedEvent(time: Double(i % 7), sequence: UInt64(i), slot: UInt32(i))) }
        XCTAssertFalse(queue.remove(QueuedEvent(time: 3, sequence: 500, slot: 1)))
        XCTAssertFalse(queue.remove(QueuedEvent(time: 4, sequence: 3, slot: 3)), "right key, wrong time")
        XCTAssertEqual(queue.count, 100)
        var last = QueuedEvent(packed: 0)
        while let next = queue.removeNext() {
            XCTAssertTrue(QueuedEvent.precedes(last, next) || last == QueuedEvent(packed: 0))
            last = next
        }
    }
}
