import Foundation
import Network
import Numerics
import XCTest

final class PopulationTests: XCTestCase {
    func spec(_ clients: Int) -> PopulationSpec {
        PopulationSpec(clients: clients, samples: .lognormal(median: 600, p90: 2000),
                       deviceSpeed: .lognormal(median: 30e12, p90: 120e12, dimension: .flopRate))
    }

    /// Every built-in profile validates, cites a source, and its marginal quantiles are ordered.
    func testBuiltInProfilesAreValidAndSourced() throws {
        XCTAssertEqual(Set(NetworkProfile.builtInNames), ["3g", "4g", "5g", "home-broadband", "fiber", "starlink", "geo-satellite", "wifi", "web-mix"])
        for p in NetworkProfile.builtIn {
            XCTAssertFalse(p.sources.isEmpty, p.name)
            for leaf in p.leaves { _ = try leaf.link.validated(at: p.name) }
            let m = p.marginals
            XCTAssertLessThan(m.uplink.quantile(0.5), m.downlink.quantile(0.5), "\(p.name): uplink slower than downlink")
        }
        // The figures the sources give.
        XCTAssertEqual(NetworkProfile.starlink.marginals.downlink.quantile(0.1), 22.81e6, accuracy: 1)
        XCTAssertEqual(NetworkProfile.starlink.marginals.rtt.quantile(0.9), 0.072, accuracy: 1e-9)
        XCTAssertEqual(NetworkProfile.fiveG.marginals.downlink.quantile(0.5), 166.13e6, accuracy: 1)
        XCTAssertEqual(NetworkProfile.homeBroadband.marginals.rtt.quantile(0.5), 0.014, accuracy: 1e-12)
    }

    /// A sampled web-mix population: leaf shares match the weights; each leaf's sampled medians
    /// match its distributions; per-client attributes come from the client's own leaf.
    func testSampledPopulationMatchesProfiles() {
        let n = 200_000
        let pop = Population(spec(n), network: .webMix, seed: 11)
        XCTAssertEqual(pop.count, n)
        let leaves = NetworkProfile.webMix.leaves
        for (k, leaf) in leaves.enumerated() {
            let members = (0..<n).filter { Int(pop.profile[$0]) == k }
            let share = Double(members.count) / Double(n)
            // Binomial sd ≤ 0.0011; 5 sd.
            XCTAssertEqual(share, leaf.weight, accuracy: 0.006, leaf.name)
            guard members.count > 2000 else { continue }
            let down = members.map { pop.downlink[$0] }.sorted()
            let median = down[down.count / 2]
            // The sampled median's CDF value is within 5 sd of 0.5 (sd = 0.5/√m).
            XCTAssertEqual(leaf.link.downlink.cdf(median), 0.5, accuracy: 5 * 0.5 / Double(members.count).squareRoot(), leaf.name)
            let rtt = members.map { pop.rtt[$0] }.sorted()
            XCTAssertEqual(leaf.link.rtt.cdf(rtt[rtt.count / 2]), 0.5, accuracy: 5 * 0.5 / Double(members.count).squareRoot(), leaf.name)
        }
        XCTAssertTrue(pop.loss.allSatisfy { $0 >= 0 && $0 <= Population.maximumLoss })
        XCTAssertTrue(pop.samples.allSatisfy { $0 >= 1 && $0 == $0.rounded() })
    }

    /// Same seed, same population; appending clients leaves the first ones unchanged.
    func testDeterministicAndAppendStable() {
        let a = Population(spec(1000), network: .webMix, seed: 5), b = Population(spec(1000), network: .webMix, seed: 5), c = Population(spec(1500), network: .webMix, seed: 5)
        XCTAssertEqual(a.downlink, b.downlink)
        XCTAssertEqual(a.profile, b.profile)
        XCTAssertEqual(Array(c.downlink.prefix(1000)), a.downlink)
        XCTAssertEqual(Array(c.speed.prefix(1000)), a.speed)
        XCTAssertEqual(Array(c.profile.prefix(1000)), a.profile)
        let d = Population(spec(1000), network: .webMix, seed: 6)
        XCTAssertNotEqual(a.downlink, d.downlink)
    }

    /// Session timelines: online fraction at a fixed time ≈ E[on]/(E[on]+E[off]); the diurnal
    /// cycle raises it near the peak and lowers it at the trough.
    func testSessionTimelineOnlineFraction() {
        let sessions = AvailabilityModel.Sessions(online: Distribution(.exponential(mean: 1800), dimension: .duration),
                                                  offline: Distribution(.exponential(mean: 5400), dimension: .duration))
        var timeline = SessionTimeline(sessions, clients: 20_000, seed: 3)
        let online = (0..<20_000).filter { timeline.isOnline($0, at: 50_000) }.count
        XCTAssertEqual(Double(online) / 20_000, 0.25, accuracy: 0.02)
        var diurnal = AvailabilityModel.Sessions(online: sessions.online, offline: sessions.offline,
                                                 diurnal: .init(amplitude: 0.6, period: 86_400, peak: 72_000))
        diurnal.dropoutPerRound = 0
        var t2 = SessionTimeline(diurnal, clients: 20_000, seed: 3)
        let atPeak = (0..<20_000).filter { t2.isOnline($0, at: 86_400 + 72_000) }.count
        let atTrough = (0..<20_000).filter { t2.isOnline($0, at: 2 * 86_400 + 28_800) }.count
        XCTAssertGreaterThan(Double(atPeak) / Double(atTrough), 2, "peak \(atPeak) vs trough \(atTrough)")
    }
}
