import EventKernel
import Foundation
import Numerics

/// The classic hold model (Vaucher & Duval 1975; Jones 1986): N events pending; each fired event
/// schedules one more at now + Exp(1). It measures the pending-event set and the dispatch loop.
/// The run stops after `events` firings, with N events still pending.
final class HoldBenchmark {
    let pending: Int
    let events: Int
    let seed: UInt64
    private let simulator: Simulator
    private let stream: RandomStream
    private var remaining: Int
    private var action: Simulator.Action = {}

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
        // Unmanaged + a guaranteed reference: calling the action retains nothing (an
        // `unowned(unsafe)` capture is still retained and released around every call).
        let me = Unmanaged.passUnretained(self)
        action = { me._withUnsafeGuaranteedRef { $0.hold() } }
    }

    private func hold() {
        remaining -= 1
        if remaining == 0 { simulator.stop() }
        simulator.schedule(after: SimDuration(seconds: stream.exponential(mean: 1)), action)
    }

    func run() -> Result {
        for _ in 0..<pending { simulator.schedule(at: SimTime(seconds: stream.exponential(mean: 1)), action) }
        let start = DispatchTime.now().uptimeNanoseconds
        let fired = simulator.run()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        precondition(fired == UInt64(events) && simulator.pendingCount == pending)
        return Result(eventsPerSecond: Double(fired) / seconds, seconds: seconds)
    }
}
