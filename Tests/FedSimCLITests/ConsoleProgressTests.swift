import FedSimCLI
import Foundation
import XCTest

/// How `run` and `sweep` show progress: on a terminal a rewritten line per round and a line per arm
/// or point; in a log only the lines worth keeping (arms of multi-seed runs, points with the time left).
final class ConsoleProgressTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-progress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        try Data("""
        {"name": "tiny", "population": {"clients": 30}, "selection": {"per_round": 5}, "network": {"profile": "4g"},
         "workload": {"payload": {"model": "gpt2", "rank": 4, "targets": ["c_attn"]}},
         "arms": [{"codec": "lora"}, {"codec": "fedsrd"}], "stop": {"rounds": 4}}
        """.utf8).write(to: tmp.appendingPathComponent("s.json"))
        try Data(#"{"base": "s.json", "axes": {"seed": [1, 2]}}"#.utf8).write(to: tmp.appendingPathComponent("sweep.json"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    final class Sink { var out = "", err = "" }

    func run(_ arguments: [String], terminal: Bool) -> (status: Int32, out: String, err: String) {
        let sink = Sink()
        let console = Console(stderrIsTerminal: terminal, out: { sink.out += $0 }, err: { sink.err += $0 })
        let status = FedSimMain.run(arguments, console: console)
        return (status, sink.out, sink.err)
    }

    func path(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    func testRunProgressInALogAndOnATerminal() throws {
        let single = run(["run", path("s.json"), "--out", path("a")], terminal: false)
        XCTAssertEqual(single.status, 0, single.err)
        XCTAssertEqual(single.err, "", "a single-seed run without training is quiet in a log")
        XCTAssertTrue(single.out.hasPrefix("") && single.out.contains("Report: \(path("a"))/report.html (report.md, summary.json, rounds.csv, clients.csv)\n"), single.out)
        let seeds = run(["run", path("s.json"), "--out", path("b"), "--seeds", "2", "--no-clients"], terminal: false)
        XCTAssertEqual(seeds.status, 0, seeds.err)
        let lines = seeds.err.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { $0.components(separatedBy: " 4 rounds, sim ").first ?? "" }, ["[lora seed 1]", "[fedsrd seed 1]", "[lora seed 2]", "[fedsrd seed 2]"], seeds.err)
        XCTAssertTrue(seeds.out.contains("Report: \(path("b"))/report.html (report.md, summary.json, rounds.csv)\n"), seeds.out)
        let terminal = run(["run", path("s.json"), "--out", path("c")], terminal: true)
        XCTAssertEqual(terminal.status, 0, terminal.err)
        for round in 1...4 { XCTAssertTrue(terminal.err.contains("\r\u{1B}[K[lora] round \(round)/4  sim "), terminal.err) }
        XCTAssertTrue(terminal.err.contains("\r\u{1B}[K[fedsrd] 4 rounds, sim "), terminal.err)
        XCTAssertEqual(try String(contentsOfFile: path("a/summary.json"), encoding: .utf8),
                       try String(contentsOfFile: path("c/summary.json"), encoding: .utf8), "progress does not change the results")
    }

    func testSweepProgressAndDryRun() throws {
        let log = run(["sweep", path("sweep.json"), "--out", path("sw"), "--shard", "1/2"], terminal: false)
        XCTAssertEqual(log.status, 0, log.err)
        XCTAssertTrue(log.err.hasPrefix("[point 1/2] done (1 of 1 in this shard; about "), log.err)
        XCTAssertTrue(log.err.hasSuffix(" left)\n"), log.err)
        XCTAssertTrue(log.out.hasPrefix("Sweep: 1 point(s) run, 0 already done; 1 of 2 points in \(path("sw"))\n"
                                        + "Summary of the points so far: \(path("sw"))/report.html"), log.out)
        let dry = run(["sweep", path("sweep.json"), "--out", path("sw"), "--dry-run", "--shard", "2/2"], terminal: false)
        XCTAssertEqual(dry.status, 0, dry.err)
        let rows = dry.out.split(separator: "\n").map { $0.split(separator: "\t").prefix(2).joined(separator: " ") }
        XCTAssertEqual(rows, ["1 done", "2 to run", "2 point(s); 1 in this shard"], dry.out)
        let terminal = run(["sweep", path("sweep.json"), "--out", path("sw")], terminal: true)
        XCTAssertEqual(terminal.status, 0, terminal.err)
        XCTAssertTrue(terminal.err.contains("\r\u{1B}[K[point 2/2] [lora] round 1/4  sim "), terminal.err)
        XCTAssertTrue(terminal.err.contains("\n[point 2/2] "), terminal.err)
        XCTAssertFalse(terminal.err.contains("left)"), terminal.err)
        XCTAssertTrue(terminal.out.hasPrefix("Sweep: 1 point(s) run, 1 already done; 2 of 2 points in \(path("sw"))\nSummary: \(path("sw"))/report.html (report.md, sweep.csv"), terminal.out)
    }
}
