import Foundation
import Network
import XCTest

/// The BBR model (`TransferModel.bbrRounds`): invariants, and the comparison with ns-3.37's TcpBbr
/// (Validation/ns3/results_Bbr_runs.csv, `TCP=Bbr Validation/ns3/run.sh`).
final class BBRModelTests: XCTestCase {
    let tcp = TCPParameters()

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

    /// Against ns-3.37's TcpBbr: the median of a point's runs (SYN to the last byte at the
    /// receiver) against the handshake (1 RTT, no TLS) + startup + steady + RTT/2. Prints median
    /// and worst |error| per loss level; asserts the median ≤ 10 %.
    func testAgainstNS3() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        // BBR_NS3_RUNS=FILE compares another file of runs (same columns) instead.
        let path = ProcessInfo.processInfo.environment["BBR_NS3_RUNS"].map { URL(fileURLWithPath: $0) }
            ?? root.appendingPathComponent("Validation/ns3/results_Bbr_runs.csv")
        guard let text = try? String(contentsOf: path, encoding: .utf8) else { throw XCTSkip("no \(path.path): run TCP=Bbr Validation/ns3/run.sh") }
        var lines = text.split(separator: "\n").map(String.init)
        let header = lines.removeFirst().split(separator: ",").map(String.init)
        func column(_ name: String) throws -> Int { try XCTUnwrap(header.firstIndex(of: name), name) }
        let c = try (rate: column("rate_mbps"), rtt: column("rtt_ms"), loss: column("loss"), bytes: column("bytes"), seconds: column("seconds"),
                     rtos: column("rtos"), drops: column("random_drops"), queue: column("queue_drops"))
        var order: [[Double]] = [], runs: [[Double]: [Double]] = [:]
        var unfinished = 0, storms = 0, collapses = 0
        for line in lines where !line.isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) ?? .nan }
            let key = [f[c.rate], f[c.rtt], f[c.loss], f[c.bytes]]
            if runs[key] == nil { order.append(key); runs[key] = [] }
            // A run that gave up at run.sh's wall-clock limit, or a timeout storm (far more
            // timeouts than lost packets: ns-3.37's TcpBbr after a timeout, docs/VALIDATION.md).
            if f[c.seconds] < 0 { unfinished += 1; continue }
            if f[c.rtos] > 10 * max(1, f[c.drops] + f[c.queue]) { storms += 1; continue }
            // A collapse: ns-3.37's TcpBbr after a timeout can take a bandwidth sample of a few
            // kbit/s into its max filter and pace at it for good (docs/VALIDATION.md). A run more
            // than 3 × slower than the payload rate plus 20 round trips is that, not BBR.
            if f[c.seconds] > 3 * (f[c.bytes] * 8 / (f[c.rate] * 1e6 * 1448 / 1502) + 20 * f[c.rtt] / 1e3) { collapses += 1; continue }
            runs[key]?.append(f[c.seconds])
        }
        var rows: [(key: [Double], ns3: Double, model: Double, error: Double)] = []
        for key in order {
            let s = (runs[key] ?? []).sorted()
            guard !s.isEmpty else { continue }
            let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            let rtt = key[1] / 1e3
            let model = rtt + seconds(key[3], key[0] * 1e6, rtt, key[2]) + rtt / 2
            rows.append((key, median, model, (model - median) / median))
        }
        print("BBR vs ns-3 TcpBbr: \(rows.count) of \(order.count) points (\(lines.count) runs: \(unfinished) unfinished at the wall-clock limit, \(storms) timeout storms and \(collapses) collapses left out)")
        func summary(_ e: [Double]) -> (median: Double, worst: Double) {
            let s = e.map(abs).sorted()
            return s.isEmpty ? (0, 0) : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2, s.last ?? 0)
        }
        for loss in Set(rows.map { $0.key[2] }).sorted() {
            let e = rows.filter { $0.key[2] == loss }.map(\.error), m = summary(e)
            print(String(format: "  loss %-7g %3d points: median %5.1f%%, worst %5.1f%%", loss, e.count, m.median * 100, m.worst * 100))
        }
        let all = summary(rows.map(\.error))
        print(String(format: "  all          %3d points: median %5.1f%%, worst %5.1f%%", rows.count, all.median * 100, all.worst * 100))
        let shown = ProcessInfo.processInfo.environment["BBR_NS3_ROWS"].flatMap { Int($0) } ?? 12
        for r in rows.sorted(by: { abs($0.error) > abs($1.error) }).prefix(shown) {
            print(String(format: "    %6g Mbit/s %5g ms loss %-7g %10.0f B: ns-3 %9.3f s, model %9.3f s (%+.1f%%)",
                         r.key[0], r.key[1], r.key[2], r.key[3], r.ns3, r.model, r.error * 100))
        }
        XCTAssertFalse(rows.isEmpty)
        XCTAssertLessThanOrEqual(all.median, 0.10)
    }
}
