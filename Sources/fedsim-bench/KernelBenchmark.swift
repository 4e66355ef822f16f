import Foundation

/// The event kernel on the hold model, against SimPy on the same model in the same invocation.
enum KernelBenchmark: Benchmark {
    static let name = "kernel"
    static let summary = "hold model, N = 1,000 and 1,000,000 pending events, vs SimPy"

    static func run(_ context: BenchContext) -> [BenchRow] {
        var rows: [BenchRow] = []
        let cases: [(pending: Int, events: Int, goal: Double)] = context.quick
            ? [(1000, 1_000_000, 50), (1_000_000, 1_000_000, 30)]
            : [(1000, 10_000_000, 50), (1_000_000, 5_000_000, 30)]
        for c in cases {
            // Best of three runs on both sides.
            var best = 0.0
            for trial in 0..<3 {
                let result = HoldBenchmark(pending: c.pending, events: c.events, seed: UInt64(trial + 1)).run()
                best = max(best, result.eventsPerSecond)
            }
            let peerEvents = c.pending >= 1_000_000 ? 1_000_000 : min(c.events, 2_000_000)
            let peer = context.runPeer("simpy_hold.py", [String(c.pending), String(peerEvents), "1",
                                                         c.pending >= 1_000_000 ? "callback" : "both"])
            let callback = (peer?["callback"] as? [String: Any])?["events_per_second"] as? Double
            let process = (peer?["process"] as? [String: Any])?["events_per_second"] as? Double
            let label = "hold N=\(c.pending) events/s"
            // The goal is judged against SimPy's fastest idiom (bare callbacks).
            rows.append(BenchRow(benchmark: name, metric: label, ours: best, peer: callback, peerName: "SimPy callbacks", goal: c.goal))
            if let process {
                rows.append(BenchRow(benchmark: name, metric: label, ours: best, peer: process, peerName: "SimPy processes", goal: nil))
            }
            if c.pending == 1000 {
                // The ceiling: the same kernel and handler on a queue that does no ordering.
                var ceiling = 0.0
                for trial in 0..<3 {
                    ceiling = max(ceiling, FIFOHoldBenchmark(pending: c.pending, events: c.events, seed: UInt64(trial + 1)).run().eventsPerSecond)
                }
                rows.append(BenchRow(benchmark: name, metric: "hold N=1000 without ordering (FIFO queue: the ceiling) events/s", ours: ceiling,
                                     peer: callback, peerName: "SimPy callbacks", goal: nil))
                if let callback {
                    // What the goal leaves for the ordering, per event: the goal's time per event
                    // minus the rest of the kernel's.
                    let budget = (1 / (c.goal * callback) - 1 / ceiling) * 1e9
                    let spent = (1 / best - 1 / ceiling) * 1e9
                    FileHandle.standardError.write(Data(String(format: "bench: kernel: at N=1000 the queue costs %.1f ns per event; the %.0f× goal leaves it %.1f ns\n",
                                                               spent, c.goal, budget).utf8))
                }
            }
        }
        return rows
    }
}
