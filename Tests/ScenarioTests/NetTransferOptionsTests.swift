import FedSimCLI
import Foundation
import Network
import Numerics
import XCTest

/// `fedsim net transfer`'s TCP options and `--trace` (issue 14, item 5).
final class NetTransferOptionsTests: XCTestCase {
    func seconds(_ args: [String]) throws -> Double {
        let c = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["net", "transfer", "--json"] + args, console: c.console), 0, c.err)
        guard case let .object(o) = try JSONDecoder().decode(JSONValue.self, from: Data(c.out.utf8)), case let .number(s)? = o["seconds"] else {
            XCTFail(c.out)
            return .nan
        }
        return s
    }

    let base = ["--bytes", "20MB", "--rate", "20Mbps", "--rtt", "50ms", "--loss", "0.01"]

    func testOptionsReachTheModel() throws {
        let link = LinkConditions(rateBitsPerSecond: 20e6, rttSeconds: 0.05, loss: 0.01)
        func model(_ tcp: TCPParameters) -> Double { TransferModel.tcp.timing(bytes: 20e6, link: link, tcp: tcp).totalSeconds }
        XCTAssertEqual(try seconds(base), model(TCPParameters()), accuracy: 1e-9)
        var tcp = TCPParameters()
        tcp.congestionControl = .bbr
        tcp.tlsRoundTrips = 0
        XCTAssertEqual(try seconds(base + ["--cc", "bbr", "--no-tls"]), model(tcp), accuracy: 1e-9)
        tcp = TCPParameters()
        tcp.renoFriendly = false
        tcp.minRTOSeconds = 1
        tcp.delayedAckSeconds = 0.2
        tcp.frameBytes = 1502
        XCTAssertEqual(try seconds(base + ["--tcp-friendly", "off", "--min-rto", "1s", "--delayed-ack", "200ms", "--frame", "1502"]), model(tcp), accuracy: 1e-9)
        XCTAssertEqual(try seconds(base + ["--stack", "ns-3.37"]), model(TCPParameters.ns3(.cubic)), accuracy: 1e-9)
        // BBR shrugs off 1 % random loss; CUBIC does not.
        XCTAssertLessThan(try seconds(base + ["--cc", "bbr"]) * 3, try seconds(base + ["--cc", "cubic"]))
    }

    func testBadOptionsExit2() {
        for bad in [["--cc", "vegas"], ["--tcp-friendly", "maybe"], ["--min-rto", "-1s"], ["--delayed-ack", "soon"], ["--tls", "--no-tls"],
                    ["--frame", "100"], ["--stack", "windows"], ["--trace", "/nonexistent/t.csv"]] {
            let c = CapturedConsole()
            XCTAssertEqual(FedSimMain.run(["net", "transfer"] + base + bad, console: c.console), 2, "\(bad)")
            XCTAssertFalse(c.err.isEmpty)
        }
    }

    func testTraceDrivesTheTransfer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-nettrace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 8 Mbit/s for 10 s, then 2 Mbit/s: 15 MB under fluid = 10 s at 8 (10 MB) + 20 s at 2 (5 MB) + RTT/2.
        let file = dir.appendingPathComponent("steps.csv")
        try "time_s,rate_mbps\n0,8\n10,2\n1000,2\n".write(to: file, atomically: true, encoding: .utf8)
        let fluid = try seconds(["--bytes", "15MB", "--trace", file.path, "--rtt", "100ms", "--model", "fluid"])
        XCTAssertEqual(fluid, 30.05, accuracy: 1e-6)
        // Offset into the slow part: all at 2 Mbit/s.
        XCTAssertEqual(try seconds(["--bytes", "15MB", "--trace", file.path, "--trace-offset", "20s", "--rtt", "100ms", "--model", "fluid"]), 60.05, accuracy: 1e-6)
        // Under tcp the transfer is slower than fluid and follows the step too.
        let tcp = try seconds(["--bytes", "15MB", "--trace", file.path, "--rtt", "100ms"])
        XCTAssertGreaterThan(tcp, fluid)
        XCTAssertLessThan(tcp, fluid * 1.15)
        // A Mahimahi trace: 1 ms timestamps, one 1500-byte opportunity each. 1,000 per second for 10 s
        // is 12 Mbit/s; 15 MB under fluid then take 10 s + RTT/2.
        let mahimahi = dir.appendingPathComponent("trace.up")
        try (0..<10_000).map { "\($0)" }.joined(separator: "\n").appending("\n").write(to: mahimahi, atomically: true, encoding: .utf8)
        XCTAssertEqual(try seconds(["--bytes", "15MB", "--trace", mahimahi.path, "--trace-format", "mahimahi", "--rtt", "100ms", "--model", "fluid"]),
                       15e6 * 8 / 12e6 + 0.05, accuracy: 1e-6)
        // A trace without a unit, or both --rate and --trace: exit 2.
        let bad = dir.appendingPathComponent("nounit.csv")
        try "time_s,rate\n0,8\n".write(to: bad, atomically: true, encoding: .utf8)
        for args in [["--bytes", "1MB", "--trace", bad.path, "--rtt", "10ms"], ["--bytes", "1MB", "--trace", file.path, "--rate", "1Mbps", "--rtt", "10ms"]] {
            let c = CapturedConsole()
            XCTAssertEqual(FedSimMain.run(["net", "transfer"] + args, console: c.console), 2)
        }
    }
}
