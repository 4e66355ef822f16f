import FedSimCLI
import Foundation
import Reporting
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Regression tests of issue 9: input files are data (never code), --force never loses user
/// files, no trap on hostile values, the report step never loses a finished simulation.
final class ReliabilityTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-reliability-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let capture = CapturedConsole()
        let status = FedSimMain.run(arguments, console: capture.console)
        return (status, capture.out, capture.err)
    }

    func path(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: tmp.appendingPathComponent(name)) }

    /// A small time-only scenario; `extra` is spliced into the top-level object.
    func scenario(_ extra: String = "", network: String = #""network": {"profile": "4g"}"#) -> String {
        """
        {"name": "tiny", "population": {"clients": 30}, "selection": {"per_round": 5}, \(network),
         "workload": {"payload": {"model": "gpt2", "rank": 4, "targets": ["c_attn"]}},
         "arms": [{"codec": "lora"}, {"codec": "fedsrd"}], "stop": {"rounds": 4}\(extra)}
        """
    }

    // MARK: 1. input is data, never code

    static let hostile = "x`touch PWNED`\"; system(\"touch PWNED2\") @y 'q' <script>alert(1)</script>|**b**\n# h"

    func assertNoCommandRan(file: StaticString = #filePath, line: UInt = #line) {
        for dir in [tmp.path, FileManager.default.currentDirectoryPath, FileManager.default.temporaryDirectory.path] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            XCTAssertFalse(names.contains { $0.hasPrefix("PWNED") }, "a shell command from input ran (in \(dir))", file: file, line: line)
        }
    }

    func testReportOnEditedFilesRunsNoCommandAndEscapesHTML() throws {
        try write("s.json", scenario())
        XCTAssertEqual(run(["run", path("s.json"), "--out", path("r")]).status, 0)
        // Arm names in rounds.csv (RFC 4180-quoted, so they may hold anything) and in summary.json.
        let roundsURL = tmp.appendingPathComponent("r/rounds.csv")
        var rounds = try String(contentsOf: roundsURL, encoding: .utf8)
        rounds = rounds.replacingOccurrences(of: ",lora,", with: "," + CSV.field(Self.hostile) + ",")
        try Data(rounds.utf8).write(to: roundsURL)
        let summaryURL = tmp.appendingPathComponent("r/summary.json")
        let summary = try String(contentsOf: summaryURL, encoding: .utf8)
        let escaped = String(data: try JSONSerialization.data(withJSONObject: [Self.hostile], options: [.fragmentsAllowed]), encoding: .utf8)!.dropFirst().dropLast()
        try Data(summary.replacingOccurrences(of: "\"name\" : \"lora\"", with: "\"name\" : \(escaped)")
            .replacingOccurrences(of: "\"scenario\" : \"tiny\"", with: "\"scenario\" : \(escaped)").utf8).write(to: summaryURL)
        let r = run(["report", path("r")])
        XCTAssertEqual(r.status, 0, r.err)
        assertNoCommandRan()
        let html = try String(contentsOfFile: path("r/report.html"), encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "user text reaches the HTML as text")
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "and is shown, escaped")
        let md = try String(contentsOfFile: path("r/report.md"), encoding: .utf8)
        XCTAssertFalse(md.contains("<script>"), "Markdown escapes < and >")
        XCTAssertFalse(md.contains("\n# h"), "a newline in a name cannot start a Markdown heading")
        // The plots still name the arm (as text).
        let svg = try String(contentsOfFile: path("r/plots/bytes-per-round.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("touch PWNED"), "the title is drawn literally")
    }

    func testSweepAxisWithAHostileProfileNameRunsNoCommand() throws {
        let name = "p`touch PWNED3`'\" @x"
        let profiles = #""network": {"profiles": {"# + String(data: try JSONSerialization.data(withJSONObject: [name], options: []), encoding: .utf8)!.dropFirst().dropLast()
            + #": {"down": "20Mbps", "up": "5Mbps", "rtt": "50ms"}}, "profile": "4g"}"#
        try write("base.json", scenario(network: profiles))
        let axis = String(data: try JSONSerialization.data(withJSONObject: ["4g", name], options: []), encoding: .utf8)!
        try write("sweep.json", #"{"base": "base.json", "axes": {"network.profile": "# + axis + "}}")
        let r = run(["sweep", path("sweep.json"), "--out", path("sw")])
        XCTAssertEqual(r.status, 0, r.err)
        assertNoCommandRan()
        let sweepMD = try String(contentsOfFile: path("sw/sweep.md"), encoding: .utf8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("sw/plots/speedup.svg")) || sweepMD.contains("not drawn"))
        let rows = try SweepRow.table(axes: ["network.profile"]).read(try String(contentsOfFile: path("sw/sweep.csv"), encoding: .utf8), file: "sweep.csv")
        XCTAssertTrue(rows.contains { $0.values == [name] }, "the axis value round-trips through sweep.csv")
    }

    func testAProfileNameWithACommaKeepsClientsCSVWhole() throws {
        let profiles = #""network": {"profiles": {"lab, \"east\"": {"down": "20Mbps", "up": "5Mbps", "rtt": "50ms"}}, "profile": "lab, \"east\""}"#
        try write("s.json", scenario(network: profiles))
        XCTAssertEqual(run(["run", path("s.json"), "--out", path("r")]).status, 0)
        let text = try String(contentsOfFile: path("r/clients.csv"), encoding: .utf8)
        let records = try CSV.records(text, file: "clients.csv")
        XCTAssertGreaterThan(records.count, 1)
        for r in records { XCTAssertEqual(r.fields.count, ClientRow.table.header.count, "every record has every field") }
        for row in try ClientRow.table.read(text, file: "clients.csv") { XCTAssertEqual(row.profile, "lab, \"east\"") }
    }

    func testCSVRoundTrips() throws {
        let fields = ["plain", "a,b", "q\"uote", "line\nbreak", "", "crlf\r\n", "ü, 😀"]
        let text = CSV.row(["h1", "h2", "h3", "h4", "h5", "h6", "h7"]) + CSV.row(fields) + CSV.row(["next"])
        let t = try CSV.records(text, file: "x.csv")
        XCTAssertEqual(t.count, 3)
        XCTAssertEqual(t[1].fields, fields)
        XCTAssertEqual(t.map(\.line), [1, 2, 5], "a record's line is where it starts (quoted line breaks counted)")
        XCTAssertThrowsError(try CSV.records("a,b\n\"open,1\n", file: "x.csv"))
        XCTAssertThrowsError(try CSV.records("a\nx\"y\n", file: "x.csv"))
        XCTAssertThrowsError(try CSV.records("a\n\"x\"y\n", file: "x.csv"))
    }

    // MARK: 2. --force removes only what fedsim wrote

    func testForceNeverRemovesUserFiles() throws {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"seed": [1, 2]}}"#)
        try write("precious.txt", "keep me")
        try FileManager.default.createDirectory(atPath: path("mine"), withIntermediateDirectories: true)
        try write("mine/notes.txt", "keep me too")
        for args in [["run", path("s.json"), "--out", path("precious.txt"), "--force"],
                     ["sweep", path("sweep.json"), "--out", path("precious.txt"), "--force"],
                     ["run", path("s.json"), "--out", path("mine"), "--force"],
                     ["sweep", path("sweep.json"), "--out", path("mine"), "--force"],
                     ["sweep", path("sweep.json"), "--out", path("mine")]] {
            let r = run(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
        }
        XCTAssertEqual(try String(contentsOfFile: path("precious.txt"), encoding: .utf8), "keep me")
        XCTAssertEqual(try String(contentsOfFile: path("mine/notes.txt"), encoding: .utf8), "keep me too")
        // fedsim's own directory with a user's file inside: refused, file kept.
        XCTAssertEqual(run(["sweep", path("sweep.json"), "--out", path("sw")]).status, 0)
        try write("sw/analysis.ipynb", "{}")
        XCTAssertEqual(run(["sweep", path("sweep.json"), "--out", path("sw"), "--force"]).status, 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("sw/analysis.ipynb")))
        try FileManager.default.removeItem(atPath: path("sw/analysis.ipynb"))
        let again = run(["sweep", path("sweep.json"), "--out", path("sw"), "--force"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(again.out.contains("2 point(s) run, 0 already done"), again.out)
    }

    // MARK: 3, 4. no trap or hang on hostile values

    func testHostileValuesGiveErrorsNotTraps() throws {
        try write("s.json", scenario())
        try write("seed.json", #"{"base": "s.json", "axes": {"seed": [9223372036854775808]}}"#)
        XCTAssertEqual(run(["sweep", path("seed.json"), "--out", path("o1")]).status, 2)
        try write("overlap.json", #"{"base": "s.json", "axes": {"arms": [[{"codec": "lora"}], "x"], "arms.0.codec": ["lora"]}}"#)
        let overlap = run(["sweep", path("overlap.json"), "--out", path("o2")])
        XCTAssertEqual(overlap.status, 2)
        XCTAssertTrue(overlap.err.contains("axes"), overlap.err)
        try write("hugeSeed.json", scenario(#", "seed": 18446744073709551616"#))
        XCTAssertEqual(run(["run", path("hugeSeed.json"), "--out", path("o3")]).status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o1")) || FileManager.default.fileExists(atPath: path("o2")) || FileManager.default.fileExists(atPath: path("o3")))
        // An edited summary.json with huge numbers renders (or is refused), never traps.
        XCTAssertEqual(run(["run", path("s.json"), "--out", path("r")]).status, 0)
        let summaryURL = tmp.appendingPathComponent("r/summary.json")
        var text = try String(contentsOf: summaryURL, encoding: .utf8)
        for key in ["per_round", "rounds", "completed", "clients", "simulated_seconds", "bytes_up", "over_selection"] {
            text = text.replacingOccurrences(of: "\"\(key)\" : ", with: "\"\(key)\" : 1e308, \"_\(key)\" : ")
        }
        try Data(text.utf8).write(to: summaryURL)
        let r = run(["report", path("r")])
        XCTAssertTrue(r.status == 0 || r.status == 2, r.err)
    }

    func testATimeLimitOfYearsWithoutARoundCapIsRefusedQuickly() throws {
        try write("s.json", scenario().replacingOccurrences(of: #""stop": {"rounds": 4}"#, with: #""stop": {"time": "100000d"}"#))
        let started = Date()
        let r = run(["run", path("s.json"), "--out", path("r")])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertTrue(r.err.contains("stop.time"), r.err)
        XCTAssertTrue(r.err.contains("rounds"), r.err)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("r")))
    }

    // MARK: 6. the report step never loses a finished simulation

    func testRunsWhosePlotsHaveNoDataStillWriteTheirData() throws {
        try write("s.json", scenario())
        let noClients = run(["run", path("s.json"), "--out", path("nc"), "--no-clients"])
        XCTAssertEqual(noClients.status, 0, noClients.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("nc/summary.json")))
        let md = try String(contentsOfFile: path("nc/report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("not drawn, no data"), md)
        // A population that is never online: every round is empty, and the run still reports.
        try write("offline.json", scenario(#", "availability": {"sessions": {"online": "1s", "offline": {"dist": "constant", "value": "1000d"}}}"#)
            .replacingOccurrences(of: #""stop": {"rounds": 4}"#, with: #""stop": {"rounds": 3}"#))
        let offline = run(["run", path("offline.json"), "--out", path("off")])
        XCTAssertEqual(offline.status, 0, offline.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("off/rounds.csv")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("off/report.html")))
        // An empty arm list is a usage error before anything runs.
        XCTAssertEqual(run(["run", path("s.json"), "--out", path("e"), "--arms", ""]).status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("e")))
    }

    // MARK: 7. honest resume

    func testSweepIgnoresTemporaryAndStaleFoldersAndRekeysEditedPoints() throws {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"seed": [1, 2, 3]}}"#)
        XCTAssertEqual(run(["sweep", path("sweep.json"), "--out", path("sw"), "--shard", "1/3"]).status, 0)
        // A killed writer's temporary folder with a summary inside is not a point.
        let points = path("sw/points")
        let done = try FileManager.default.contentsOfDirectory(atPath: points).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(done.count, 1)
        try FileManager.default.copyItem(atPath: points + "/" + done[0], toPath: points + "/.\(done[0]).tmp-otherhost-1")
        let partial = run(["sweep", path("sweep.json"), "--out", path("sw"), "--shard", "2/3"])
        XCTAssertTrue(partial.out.contains("2 of 3 points"), partial.out)
        // Editing "set" re-keys every point: nothing stale is reused.
        try write("sweep.json", #"{"base": "s.json", "set": {"stop.rounds": 3}, "axes": {"seed": [1, 2, 3]}}"#)
        let edited = run(["sweep", path("sweep.json"), "--out", path("sw")])
        XCTAssertEqual(edited.status, 0, edited.err)
        XCTAssertTrue(edited.out.contains("3 point(s) run, 0 already done; 3 of 3 points"), edited.out)
        XCTAssertTrue(edited.out.contains("2 stale"), edited.out)
        let md = try String(contentsOfFile: path("sw/sweep.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("3 of 3 points done"), md)
    }

    // MARK: 8. clear run-time errors

    func testUnwritableOutputsAndOddInputsHavePlainMessages() throws {
        try write("s.json", scenario())
        let proc = run(["run", path("s.json"), "--out", "/proc/fedsim-out"])
        XCTAssertEqual(proc.status, 1, proc.err)
        XCTAssertTrue(proc.err.contains("/proc/fedsim-out"), proc.err)
        XCTAssertFalse(proc.err.contains("NSCocoaErrorDomain"), proc.err)
        try write("file", "x")
        let under = run(["run", path("s.json"), "--out", path("file/out")])
        XCTAssertEqual(under.status, 1, under.err)
        XCTAssertTrue(under.err.contains("is a file, not a directory"), under.err)
        // A directory or a FIFO as the input file.
        let dir = run(["run", tmp.path, "--out", path("o")])
        XCTAssertEqual(dir.status, 2)
        XCTAssertTrue(dir.err.contains("is a directory"), dir.err)
        XCTAssertEqual(mkfifo(path("fifo"), 0o600), 0)
        let fifo = run(["run", path("fifo"), "--out", path("o")])
        XCTAssertEqual(fifo.status, 2)
        XCTAssertTrue(fifo.err.contains("FIFO"), fifo.err)
        let report = run(["report", path("s.json")])
        XCTAssertEqual(report.status, 2)
        XCTAssertTrue(report.err.contains("not a directory"), report.err)
    }
}

extension ReliabilityTests {
    // MARK: 5. resource refusal

    func testRunsThatCannotFitInMemoryAreRefusedUpFront() throws {
        // Widths that pass validation but need tens of GB.
        try write("wide.json", """
        {"name": "wide", "population": {"clients": 10}, "selection": {"per_round": 2},
         "workload": {"payload": "measured",
                      "train": {"dataset": {"synthetic": {"classes": 4, "dimension": 100000, "train": 100, "test": 50}},
                                "hidden": [100000, 100000], "lora": {"rank": 4}}},
         "stop": {"rounds": 2}}
        """)
        let started = Date()
        let wide = run(["run", path("wide.json"), "--out", path("o")])
        XCTAssertEqual(wide.status, 2, wide.err)
        XCTAssertTrue(wide.err.contains("--max-memory") && wide.err.contains("GB"), wide.err)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "refused before any allocation")
        // A big population with client records, under a small explicit limit; fits without them.
        try write("big.json", scenario().replacingOccurrences(of: #""clients": 30"#, with: #""clients": 1000000"#))
        let big = run(["run", path("big.json"), "--out", path("o"), "--max-memory", "50MB"])
        XCTAssertEqual(big.status, 2, big.err)
        XCTAssertTrue(big.err.contains("population of 1000000 clients"), big.err)
        XCTAssertEqual(run(["run", path("s.json"), "--out", path("o"), "--max-memory", "lots"]).status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o")))
    }
}

extension ReliabilityTests {
    func testADivergingLearningRateStopsWithTheKey() throws {
        try write("lr.json", """
        {"name": "lr", "population": {"clients": 6}, "selection": {"per_round": 3},
         "workload": {"payload": "measured",
                      "train": {"dataset": {"synthetic": {"classes": 4, "dimension": 20, "train": 600, "test": 200}},
                                "hidden": [16], "pretrain": {"classes": [0, 1]}, "lora": {"rank": 4},
                                "local": {"optimizer": "sgd", "learning_rate": 1e30}}},
         "stop": {"rounds": 3}}
        """)
        let r = run(["run", path("lr.json"), "--out", path("o")])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertTrue(r.err.contains("workload.train.local.learning_rate"), r.err)
        XCTAssertTrue(r.err.contains("diverged"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o")))
    }

    func testSessionsTooShortForTheRunAreRefusedUpFront() throws {
        try write("short.json", scenario(#", "availability": {"sessions": {"online": "1ms", "offline": "1ms"}}"#)
            .replacingOccurrences(of: #""stop": {"rounds": 4}"#, with: #""stop": {"time": "365d"}"#))
        let started = Date()
        let r = run(["run", path("short.json"), "--out", path("o")])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertTrue(r.err.contains("availability.sessions"), r.err)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }
}

extension ReliabilityTests {
    func testTransfersThatCannotFinishAreRefusedWithTheEstimate() {
        for args in [["--bytes", "1TB", "--rate", "1bps", "--rtt", "60ms"],
                     ["--bytes", "1e30B", "--rate", "12Mbps", "--rtt", "60ms"],
                     ["--bytes", "16MB", "--rate", "12Mbps", "--rtt", "60ms", "--loss", "0.9999999"]] {
            let started = Date()
            let r = run(["net", "transfer"] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains("years"), r.err)
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, "\(args)")
        }
    }
}

extension ReliabilityTests {
    func testAdapterInputsThatAreNotFilesHaveClearMessages() throws {
        XCTAssertEqual(mkfifo(path("adapter.fifo"), 0o600), 0)
        let fifo = run(["codec", path("adapter.fifo"), path("adapter.fifo")])
        XCTAssertEqual(fifo.status, 2)
        XCTAssertTrue(fifo.err.contains("is a FIFO"), fifo.err)
        let dir = run(["codec", tmp.path, tmp.path])
        XCTAssertEqual(dir.status, 2)
        XCTAssertTrue(dir.err.contains("is a directory"), dir.err)
        XCTAssertFalse(dir.err.contains("NSCocoaErrorDomain"), dir.err)
    }
}

extension ReliabilityTests {
    /// An external trainer given hostile arguments gets them as argv elements — no shell ever
    /// runs them — and a run whose trainer fails in a row exits 1 naming the key, writing nothing.
    func testExternalTrainerArgumentsNeverReachAShellAndFailuresInARowExit1() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        try Data(contentsOf: repo.appendingPathComponent("Tests/Fixtures/external/builtin.json")).write(to: tmp.appendingPathComponent("builtin.json"))
        let hostile = Self.hostile.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
        try write("x.json", """
        {"name": "x", "seed": 3, "population": {"clients": 8}, "selection": {"per_round": 3},
         "workload": {"payload": "measured",
                      "train": {"external": {"command": ["fedsim-train", "--scenario", "builtin.json", "--fail", "exit:*", "--cache", "\(hostile)"],
                                             "max_consecutive_failures": 3}}},
         "arms": [{"codec": "lora"}], "stop": {"rounds": 2}}
        """)
        let v = run(["validate", path("x.json")])
        XCTAssertEqual(v.status, 0, v.err)
        XCTAssertTrue(v.out.contains("\"external\""), v.out)
        // fedsim-train's initialize takes the hostile text as a cache folder name; then every
        // client call fails: the run stops after three in a row.
        let r = run(["run", path("x.json"), "--out", path("o")])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("3 client calls failed in a row"), r.err)
        XCTAssertTrue(r.err.contains("max_consecutive_failures"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o")))
        assertNoCommandRan()
    }
}
