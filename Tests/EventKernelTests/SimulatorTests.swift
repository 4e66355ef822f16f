import EventKernel
import XCTest

/// Every simulator test runs on both queues.
final class SimulatorTests: XCTestCase {
    func testEventsFireInTimeOrderAndClockAdvances() {
        SimulatorChecks<RadixHeap>().eventsFireInTimeOrderAndClockAdvances()
        SimulatorChecks<QuaternaryHeap>().eventsFireInTimeOrderAndClockAdvances()
    }

    func testEqualTimesKeepFIFOOrderIncludingEventsScheduledWhileFiring() {
        SimulatorChecks<RadixHeap>().equalTimesKeepFIFOOrderIncludingEventsScheduledWhileFiring()
        SimulatorChecks<QuaternaryHeap>().equalTimesKeepFIFOOrderIncludingEventsScheduledWhileFiring()
    }

    func testCancel() {
        SimulatorChecks<RadixHeap>().cancel()
        SimulatorChecks<QuaternaryHeap>().cancel()
    }

    func testStaleHandleDoesNotTouchTheSlotsNextEvent() {
        SimulatorChecks<RadixHeap>().staleHandleDoesNotTouchTheSlotsNextEvent()
        SimulatorChecks<QuaternaryHeap>().staleHandleDoesNotTouchTheSlotsNextEvent()
    }

    func testRescheduleMovesAFlowsFinish() {
        SimulatorChecks<RadixHeap>().rescheduleMovesAFlowsFinish()
        SimulatorChecks<QuaternaryHeap>().rescheduleMovesAFlowsFinish()
    }

    func testRunUntilIsInclusiveAndAdvancesTheClock() {
        SimulatorChecks<RadixHeap>().runUntilIsInclusiveAndAdvancesTheClock()
        SimulatorChecks<QuaternaryHeap>().runUntilIsInclusiveAndAdvancesTheClock()
    }

    func testStopEndsTheRunAfterTheCurrentEvent() {
        SimulatorChecks<RadixHeap>().stopEndsTheRunAfterTheCurrentEvent()
        SimulatorChecks<QuaternaryHeap>().stopEndsTheRunAfterTheCurrentEvent()
    }

    func testRandomisedAgainstSortedReference() {
        SimulatorChecks<RadixHeap>().randomisedAgainstSortedReference()
        SimulatorChecks<QuaternaryHeap>().randomisedAgainstSortedReference()
    }

    func testRemoveTakesTheEntryOutNow() {
        SimulatorChecks<RadixHeap>().removeTakesTheEntryOutNow()
        SimulatorChecks<QuaternaryHeap>().removeTakesTheEntryOutNow()
    }

    func testCompactionUnderHeavyCancellation() {
        SimulatorChecks<RadixHeap>().compactionUnderHeavyCancellation()
        SimulatorChecks<QuaternaryHeap>().compactionUnderHeavyCancellation()
    }
}

/// The simulator's behaviour, on one queue.
struct SimulatorChecks<Queue: EventScheduler> {
    func eventsFireInTimeOrderAndClockAdvances() {
        let sim = EventSimulator<Queue>()
        var log: [(Double, String)] = []
        sim.schedule(at: SimTime(seconds: 3)) { log.append((sim.now.seconds, "c")) }
        sim.schedule(at: SimTime(seconds: 1)) { log.append((sim.now.seconds, "a")) }
        sim.schedule(after: SimDuration(seconds: 2)) { log.append((sim.now.seconds, "b")) }
        XCTAssertEqual(sim.run(), 3)
        XCTAssertEqual(log.map(\.1), ["a", "b", "c"])
        XCTAssertEqual(log.map(\.0), [1, 2, 3])
        XCTAssertEqual(sim.now, SimTime(seconds: 3))
        XCTAssertEqual(sim.pendingCount, 0)
    }

    func equalTimesKeepFIFOOrderIncludingEventsScheduledWhileFiring() {
        let sim = EventSimulator<Queue>()
        var order: [Int] = []
        for i in 0..<100 {
            sim.schedule(at: SimTime(seconds: 5)) {
                order.append(i)
                // Scheduled "now" from inside an event: fires after every event already queued at 5.
                if i == 0 { sim.schedule(after: .zero) { order.append(1000) } }
            }
        }
        sim.run()
        XCTAssertEqual(order, Array(0..<100) + [1000])
    }

    func cancel() {
        let sim = EventSimulator<Queue>()
        var fired: [String] = []
        let a = sim.schedule(at: SimTime(seconds: 1)) { fired.append("a") }
        let b = sim.schedule(at: SimTime(seconds: 2)) { fired.append("b") }
        sim.schedule(at: SimTime(seconds: 1.5)) { XCTAssertTrue(sim.cancel(b)) }
        XCTAssertTrue(sim.isPending(a))
        XCTAssertTrue(sim.cancel(a))
        XCTAssertFalse(sim.cancel(a), "cancelling twice is a no-op")
        XCTAssertFalse(sim.isPending(a))
        sim.run()
        XCTAssertEqual(fired, [])
        XCTAssertEqual(sim.firedCount, 1)
        XCTAssertFalse(sim.cancel(b), "a fired or cancelled handle is stale")
    }

    func staleHandleDoesNotTouchTheSlotsNextEvent() {
        let sim = EventSimulator<Queue>()
        var fired = 0
        let old = sim.schedule(at: SimTime(seconds: 1)) { fired += 1 }
        sim.run()
        // The slot is reused by the next event; the old handle must not cancel it.
        sim.schedule(at: SimTime(seconds: 2)) { fired += 10 }
        XCTAssertFalse(sim.cancel(old))
        sim.run()
        XCTAssertEqual(fired, 11)
    }

    func rescheduleMovesAFlowsFinish() {
        let sim = EventSimulator<Queue>()
        var finishedAt: Double?
        var handle = sim.schedule(at: SimTime(seconds: 10)) { finishedAt = sim.now.seconds }
        sim.schedule(at: SimTime(seconds: 2)) {
            // A competing flow ends: the transfer speeds up and finishes earlier.
            handle = sim.reschedule(handle, to: SimTime(seconds: 6))!
        }
        sim.schedule(at: SimTime(seconds: 4)) {
            // Another flow starts: it slows down again.
            handle = sim.reschedule(handle, to: SimTime(seconds: 8))!
        }
        sim.run()
        XCTAssertEqual(finishedAt, 8)
        XCTAssertEqual(sim.firedCount, 3)
        XCTAssertNil(sim.reschedule(handle, to: SimTime(seconds: 9)), "a fired event cannot be moved")
    }

    func runUntilIsInclusiveAndAdvancesTheClock() {
        let sim = EventSimulator<Queue>()
        var fired: [Double] = []
        for t in [1.0, 2.0, 3.0, 4.0] { sim.schedule(at: SimTime(seconds: t)) { fired.append(t) } }
        XCTAssertEqual(sim.run(until: SimTime(seconds: 2)), 2)
        XCTAssertEqual(fired, [1, 2])
        XCTAssertEqual(sim.now.seconds, 2)
        XCTAssertEqual(sim.run(until: SimTime(seconds: 3.5)), 1)
        XCTAssertEqual(sim.now.seconds, 3.5, "the clock moves to the limit even without an event there")
        XCTAssertEqual(sim.nextEventTime, SimTime(seconds: 4))
        sim.run()
        XCTAssertEqual(fired, [1, 2, 3, 4])
    }

    func stopEndsTheRunAfterTheCurrentEvent() {
        let sim = EventSimulator<Queue>()
        var fired = 0
        for t in 1...5 { sim.schedule(at: SimTime(seconds: Double(t))) { fired += 1; if t == 2 { sim.stop() } } }
        XCTAssertEqual(sim.run(), 2)
        XCTAssertEqual(sim.now.seconds, 2)
        sim.run()
        XCTAssertEqual(fired, 5)
    }

    /// Random schedules, cancels and reschedules from inside events, against a reference list.
    func randomisedAgainstSortedReference() {
        for seed in 0..<30 {
            var rng = TestRNG(state: UInt64(seed) &* 7919)
            let sim = EventSimulator<Queue>()
            var reference: [Ref] = []
            var handles: [Int: EventHandle] = [:]
            var fired: [Int] = []
            var nextId = 0
            var seq = 0
            func add(at time: Double) {
                let id = nextId
                nextId += 1
                handles[id] = sim.schedule(at: SimTime(seconds: time)) { fired.append(id) }
                reference.append(Ref(time: time, seq: seq, id: id, live: true))
                seq += 1
            }
            for _ in 0..<300 { add(at: Double(rng.below(100))) }
            // Cancel, remove and move a random third, with ties everywhere.
            for _ in 0..<200 {
                let id = rng.below(nextId)
                guard let index = reference.firstIndex(where: { $0.id == id && $0.live }) else { continue }
                let r = rng.unit()
                if r < 0.3 {
                    XCTAssertTrue(sim.cancel(handles[id]!))
                    reference[index].live = false
                } else if r < 0.5 {
                    XCTAssertTrue(sim.remove(handles[id]!))
                    XCTAssertFalse(sim.remove(handles[id]!), "removing twice is a no-op")
                    reference[index].live = false
                } else {
                    let time = Double(rng.below(100))
                    handles[id] = sim.reschedule(handles[id]!, to: SimTime(seconds: time))
                    reference[index].time = time
                    reference[index].seq = seq
                    seq += 1
                }
            }
            sim.run()
            let expected = reference.filter(\.live).sorted { ($0.time, $0.seq) < ($1.time, $1.seq) }.map(\.id)
            XCTAssertEqual(fired, expected, "seed \(seed)")
        }
    }

    /// `remove` takes the entry out at once (no stale entry); the slot is reused and old handles stay inert.
    func removeTakesTheEntryOutNow() {
        let sim = EventSimulator<Queue>()
        var fired: [String] = []
        let a = sim.schedule(at: SimTime(seconds: 1)) { fired.append("a") }
        let b = sim.schedule(at: SimTime(seconds: 2)) { fired.append("b") }
        sim.schedule(at: SimTime(seconds: 3)) { fired.append("c") }
        XCTAssertTrue(sim.remove(b))
        XCTAssertEqual(sim.queuedEntryCount, 2)
        XCTAssertEqual(sim.staleEntryCount, 0)
        XCTAssertEqual(sim.pendingCount, 2)
        XCTAssertFalse(sim.isPending(b))
        XCTAssertFalse(sim.cancel(b))
        XCTAssertTrue(sim.cancel(a))
        XCTAssertFalse(sim.remove(a), "a cancelled event cannot be removed")
        XCTAssertFalse(sim.remove(.none))
        sim.schedule(at: SimTime(seconds: 4)) { fired.append("d") }  // reuses a freed slot
        XCTAssertFalse(sim.remove(b))
        sim.run()
        XCTAssertEqual(fired, ["c", "d"])
        XCTAssertEqual(sim.queuedEntryCount, 0)
    }

    /// Many cancellations trigger compaction; order and counts stay right.
    func compactionUnderHeavyCancellation() {
        let sim = EventSimulator<Queue>()
        var fired: [Int] = []
        var handles: [EventHandle] = []
        for i in 0..<20_000 { handles.append(sim.schedule(at: SimTime(seconds: Double(i))) { fired.append(i) }) }
        for i in 0..<20_000 where i % 10 != 0 { sim.cancel(handles[i]) }
        XCTAssertLessThan(sim.queuedEntryCount, 20_000, "stale entries were purged")
        XCTAssertEqual(sim.pendingCount, 2000)
        sim.run()
        XCTAssertEqual(fired, Array(stride(from: 0, to: 20_000, by: 10)))
    }
}

/// One event of the randomised test's reference list.
private struct Ref {
    var time: Double
    var seq: Int
    var id: Int
    var live: Bool
}
