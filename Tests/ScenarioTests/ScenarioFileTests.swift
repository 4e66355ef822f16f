import FedSimCLI
import Foundation
import Network
import Numerics
import Scenario
import XCTest

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

final class ScenarioFileTests: XCTestCase {
    /// Every scenario in Scenarios/ parses, and its resolved form parses back to the same resolved form.
    func testEveryScenarioParsesAndResolvesToAFixedPoint() throws {
        let dir = repoRoot.appendingPathComponent("Scenarios")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") && $0 != "schema.json" }.sorted()
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let s = try ScenarioParser.load(file: dir.appendingPathComponent(file).path)
            let again = try ScenarioParser.parse(s.resolved, baseDirectory: dir.path)
            XCTAssertEqual(again.resolved, s.resolved, file)
        }
    }

    /// Defaults are filled in as documented in docs/SCENARIOS.md.
    func testDefaults() throws {
        let s = try ScenarioParser.parse(try JSONValue.parse(Data(#"{"name": "x", "workload": {"payload": {"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}}}"#.utf8), file: nil))
        XCTAssertEqual(s.seed, 1)
        XCTAssertEqual(s.population.clients, 100)
        XCTAssertEqual(s.network.profile.name, "web-mix")
        XCTAssertEqual(s.network.model, .tcp)
        XCTAssertTrue(s.network.keepConnections)
        XCTAssertEqual(s.server.downlink, 10e9)
        XCTAssertEqual(s.server.uplink, 10e9)
        XCTAssertEqual(s.availability, .always)
        XCTAssertEqual(s.selection.perRound, 10)
        XCTAssertEqual(s.selection.overSelection, 0.3)
        XCTAssertEqual(s.selection.selected, 13)
        XCTAssertNil(s.selection.deadline)
        XCTAssertEqual(s.arms.map(\.codec), ["lora", "fedsrd"])
        XCTAssertEqual(s.stop.rounds, 100)
        XCTAssertEqual(s.workload.tokensPerSample, 512)
        XCTAssertEqual(s.workload.payload?.shapes.count, 64)
        XCTAssertEqual(s.population.deviceSpeed.quantile(0.5), 30e12, accuracy: 1)
    }

    /// Mixes, user-defined profiles, sessions with a diurnal cycle.
    func testNetworkFormsAndSessions() throws {
        let json = #"""
        {"name": "x", "population": {"clients": 10},
         "network": {"mix": [{"weight": 3, "profile": "fiber"}, {"weight": 1, "profile": "clinic-dsl"}],
                     "profiles": {"clinic-dsl": {"down": "20Mbps", "up": "2Mbps", "rtt": "40ms", "loss": 0.001}}},
         "availability": {"dropout_per_round": 0.05, "sessions": {"online": "2h", "offline": {"dist": "exponential", "mean": "6h"},
                          "diurnal": {"amplitude": 0.6, "period": "24h", "peak": "20h"}}},
         "workload": {"payload": {"model": "gpt2", "rank": 8, "targets": ["c_attn"]}}}
        """#
        let s = try ScenarioParser.parse(try JSONValue.parse(Data(json.utf8), file: nil))
        let leaves = s.network.profile.leaves
        XCTAssertEqual(leaves.map(\.name), ["fiber", "clinic-dsl"])
        XCTAssertEqual(leaves[0].weight, 0.75, accuracy: 1e-12)
        guard case let .sessions(sessions) = s.availability else { return XCTFail() }
        XCTAssertEqual(sessions.dropoutPerRound, 0.05)
        XCTAssertEqual(sessions.diurnal?.peak, 72_000)
        XCTAssertEqual(sessions.offline.mean!, 6 * 3600, accuracy: 1e-9)
    }

    /// The bad-input corpus: every file fails with exit status 2, and the message names the file,
    /// the key path and what was expected.
    func testBadInputCorpus() throws {
        let dir = repoRoot.appendingPathComponent("Tests/Fixtures/invalid-scenarios")
        let manifest = try JSONDecoder().decode([String: [String: String]].self,
                                                from: Data(contentsOf: dir.appendingPathComponent("expected-messages.txt")))
        XCTAssertGreaterThanOrEqual(manifest.count, 30)
        for (file, expected) in manifest.sorted(by: { $0.key < $1.key }) {
            let path = dir.appendingPathComponent(file).path
            let console = CapturedConsole()
            let status = FedSimMain.run(["validate", path], console: console.console)
            XCTAssertEqual(status, 2, file)
            XCTAssertEqual(console.out, "", file)
            let message = console.err
            XCTAssertTrue(message.contains(path), "\(file): no file name in \(message)")
            let keyPath = expected["key_path"]!
            if !keyPath.isEmpty { XCTAssertTrue(message.contains(": \(keyPath): "), "\(file): key path '\(keyPath)' missing from \(message)") }
            XCTAssertTrue(message.contains(expected["message"]!), "\(file): '\(expected["message"]!)' missing from \(message)")
        }
    }

    /// A bad scenario given to `fedsim run` writes nothing; a non-empty output directory is refused
    /// unless --force.
    func testRunWritesNothingOnBadInput() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let bad = repoRoot.appendingPathComponent("Tests/Fixtures/invalid-scenarios/unknown-codec.json").path
        let out = tmp.appendingPathComponent("out").path
        let console = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["run", bad, "--out", out], console: console.console), 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        let scratch = CapturedConsole()
        // A valid run writes the three files.
        let good = tmp.appendingPathComponent("good.json")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        try Data(#"{"name": "tiny", "population": {"clients": 20}, "selection": {"per_round": 5}, "stop": {"rounds": 3}, "workload": {"payload": {"model": "gpt2", "rank": 4, "targets": ["c_attn"]}}}"#.utf8).write(to: good)
        XCTAssertEqual(FedSimMain.run(["run", good.path, "--out", out], console: scratch.console), 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), [".fedsim-output", "clients.csv", "plots", "provenance.json", "report.html", "report.md", "rounds.csv", "summary.json"])
        let summary = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json")))
        guard case let .object(o) = summary, case let .array(arms)? = o["arms"], case let .object(arm0) = arms[0] else { return XCTFail() }
        XCTAssertEqual(arm0["time_to_target_s"], .null)
        XCTAssertEqual(arm0["rounds"], .number(3))
        let rounds = try String(contentsOfFile: out + "/rounds.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rounds.count, 1 + 2 * 3)
        XCTAssertTrue(rounds[0].hasPrefix("seed,arm,round,start_s,end_s"))

        // Now the directory exists and is not empty.
        let refused = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["run", good.path, "--out", out], console: refused.console), 2)
        XCTAssertTrue(refused.err.contains("not empty"), refused.err)
        XCTAssertEqual(FedSimMain.run(["run", good.path, "--out", out, "--force"], console: scratch.console), 0)
        // No temporary directories are left next to the output.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted(), ["good.json", "out"])
    }

    /// fedsim profiles, net transfer (text and JSON).
    func testProfilesAndNetTransferCommands() throws {
        let c = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["profiles"], console: c.console), 0)
        for name in NetworkProfile.builtInNames { XCTAssertTrue(c.out.contains(name), name) }
        let one = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["profiles", "starlink"], console: one.console), 0)
        XCTAssertTrue(one.out.contains("Ookla"))
        XCTAssertTrue(one.out.contains("117 Mbps"), one.out)
        let bad = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["profiles", "starlnk"], console: bad.console), 2)
        XCTAssertTrue(bad.err.contains("did you mean 'starlink'?"))

        let t = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["net", "transfer", "--bytes", "16MB", "--rate", "10Mbps", "--rtt", "80ms", "--loss", "0.001", "--json"], console: t.console), 0)
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(t.out.utf8))
        guard case let .object(o) = json, case let .number(seconds)? = o["seconds"], case let .object(phases)? = o["phases"] else { return XCTFail(t.out) }
        var sum = 0.0
        for key in ["setup", "slow_start", "steady", "propagation"] {
            guard case let .number(x)? = phases[key] else { return XCTFail("phase \(key)") }
            sum += x
        }
        XCTAssertEqual(sum, seconds, accuracy: 1e-9)
        // 16 MB at 10 Mbps is at least 12.8 s.
        XCTAssertGreaterThan(seconds, 12.8)
        let scratch = CapturedConsole()
        let fluid = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["net", "transfer", "--bytes", "16MB", "--rate", "10Mbps", "--rtt", "80ms", "--model", "fluid", "--json"], console: fluid.console), 0)
        XCTAssertTrue(fluid.out.contains("\"seconds\":12.84"), fluid.out)
        XCTAssertEqual(FedSimMain.run(["net", "transfer", "--bytes", "16MB", "--rate", "10Mbps", "--rtt", "80ms", "--loss", "1.2"], console: scratch.console), 2)
    }
}

final class TrainingInputTests: XCTestCase {
    /// A missing or corrupt dataset folder: `fedsim run` exits 2 naming the scenario file, the key
    /// path and the dataset file, and writes nothing.
    func testMissingAndCorruptDatasets() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let corrupt = repoRoot.appendingPathComponent("Tests/Fixtures/corrupt-idx").path
        for (folder, expected) in [("no-such-folder", "no-such-folder/train-images-idx3-ubyte.gz"),
                                   (corrupt, "promises 60000×28×28 = 47040000 values, the file holds 10")] {
            let scenario = tmp.appendingPathComponent("s.json")
            try Data("""
            {"name": "d", "population": {"clients": 4}, "selection": {"per_round": 2},
             "workload": {"payload": "measured", "train": {"dataset": "fashion-mnist", "data": "\(folder)"}}}
            """.utf8).write(to: scenario)
            let out = tmp.appendingPathComponent("out").path
            let console = CapturedConsole()
            XCTAssertEqual(FedSimMain.run(["run", scenario.path, "--out", out], console: console.console), 2, console.err)
            XCTAssertTrue(console.err.contains("\(scenario.path): workload.train.data: "), console.err)
            XCTAssertTrue(console.err.contains(expected), console.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }
}

final class SweepTests: XCTestCase {
    /// A 2 × 2 sweep on a small training scenario: shards, resumption, the summary, bad axes.
    func testSweepShardsResumesAndSummarises() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        try Data("""
        {"name": "small", "population": {"clients": 6}, "selection": {"per_round": 3},
         "network": {"down": "20Mbps", "up": "5Mbps", "rtt": "50ms"},
         "workload": {"payload": {"model": "gpt2", "rank": 4, "targets": ["c_attn"]},
                      "train": {"dataset": {"synthetic": {"classes": 4, "dimension": 20, "train": 600, "test": 200}},
                                "hidden": [16], "pretrain": {"classes": [0, 1]}, "lora": {"rank": 4}}},
         "arms": [{"codec": "lora"}, {"codec": "fedsrd"}], "stop": {"rounds": 4}}
        """.utf8).write(to: tmp.appendingPathComponent("base.json"))
        let sweep = tmp.appendingPathComponent("sweep.json")
        try Data(#"{"base": "base.json", "axes": {"network.up": ["1Mbps", "50Mbps"], "seed": [1, 2]}}"#.utf8).write(to: sweep)
        let out = tmp.appendingPathComponent("out").path
        let c1 = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["sweep", sweep.path, "--out", out, "--shard", "2/2"], console: c1.console), 0, c1.err)
        XCTAssertTrue(c1.out.contains("2 point(s) run, 0 already done; 2 of 4 points"), c1.out)
        let c2 = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["sweep", sweep.path, "--out", out], console: c2.console), 0, c2.err)
        XCTAssertTrue(c2.out.contains("2 point(s) run, 2 already done; 4 of 4 points"), c2.out)
        let csv = try String(contentsOfFile: out + "/sweep.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + 4 * 2)
        XCTAssertTrue(csv[0].hasPrefix("point,network.up,seed,arm,time_to_target_s"))
        let md = try String(contentsOfFile: out + "/sweep.md", encoding: .utf8)
        XCTAssertTrue(md.contains("| 1Mbps | 2 |"), md)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/plots/speedup.svg"))
        // A third call runs nothing.
        let c3 = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["sweep", sweep.path, "--out", out], console: c3.console), 0)
        XCTAssertTrue(c3.out.contains("0 point(s) run, 4 already done"), c3.out)

        // Bad axes: a value the scenario rejects names the sweep file and the point.
        try Data(#"{"base": "base.json", "axes": {"network.up": ["1Mbps", "-5Mbps"]}}"#.utf8).write(to: sweep)
        let bad = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["sweep", sweep.path, "--out", tmp.appendingPathComponent("bad").path], console: bad.console), 2)
        XCTAssertTrue(bad.err.contains("\(sweep.path): axes: expected a valid scenario at point 2 (network.up = -5Mbps)"), bad.err)
        XCTAssertTrue(bad.err.contains("network.up"), bad.err)
        try Data(#"{"base": "missing.json", "axes": {"seed": [1]}}"#.utf8).write(to: sweep)
        let missing = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["sweep", sweep.path, "--out", tmp.appendingPathComponent("bad").path], console: missing.console), 2)
        XCTAssertTrue(missing.err.contains("\(sweep.path): base: expected a scenario file, found 'missing.json'"), missing.err)
    }

    func testSettingKeyPaths() {
        let doc = JSONValue.object(["network": .object(["mix": .array([.object(["profile": .string("4g")])])])])
        let changed = doc.setting(["network", "mix", "0", "profile"], to: .string("3g"))
        XCTAssertEqual(changed, .object(["network": .object(["mix": .array([.object(["profile": .string("3g")])])])]))
        XCTAssertNil(doc.setting(["network", "mix", "3", "profile"], to: .string("3g")))
        XCTAssertEqual(doc.setting(["stop", "rounds"], to: .number(5)).flatMap { v -> JSONValue? in
            if case let .object(o) = v { return o["stop"] }; return nil }, .object(["rounds": .number(5)]))
    }
}
