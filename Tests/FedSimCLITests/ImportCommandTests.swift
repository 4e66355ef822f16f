import FedSimCLI
import Foundation
import XCTest

/// `fedsim import fedscale`, and scenarios naming FedScale's behaviour trace (the pickle or the
/// imported JSON) end to end.
final class ImportCommandTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fedscale").path
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func run(_ args: [String]) -> (status: Int32, out: String, err: String) {
        let c = CapturedConsole()
        let status = FedSimMain.run(args, console: c.console)
        return (status, c.out, c.err)
    }

    func testImportWritesInspectableFiles() throws {
        let out = tmp.appendingPathComponent("fs").path
        let r = run(["import", "fedscale", "--device", fixtures + "/client_device_capacity", "--behaviour", fixtures + "/client_behave_trace",
                     "--out", out, "--reference-flops", "1GFLOP"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("device: 4 clients"), r.out)
        let csv = try String(contentsOfFile: out + "/device.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv[0], "client,computation_ms_per_sample,communication_kbps,device_speed_flops")
        XCTAssertEqual(csv[1], "1,153.0,2183.0,6535947712.418301")
        XCTAssertEqual(csv.count, 5)
        let json = try String(contentsOfFile: out + "/behaviour.json", encoding: .utf8)
        XCTAssertTrue(json.contains(#""format":"fedsim.fedscale-behaviour/1""#), json)
        // Files present: refused without --force.
        let again = run(["import", "fedscale", "--device", fixtures + "/client_device_capacity", "--out", out])
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.err.contains("--force"), again.err)
        XCTAssertEqual(run(["import", "fedscale", "--device", fixtures + "/client_device_capacity", "--out", out, "--force"]).status, 0)
    }

    func testHostileAndBadInputExitTwo() {
        let marker = "/tmp/fedsim-pickle-was-run"
        try? FileManager.default.removeItem(atPath: marker)
        let r = run(["import", "fedscale", "--behaviour", fixtures + "/hostile-reduce.pkl", "--out", tmp.appendingPathComponent("h").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.contains("hostile-reduce.pkl") && r.err.contains("STACK_GLOBAL") && r.err.contains("at byte"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("h").path), "nothing written on bad input")
        XCTAssertEqual(run(["import", "fedscale", "--out", "x"]).status, 2)
        XCTAssertEqual(run(["import", "csv", "--device", "x", "--out", "x"]).status, 2)
        let device = run(["import", "fedscale", "--device", fixtures + "/missing-key.pkl", "--out", tmp.appendingPathComponent("m").path])
        XCTAssertEqual(device.status, 2)
        XCTAssertTrue(device.err.contains("client '7': expected a 'communication' entry"), device.err)
    }

    /// The pickle and the imported JSON give the same availability; a run with it writes
    /// availability.csv and the availability plot.
    func testScenarioWithBehaviourTrace() throws {
        let out = tmp.appendingPathComponent("fs").path
        XCTAssertEqual(run(["import", "fedscale", "--behaviour", fixtures + "/client_behave_trace", "--out", out]).status, 0)
        func scenario(_ behaviour: String) throws -> String {
            let path = tmp.appendingPathComponent("s-\(UUID().uuidString).json").path
            let text = #"{"name": "trace", "population": {"clients": 30}, "selection": {"per_round": 3, "deadline": "30min"}, "stop": {"rounds": 8}, "#
                + #""availability": {"fedscale": {"behaviour": ""# + behaviour + #""}}, "workload": {"payload": {"model": "gpt2", "rank": 4, "targets": ["c_attn"]}}}"#
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        let viaPickle = try scenario(fixtures + "/client_behave_trace"), viaJSON = try scenario(out + "/behaviour.json")
        let a = run(["run", viaPickle, "--out", tmp.appendingPathComponent("ra").path])
        let b = run(["run", viaJSON, "--out", tmp.appendingPathComponent("rb").path])
        XCTAssertEqual(a.status, 0, a.err)
        XCTAssertEqual(b.status, 0, b.err)
        for name in ["rounds.csv", "clients.csv", "availability.csv"] {
            let x = try String(contentsOfFile: tmp.appendingPathComponent("ra/\(name)").path, encoding: .utf8)
            let y = try String(contentsOfFile: tmp.appendingPathComponent("rb/\(name)").path, encoding: .utf8)
            XCTAssertEqual(x, y, name)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("ra/plots/availability.svg").path))
        let report = try String(contentsOfFile: tmp.appendingPathComponent("ra/report.md").path, encoding: .utf8)
        XCTAssertTrue(report.contains("FedScale behaviour trace"), report)
    }
}
