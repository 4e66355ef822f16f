import Foundation
import Network
import XCTest

/// The BBR model (`TransferModel.bbrRounds`): invariants, and the comparison with ns-3.37's TcpBbr
/// (Validation/ns3/results_Bbr_runs.csv, `TCP=Bbr Validation/ns3/run.sh`).
final class BBRModelTests: XCTestCase {
    /// The stack ns-3 runs (1502-byte frames), BBR.
    let tcp = TCPParameters.ns3(.bbr)

    /// From the first data segment until the last leaves.
    func seconds(_ bytes: Double, _ rate: Double, _ rtt: Double, _ loss: Double) -> Double {
        let r = TransferModel.bbrRounds(bytes: bytes, rate: rate, rtt: rtt, loss: loss, tcp: tcp)
        return r.slowStartSeconds + r.steadySeconds
    }

    /// Bad inputs as `windowRounds` answers them; nothing to send takes no time.
    func testInvalidInputs() {
        for (bytes, rate, rtt, loss) in [(1e6, 0.0, 0.1, 0.0), (1e6, -1, 0.1, 0), (1e6, .nan, 0.1, 0), (1e6, 1e7, .nan, 0),
                                         (1e6, 1e7, .infinity, 0), (1e6, 1e7, 0.1, 1), (1e6, 1e7, 0.1, -0.1), (1e6, 1e7, 0.1, .nan),
                                         (.infinity, 1e7, 0.1, 0)] {
            let r = TransferModel.bbrRounds(bytes: bytes, rate: rate, rtt: rtt, loss: loss, tcp: tcp)
            XCTAssertEqual(r.slowStartSeconds, .infinity, "\(bytes) \(rate) \(rtt) \(loss)")
            XCTAssertEqual(r.steadySeconds, .infinity)
        }
        let zero = TransferModel.bbrRounds(bytes: 0, rate: 1e7, rtt: 0.1, loss: 0, tcp: tcp)
        XCTAssertEqual(zero.slowStartSeconds + zero.steadySeconds, 0)
        let noRTT = TransferModel.bbrRounds(bytes: 1e6, rate: 8e6, rtt: 0, loss: 0, tcp: tcp)
        XCTAssertEqual(noRTT.slowStartSeconds, 1e6 / (1e6 * 1448 / 1502), accuracy: 1e-9)
    }

    /// More bytes never take less time; never faster than the payload rate; startup is the doubling
    /// from 10 segments.
    func testMonotoneAndNeverFasterThanThePayloadRate() {
        for rate in [1e6, 20e6, 500e6] {
            for rtt in [0.01, 0.1, 0.7] {
                for loss in [0, 1e-4, 1e-2] {
                    var previous = 0.0
                    for bytes in (Array(stride(from: 1e4, through: 3e8, by: 7.3e6)) + [1e3, 1.5e5, 2e5, 2e6, 2e7]).sorted() {
                        let s = seconds(bytes, rate, rtt, loss)
                        XCTAssertTrue(s.isFinite)
                        XCTAssertGreaterThanOrEqual(s * (1 + 1e-12), bytes * 8 / (rate * 1448 / 1502), "\(bytes) \(rate) \(rtt) \(loss)")
                        // Random losses land on whole segments, so a few more bytes may dodge one: monotone within 1 RTT.
                        XCTAssertGreaterThanOrEqual(s + rtt, previous, "\(bytes) \(rate) \(rtt) \(loss)")
                        if loss == 0 { XCTAssertGreaterThanOrEqual(s, previous, "\(bytes) \(rate) \(rtt)") }
                        previous = s
                    }
                }
            }
        }
        // 1 MB at 100 Mbit/s, 100 ms: 10, 11 (ns-3 grows the initial window by one segment), 22, 44, 88,
        // 176 segments in 6 round trips, then the last 339.6 leave at the payload rate.
        let r = TransferModel.bbrRounds(bytes: 1e6, rate: 100e6, rtt: 0.1, loss: 0, tcp: tcp)
        let last: Double = (1e6 - 351.0 * 1448) * 8 / (100e6 * 1448 / 1502)
        XCTAssertEqual(r.slowStartSeconds, 0.6 + last, accuracy: 1e-9)
        XCTAssertEqual(r.steadySeconds, 0)
    }

    /// BBR does not back off for random losses: 0.1 % costs about 0.1 % of a long transfer.
    func testInsensitiveToRandomLoss() {
        for (rate, rtt) in [(20e6, 0.04), (100e6, 0.1), (5e6, 0.3)] {
            let clean = seconds(2e9, rate, rtt, 0), lossy = seconds(2e9, rate, rtt, 1e-3), bad = seconds(2e9, rate, rtt, 1e-2)
            XCTAssertLessThan(abs(lossy / clean - 1), 0.03, "\(rate) \(rtt)")
            XCTAssertLessThan(abs(bad / clean - 1), 0.05, "\(rate) \(rtt)")
        }
    }

    /// Huge transfers in bounded work: 1e12 bytes in closed form.
    func testBoundedWork() {
        let start = Date()
        for rate in [1e3, 1e6, 1e9, 1e12] {
            let s = seconds(1e12, rate, 0.05, 1e-3)
            XCTAssertTrue(s.isFinite && s > 1e12 * 8 / rate, "\(rate)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertTrue(seconds(1e6, .infinity, 0.05, 0).isFinite)
    }
}
