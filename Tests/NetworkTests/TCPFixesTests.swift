import Foundation
@testable import Network
import XCTest

/// Issue 14, item 1: frames, limited transmit, ACK counting, loss patterns and the settings that
/// choose them.
final class TCPFixesTests: XCTestCase {
    func testPayloadMovesInFrames() {
        // No loss, a window far above the BDP: the steady rate is the link rate × MSS / frame.
        var tcp = TCPParameters()
        tcp.frameBytes = 1502
        let link = LinkConditions(rateBitsPerSecond: 20e6, rttSeconds: 0.01, loss: 0)
        let t = TransferModel.tcp.timing(bytes: 2e8, link: link, tcp: tcp)
        XCTAssertEqual(t.rateBitsPerSecond, 20e6 * 1448 / 1502, accuracy: 0.005 * 20e6)
        tcp.frameBytes = tcp.mssBytes
        XCTAssertEqual(TransferModel.tcp.timing(bytes: 2e8, link: link, tcp: tcp).rateBitsPerSecond, 20e6, accuracy: 0.005 * 20e6)
    }

    func testVanDerCorputAndGeometricGaps() {
        XCTAssertEqual(LossSchedule.vanDerCorput(1), 0.5)
        XCTAssertEqual(LossSchedule.vanDerCorput(2), 0.25)
        XCTAssertEqual(LossSchedule.vanDerCorput(3), 0.75)
        XCTAssertEqual(LossSchedule.vanDerCorput(6), 0.375)
        // 4,096 losses: the mean gap is 1/p (to the quantiles' discretisation), and a short gap is
        // as likely as the geometric distribution says.
        for p in [1e-2, 1e-3, 0.2] {
            var schedule = LossSchedule(loss: p, spacing: .geometric)
            var segments = 0.0, losses = 0.0
            while losses < 4096 {
                segments += 1
                losses += schedule.draw(segments: 1).count
            }
            XCTAssertEqual(segments / losses, 1 / p, accuracy: 0.02 / p, "p \(p)")
        }
        // Even spacing: one loss every 1/p segments exactly.
        var even = LossSchedule(loss: 0.01, spacing: .even)
        XCTAssertEqual(even.draw(segments: 99).count, 0)
        let hit = even.draw(segments: 2)
        XCTAssertEqual(hit.count, 1)
        XCTAssertEqual(hit.firstUnprotected, 0, accuracy: 1e-9, "the 100th segment is the first of this draw")
    }

    func testFirstLossPositionInADraw() {
        var schedule = LossSchedule(loss: 0.01, spacing: .geometric)
        // The first gap is the geometric median, ⌈ln 0.5 / ln 0.99⌉ = 69: segments 0…67 survive;
        // the second, ⌈ln 0.75 / ln 0.99⌉ = 29, ends at segment 97.
        let draw = schedule.draw(segments: 100)
        XCTAssertEqual(draw.count, 2)
        XCTAssertEqual(draw.firstUnprotected, 68)
    }

    func testLimitedTransmitAvoidsTheTimeout() {
        // A window of 2 segments losing one: with limited transmit the survivor's duplicate ACK
        // releases new segments and fast retransmit repairs the loss; without it, a timeout.
        var tcp = TCPParameters()
        tcp.initialWindowSegments = 2
        tcp.lossSpacing = .even
        tcp.hyStart = false
        let link = LinkConditions(rateBitsPerSecond: 100e6, rttSeconds: 0.05, loss: 0.5)
        let with = TransferModel.windowRounds(bytes: 20 * 1448, rate: link.rateBitsPerSecond, rtt: 0.05, loss: 0.5, tcp: tcp)
        tcp.limitedTransmit = false
        let without = TransferModel.windowRounds(bytes: 20 * 1448, rate: link.rateBitsPerSecond, rtt: 0.05, loss: 0.5, tcp: tcp)
        let a = with.slowStartSeconds + with.steadySeconds, b = without.slowStartSeconds + without.steadySeconds
        XCTAssertGreaterThan(b - a, 5 * (0.05 + tcp.minRTOSeconds), "several timeouts saved: \(a) s vs \(b) s")
    }

    func testRenoCountingACKsGrowsHalfAsFast() {
        // Per-ACK counting with an ACK every 2 segments adds 1/2 segment per round trip: the
        // loss-limited rate falls by √2 (Padhye et al.'s b = 2).
        var tcp = TCPParameters()
        tcp.congestionControl = .reno
        tcp.lossSpacing = .even
        let link = LinkConditions(rateBitsPerSecond: 100e9, rttSeconds: 0.1, loss: 1e-3)
        let perSegment = TransferModel.tcp.timing(bytes: 1000 / 1e-3 * 1448, link: link, tcp: tcp).rateBitsPerSecond
        tcp.ackCounting = .perACK
        let perACK = TransferModel.tcp.timing(bytes: 1000 / 1e-3 * 1448, link: link, tcp: tcp).rateBitsPerSecond
        XCTAssertEqual(perSegment / perACK, 2.0.squareRoot(), accuracy: 0.06)
        // And slow start grows by 1.5 per round trip: 10, 15, 22.5 segments in three round trips.
        let short = TransferModel.windowRounds(bytes: 47.5 * 1448, rate: 100e9, rtt: 0.1, loss: 0, tcp: tcp)
        XCTAssertEqual(short.slowStartSeconds, 0.2, accuracy: 1e-3)
    }

    func testRandomLossesGiveReno() {
        // Geometric (random) losses: Reno's rate lies between Mathis' periodic-loss constant √1.5
        // and the 1.31 measured under random losses (Mathis et al. 1997), within the model's 5%.
        var tcp = TCPParameters()
        tcp.congestionControl = .reno
        tcp.frameBytes = tcp.mssBytes
        for (p, rtt) in [(1e-3, 0.1), (1e-4, 0.05)] {
            let link = LinkConditions(rateBitsPerSecond: 100e9, rttSeconds: rtt, loss: p)
            let rate = TransferModel.tcp.timing(bytes: 1000 / p * 1448, link: link, tcp: tcp).rateBitsPerSecond
            let c = rate * rtt * p.squareRoot() / (1448 * 8)
            XCTAssertGreaterThan(c, 1.5.squareRoot() * 0.97, "p \(p)")
            XCTAssertLessThan(c, 1.31 * 1.05, "p \(p)")
        }
    }

    func testLossPatternsAreAMedianAndDeterministic() {
        var tcp = TCPParameters()
        let args = (bytes: 2e6, rate: 100e6, rtt: 0.04, loss: 0.01)
        let five = TransferModel.windowRounds(bytes: args.bytes, rate: args.rate, rtt: args.rtt, loss: args.loss, tcp: tcp)
        XCTAssertEqual(five.steadySeconds, TransferModel.windowRounds(bytes: args.bytes, rate: args.rate, rtt: args.rtt, loss: args.loss, tcp: tcp).steadySeconds)
        let paths = (0..<5).map {
            TransferModel.windowPath(bytes: args.bytes, rate: args.rate, rtt: args.rtt, loss: args.loss, tcp: tcp,
                                     exactRounds: TransferModel.exactRounds, roundLimit: TransferModel.roundLimit, rotation: Double($0) / 5).timing
        }
        let totals = paths.map { $0.slowStartSeconds + $0.steadySeconds }.sorted()
        XCTAssertEqual(five.slowStartSeconds + five.steadySeconds, totals[2], accuracy: 1e-12)
        XCTAssertLessThan(totals[0], totals[4], "the patterns differ")
        tcp.lossPatterns = 1
        let one = TransferModel.windowRounds(bytes: args.bytes, rate: args.rate, rtt: args.rtt, loss: args.loss, tcp: tcp)
        XCTAssertEqual(one.steadySeconds, paths[0].steadySeconds)
    }

    func testDelayedAckWaitsForASecondSegment() {
        // One segment in flight: the receiver ACKs it when its delayed-ACK timer fires.
        var tcp = TCPParameters()
        tcp.initialWindowSegments = 1
        tcp.frameBytes = tcp.mssBytes
        let t = TransferModel.windowRounds(bytes: 2 * 1448, rate: 1e9, rtt: 0.1, loss: 0, tcp: tcp)
        XCTAssertEqual(t.slowStartSeconds, 0.1 + 0.04 + 1448 * 8 / 1e9, accuracy: 1e-9)
        tcp.delayedAckSeconds = 0
        XCTAssertEqual(TransferModel.windowRounds(bytes: 2 * 1448, rate: 1e9, rtt: 0.1, loss: 0, tcp: tcp).slowStartSeconds, 0.1 + 1448 * 8 / 1e9, accuracy: 1e-9)
    }

    func testSettingsFromText() throws {
        XCTAssertEqual(try TCPParameters(settings: []), TCPParameters())
        XCTAssertEqual(try TCPParameters(settings: [(.stack, "ns-3.37")]), TCPParameters.ns3(.cubic))
        XCTAssertEqual(try TCPParameters(settings: [(.stack, "ns-3.37"), (.congestionControl, "reno")]), TCPParameters.ns3(.reno))
        let t = try TCPParameters(settings: [(.congestionControl, "reno"), (.tls, "false"), (.tcpFriendly, "off"), (.minRTO, "1s"),
                                             (.delayedAck, "200ms"), (.mss, "1400"), (.initialWindow, "4")])
        XCTAssertEqual(t.congestionControl, .reno)
        XCTAssertEqual(t.tlsRoundTrips, 0)
        XCTAssertFalse(t.renoFriendly)
        XCTAssertEqual(t.minRTOSeconds, 1)
        XCTAssertEqual(t.delayedAckSeconds, 0.2, accuracy: 1e-15)
        XCTAssertEqual(t.frameBytes, 1400 + 66, "a new MSS keeps the stack's headers")
        XCTAssertEqual(t.initialWindowSegments, 4)
        for (setting, text) in [(TCPSetting.congestionControl, "vegas"), (.stack, "windows"), (.tls, "maybe"), (.minRTO, "-1s"), (.minRTO, "fast"),
                                (.frame, "1000"), (.frame, "99999"), (.initialWindow, "0"), (.ackCounting, "bytes")] {
            XCTAssertThrowsError(try TCPParameters(settings: [(setting, text)]), "\(setting) \(text)") { error in
                XCTAssertEqual((error as? TCPSettingError)?.setting, setting)
            }
        }
    }
}

extension TCPFixesTests {
    /// Losses among the segments sent before the last loss was detected are repaired in that
    /// recovery: they cost their bytes but no second window reduction.
    func testLossesInTheRecoveryWindowAreOneEvent() {
        var schedule = LossSchedule(loss: 0.01, spacing: .geometric)
        // Gaps 69 and 29: losses at segments 68 and 97 of a 100-segment draw.
        let open = schedule.draw(segments: 100, protected: 0)
        XCTAssertEqual(open.count, 2)
        XCTAssertEqual(open.unprotected, 2)
        var again = LossSchedule(loss: 0.01, spacing: .geometric)
        let shielded = again.draw(segments: 100, protected: 90)
        XCTAssertEqual(shielded.count, 2, "both segments are still lost")
        XCTAssertEqual(shielded.unprotected, 1, "only the one after the protected prefix starts an event")
        XCTAssertEqual(shielded.firstUnprotected, 97)
    }
}
