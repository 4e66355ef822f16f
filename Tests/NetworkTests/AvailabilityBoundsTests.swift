import Foundation
@testable import Network
import Numerics
import XCTest

/// Issue 9: session timelines that input can stretch are bounded, and refused up front.
final class AvailabilityBoundsTests: XCTestCase {
    let tiny = AvailabilityModel.Sessions(online: Distribution(.constant(1e-3), dimension: .duration),
                                          offline: Distribution(.constant(1e-3), dimension: .duration))
    let year = 365.25 * 86_400

    /// 1 ms sessions over a simulated year: 3e10 toggles today; the timeline stops at its draw limit.
    func testTinySessionsOverAYearStopAtTheDrawLimit() {
        var timeline = SessionTimeline(tiny, clients: 2, seed: 1, drawLimit: 2_000_000)
        let start = Date()
        _ = timeline.isOnline(0, at: year)
        _ = timeline.sessionEnd(1, after: year)
        // Seconds, not the hours 3e10 toggles would take (generous: debug builds on a loaded machine).
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        XCTAssertTrue(timeline.exhausted)
        XCTAssertEqual(timeline.draws, 2_000_000)
    }

    func testOrdinaryTimelinesAreUnchangedByTheLimit() {
        let sessions = AvailabilityModel.Sessions(online: Distribution(.exponential(mean: 1800), dimension: .duration),
                                                  offline: Distribution(.exponential(mean: 3600), dimension: .duration))
        var limited = SessionTimeline(sessions, clients: 100, seed: 3, drawLimit: 1_000_000)
        var plain = SessionTimeline(sessions, clients: 100, seed: 3)
        for step in 1...200 {
            let t = Double(step) * 977
            for i in 0..<100 {
                XCTAssertEqual(limited.isOnline(i, at: t), plain.isOnline(i, at: t))
                XCTAssertEqual(limited.sessionEnd(i, after: t), plain.sessionEnd(i, after: t))
            }
        }
        XCTAssertFalse(limited.exhausted)
        XCTAssertGreaterThan(limited.draws, 100 * 200 * 977 / 2700)
    }

    func testCheckWorkRefusesWithTheEstimate() throws {
        XCTAssertEqual(tiny.expectedDraws(horizon: year), 1 + year / 1e-3, accuracy: 1)
        XCTAssertThrowsError(try tiny.checkWork(clients: 1000, horizon: year)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("availability:") && text.contains("3.2e13") && text.contains("1000 clients"), text)
        }
        let ordinary = AvailabilityModel.Sessions(online: Distribution(.exponential(mean: 1800), dimension: .duration),
                                                  offline: Distribution(.exponential(mean: 3600), dimension: .duration))
        XCTAssertNoThrow(try ordinary.checkWork(clients: 10_000, horizon: year))
    }
}
