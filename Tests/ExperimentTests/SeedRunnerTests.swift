import Experiment
import Foundation
import Numerics
import Reporting
import Scenario
import XCTest

/// Runs over seeds: checkpoints named `seed-N-KEY.json`, resume from them, events, errors.
final class SeedRunnerTests: ExperimentTestCase {
    func testCheckpointsAreWrittenPerSeedAndResumedToTheSameResults() throws {
        try write("s.json", scenario())
        let s = try ScenarioParser.load(file: path("s.json"))
        let runner = SeedRunner(scenario: s, file: path("s.json"), seeds: 3, recordClients: false, checkpoints: path("cp"))
        let first = RecordingObserver()
        let fresh = try runner.run(observer: first)
        XCTAssertEqual(fresh.runs.map(\.seed), [1, 2, 3])
        XCTAssertEqual(first.resumed, [])
        XCTAssertEqual(first.finishedArms, ["lora@1", "fedsrd@1", "lora@2", "fedsrd@2", "lora@3", "fedsrd@3"])
        let names = contents(path("cp"))
        XCTAssertEqual(names.count, 3)
        for k in 0..<3 {
            let seedScenario = try runner.scenario(ofSeed: k)
            let key = runner.checkpointKey(seedScenario)
            XCTAssertEqual(key.count, 16)
            XCTAssertTrue(names.contains("seed-\(k + 1)-\(key).json"), "\(names)")
            XCTAssertEqual(runner.checkpointFile(seedScenario), path("cp") + "/seed-\(k + 1)-\(key).json")
        }
        // A second run takes every seed from its checkpoint and gives the same bytes.
        let second = RecordingObserver()
        let resumed = try runner.run(observer: second)
        XCTAssertEqual(second.resumed, [1, 2, 3])
        XCTAssertEqual(second.finishedArms, [])
        XCTAssertEqual(RunOutput.files(resumed).map(\.contents), RunOutput.files(fresh).map(\.contents))
        // Client rows change the key: nothing is reused.
        var withClients = runner
        withClients.recordClients = true
        let third = RecordingObserver()
        _ = try withClients.run(observer: third)
        XCTAssertEqual(third.resumed, [])
        XCTAssertEqual(contents(path("cp")).count, 6)
    }

    func testACorruptOrForeignCheckpointIsRunAgain() throws {
        try write("s.json", scenario())
        let s = try ScenarioParser.load(file: path("s.json"))
        let runner = SeedRunner(scenario: s, file: path("s.json"), seeds: 2, recordClients: false, checkpoints: path("cp"))
        _ = try runner.run()
        let seed1 = try XCTUnwrap(runner.checkpointFile(try runner.scenario(ofSeed: 0)))
        let seed2 = try XCTUnwrap(runner.checkpointFile(try runner.scenario(ofSeed: 1)))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: seed1))
        let afterCorruption = RecordingObserver()
        _ = try runner.run(observer: afterCorruption)
        XCTAssertEqual(afterCorruption.resumed, [2])
        XCTAssertEqual(afterCorruption.finishedArms, ["lora@1", "fedsrd@1"])
        // Seed 2's checkpoint under seed 1's name: another key and seed, so seed 1 runs again.
        try FileManager.default.removeItem(atPath: seed1)
        try FileManager.default.copyItem(atPath: seed2, toPath: seed1)
        let afterSwap = RecordingObserver()
        _ = try runner.run(observer: afterSwap)
        XCTAssertEqual(afterSwap.resumed, [2])
        XCTAssertEqual(afterSwap.finishedArms, ["lora@1", "fedsrd@1"])
    }

    func testRoundEventsOnlyWhenWantedAndObserverErrorsStopTheRun() throws {
        try write("s.json", scenario())
        let s = try ScenarioParser.load(file: path("s.json"))
        let runner = SeedRunner(scenario: s, file: path("s.json"))
        let quiet = RecordingObserver()
        _ = try runner.run(observer: quiet)
        XCTAssertEqual(quiet.rounds, 0)
        let loud = RecordingObserver(wantsRounds: true)
        _ = try runner.run(observer: loud)
        XCTAssertEqual(loud.rounds, 8, "4 rounds × 2 arms")
        guard case let .round(c, arm, round, rounds, t, _)? = loud.events.first else { return XCTFail("\(loud.events)") }
        XCTAssertEqual(c, SeedContext(point: nil, seed: 1, seedIndex: 0, seedCount: 1))
        XCTAssertEqual(arm, "lora")
        XCTAssertEqual(round, 1)
        XCTAssertEqual(rounds, 4)
        XCTAssertGreaterThan(t, 0)
        let failing = RecordingObserver(failAt: 1)
        XCTAssertThrowsError(try runner.run(observer: failing)) { XCTAssertTrue($0 is RecordingObserver.Stop, "\($0)") }
        XCTAssertEqual(failing.events.count, 1, "nothing runs after the observer's error")
    }

    func testSeedOverflowAndZeroSeedsAreInputErrors() throws {
        try write("s.json", scenario())
        var s = try ScenarioParser.load(file: path("s.json"))
        s.seed = .max   // only a scenario built in Swift gets here: files hold seeds up to 2^53 − 1
        XCTAssertThrowsError(try SeedRunner(scenario: s, file: path("s.json"), seeds: 2).run()) { error in
            let e = error as? InputError
            XCTAssertEqual(e?.keyPath, "seed")
            XCTAssertTrue(String(describing: error).contains("--seeds 2"), "\(error)")
        }
        XCTAssertThrowsError(try SeedRunner(scenario: s, file: path("s.json"), seeds: 0).run()) { XCTAssertTrue($0 is InputError) }
    }

    func testADivergingLearningRateIsAnInputErrorAtItsKey() throws {
        try write("lr.json", """
        {"name": "lr", "population": {"clients": 6}, "selection": {"per_round": 3},
         "workload": {"payload": "measured",
                      "train": {"dataset": {"synthetic": {"classes": 4, "dimension": 20, "train": 600, "test": 200}},
                                "hidden": [16], "pretrain": {"classes": [0, 1]}, "lora": {"rank": 4},
                                "local": {"optimizer": "sgd", "learning_rate": 1e30}}},
         "stop": {"rounds": 3}}
        """)
        let s = try ScenarioParser.load(file: path("lr.json"))
        let observer = RecordingObserver()
        XCTAssertThrowsError(try SeedRunner(scenario: s, file: path("lr.json")).run(observer: observer)) { error in
            let e = error as? InputError
            XCTAssertEqual(e?.keyPath, "workload.train.local.learning_rate")
            XCTAssertEqual(e?.file, self.path("lr.json"))
            XCTAssertTrue(String(describing: error).contains("arm lora: "), "\(error)")
        }
        XCTAssertTrue(observer.events.contains { if case .baseModel = $0 { true } else { false } })
        XCTAssertTrue(observer.events.contains { if case .armFailed(_, "lora") = $0 { true } else { false } })
    }
}
