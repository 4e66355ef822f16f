import Foundation
@testable import Network
import Numerics
import XCTest

/// Issue 9: transfers that input can stretch without bound finish quickly (extrapolated) or are refused.
final class TransferBoundsTests: XCTestCase {
    /// `body` must return within `limit` seconds.
    func within<T>(_ limit: Double, _ what: String, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        let value = try body()
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, limit, "\(what) took \(seconds) s")
        return value
    }

    func testHugeTransfersReturnWithinASecond() {
        let cases: [(String, Double, LinkConditions)] = [
            ("1 TB at 1 bit/s", 1e12, LinkConditions(rateBitsPerSecond: 1, rttSeconds: 0.06, loss: 0)),
            ("1e30 B at 10 Mbit/s", 1e30, LinkConditions(rateBitsPerSecond: 1e7, rttSeconds: 0.06, loss: 0)),
            ("1e30 B at 10 Mbit/s, loss 1e-3", 1e30, LinkConditions(rateBitsPerSecond: 1e7, rttSeconds: 0.06, loss: 1e-3)),
            ("16 MB at loss 0.9999999", 16e6, LinkConditions(rateBitsPerSecond: 12e6, rttSeconds: 0.06, loss: 0.9999999)),
            ("1 TB at 1 Gbit/s, 1 ms", 1e12, LinkConditions(rateBitsPerSecond: 1e9, rttSeconds: 0.001, loss: 0)),
        ]
        for (what, bytes, link) in cases {
            let t = within(1, what) { TransferModel.tcp.timing(bytes: bytes, link: link) }
            XCTAssertTrue(t.totalSeconds.isFinite && t.totalSeconds > 0, what)
            // Never faster than the link itself.
            XCTAssertGreaterThanOrEqual(t.totalSeconds, bytes * 8 / link.rateBitsPerSecond, what)
        }
    }

    func testTooLongTransfersAreRefusedWithTheEstimate() {
        let lossy = LinkConditions(rateBitsPerSecond: 12e6, rttSeconds: 0.06, loss: 0.9999999)
        XCTAssertThrowsError(try within(1, "checked lossy") { try TransferModel.tcp.checkedTiming(bytes: 16e6, link: lossy, keyPath: "loss") }) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("years") && text.contains("0.9999999") && text.contains("horizon"), text)
            XCTAssertTrue(text.hasPrefix("loss:"), text)
        }
        // About (11,050 segments) × (2 RTT + 200 ms) / 1e-7 ≈ 3.5e10 s.
        let t = TransferModel.tcp.timing(bytes: 16e6, link: lossy).totalSeconds
        XCTAssertEqual(t, 11_050 * 0.32 / 1e-7, accuracy: 0.2 * t)
        let slow = LinkConditions(rateBitsPerSecond: 1, rttSeconds: 0.06, loss: 0)
        XCTAssertThrowsError(try TransferModel.tcp.checkedTiming(bytes: 1e12, link: slow))
        XCTAssertThrowsError(try TransferModel.fluid.checkedTiming(bytes: 1e30, link: link))
        // An ordinary transfer passes unchanged.
        let ordinary = try? TransferModel.tcp.checkedTiming(bytes: 16e6, link: link)
        XCTAssertEqual(ordinary, TransferModel.tcp.timing(bytes: 16e6, link: link))
        XCTAssertEqual(TransferModel.describe(seconds: 1e17), "3.2e9 years (1.0e17 s)")
    }

    let link = LinkConditions(rateBitsPerSecond: 10e6, rttSeconds: 0.08, loss: 0)

    /// The extrapolation of a long transfer agrees with simulating every round.
    func testExtrapolationAgreesWithEveryRound() {
        var reno = TCPParameters()
        reno.congestionControl = .reno
        let cases: [(String, Double, Double, Double, Double, TCPParameters)] = [
            // Loss sawtooth (CUBIC, Reno), link-limited overflow sawtooth (no random loss).
            ("cubic loss", 4e11, 1e11, 0.01, 1e-4, TCPParameters()),
            ("reno loss", 3e11, 1e11, 0.01, 1e-4, reno),
            ("cubic overflow", 3e11, 1e9, 0.001, 0, TCPParameters()),
            ("reno overflow", 3e11, 1e9, 0.001, 0, reno),
        ]
        for (what, bytes, rate, rtt, p, tcp) in cases {
            let exact = TransferModel.windowRounds(bytes: bytes, rate: rate, rtt: rtt, loss: p, tcp: tcp, exactRounds: .max, roundLimit: .max)
            let fast = within(0.5, what) { TransferModel.windowRounds(bytes: bytes, rate: rate, rtt: rtt, loss: p, tcp: tcp) }
            let e = exact.slowStartSeconds + exact.steadySeconds, f = fast.slowStartSeconds + fast.steadySeconds
            XCTAssertGreaterThan(e / rtt, Double(TransferModel.exactRounds), "\(what): the case must need extrapolation")
            // A repeated block of 1,024 random losses stands for the rest of a lossy transfer (its
            // gaps a stratified sample, their order the sequence's): within 1 %; overflow cycles
            // repeat exactly: 0.1 %.
            XCTAssertEqual(f, e, accuracy: (p > 0 ? 1e-2 : 1e-3) * e, what)
            XCTAssertEqual(fast.slowStartSeconds, exact.slowStartSeconds, what)
        }
    }

    func testNonsenseLinksGiveInfiniteTimesQuickly() {
        for (rate, rtt, p) in [(0.0, 0.06, 0.0), (.nan, 0.06, 0), (1e6, .nan, 0), (1e6, .infinity, 0), (1e6, 0.06, 1), (1e6, 0.06, .nan)] {
            let t = within(0.1, "rate \(rate) rtt \(rtt) loss \(p)") {
                TransferModel.windowRounds(bytes: 1e6, rate: rate, rtt: rtt, loss: p, tcp: TCPParameters())
            }
            XCTAssertEqual(t.steadySeconds, .infinity)
        }
    }
}
