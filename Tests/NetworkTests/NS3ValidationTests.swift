import Foundation
@testable import Network
import XCTest

/// The tcp model's ns-3.37 presets against the committed ns-3 runs (docs/VALIDATION.md; `make
/// validate` prints the full comparison). Bounds a little above today's figures, so a change that
/// makes the model worse fails here.
final class NS3ValidationTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func comparison(_ file: String) throws -> NS3Comparison {
        let text = try String(contentsOf: root.appendingPathComponent("Validation/ns3/\(file)"), encoding: .utf8)
        return try XCTUnwrap(NS3Comparison(csv: text), file)
    }

    /// (file, congestion control, points, median bound overall, median bound per loss level)
    let cases: [(String, CongestionControl, Int, Double, Double)] = [
        ("results_runs.csv", .cubic, 200, 0.03, 0.08),
        ("results_NewReno_runs.csv", .reno, 200, 0.04, 0.16),
        ("results_Bbr_runs.csv", .bbr, 151, 0.04, 0.14),
    ]

    func testMediansAgainstNS3() throws {
        for (file, cc, points, overall, perLoss) in cases {
            let c = try comparison(file)
            XCTAssertEqual(c.congestionControl, cc, file)
            XCTAssertEqual(c.points.count, points, file)
            let rows = c.rows()
            XCTAssertLessThanOrEqual(NS3Comparison.summary(rows).median, overall, file)
            for level in NS3Comparison.byLoss(rows) {
                XCTAssertLessThanOrEqual(level.median, perLoss, "\(file) loss \(level.loss)")
            }
        }
    }

    /// The fixes of issue 14 each help against ns-3: without the frame overhead, limited transmit,
    /// ACK counting or the loss patterns, the medians are worse.
    func testTheFixesMatter() throws {
        let cubic = try comparison("results_runs.csv"), reno = try comparison("results_NewReno_runs.csv")
        var old = TCPParameters.ns3(.cubic)
        old.frameBytes = old.mssBytes
        XCTAssertGreaterThan(NS3Comparison.summary(cubic.rows(tcp: old)).median, NS3Comparison.summary(cubic.rows()).median)
        old = TCPParameters.ns3(.reno)
        old.ackCounting = .perSegment
        XCTAssertGreaterThan(NS3Comparison.summary(reno.rows(tcp: old)).median, 2 * NS3Comparison.summary(reno.rows()).median)
        old = TCPParameters.ns3(.cubic)
        old.lossPatterns = 1
        let lossy = { (c: NS3Comparison, t: TCPParameters?) in NS3Comparison.byLoss(c.rows(tcp: t)).filter { $0.loss > 0 }.map(\.median).reduce(0, +) }
        XCTAssertGreaterThan(lossy(cubic, old), lossy(cubic, nil))
    }

    func testExclusions() throws {
        let bbr = try comparison("results_Bbr_runs.csv")
        XCTAssertEqual(bbr.runs, 410)
        XCTAssertGreaterThan(bbr.storms + bbr.unfinished + bbr.collapses, 0)
        XCTAssertEqual(try comparison("results_runs.csv").collapses, 0, "collapses are a BBR rule")
        XCTAssertNil(NS3Comparison(csv: "rate_mbps,rtt_ms\n1,2\n"))
    }
}
