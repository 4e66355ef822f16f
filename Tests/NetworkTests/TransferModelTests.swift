@testable import Network
import XCTest

final class TransferModelTests: XCTestCase {
    let link = LinkConditions(rateBitsPerSecond: 10e6, rttSeconds: 0.08, loss: 0)

    func testFluidIsHalfRTTPlusSerialisation() {
        let t = TransferModel.fluid.timing(bytes: 16e6, link: link)
        XCTAssertEqual(t.totalSeconds, 0.04 + 16e6 * 8 / 10e6, accuracy: 1e-12)
    }

    func testTCPPhasesByHand() {
        // BDP = 10 Mbit/s × 80 ms = 100,000 bytes; W0 = 14,480; rounds = ⌈log2(6.906)⌉ = 3;
        // slow start sends 14,480 × 7 = 101,360 bytes in 3 RTTs.
        let t = TransferModel.tcp.timing(bytes: 16e6, link: link)
        XCTAssertEqual(t.setupSeconds, 0.16, accuracy: 1e-12, "TCP handshake + TLS 1.3: 2 RTT")
        XCTAssertEqual(t.slowStartSeconds, 0.24, accuracy: 1e-12)
        XCTAssertEqual(t.slowStartBytes, 101_360, accuracy: 1e-9)
        XCTAssertEqual(t.steadySeconds, (16e6 - 101_360) * 8 / 10e6, accuracy: 1e-9)
        XCTAssertEqual(t.propagationSeconds, 0.04)
        XCTAssertEqual(t.limitedBy, "link")
        let kept = TransferModel.tcp.timing(bytes: 16e6, link: link, connectionKept: true)
        XCTAssertEqual(kept.setupSeconds, 0)
    }

    func testShortTransferEndsInSlowStart() {
        // 30,000 bytes: round 0 sends 14,480, round 1 the remaining 15,520 (< 28,960): m = 2.
        let t = TransferModel.tcp.timing(bytes: 30_000, link: link)
        XCTAssertEqual(t.slowStartSeconds, 0.08 + 15_520 * 8 / 10e6, accuracy: 1e-12)
        XCTAssertEqual(t.steadySeconds, 0)
        let tiny = TransferModel.tcp.timing(bytes: 1000, link: link)
        XCTAssertEqual(tiny.slowStartSeconds, 1000 * 8 / 10e6, accuracy: 1e-15)
    }

    func testPadhyeRate() {
        // p = 1%, RTT = 100 ms, MSS 1448 B, b = 1, T0 = 0.2 s:
        // denominator = 0.1·√(0.02/3) + 0.2·min(1, 3√(0.00375))·0.01·(1 + 0.0032).
        let p = 0.01, rtt = 0.1
        let expected = 1448.0 * 8 / (rtt * (2 * p / 3).squareRoot() + 0.2 * min(1, 3 * (3 * p / 8).squareRoot()) * p * (1 + 32 * p * p))
        XCTAssertEqual(TransferModel.lossLimitedRate(rttSeconds: rtt, loss: p, tcp: TCPParameters()), expected, accuracy: 1e-6)
        XCTAssertEqual(TransferModel.lossLimitedRate(rttSeconds: rtt, loss: 0, tcp: TCPParameters()), .infinity)
        let lossy = TransferModel.tcp.timing(bytes: 1e6, link: LinkConditions(rateBitsPerSecond: 100e6, rttSeconds: rtt, loss: p))
        XCTAssertEqual(lossy.limitedBy, "loss")
        XCTAssertEqual(lossy.rateBitsPerSecond, expected, accuracy: 1e-6)
    }

    func testShareCapsTheSteadyRate() {
        let t = TransferModel.tcp.timing(bytes: 1e7, link: link, shareBitsPerSecond: 2e6)
        XCTAssertEqual(t.rateBitsPerSecond, 2e6)
        XCTAssertEqual(t.limitedBy, "share")
    }

    func testMonotoneInBytesRateAndRTT() {
        var previous = 0.0
        for bytes in stride(from: 1000.0, through: 1e8, by: 997_000) {
            let t = TransferModel.tcp.timing(bytes: bytes, link: link).totalSeconds
            XCTAssertGreaterThan(t, previous)
            previous = t
        }
        XCTAssertGreaterThan(TransferModel.tcp.timing(bytes: 1e6, link: LinkConditions(rateBitsPerSecond: 1e6, rttSeconds: 0.08, loss: 0)).totalSeconds,
                             TransferModel.tcp.timing(bytes: 1e6, link: link).totalSeconds)
        XCTAssertGreaterThan(TransferModel.tcp.timing(bytes: 1e6, link: LinkConditions(rateBitsPerSecond: 10e6, rttSeconds: 0.6, loss: 0)).totalSeconds,
                             TransferModel.tcp.timing(bytes: 1e6, link: link).totalSeconds)
    }
}
