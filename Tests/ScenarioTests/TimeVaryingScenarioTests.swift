import FedSimCLI
import Foundation
import Network
import Numerics
import Scenario
import XCTest

/// Time-varying links in scenario files: trace files with mandatory units, the forms of the
/// `{"trace": …}` object and its resolved echo, bad input, and whole runs.
final class TimeVaryingScenarioTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-tv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: tmp.appendingPathComponent(name)) }

    func read(_ file: String, column: String = "down", unit: String? = nil, timeColumn: String? = nil, timeUnit: String? = nil) throws -> TraceFile.Series {
        try TraceFile.readCSV(file: file, relativeTo: tmp.path, keyPath: "network.down.trace", unitsAt: "network.down", valueColumn: column,
                              valueUnit: unit, valueDimension: .bitRate, timeColumn: timeColumn, timeUnit: timeUnit)
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    /// Units from the header (suffix or brackets, Quantity's units or lower-case bit rates) or the
    /// scenario; megabytes are never read as megabits.
    func testHeaderAndScenarioUnits() throws {
        try write("a.csv", "time_ms,down_mbps\n0,10\n500,2.5\n")
        XCTAssertEqual(try read("a.csv", column: "down_mbps"), TraceFile.Series(times: [0, 0.5], values: [10e6, 2.5e6]))
        try write("b.csv", "\"time (s)\",down [Mbit/s],up (kbps)\r\n0,1,300\r\n\r\n2,4,200\r\n")
        XCTAssertEqual(try read("b.csv", column: "down [Mbit/s]").values, [1e6, 4e6])
        XCTAssertEqual(try read("b.csv", column: "up (kbps)").times, [0, 2])
        try write("c.csv", "t,down,up_Mbps\n0,1,2\n1,3,4\n")
        XCTAssertEqual(try read("c.csv", unit: "Mbps", timeUnit: "s").values, [1e6, 3e6])
        XCTAssertEqual(try read("c.csv", column: "up_Mbps", timeUnit: "min").times, [0, 60])
        XCTAssertEqual(try read("c.csv", column: "2", timeColumn: "0", timeUnit: "s").values, [2e6, 4e6])
        try write("d.csv", "time_s,down_MBps\n0,1\n")
        XCTAssertTrue(message { try self.read("d.csv", column: "down_MBps") }.contains("found 'MBps', which is not a bit-rate unit"))
        XCTAssertTrue(message { try self.read("c.csv", unit: "mbit", timeUnit: "s") }.contains("network.down.unit: expected a bit-rate unit"))
        XCTAssertTrue(message { try self.read("c.csv", unit: "Mbps") }.contains("line 1, column 't': expected a header naming the column's duration unit"))
        try write("e.csv", "0,10\n1,12\n")
        XCTAssertTrue(message { try self.read("e.csv", column: "1") }.contains("line 1: expected a header row naming each column with its unit"))
        XCTAssertTrue(message { try self.read("a.csv", column: "down_mbs") }.contains("has no column 'down_mbs' (did you mean 'down_mbps'?)"))
        try write("f.csv", "time_s,down_mbps\n0,10\n0,12\n")
        XCTAssertTrue(message { try self.read("f.csv", column: "down_mbps") }.contains("line 3, column 'time_s': expected a time after the previous row's 0"))
        try write("g.csv", "time_s,down_mbps\n0,10\ninf,12\n")
        XCTAssertTrue(message { try self.read("g.csv", column: "down_mbps") }.contains("line 3, column 'time_s': expected a finite time, found 'inf'"))
        try write("h.csv", "time_s,down_mbps\n0,10\n1,\n")
        XCTAssertTrue(message { try self.read("h.csv", column: "down_mbps") }.contains("line 3, column 'down_mbps': expected a finite capacity ≥ 0, found ''"))
    }

    /// Mahimahi: one 1500-byte opportunity per millisecond line, counted in bins.
    func testMahimahiTrace() throws {
        // 1 s bins; opportunities at 1…1000 ms (1000) and 1001…1500 (500): 12 and 6 Mbit/s over 2 s.
        try write("m.trace", (1...1500).map(String.init).joined(separator: "\n") + "\n")
        let s = try TraceFile.readMahimahi(file: "m.trace", relativeTo: tmp.path, keyPath: "k", bin: 1)
        XCTAssertEqual(s, TraceFile.Series(times: [0, 1], values: [12e6, 6e6], length: 2))
        try write("bad.trace", "1\n2\n1\n")
        XCTAssertTrue(message { try TraceFile.readMahimahi(file: "bad.trace", relativeTo: self.tmp.path, keyPath: "k", bin: 1) }
            .contains("line 3, column 1: expected a timestamp ≥ the previous line's 2 ms"))
        try write("frac.trace", "1\n2.5\n")
        XCTAssertTrue(message { try TraceFile.readMahimahi(file: "frac.trace", relativeTo: self.tmp.path, keyPath: "k", bin: 1) }
            .contains("line 2, column 1: expected a whole number of milliseconds"))
    }

    func scenario(network: String, rounds: Int = 4, clients: Int = 40) -> String {
        """
        {"name": "tv", "seed": 5, "population": {"clients": \(clients)},
         "network": \(network),
         "selection": {"per_round": 8, "over_selection": 0.25},
         "availability": {"dropout_per_round": 0.05},
         "workload": {"payload": {"model": "gpt2", "rank": 8, "targets": ["c_attn"]}},
         "stop": {"rounds": \(rounds)}}
        """
    }

    /// The forms parse, resolve with every default filled in, and read back to the same form.
    func testFormsResolveToAFixedPoint() throws {
        try write("lte.csv", "time_s,down_mbps,up_mbps\n0,10,2\n1,4,1\n2,20,5\n")
        try write("lte2.csv", "time_s,down_mbps,up_mbps\n0,1,2\n3,8,1\n")
        try write("walk.trace", (1...3000).filter { $0 % 2 == 1 }.map(String.init).joined(separator: "\n"))
        try write("s.json", scenario(network: """
            {"profiles": {"lte": {"down": {"trace": ["lte.csv", "lte2.csv"], "column": "down_mbps", "groups": 3, "offset": "1.5s"},
                                  "up": {"trace": "lte.csv", "column": "up_mbps", "time_column": "time_s", "loop": false},
                                  "rtt": "50ms"},
                          "walk": {"down": {"trace": "walk.trace", "format": "mahimahi", "bin": "500ms"}, "up": "5Mbps", "rtt": "20ms"}},
             "mix": [{"weight": 1, "profile": "lte"}, {"weight": 1, "profile": "walk"}], "model": "fluid"}
            """))
        let s = try ScenarioParser.load(file: tmp.appendingPathComponent("s.json").path)
        let again = try ScenarioParser.parse(s.resolved, baseDirectory: tmp.path)
        XCTAssertEqual(again.resolved, s.resolved)
        guard case let .object(top) = s.resolved, case let .object(net)? = top["network"], case let .object(profiles)? = net["profiles"],
              case let .object(lte)? = profiles["lte"], case let .object(walk)? = profiles["walk"] else { return XCTFail("no profiles") }
        XCTAssertEqual(lte["down"], ["trace": ["lte.csv", "lte2.csv"], "format": "csv", "column": "down_mbps", "loop": true, "offset": "1.5s", "groups": 3])
        XCTAssertEqual(lte["up"], ["trace": "lte.csv", "format": "csv", "column": "up_mbps", "time_column": "time_s", "loop": false, "offset": "random"])
        XCTAssertEqual(walk["down"], ["trace": "walk.trace", "format": "mahimahi", "bin": "500ms", "loop": true, "offset": "random"])
        let leaves = s.network.profile.leaves
        XCTAssertEqual(leaves[0].link.downlinkTrace?.traces.count, 2)
        XCTAssertEqual(leaves[0].link.downlinkTrace?.groups, 3)
        // Every other millisecond has an opportunity: 250 per 500 ms bin, 6 Mbit/s in each.
        XCTAssertEqual(leaves[1].link.downlinkTrace?.traces[0].rates ?? [], [6e6], "equal bins merge into one segment")
        // The time-ignoring trace-as-distribution form is unchanged.
        try write("old.json", scenario(network: """
            {"down": {"dist": "empirical", "trace": {"file": "lte.csv", "column": "down_mbps", "unit": "Mbps"}}, "up": "1Mbps", "rtt": "50ms"}
            """))
        let old = try ScenarioParser.load(file: tmp.appendingPathComponent("old.json").path)
        XCTAssertNil(old.network.profile.leaves[0].link.downlinkTrace)
        XCTAssertEqual(old.network.profile.leaves[0].link.downlink.quantile(0.5), 10e6)
    }

    /// A FIFO as the trace path is refused (never opened, so never blocks): exit 2 with the file.
    func testFIFOTraceIsRefused() throws {
        XCTAssertEqual(mkfifo(tmp.appendingPathComponent("pipe.csv").path, 0o600), 0)
        try write("s.json", scenario(network: #"{"down": {"trace": "pipe.csv", "column": "down_mbps"}, "up": "1Mbps", "rtt": "50ms"}"#))
        let console = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["validate", tmp.appendingPathComponent("s.json").path], console: console.console), 2)
        XCTAssertTrue(console.err.contains("network.down.trace: file 'pipe.csv': is a FIFO"), console.err)
    }

    /// Same seed, same bytes (twice, under tcp and fluid); the trace changes the result against a
    /// constant link at its mean.
    func testRunsAreDeterministicAndTheTraceMatters() throws {
        try write("lte.csv", "time_s,down_mbps,up_mbps\n" + (0..<120).map { "\($0),\(2 + ($0 * 37 % 23)),\(0.5 + Double($0 * 11 % 7) / 2)" }.joined(separator: "\n"))
        func run(_ name: String, _ network: String) throws -> [String] {
            try write("\(name).json", scenario(network: network))
            let out = tmp.appendingPathComponent("out-\(name)").path
            let console = CapturedConsole()
            XCTAssertEqual(FedSimMain.run(["run", tmp.appendingPathComponent("\(name).json").path, "--out", out], console: console.console), 0, console.err)
            return try ["rounds.csv", "clients.csv"].map { try String(contentsOfFile: out + "/" + $0, encoding: .utf8) }
        }
        for model in ["tcp", "fluid"] {
            let traced = """
                {"down": {"trace": "lte.csv", "column": "down_mbps"}, "up": {"trace": "lte.csv", "column": "up_mbps", "groups": 4},
                 "rtt": "60ms", "loss": 0.001, "model": "\(model)"}
                """
            let a = try run("a-\(model)", traced), b = try run("b-\(model)", traced)
            XCTAssertEqual(a, b, model)
            let constant = try run("c-\(model)", #"{"down": "\#(13.0)Mbps", "up": "2Mbps", "rtt": "60ms", "loss": 0.001, "model": "\#(model)"}"#)
            XCTAssertNotEqual(a[0], constant[0], model)
        }
    }
}
