import EventKernel
import Federation
import Network
import Numerics
import XCTest

/// Participation windows and time zones inside a run: clients are selected only inside their
/// local window, and a participant still working when its window closes drops at that instant.
final class ScheduleFederationTests: XCTestCase {
    func windowConfig(zones: AvailabilityModel.TimeZones? = nil, rounds: Int = 40) throws -> FederationConfig {
        // 00:00–00:01 local: a round or two fit, the next straddles the close.
        let schedule = AvailabilityModel.Schedule(zones: zones, window: .init(intervals: [.init(start: 0, end: 60)], conditions: [1]))
        return try constantConfig(clients: 200, perRound: 10, availability: .schedule(schedule), arms: [arm("lora")], rounds: rounds)
    }

    func testSelectedOnlyInsideTheWindowAndDroppedAtItsClose() throws {
        let config = try windowConfig()
        let r = try FederationRun(config: config).run(arm: config.arms[0])
        let starts = Dictionary(uniqueKeysWithValues: r.rounds.map { ($0.round, $0.startSeconds) })
        XCTAssertFalse(r.clients.isEmpty)
        var dropped = 0
        for c in r.clients {
            let start = try XCTUnwrap(starts[Int(c.round)])
            let day = floor(start / 86_400)
            XCTAssertLessThan(start - day * 86_400, 60, "selected outside the window (round \(c.round))")
            XCTAssertLessThanOrEqual(c.endSeconds, day * 86_400 + 60 + 1e-9, "worked past the window's close")
            if c.outcome == .dropped {
                XCTAssertEqual(c.endSeconds, day * 86_400 + 60, accuracy: 1e-9)
                dropped += 1
            }
        }
        XCTAssertGreaterThan(dropped, 0, "some participant must be cut off by the close")
        // The next day's window is used again.
        XCTAssertTrue(r.rounds.contains { $0.startSeconds >= 86_400 && !$0.startSeconds.isNaN })
    }

    /// With a zone at −1 h every selection happens at 01:00–01:01 UTC; the same run twice is identical.
    func testZonesShiftTheWindowAndRunsRepeat() throws {
        let zones = AvailabilityModel.TimeZones(zones: [.init(offset: -3600, weight: 1)])
        let config = try windowConfig(zones: zones, rounds: 12)
        let a = try FederationRun(config: config).run(arm: config.arms[0])
        let b = try FederationRun(config: config).run(arm: config.arms[0])
        for round in a.rounds where round.selected > 0 {
            let tod = round.startSeconds.truncatingRemainder(dividingBy: 86_400)
            XCTAssertTrue(tod >= 3600 && tod < 3660, "round \(round.round) started at \(tod) s UTC")
        }
        XCTAssertEqual(a.rounds.map(\.startSeconds), b.rounds.map(\.startSeconds))
        XCTAssertEqual(a.clients.map(\.client), b.clients.map(\.client))
        XCTAssertEqual(a.clients.map(\.endSeconds), b.clients.map(\.endSeconds))
    }
}
