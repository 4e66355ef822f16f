import Foundation
import Numerics

let r1 = HoldBenchmark(pending: 1000, events: 5_000_000, seed: 1).run()
print("N=1000", r1.eventsPerSecond, r1.seconds)
let r2 = HoldBenchmark(pending: 1_000_000, events: 3_000_000, seed: 1).run()
print("N=1e6", r2.eventsPerSecond, r2.seconds)
do {
    let s = Numerics.RandomStream(seed: 1, purpose: "x")
    let t0 = DispatchTime.now().uptimeNanoseconds
    var acc = 0.0
    for _ in 0..<5_000_000 { acc += s.exponential(mean: 1) }
    print("exp ns/draw", Double(DispatchTime.now().uptimeNanoseconds - t0) / 5e6, acc)
}
