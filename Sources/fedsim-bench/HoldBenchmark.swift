import EventKernel
import Foundation
import Numerics

/// The classic hold model (Vaucher & Duval 1975; Jones 1986): N events pending; each fired event
/// schedules one more at now + Exp(1). It measures the pending-event set and the dispatch loop.
/// The run stops after `events` firings, with N events still pending.
///
/// The events are the kernel's closure-free form (the model is their `EventHandler`), and the
/// holds come from the ziggurat exponential (`ExponentialZiggurat`) on the stream's mt19937: the
/// same model as SimPy's (Exp(1) holds), not the same draws as `gsl_ran_exponential`.
///
/// Generic over the pending-event set; each concrete subclass calls the two inlined bodies, so
/// that the queue calls in them are direct (`HoldBenchmark` on the simulator's `RadixHeap`,
/// `FIFOHoldBenchmark` on a queue that does no ordering: the rest of the kernel's cost).
class HoldModel<Queue: EventScheduler>: EventHandler {
    let pending: Int
    let events: Int
    let seed: UInt64
    final let simulator: EventSimulator<Queue>
    final let stream: RandomStream
    final let exponential = ExponentialZiggurat()
    final var remaining: Int
    final var hold = EventHandlerID?.none

    struct Result {
        let eventsPerSecond: Double
        let seconds: Double
    }

    init(pending: Int, events: Int, seed: UInt64) {
        self.pending = pending
        self.events = events
        self.seed = seed
        simulator = EventSimulator<Queue>(expectedPendingEvents: pending)
        stream = RandomStream(seed: seed, purpose: "bench.hold")
        remaining = events
    }

    /// One event of the model.
    @inline(__always) final func holdOnce() {
        remaining -= 1
        if remaining == 0 { simulator.stop() }
        simulator.schedule(after: SimDuration(seconds: exponential.next(stream, mean: 1)), hold.unsafelyUnwrapped)
    }

    /// Schedules the N pending events, then times the run.
    @inline(__always) final func runModel() -> Result {
        let id = simulator.register(self)
        hold = id
        for _ in 0..<pending { simulator.schedule(at: SimTime(seconds: exponential.next(stream, mean: 1)), id) }
        let start = DispatchTime.now().uptimeNanoseconds
        let fired = simulator.run()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(fired == UInt64(events) && simulator.pendingCount == pending)
        return Result(eventsPerSecond: Double(fired) / seconds, seconds: seconds)
    }

    func handle(_ payload: UInt64) { holdOnce() }
    func run() -> Result { runModel() }
}

/// The hold model on the simulator's queue.
final class HoldBenchmark: HoldModel<RadixHeap> {
    override func handle(_ payload: UInt64) { holdOnce() }
    override func run() -> Result { runModel() }
}

/// The hold model on `FIFOQueue`: events fire in the order they were scheduled, not in time order.
/// Not a simulation: the cost of everything in the kernel but the ordering (the draw, `schedule`,
/// the slots, the run loop and the handler call), i.e. the ceiling of any queue.
final class FIFOHoldBenchmark: HoldModel<FIFOQueue> {
    override func handle(_ payload: UInt64) { holdOnce() }
    override func run() -> Result { runModel() }
}

/// Gives entries back in insertion order (a ring buffer): the pending-event set with no ordering
/// cost, for `FIFOHoldBenchmark` only.
final class FIFOQueue: EventScheduler {
    private var ring: UnsafeMutablePointer<QueuedEvent>
    private let mask: Int
    private var head = 0, tail = 0

    init(reservingCapacity capacity: Int) {
        var size = 16
        while size < 2 * capacity { size *= 2 }
        ring = .allocate(capacity: size)
        mask = size - 1
    }

    deinit { ring.deallocate() }

    var count: Int { tail - head }
    var isEmpty: Bool { tail == head }
    @inline(__always) func insert(_ event: QueuedEvent) {
        precondition(tail - head <= mask, "FIFOQueue is full")
        ring[tail & mask] = event
        tail &+= 1
    }
    func peek() -> QueuedEvent? { head == tail ? nil : ring[head & mask] }
    @inline(__always) func removeNext() -> QueuedEvent? {
        guard head != tail else { return nil }
        let next = ring[head & mask]
        head &+= 1
        return next
    }
    @inline(__always) func removeNext(notAfter limit: Double) -> QueuedEvent? { removeNext() }
    func remove(_ event: QueuedEvent) -> Bool { false }
    func compact(keeping isLive: (QueuedEvent) -> Bool) {}
}
