import Experiment
import Foundation
import Numerics
import Reporting
import Scenario
import XCTest

/// `fedsim run` as a library call: arm selection, preflight, the atomic output, checkpoints.
final class ExperimentRunnerTests: ExperimentTestCase {
    func testArmsAndSeedAreSelectedAndUnknownArmsNamed() throws {
        try write("s.json", scenario())
        let runner = try ExperimentRunner(file: path("s.json"), seed: 9, arms: ["fedsrd"])
        XCTAssertEqual(runner.scenario.seed, 9)
        XCTAssertEqual(runner.scenario.arms.map(\.name), ["fedsrd"])
        XCTAssertThrowsError(try ExperimentRunner(file: path("s.json"), arms: ["fedsdr"])) { error in
            let e = error as? InputError
            XCTAssertEqual(e?.keyPath, "--arms")
            XCTAssertTrue(String(describing: error).contains("fedsrd"), "the nearest name: \(error)")
        }
    }

    func testRunWritesTheDirectoryAndRemovesItsCheckpoints() throws {
        try write("s.json", scenario())
        XCTAssertEqual(ExperimentRunner.checkpointFolder(for: path("out")), path(".out.seeds"))
        let runner = try ExperimentRunner(file: path("s.json"), seeds: 2, recordClients: false)
        // A checkpoint left by an interrupted run is resumed, then removed with its folder.
        let seeds = SeedRunner(scenario: runner.scenario, file: path("s.json"), seeds: 1, recordClients: false,
                               checkpoints: ExperimentRunner.checkpointFolder(for: path("out")))
        _ = try seeds.run()
        let observer = RecordingObserver()
        let data = try runner.run(writingTo: path("out"), memoryLimit: 1e12, observer: observer).files
        XCTAssertEqual(observer.resumed, [1])
        XCTAssertEqual(observer.finishedArms, ["lora@2", "fedsrd@2"])
        XCTAssertEqual(data.map(\.name), ["summary.json", "rounds.csv", "clients.csv"])
        let written = contents(path("out"))
        for name in ["summary.json", "rounds.csv", "report.md", "report.html", "provenance.json", ".fedsim-output"] {
            XCTAssertTrue(written.contains(name), "\(name) in \(written)")
        }
        XCTAssertEqual(try InputFile.read(path("out/summary.json")), data[0].contents)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path(".out.seeds")))
        // An existing output directory is refused without force, and replaced with it.
        XCTAssertThrowsError(try runner.run(writingTo: path("out"), memoryLimit: 1e12))
        XCTAssertNoThrow(try runner.run(writingTo: path("out"), force: true, memoryLimit: 1e12))
    }

    func testPreflightRefusesBeforeAnythingIsWritten() throws {
        try write("big.json", scenario().replacingOccurrences(of: #""clients": 30"#, with: #""clients": 1000000"#))
        let big = try ExperimentRunner(file: path("big.json"))
        XCTAssertThrowsError(try big.run(writingTo: path("o"), memoryLimit: 50e6)) { error in
            XCTAssertTrue(String(describing: error).contains("population of 1000000 clients"), "\(error)")
        }
        try write("short.json", scenario(#", "availability": {"sessions": {"online": "1ms", "offline": "1ms"}}"#)
            .replacingOccurrences(of: #""stop": {"rounds": 4}"#, with: #""stop": {"time": "365d"}"#))
        let short = try ExperimentRunner(file: path("short.json"))
        XCTAssertThrowsError(try short.preflight(memoryLimit: 1e12)) { error in
            XCTAssertEqual((error as? InputError)?.keyPath, "availability.sessions")
            XCTAssertEqual((error as? InputError)?.file, self.path("short.json"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o")))
    }
}
