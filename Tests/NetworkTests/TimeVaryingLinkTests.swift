import EventKernel
@testable import Network
import Numerics
import XCTest

/// Time-varying links: the trace's semantics (segments, loop, hold, offsets, groups), the shared
/// link's cap changes against brute force, and transfers whose capacity changes mid-flight.
final class TimeVaryingLinkTests: XCTestCase {
    static let source = LinkTrace.Source(files: ["test.csv"], list: false, format: "csv", column: "down_mbps")

    /// 8 Mbit/s for 10 s, 2 Mbit/s for 10 s, 4 Mbit/s for 10 s (length 30 s).
    static let steps = CapacityTrace(times: [0, 10, 20], rates: [8e6, 2e6, 4e6])

    /// Clients whose downlink follows `down` (uplink constant 5 Mbit/s), RTT 100 ms, no loss.
    func population(clients: Int, down: LinkTrace, up: LinkTrace? = nil, seed: UInt64 = 1) -> Population {
        let link = LinkDistributions(downlink: Distribution(.constant(down.traces[0].meanRate)), uplink: Distribution(.constant(5e6)),
                                     rtt: Distribution(.constant(0.1)), loss: Distribution(.constant(0)), downlinkTrace: down, uplinkTrace: up)
        return Population(PopulationSpec(clients: clients), network: NetworkProfile(name: "traced", summary: "", body: .link(link), sources: []), seed: seed)
    }

    // MARK: the trace

    func testLengthMeanAndMergedSegments() {
        let t = CapacityTrace(times: [5, 6, 7, 8], rates: [1, 1, 4, 2])
        XCTAssertEqual(t.length, 4)                       // the last sample holds as long as the interval before it
        XCTAssertEqual(t.meanRate, 2)                     // (1 + 1 + 4 + 2) / 4
        XCTAssertEqual(t.starts, [0, 2, 3])               // shifted to 0; equal neighbours merged
        XCTAssertEqual(t.rates, [1, 4, 2])
        XCTAssertEqual(t.segment(at: 1.999), 0)
        XCTAssertEqual(t.segment(at: 2), 1)
        XCTAssertEqual(t.segment(at: 3.5), 2)
        let single = CapacityTrace(times: [0], rates: [3e6])
        XCTAssertEqual(single.length, .infinity)
        XCTAssertEqual(single.meanRate, 3e6)
        XCTAssertEqual(CapacityTrace(times: [0, 1], rates: [0, 0]).rate(ofSegment: 0), CapacityTrace.minimumRate)
    }

    func testLoopHoldAndFixedOffsets() {
        let trace = Self.steps
        // Loop: t = 35 is 5 s into the second cycle.
        var c = CapacityTimeline(trace: trace, offset: 0, loop: true).cursor(at: 35)
        XCTAssertEqual(c.rate, 8e6)
        XCTAssertEqual(c.nextChange, 40)
        c.advance(); XCTAssertEqual(c.rate, 2e6); XCTAssertEqual(c.nextChange, 50)
        c.advance(); XCTAssertEqual(c.rate, 4e6); XCTAssertEqual(c.nextChange, 60)
        c.advance(); XCTAssertEqual(c.rate, 8e6); XCTAssertEqual(c.nextChange, 70)
        // Hold: past the last sample the last rate stays.
        let hold = CapacityTimeline(trace: trace, offset: 0, loop: false).cursor(at: 35)
        XCTAssertEqual(hold.rate, 4e6)
        XCTAssertEqual(hold.nextChange, .infinity)
        XCTAssertEqual(CapacityTimeline(trace: trace, offset: 0, loop: false).cursor(at: 12).nextChange, 20)
        // A fixed offset of 12 s: simulated 0 is trace 12 s (2 Mbit/s), which ends at simulated 8 s.
        let shifted = CapacityTimeline(trace: trace, offset: 12, loop: true).cursor(at: 0)
        XCTAssertEqual(shifted.rate, 2e6)
        XCTAssertEqual(shifted.nextChange, 8)
        // Exactly on a breakpoint: the new segment is in force.
        XCTAssertEqual(CapacityTimeline(trace: trace, offset: 0, loop: true).cursor(at: 30).rate, 8e6)
        XCTAssertEqual(CapacityTimeline(trace: trace, offset: 0, loop: true).cursor(at: 30).nextChange, 40)
        // Far into a long run, the breakpoints are still exact.
        let far = CapacityTimeline(trace: trace, offset: 0.1, loop: true).cursor(at: 3e6 + 9.9)
        XCTAssertEqual(far.rate, 2e6)
        XCTAssertEqual(far.nextChange, 3e6 + 19.9, accuracy: 1e-6)
    }

    func testRandomOffsetsArePerClientDeterministicAndSharedByGroups() {
        let perClient = LinkTrace(traces: [Self.steps], offset: .random, source: Self.source)
        let a = population(clients: 1000, down: perClient, up: perClient)
        let b = population(clients: 1000, down: perClient, up: perClient)
        let offsets = (0..<1000).map { a.capacityTimeline($0, downlink: true)!.offset }
        XCTAssertEqual(offsets, (0..<1000).map { b.capacityTimeline($0, downlink: true)!.offset }, "same seed, same offsets")
        XCTAssertEqual(offsets, (0..<1000).map { a.capacityTimeline($0, downlink: false)!.offset }, "down and up of a client aligned")
        XCTAssertTrue(offsets.allSatisfy { $0 >= 0 && $0 < 30 })
        XCTAssertEqual(Set(offsets).count, 1000)
        XCTAssertEqual(offsets.reduce(0, +) / 1000, 15, accuracy: 1.0, "uniform over the trace's length")
        // Appending clients changes no earlier client's offset (counter-based draws).
        let more = population(clients: 1500, down: perClient)
        XCTAssertEqual(offsets, (0..<1000).map { more.capacityTimeline($0, downlink: true)!.offset })
        // Another seed, other offsets.
        XCTAssertNotEqual(offsets, (0..<1000).map { population(clients: 1000, down: perClient, seed: 2).capacityTimeline($0, downlink: true)!.offset })
        // Groups: client i on timeline i mod 4; several files: timeline k on file k mod 2.
        let other = CapacityTrace(times: [0, 5], rates: [1e6, 3e6])
        let grouped = LinkTrace(traces: [Self.steps, other], offset: .random, groups: 4, source: Self.source)
        let g = population(clients: 12, down: grouped)
        for i in 0..<12 {
            XCTAssertEqual(g.capacityTimeline(i, downlink: true), g.capacityTimeline(i % 4, downlink: true))
            XCTAssertEqual(g.capacityTimeline(i, downlink: true)!.trace, i % 2 == 0 ? Self.steps : other)
        }
        XCTAssertEqual(Set((0..<4).map { g.capacityTimeline($0, downlink: true)!.offset }).count, 4)
        XCTAssertNil(g.capacityTimeline(0, downlink: false), "a constant uplink has no timeline")
        // The recorded rate is the client's trace mean.
        XCTAssertEqual(g.downlink[0], Self.steps.meanRate)
        XCTAssertEqual(g.downlink[1], other.meanRate)
        // A fixed offset is every timeline's.
        let fixed = population(clients: 3, down: LinkTrace(traces: [Self.steps], offset: .fixed(7), source: Self.source))
        XCTAssertEqual((0..<3).map { fixed.capacityTimeline($0, downlink: true)!.offset }, [7, 7, 7])
    }

    // MARK: the shared link

    /// Random flows whose caps change at random times: finish times against brute-force
    /// water-filling after every event, and the rates against water-filling after every change.
    func testCapChangesAgainstBruteForce() {
        var rng = SplitMix64(seed: 14)
        for trial in 0..<150 {
            let n = Int(rng.next() % 25) + 1
            let starts = (0..<n).map { _ in Double(rng.next() % 100) / 10 }
            let bits = (0..<n).map { _ in Double(rng.next() % 10_000 + 1) }
            var changes: [[(at: Double, cap: Double)]] = []
            for i in 0..<n {
                var list = [(at: starts[i], cap: Double(rng.next() % 500 + 50))]
                var t = starts[i]
                for _ in 0..<Int(rng.next() % 6) {
                    t += Double(rng.next() % 50 + 1) / 10
                    list.append((at: t, cap: Double(rng.next() % 500 + 20)))
                }
                changes.append(list)
            }
            let capacity = trial % 5 == 0 ? Double.infinity : Double(rng.next() % 3000 + 100)
            let sim = Simulator()
            let link = SharedLink(capacity: capacity, simulator: sim)
            var finish = [Double](repeating: .nan, count: n)
            var ids = [SharedLink.FlowID?](repeating: nil, count: n)
            func checkRates() {
                let pairs = link.ratesForTesting()
                let expected = MaxMinReference.waterFill(capacity: capacity, caps: pairs.map(\.cap))
                for (p, e) in zip(pairs, expected) where abs(p.rate - e) > 1e-6 * max(1, e) {
                    XCTFail("trial \(trial) t=\(sim.now.seconds): rate \(p.rate) for cap \(p.cap), water-filling gives \(e)")
                }
            }
            for i in 0..<n {
                sim.schedule(at: SimTime(seconds: starts[i])) {
                    ids[i] = link.start(bits: bits[i], cap: changes[i][0].cap) { finish[i] = sim.now.seconds }
                    checkRates()
                }
                for change in changes[i].dropFirst() {
                    sim.schedule(at: SimTime(seconds: change.at)) {
                        if let id = ids[i] { link.setCap(id, to: change.cap) }
                        checkRates()
                    }
                }
            }
            sim.run()
            let expected = MaxMinReference.bruteForce(capacity: capacity, starts: starts, bits: bits, capChanges: changes)
            for i in 0..<n { XCTAssertEqual(finish[i], expected[i], accuracy: 1e-7 * max(1, expected[i]), "trial \(trial) flow \(i)") }
            XCTAssertEqual(link.activeFlows, 0)
        }
    }

    /// The reference itself, by hand: one flow of 100 bits, cap 10 then 5 from t = 4: 40 bits by
    /// t = 4, 60 more at 5 bit/s: t = 16. With the old function's constant caps it agrees.
    func testCapChangeReferenceByHand() {
        XCTAssertEqual(MaxMinReference.bruteForce(capacity: .infinity, starts: [0], bits: [100], capChanges: [[(0, 10), (4, 5)]]), [16])
        XCTAssertEqual(MaxMinReference.bruteForce(capacity: 12, starts: [0, 0], bits: [60, 60], capChanges: [[(0, 10)], [(0, 10)]]),
                       MaxMinReference.bruteForce(capacity: 12, starts: [0, 0], bits: [60, 60], caps: [10, 10]))
    }

    // MARK: transfers

    /// Fluid, one client, 15 MB = 120 Mbit from t = 0 on the steps trace: 80 Mbit by t = 10 at
    /// 8 Mbit/s, 20 Mbit by t = 20 at 2 Mbit/s, the last 20 Mbit at 4 Mbit/s by t = 25; + RTT/2.
    /// Started at t = 15 with a 3 Mbit/s server link beside a competitor: by hand as well.
    func testFluidCapacityChangeMidTransferByHand() {
        let people = population(clients: 3, down: LinkTrace(traces: [Self.steps], offset: .fixed(0), source: Self.source))
        let sim = Simulator()
        let transfers = ClientTransfers(simulator: sim, population: people, model: .fluid, downlink: .infinity, uplink: .infinity, keepConnections: true)
        var end = 0.0
        transfers.start(client: 0, bytes: 15_000_000, direction: .download) { end = sim.now.seconds }
        sim.run()
        XCTAssertEqual(end, 25.05, accuracy: 1e-9)
        XCTAssertEqual(sim.pendingCount, 0)

        // Two clients from t = 15 on a 3 Mbit/s server egress: both capped at 2 Mbit/s by the trace,
        // so 1.5 Mbit/s each. Client 1 moves 4 Mbit, client 2 1.5 Mbit.
        let sim2 = Simulator()
        let shared = ClientTransfers(simulator: sim2, population: people, model: .fluid, downlink: 3e6, uplink: .infinity, keepConnections: true)
        var ends: [Int: Double] = [:]
        sim2.schedule(at: SimTime(seconds: 15)) {
            shared.start(client: 1, bytes: 500_000, direction: .download) { ends[1] = sim2.now.seconds }
            shared.start(client: 2, bytes: 187_500, direction: .download) { ends[2] = sim2.now.seconds }
        }
        sim2.run()
        // Client 2: 1.5 Mbit at 1.5 Mbit/s: t = 16 (+ 0.05). Client 1: 1.5 Mbit by 16, then alone at
        // its 2 Mbit/s cap for the other 2.5 Mbit: 16 + 1.25 = 17.25 (+ 0.05).
        XCTAssertEqual(ends[2] ?? -1, 16.05, accuracy: 1e-9)
        XCTAssertEqual(ends[1] ?? -1, 17.3, accuracy: 1e-9)
        // At a breakpoint, the other flow's share grows: client 1 from t = 18 with 6 Mbit: 2 Mbit/s to
        // t = 20 (4 Mbit), then 4 Mbit/s for the last 2 Mbit (capped by the 3 Mbit/s server: 3 Mbit/s): 20 + 2/3.
        let sim3 = Simulator()
        let third = ClientTransfers(simulator: sim3, population: people, model: .fluid, downlink: 3e6, uplink: .infinity, keepConnections: true)
        var e3 = 0.0
        sim3.schedule(at: SimTime(seconds: 18)) { third.start(client: 1, bytes: 750_000, direction: .download) { e3 = sim3.now.seconds } }
        sim3.run()
        XCTAssertEqual(e3, 20 + 2.0 / 3 + 0.05, accuracy: 1e-9)
    }

    /// A trace that never changes gives exactly the constant link's times, under both models.
    func testConstantTraceEqualsConstantLink() {
        let constant = CapacityTrace(times: [0, 1, 2], rates: [10e6, 10e6, 10e6])
        let traced = population(clients: 2, down: LinkTrace(traces: [constant], source: Self.source))
        let link = LinkDistributions(downlink: Distribution(.constant(10e6)), uplink: Distribution(.constant(5e6)),
                                     rtt: Distribution(.constant(0.1)), loss: Distribution(.constant(0.001)))
        let plain = Population(PopulationSpec(clients: 2), network: NetworkProfile(name: "c", summary: "", body: .link(link), sources: []), seed: 1)
        for model in TransferModel.allCases {
            var times: [[Double]] = []
            for var people in [traced, plain] {
                people.loss = [0.001, 0.001]
                let sim = Simulator()
                let t = ClientTransfers(simulator: sim, population: people, model: model, downlink: 15e6, uplink: .infinity, keepConnections: false)
                var ends = [0.0, 0.0]
                t.start(client: 0, bytes: 8_000_000, direction: .download) { ends[0] = sim.now.seconds }
                sim.schedule(at: SimTime(seconds: 0.7)) { t.start(client: 1, bytes: 3_000_000, direction: .download) { ends[1] = sim.now.seconds } }
                sim.run()
                times.append(ends)
            }
            XCTAssertEqual(times[0], times[1], "\(model)")
        }
    }

    /// tcp: the lead (set-up + slow start) is priced at the rate in force when the transfer starts;
    /// the steady flow's cap is the model's steady rate for the transfer at the rate in force, by hand
    /// from `TransferModel.timing`.
    func testTCPLeadAtStartRateThenSteadyCapFollowsTheTrace() {
        let people = population(clients: 1, down: LinkTrace(traces: [Self.steps], offset: .fixed(0), source: Self.source))
        let sim = Simulator()
        let transfers = ClientTransfers(simulator: sim, population: people, model: .tcp, downlink: .infinity, uplink: .infinity, keepConnections: false)
        let bytes = 12_000_000.0
        var end = 0.0
        transfers.start(client: 0, bytes: Int(bytes), direction: .download) { end = sim.now.seconds }
        sim.run()
        func link(_ r: Double) -> LinkConditions { LinkConditions(rateBitsPerSecond: r, rttSeconds: 0.1, loss: 0) }
        let t0 = TransferModel.tcp.timing(bytes: bytes, link: link(8e6))
        let lead = t0.setupSeconds + t0.slowStartSeconds
        var left = (bytes - t0.slowStartBytes) * 8
        var now = lead
        // Steady caps per segment: the model's steady rate at that link rate.
        func cap(_ r: Double) -> Double {
            let t = TransferModel.tcp.timing(bytes: bytes, link: link(r), connectionKept: true)
            return t.steadySeconds > 0 ? (bytes - t.slowStartBytes) * 8 / t.steadySeconds : r
        }
        let c8 = t0.steadySeconds > 0 ? left / t0.steadySeconds : 8e6
        for (until, c) in [(10.0, c8), (20.0, cap(2e6)), (30.0, cap(4e6))] where left > 0 {
            let done = min(left, (until - now) * c)
            if done >= left { now += left / c; left = 0 } else { left -= done; now = until }
        }
        XCTAssertEqual(left, 0)
        XCTAssertEqual(end, now + 0.05, accuracy: 1e-9)
        XCTAssertGreaterThan(end, 10.05)   // the transfer did cross a breakpoint
    }

    /// Only flows in progress have breakpoint events: a thousand traced clients, idle, none; one
    /// transfer, at most one breakpoint pending at a time.
    func testBreakpointEventsOnlyForFlowsInProgress() {
        let fast = CapacityTrace(times: (0..<100).map(Double.init), rates: (0..<100).map { 1e6 + Double($0 % 7) * 1e6 })
        let people = population(clients: 1000, down: LinkTrace(traces: [fast], source: Self.source))
        let sim = Simulator()
        let transfers = ClientTransfers(simulator: sim, population: people, model: .fluid, downlink: .infinity, uplink: .infinity, keepConnections: true)
        XCTAssertEqual(sim.pendingCount, 0)
        var done = false
        transfers.start(client: 17, bytes: 10_000_000, direction: .download) { done = true }
        var most = 0
        while sim.step() { most = max(most, sim.pendingCount) }
        XCTAssertTrue(done)
        XCTAssertLessThanOrEqual(most, 2)   // the flow's finish and its next breakpoint
        // A cancelled transfer leaves nothing pending.
        let cancelled = transfers.start(client: 3, bytes: 10_000_000, direction: .download) {}
        sim.run(until: SimTime(seconds: sim.now.seconds + 2.5))
        transfers.cancel(cancelled)
        XCTAssertEqual(sim.pendingCount, 0)
    }
}
