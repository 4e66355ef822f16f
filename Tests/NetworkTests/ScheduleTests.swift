import Foundation
import Network
import Numerics
import XCTest

/// Time zones, participation windows, FedScale behaviour traces and the availability samples.
final class ScheduleTests: XCTestCase {
    let hour = 3600.0

    /// Zones are drawn in proportion to their weights, the same for a client whatever the
    /// population's size (counter-based), and change with the seed.
    func testZoneDrawsFollowWeightsAndAreCounterBased() {
        let zones = AvailabilityModel.TimeZones(zones: [.init(offset: -5 * hour, weight: 0.3), .init(offset: 1 * hour, weight: 0.7)])
        let a = zones.offsets(clients: 100_000, seed: 4)
        XCTAssertEqual(Double(a.filter { $0 == -5 * hour }.count) / 1e5, 0.3, accuracy: 0.01)
        XCTAssertEqual(Array(a.prefix(1000)), zones.offsets(clients: 1000, seed: 4))
        XCTAssertNotEqual(Array(a.prefix(1000)), zones.offsets(clients: 1000, seed: 5))
        let world = AvailabilityModel.TimeZones.presets["world-population"]!
        let total = world.zones.reduce(0) { $0 + $1.weight }
        XCTAssertEqual(total, 7_531, accuracy: 1, "millions of people")
    }

    /// A client's diurnal phase follows its local time: a timeline whose clients all sit at
    /// offset o behaves as one at offset 0 whose peak is o earlier (same draws, same toggles).
    func testZoneShiftsTheDiurnalPhaseExactly() {
        let online = Distribution(.exponential(mean: 1800), dimension: .duration), offline = Distribution(.exponential(mean: 5400), dimension: .duration)
        let shifted = AvailabilityModel.Sessions(online: online, offline: offline, diurnal: .init(amplitude: 0.6, period: 86_400, peak: 72_000))
        let reference = AvailabilityModel.Sessions(online: online, offline: offline, diurnal: .init(amplitude: 0.6, period: 86_400, peak: 72_000 + 5 * hour))
        let n = 300
        var zoned = SessionTimeline(shifted, clients: n, seed: 9, offsets: Array(repeating: -5 * hour, count: n))
        var plain = SessionTimeline(reference, clients: n, seed: 9)
        var unzoned = SessionTimeline(shifted, clients: n, seed: 9)
        var differs = false
        for i in 0..<n {
            var t = 0.0
            for _ in 0..<40 {
                let a = zoned.sessionEnd(i, after: t), b = plain.sessionEnd(i, after: t)
                XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, b))
                if abs(a - unzoned.sessionEnd(i, after: t)) > 1 { differs = true }
                t = max(a, b) + 1
                _ = zoned.isOnline(i, at: t); _ = plain.isOnline(i, at: t); _ = unzoned.isOnline(i, at: t)
            }
        }
        XCTAssertTrue(differs, "the offset must change the timeline")
        // Offsets of zero are exactly the timeline without zones.
        var zero = SessionTimeline(shifted, clients: n, seed: 9, offsets: Array(repeating: 0, count: n))
        var none = SessionTimeline(shifted, clients: n, seed: 9)
        for i in 0..<n { XCTAssertEqual(zero.sessionEnd(i, after: 50_000), none.sessionEnd(i, after: 50_000)) }
    }

    func schedule(zones: AvailabilityModel.TimeZones? = nil, local: [(Double, Double)], conditions: [Double] = [1],
                  online: AvailabilityModel.Schedule.Online = .always) -> AvailabilityModel.Schedule {
        .init(online: online, zones: zones,
              window: .init(intervals: local.map { .init(start: $0.0 * hour, end: $0.1 * hour) }, conditions: conditions))
    }

    /// Selectable only inside the local window; a participant's availability ends exactly at the
    /// window's close (local 06:00 is 11:00 UTC at offset −5 h).
    func testWindowSelectsOnlyInsideAndClosesExactly() {
        let zones = AvailabilityModel.TimeZones(zones: [.init(offset: -5 * hour, weight: 1)])
        var t0 = AvailabilityTimeline(schedule(zones: zones, local: [(0, 6)]), clients: 50, seed: 1)
        for k in 0..<(24 * 12 * 3) {
            let t = Double(k) * 300 + 7
            let utcHour = (t.truncatingRemainder(dividingBy: 86_400)) / hour
            let inside = utcHour >= 5 && utcHour < 11
            for i in 0..<50 {
                XCTAssertEqual(t0.isSelectable(i, at: t), inside, "t = \(t)")
                if inside {
                    let day = floor(t / 86_400)
                    XCTAssertEqual(t0.availableUntil(i, after: t), day * 86_400 + 11 * hour)
                } else {
                    XCTAssertEqual(t0.availableUntil(i, after: t), t)
                }
            }
        }
        // Across midnight: 22:00–06:00 at offset 0 is one stretch.
        var night = AvailabilityTimeline(schedule(local: [(22, 6)]), clients: 1, seed: 1)
        XCTAssertTrue(night.isSelectable(0, at: 23 * hour))
        XCTAssertEqual(night.availableUntil(0, after: 23 * hour), 30 * hour)
        XCTAssertFalse(night.isSelectable(0, at: 12 * hour))
    }

    /// Conditions: P(eligible at local hour h) = p(h); one draw per client and night, so a device
    /// eligible at 02:00 under a profile rising into the night is eligible through to its end.
    func testConditionsPerHourProfile() {
        var p = [Double](repeating: 0, count: 24)
        for h in 0..<6 { p[h] = 0.8 }
        p[22] = 0.4; p[23] = 0.6
        let n = 20_000
        var t = AvailabilityTimeline(schedule(local: [], conditions: p), clients: n, seed: 2)
        for h in [1, 22, 23, 12] {
            let at = 86_400 * 3 + Double(h) * hour + 10
            let share = Double((0..<n).filter { t.isEligible($0, at: at) }.count) / Double(n)
            XCTAssertEqual(share, p[h], accuracy: 0.015, "hour \(h)")
        }
        // A device eligible at 23:00 stays eligible until 06:00 (the same night's draw, p rising).
        let at = 86_400 * 3 + 23 * hour + 10
        for i in 0..<200 where t.isEligible(i, at: at) {
            XCTAssertEqual(t.availableUntil(i, after: at), 86_400 * 4 + 6 * hour)
        }
        // Constant fraction: ~ that share of clients per night, the same in every arm (a fresh timeline).
        let q = AvailabilityTimeline(schedule(local: [(0, 6)], conditions: [0.3]), clients: n, seed: 2)
        let r = AvailabilityTimeline(schedule(local: [(0, 6)], conditions: [0.3]), clients: n, seed: 2)
        let night = 86_400 * 5 + 2 * hour
        XCTAssertEqual((0..<n).map { q.isEligible($0, at: night) }, (0..<n).map { r.isEligible($0, at: night) })
        XCTAssertEqual(Double((0..<n).filter { q.isEligible($0, at: night) }.count) / Double(n), 0.3, accuracy: 0.015)
    }

    /// The next opening over every zone (an empty round waits for it): window starts and the hours
    /// at which the conditions' probability rises from 0.
    func testNextWindowOpening() {
        let zones = AvailabilityModel.TimeZones(zones: [.init(offset: -5 * hour, weight: 1), .init(offset: 1 * hour, weight: 1)])
        let t = AvailabilityTimeline(schedule(zones: zones, local: [(0, 6)]), clients: 10, seed: 1)
        XCTAssertEqual(t.nextWindowOpening(after: 12 * hour), 23 * hour)
        var p = [Double](repeating: 0, count: 24)
        p[2] = 0.5
        let profile = AvailabilityTimeline(schedule(local: [], conditions: p), clients: 10, seed: 1)
        XCTAssertEqual(profile.nextWindowOpening(after: 3 * hour), 26 * hour)
        XCTAssertNil(AvailabilityTimeline(schedule(local: [], conditions: [0.5]), clients: 1, seed: 1).nextWindowOpening(after: 0))
    }

    /// FedScale's behaviour: available in [active, inactive) modulo finish_time; the end of an
    /// interval is where it stops; an interval reaching the period's end continues at 0.
    func testBehaviourTrace() {
        let trace = BehaviourTrace(entries: [
            .init(id: "1", starts: [0, 7200], ends: [3600, 10800], period: 86_400),
            .init(id: "2", starts: [0, 80_000], ends: [1000, 86_400], period: 86_400),
        ], source: "t")
        XCTAssertTrue(trace.isActive(0, at: 100))
        XCTAssertFalse(trace.isActive(0, at: 5000))
        XCTAssertEqual(trace.activeUntil(0, after: 7300), 10800)
        XCTAssertEqual(trace.activeUntil(0, after: 86_400 + 7300), 86_400 + 10800)
        XCTAssertTrue(trace.isActive(2, at: 86_400 + 50), "client 2 follows entry 0 (i mod entries)")
        XCTAssertEqual(trace.activeUntil(1, after: 85_000), 86_400 + 1000)
    }

    /// The availability samples: deterministic, the fractions in range, nil without a timeline,
    /// and sampling does not depend on whether the run's own timeline was advanced.
    func testAvailabilityOverTime() {
        let model = AvailabilityModel.schedule(schedule(zones: AvailabilityModel.TimeZones.presets["world-population"], local: [(0, 6)], conditions: [0.5]))
        let a = AvailabilityOverTime.sample(model, clients: 5000, seed: 3, horizon: 3 * 86_400)!
        XCTAssertEqual(a, AvailabilityOverTime.sample(model, clients: 5000, seed: 3, horizon: 3 * 86_400)!)
        XCTAssertEqual(a.count, AvailabilityOverTime.points)
        XCTAssertTrue(a.allSatisfy { (0...1).contains($0.selectable) && $0.online == 1 })
        let mean = a.map(\.selectable).reduce(0, +) / Double(a.count)
        XCTAssertEqual(mean, 0.5 * 6 / 24, accuracy: 0.03)
        XCTAssertNil(AvailabilityOverTime.sample(.dropout(perRound: 0.1), clients: 10, seed: 1, horizon: 100))
        let big = AvailabilityOverTime.sample(model, clients: 100_000, seed: 3, horizon: 3600)!
        XCTAssertEqual(big.first?.clients, 20_000)
    }
}
