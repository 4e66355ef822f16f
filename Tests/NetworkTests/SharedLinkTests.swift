import EventKernel
@testable import Network
import Numerics
import XCTest

final class SharedLinkTests: XCTestCase {
    func testRatesAreMaxMinFairAgainstWaterFilling() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<200 {
            let n = Int(rng.next() % 40) + 1
            let caps = (0..<n).map { _ in Double(rng.next() % 1000 + 1) }
            let capacity = Double(rng.next() % 20_000 + 1)
            let sim = Simulator()
            let link = SharedLink(capacity: capacity, simulator: sim)
            let ids = caps.map { link.start(bits: 1e12, cap: $0) {} }
            let expected = MaxMinReference.waterFill(capacity: capacity, caps: caps)
            for (id, e) in zip(ids, expected) { XCTAssertEqual(link.rate(of: id)!, e, accuracy: 1e-9 * max(1, e)) }
            XCTAssertLessThanOrEqual(ids.reduce(0) { $0 + link.rate(of: $1)! }, capacity * (1 + 1e-12))
        }
    }

    func testFinishTimesAgainstBruteForce() {
        var rng = SplitMix64(seed: 2)
        for trial in 0..<100 {
            let n = Int(rng.next() % 30) + 1
            let starts = (0..<n).map { _ in Double(rng.next() % 100) / 10 }
            let bits = (0..<n).map { _ in Double(rng.next() % 10_000 + 1) }
            let caps = (0..<n).map { _ in Double(rng.next() % 500 + 50) }
            let capacity = trial % 5 == 0 ? Double.infinity : Double(rng.next() % 3000 + 100)
            let sim = Simulator()
            let link = SharedLink(capacity: capacity, simulator: sim)
            var finish = [Double](repeating: .nan, count: n)
            for i in 0..<n {
                sim.schedule(at: SimTime(seconds: starts[i])) {
                    link.start(bits: bits[i], cap: caps[i]) { finish[i] = sim.now.seconds }
                    let pairs = link.ratesForTesting()
                    let expected = MaxMinReference.waterFill(capacity: capacity, caps: pairs.map(\.cap))
                    for (p, e) in zip(pairs, expected) where abs(p.rate - e) > 1e-6 * max(1, e) {
                        XCTFail("trial \(trial) t=\(sim.now.seconds): rate \(p.rate) for cap \(p.cap), water-filling gives \(e)")
                    }
                }
            }
            sim.run()
            let expected = MaxMinReference.bruteForce(capacity: capacity, starts: starts, bits: bits, caps: caps)
            for i in 0..<n { XCTAssertEqual(finish[i], expected[i], accuracy: 1e-7 * max(1, expected[i]), "trial \(trial) flow \(i)") }
            XCTAssertEqual(link.activeFlows, 0)
        }
    }

    func testCancelFreesCapacityForOthers() {
        let sim = Simulator()
        let link = SharedLink(capacity: 100, simulator: sim)
        var done: [String: Double] = [:]
        let a = link.start(bits: 1000, cap: 100) { done["a"] = sim.now.seconds }
        link.start(bits: 1000, cap: 100) { done["b"] = sim.now.seconds }
        sim.schedule(at: SimTime(seconds: 5)) { XCTAssertEqual(link.cancel(a)!, 750, accuracy: 1e-9) }
        sim.run()
        XCTAssertNil(done["a"])
        // b: 250 bits by t = 5 at 50 bit/s, then 750 at 100 bit/s: t = 12.5.
        XCTAssertEqual(done["b"]!, 12.5, accuracy: 1e-9)
    }

    /// 10,000 concurrent flows stay cheap: starts, finishes and cancels are O(log n).
    func testTenThousandConcurrentFlows() {
        let sim = Simulator()
        let link = SharedLink(capacity: 1e9, simulator: sim)
        var rng = SplitMix64(seed: 3)
        var finished = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<10_000 {
                let cap = Double(rng.next() % 100_000_000 + 1_000_000)
                link.start(bits: Double(rng.next() % 100_000_000 + 1), cap: cap) { finished += 1 }
            }
            sim.run()
        }
        XCTAssertEqual(finished, 10_000)
        // Not a benchmark: a bound far above the measured time that an O(n²) implementation would miss.
        XCTAssertLessThan(elapsed, .seconds(20))
    }
}
