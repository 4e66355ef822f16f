import EventKernel
import XCTest

/// A handler that records (payload, time) and can act on the simulator from inside an event.
final class RecordingHandler<Queue: EventScheduler>: EventHandler {
    let sim: EventSimulator<Queue>
    let name: String
    var log: [(String, UInt64, Double)] = []
    /// Run inside `handle` for a payload, after it is logged.
    var reactions: [UInt64: () -> Void] = [:]

    init(_ sim: EventSimulator<Queue>, name: String) {
        self.sim = sim
        self.name = name
    }

    func handle(_ payload: UInt64) {
        log.append((name, payload, sim.now.seconds))
        reactions[payload]?()
    }
}

/// The closure-free event form (`register`, `schedule(at:_:payload:)`), on both queues.
final class EventHandlerTests: XCTestCase {
    func testOrderAndFIFOMixedWithClosures() {
        HandlerChecks<RadixHeap>().orderAndFIFOMixedWithClosures()
        HandlerChecks<QuaternaryHeap>().orderAndFIFOMixedWithClosures()
    }

    func testCancelRemoveAndStaleHandles() {
        HandlerChecks<RadixHeap>().cancelRemoveAndStaleHandles()
        HandlerChecks<QuaternaryHeap>().cancelRemoveAndStaleHandles()
    }

    func testRescheduleKeepsHandlerAndPayload() {
        HandlerChecks<RadixHeap>().rescheduleKeepsHandlerAndPayload()
        HandlerChecks<QuaternaryHeap>().rescheduleKeepsHandlerAndPayload()
    }

    func testStopAndSchedulingFromInsideAHandler() {
        HandlerChecks<RadixHeap>().stopAndSchedulingFromInsideAHandler()
        HandlerChecks<QuaternaryHeap>().stopAndSchedulingFromInsideAHandler()
    }

    func testRandomisedMixAgainstSortedReference() {
        HandlerChecks<RadixHeap>().randomisedMixAgainstSortedReference()
        HandlerChecks<QuaternaryHeap>().randomisedMixAgainstSortedReference()
    }
}

struct HandlerChecks<Queue: EventScheduler> {
    typealias Sim = EventSimulator<Queue>

    func orderAndFIFOMixedWithClosures() {
        let sim = Sim()
        let a = RecordingHandler(sim, name: "a"), b = RecordingHandler(sim, name: "b")
        let ida = sim.register(a), idb = sim.register(b)
        XCTAssertNotEqual(ida, idb)
        var order: [String] = []
        a.reactions = [1: { order.append("a1") }, 2: { order.append("a2") }, 7: { order.append("a7") }]
        b.reactions = [3: { order.append("b3") }, 0: { order.append("b0") }]
        sim.schedule(at: SimTime(seconds: 2), ida, payload: 2)
        sim.schedule(at: SimTime(seconds: 1), { order.append("c1") })
        sim.schedule(at: SimTime(seconds: 1), idb, payload: 3)
        sim.schedule(at: SimTime(seconds: 1), ida, payload: 1)
        sim.schedule(at: SimTime(seconds: 0.5), idb)  // payload 0 by default
        sim.schedule(at: SimTime(seconds: 2), { order.append("c2") })
        sim.schedule(at: SimTime(seconds: 3), ida, payload: 7)
        XCTAssertEqual(sim.pendingCount, 7)
        XCTAssertEqual(sim.run(), 7)
        // (time, insertion) order, whichever form each event has.
        XCTAssertEqual(order, ["b0", "c1", "b3", "a1", "a2", "c2", "a7"])
        XCTAssertEqual(a.log.map { $0.2 }, [1, 2, 3])
        XCTAssertEqual(b.log.map { $0.1 }, [0, 3])
        XCTAssertEqual(sim.now, SimTime(seconds: 3))
        XCTAssertEqual(sim.pendingCount, 0)
    }

    func cancelRemoveAndStaleHandles() {
        let sim = Sim()
        let h = RecordingHandler(sim, name: "h")
        let id = sim.register(h)
        let first = sim.schedule(at: SimTime(seconds: 1), id, payload: 1)
        let second = sim.schedule(at: SimTime(seconds: 2), id, payload: 2)
        let third = sim.schedule(at: SimTime(seconds: 3), id, payload: 3)
        var closureRan = false
        sim.schedule(at: SimTime(seconds: 2.5), { closureRan = true })
        XCTAssertTrue(sim.isPending(second))
        XCTAssertTrue(sim.cancel(second))
        XCTAssertFalse(sim.isPending(second))
        XCTAssertFalse(sim.cancel(second), "a second cancel does nothing")
        XCTAssertTrue(sim.remove(third))
        XCTAssertFalse(sim.remove(third))
        XCTAssertEqual(sim.pendingCount, 2)
        sim.run()
        XCTAssertEqual(h.log.map { $0.1 }, [1])
        XCTAssertTrue(closureRan)
        XCTAssertFalse(sim.cancel(first), "a fired event's handle is stale")
        // The fired event's slot is reused by a new event: the old handle must not reach it.
        let reused = sim.schedule(at: SimTime(seconds: 5), id, payload: 9)
        XCTAssertFalse(sim.cancel(first))
        XCTAssertFalse(sim.isPending(first))
        XCTAssertTrue(sim.isPending(reused))
        sim.run()
        XCTAssertEqual(h.log.map { $0.1 }, [1, 9])
        XCTAssertFalse(sim.cancel(EventHandle.none))
    }

    func rescheduleKeepsHandlerAndPayload() {
        let sim = Sim()
        let h = RecordingHandler(sim, name: "h"), other = RecordingHandler(sim, name: "o")
        let id = sim.register(h), otherID = sim.register(other)
        var order: [String] = []
        h.reactions[42] = { order.append("h42@\(sim.now.seconds)") }
        other.reactions = [1: { order.append("o1@\(sim.now.seconds)") }, 2: { order.append("o2@\(sim.now.seconds)") }]
        let moved = sim.schedule(at: SimTime(seconds: 5), id, payload: 42)
        sim.schedule(at: SimTime(seconds: 2), otherID, payload: 1)
        sim.schedule(at: SimTime(seconds: 2), otherID, payload: 2)
        guard let later = sim.reschedule(moved, to: SimTime(seconds: 2)) else { return XCTFail("still pending") }
        XCTAssertFalse(sim.isPending(moved))
        XCTAssertTrue(sim.isPending(later))
        sim.run()
        // Moved to t = 2: after the two already there (a new place in FIFO order), same handler and payload.
        XCTAssertEqual(order, ["o1@2.0", "o2@2.0", "h42@2.0"])
        XCTAssertEqual(h.log.count, 1, "the old entry is stale and does not fire again")
        XCTAssertNil(sim.reschedule(later, to: SimTime(seconds: 9)), "fired: nothing to move")
    }

    func stopAndSchedulingFromInsideAHandler() {
        let sim = Sim()
        let h = RecordingHandler(sim, name: "h")
        let id = sim.register(h)
        // Each event schedules the next one at now + 1 and at now (FIFO after those already at now).
        for p in UInt64(0)..<10 {
            h.reactions[p] = {
                if p == 4 { sim.stop() }
                if p < 9 { sim.schedule(after: SimDuration(seconds: 1), id, payload: p + 1) }
            }
        }
        h.reactions[100] = { sim.schedule(after: .zero, id, payload: 101) }
        sim.schedule(at: .zero, id, payload: 0)
        sim.schedule(at: SimTime(seconds: 3), id, payload: 100)
        XCTAssertEqual(sim.run(), 7, "stops after payload 4's event")
        // 100 was queued at t = 3 before 3 was; 101, scheduled at now from 100, comes after 3.
        XCTAssertEqual(h.log.map { $0.1 }, [0, 1, 2, 100, 3, 101, 4])
        XCTAssertEqual(sim.now, SimTime(seconds: 4))
        XCTAssertEqual(sim.pendingCount, 1)
        sim.run()
        XCTAssertEqual(h.log.map { $0.1 }.suffix(5), [5, 6, 7, 8, 9])
        XCTAssertEqual(sim.now, SimTime(seconds: 9))
    }

    /// Random schedules of both forms, cancels and reschedules against a sorted reference.
    func randomisedMixAgainstSortedReference() {
        for seed in 0..<10 {
            var rng = TestRNG(state: UInt64(seed) &+ 77)
            let sim = Sim()
            let handlers = (0..<3).map { RecordingHandler(sim, name: "h\($0)") }
            let ids = handlers.map { sim.register($0) }
            var fired: [UInt64] = []
            for h in handlers { h.reactions = [:] }
            var expected: [(time: Double, order: Int, tag: UInt64)] = []
            var handles: [(EventHandle, Int)] = []  // handle, index in expected
            var order = 0
            for tag in UInt64(0)..<2000 {
                let time = Double(rng.below(200)) * 0.5
                let handle: EventHandle
                if tag % 3 == 0 {
                    handle = sim.schedule(at: SimTime(seconds: time), { fired.append(tag) })
                } else {
                    handle = sim.schedule(at: SimTime(seconds: time), ids[Int(tag % 3)], payload: tag)
                }
                expected.append((time, order, tag))
                handles.append((handle, expected.count - 1))
                order += 1
                if rng.unit() < 0.2 {
                    let pick = rng.below(handles.count)
                    let (h, index) = handles[pick]
                    if rng.unit() < 0.5 {
                        if sim.cancel(h) { expected[index].tag = .max }
                    } else if case let to = Double(rng.below(200)) * 0.5, let moved = sim.reschedule(h, to: SimTime(seconds: to)) {
                        expected[index].time = to
                        expected[index].order = order
                        order += 1
                        handles[pick] = (moved, index)
                    }
                }
            }
            for h in handlers { h.reactions = [:] }
            sim.run()
            let handlerTags = handlers.flatMap { h in h.log.map { ($0.1, $0.2) } }
            let reference = expected.filter { $0.tag != .max }.sorted { ($0.time, $0.order) < ($1.time, $1.order) }
            XCTAssertEqual(fired.count + handlerTags.count, reference.count, "seed \(seed)")
            // Rebuild the global firing order from the handlers' and closures' logs by time.
            let byTag = Dictionary(uniqueKeysWithValues: reference.map { ($0.tag, $0) })
            for (tag, time) in handlerTags { XCTAssertEqual(byTag[tag]?.time, time, "seed \(seed) tag \(tag)") }
            XCTAssertEqual(fired, reference.map(\.tag).filter { $0 % 3 == 0 }, "seed \(seed): closures in order")
            for (i, h) in handlers.enumerated() {
                XCTAssertEqual(h.log.map { $0.1 }, reference.map(\.tag).filter { Int($0 % 3) == i && $0 % 3 != 0 },
                               "seed \(seed): handler \(i) in order")
            }
        }
    }
}
