import EventKernel
import Foundation
import Numerics

/// The classic hold model (Vaucher & Duval 1975; Jones 1986): N events pending; each fired event
/// schedules one more at now + Exp(1). It measures the pending-event set and the dispatch loop.
/// The run stops after `events` firings, with N events still pending.
///
/// The events are the kernel's closure-free form (this object is their `EventHandler`), and the
/// holds come from the ziggurat exponential (`ExponentialZiggurat`) on the stream's mt19937: the
/// same model as SimPy's (Exp(1) holds), not the same draws as `gsl_ran_exponential`.
final class HoldBenchmark: EventHandler {
    let pending: Int
    let events: Int
    let seed: UInt64
    private let simulator: Simulator
    private let stream: RandomStream
    private let exponential = ExponentialZiggurat()
    private var remaining: Int
    private var hold = EventHandlerID?.none

    struct Result {
        let eventsPerSecond: Double
        let seconds: Double
    }

    init(pending: Int, events: Int, seed: UInt64) {
        self.pending = pending
        self.events = events
        self.seed = seed
        simulator = Simulator(expectedPendingEvents: pending)
        stream = RandomStream(seed: seed, purpose: "bench.hold")
        remaining = events
    }

    func handle(_ payload: UInt64) {
        remaining -= 1
        if remaining == 0 { simulator.stop() }
        simulator.schedule(after: SimDuration(seconds: exponential.next(stream, mean: 1)), hold.unsafelyUnwrapped)
    }

    func run() -> Result {
        let id = simulator.register(self)
        hold = id
        for _ in 0..<pending { simulator.schedule(at: SimTime(seconds: exponential.next(stream, mean: 1)), id) }
        let start = DispatchTime.now().uptimeNanoseconds
        let fired = simulator.run()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(fired == UInt64(events) && simulator.pendingCount == pending)
        return Result(eventsPerSecond: Double(fired) / seconds, seconds: seconds)
    }
}
