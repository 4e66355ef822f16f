import Federation
import Foundation
import Learning
import LoRA
import Numerics
import Reporting
import Scenario
import XCTest

/// The external-trainer protocol end to end with the reference trainer `fedsim-train` (built
/// beside the tests): the same results as the built-in path, failed participants for every kind of
/// failure, the run stopping after failures in a row, and nothing left behind.
final class ExternalTrainerTests: XCTestCase {
    var dir: URL!
    var cache: String { dir.appendingPathComponent("cache").path }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-external-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try XCTSkipIf(Subprocess.resolve("fedsim-train", directory: dir.path) == nil, "fedsim-train is not built beside the tests")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A tiny MLP federation; `train` is its workload.train.
    func mlp(_ train: String, payload: String = #"{"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}"#, rounds: Int = 4,
             arms: String = #"[{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.8}, {"codec": "ffa-lora"}]"#) -> String {
        """
        {"name": "tiny", "seed": 3, "population": {"clients": 8}, "selection": {"per_round": 3, "over_selection": 0.4},
         "availability": {"dropout_per_round": 0.1},
         "workload": {"payload": \(payload), "train": \(train)},
         "arms": \(arms), "stop": {"rounds": \(rounds)}}
        """
    }

    static let builtInTrain = #"{"dataset": {"synthetic": {"classes": 4, "dimension": 20, "train": 600, "test": 200}}, "hidden": [16], "pretrain": {"classes": [0, 1]}, "lora": {"rank": 4}, "local": {"epochs": 2, "learning_rate": 0.01}}"#

    /// `workload.train.external` running fedsim-train on `builtin.json`, with `extra` trainer
    /// arguments and `keys` more external keys.
    func external(_ extra: [String] = [], keys: String = "") -> String {
        let argv = (["fedsim-train", "--scenario", "builtin.json", "--cache", cache] + extra).map { "\"\($0)\"" }.joined(separator: ", ")
        return #"{"external": {"command": [\#(argv)]\#(keys)}}"#
    }

    func load(_ name: String, _ json: String) throws -> Scenario {
        let path = dir.appendingPathComponent(name).path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return try ScenarioParser.load(file: path)
    }

    func run(_ s: Scenario) throws -> [ArmResult] {
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        return try s.arms.map { try f.run(arm: $0) }
    }

    func csv(_ results: [ArmResult]) -> (rounds: String, clients: String) {
        (RoundRow.table.text(results.flatMap { r in r.rounds.map { RoundRow(seed: 3, arm: r.name, record: $0) } }),
         results.flatMap { r in r.clients.map { "\(r.name),\($0.round),\($0.client),\($0.outcome),\($0.uploadBytes),\($0.endSeconds)" } }.joined(separator: "\n"))
    }

    /// Runs `fedsim run` (built beside the tests) on `scenario` into `out`; its rounds.csv and
    /// clients.csv. Both sides of a comparison run as fedsim processes, so both use the BLAS
    /// kernel fedsim pins (the test process itself does not pin one).
    func fedsimRun(_ scenario: String, _ out: String) throws -> (rounds: String, clients: String, summary: String) {
        let fedsim = try XCTUnwrap(Subprocess.resolve("fedsim", directory: dir.path), "fedsim is not built beside the tests")
        let o = dir.appendingPathComponent(out).path
        let outcome = try Subprocess.run(fedsim, ["run", dir.appendingPathComponent(scenario).path, "--out", o, "--force"], in: dir.path,
                                         standardOutput: dir.appendingPathComponent(out + ".out").path,
                                         standardError: dir.appendingPathComponent(out + ".err").path, timeout: 600)
        XCTAssertTrue(outcome.succeeded, "\(outcome.ending): \(Subprocess.tail(of: dir.appendingPathComponent(out + ".err").path))")
        func read(_ f: String) throws -> String { try String(contentsOfFile: o + "/" + f, encoding: .utf8) }
        return (try read("rounds.csv"), try read("clients.csv"), try read("summary.json"))
    }

    /// The issue's check: an external run with fedsim-train gives the built-in path's accuracies,
    /// losses, bytes and times, round for round and client for client, for a catalogue and a
    /// measured payload.
    func testFedsimTrainGivesTheBuiltInResults() throws {
        for payload in [#"{"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}"#, #""measured""#] {
            _ = try load("builtin.json", mlp(Self.builtInTrain, payload: payload))
            _ = try load("external.json", mlp(external(), payload: payload))
            let (a, b) = (try fedsimRun("builtin.json", "b"), try fedsimRun("external.json", "e"))
            XCTAssertEqual(a.rounds, b.rounds, payload)
            XCTAssertEqual(a.clients, b.clients, payload)
            // Not a vacuous comparison: the model learns, and every call succeeded.
            let rows = try RoundRow.table.read(a.rounds, file: "rounds.csv").filter { $0.arm == "lora" }
            let losses = Set(rows.compactMap(\.record.loss))
            XCTAssertGreaterThan(losses.count, 2, "loss does not change: \(losses)")
            XCTAssertFalse(a.summary.contains("external_trainer"))
            XCTAssertTrue(b.summary.contains("\"external_trainer\""))
            XCTAssertFalse(b.summary.contains("\"failed\" : 1"))
        }
        // In process (whatever BLAS kernel runs here): every call succeeds and is counted.
        for r in try run(try load("external.json", mlp(external()))) {
            let t = try XCTUnwrap(r.trainer)
            XCTAssertEqual(t.failed, 0, "\(t.examples)")
            XCTAssertEqual(t.calls, r.rounds.reduce(0) { $0 + $1.selected })
        }
    }

    /// The transformer LM through fedsim-train gives the built-in path's results too.
    func testFedsimTrainGivesTheBuiltInTransformerResults() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TextCorpus.defaultDirectory + "/de"), "Debian's fortunes are not installed (make setup)")
        let text = transformerScenario(rounds: 2, arms: #"[{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.8}]"#)
        _ = try load("builtin.json", text)
        let train = try JSONValue.parse(Data(external().utf8), file: nil)
        let swapped = try XCTUnwrap(try JSONValue.parse(Data(text.utf8), file: nil).setting(["workload", "train"], to: train))
        _ = try load("external.json", swapped.text())
        let (a, b) = (try fedsimRun("builtin.json", "b"), try fedsimRun("external.json", "e"))
        XCTAssertEqual(a.clients, b.clients)
        // Accuracy, loss, bytes and times are identical. The fidelity indicators sum over layers,
        // and the external adapter lists them in its file's natural order (layers.0.k_proj before
        // q_proj), not the model's q, k, v, o: they agree to rounding.
        let x = try RoundRow.table.read(a.rounds, file: "builtin"), y = try RoundRow.table.read(b.rounds, file: "external")
        XCTAssertEqual(x.count, y.count)
        for (r, t) in zip(x, y) {
            var (u, v) = (r.record, t.record)
            for (p, q) in [(u.updateCosine, v.updateCosine), (u.updateNormRatio, v.updateNormRatio), (u.keptEnergy, v.keptEnergy), (u.updateKurtosis, v.updateKurtosis)] {
                XCTAssertEqual(try XCTUnwrap(p), try XCTUnwrap(q), accuracy: 1e-12 * max(1, abs(p ?? 0)))
            }
            (u.updateCosine, u.updateNormRatio, u.keptEnergy, u.updateKurtosis) = (nil, nil, nil, nil)
            (v.updateCosine, v.updateNormRatio, v.keptEnergy, v.updateKurtosis) = (nil, nil, nil, nil)
            XCTAssertEqual(RoundRow.table.text([RoundRow(seed: 0, arm: r.arm, record: u)]), RoundRow.table.text([RoundRow(seed: 0, arm: t.arm, record: v)]))
        }
    }

    /// Each kind of failure makes its client a failed participant, counted by kind; the round
    /// still closes, aggregates the rest and is evaluated.
    func testEachFailureMakesAFailedParticipant() throws {
        _ = try load("builtin.json", mlp(Self.builtInTrain))
        let injections = ["exit:0", "extra:1", "garbage:2", "nan:3", "silent:4", "shape:5", "no-samples:6", "hang:7:2"]
        let s = try load("external.json", mlp(external(injections.flatMap { ["--fail", $0] },
                                                       keys: #", "timeout": "1500ms", "max_consecutive_failures": 1000, "parallel": 3"#),
                                              arms: #"[{"codec": "lora"}]"#))
        let started = Date()
        let r = try XCTUnwrap(try run(s).first)
        let t = try XCTUnwrap(r.trainer)
        // Clients 0–6 fail whenever selected; 7 only in round 2 (by timing out).
        let expectFailed = r.clients.filter { $0.client < 7 || $0.round == 2 }.count
        XCTAssertEqual(t.failed, expectFailed, "\(t.failures)")
        XCTAssertEqual(r.rounds.reduce(0) { $0 + $1.failed }, expectFailed)
        XCTAssertEqual(r.clients.filter { $0.outcome == .failed }.count, expectFailed)
        for c in r.clients where c.outcome == .failed { XCTAssertEqual(c.uploadBytes, 0) }
        let kinds: [(TrainingFailure.Kind, [Int32])] = [(.exit, [0]), (.shape, [1, 5]), (.malformed, [2, 4, 6]), (.nonFinite, [3])]
        for (kind, clients) in kinds {
            let n = r.clients.filter { clients.contains($0.client) }.count
            XCTAssertEqual(t.failures[kind.rawValue] ?? 0, n, "\(kind): \(t.failures)")
        }
        let timeouts = r.clients.filter { $0.client == 7 && $0.round == 2 }.count
        XCTAssertEqual(t.failures[TrainingFailure.Kind.timeout.rawValue] ?? 0, timeouts)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        XCTAssertFalse(t.examples.isEmpty)
        XCTAssertTrue(t.examples.allSatisfy { !$0.contains(dir.path) || $0.contains("<exchange>") })
        // Rounds with a surviving upload aggregated and every round was evaluated.
        for round in r.rounds {
            XCTAssertNotNil(round.accuracy)
            XCTAssertEqual(round.aggregated, round.completed >= 1)
        }
    }

    /// A client's compute is priced on the samples its train result reports: twice the samples,
    /// twice the compute time (who arrives first, and so the rounds, may then change).
    func testComputeIsPricedOnTheReportedSamples() throws {
        _ = try load("builtin.json", mlp(Self.builtInTrain))
        let arms = #"[{"codec": "lora"}]"#
        let one = try XCTUnwrap(try run(try load("one.json", mlp(external(), rounds: 2, arms: arms))).first)
        let two = try XCTUnwrap(try run(try load("two.json", mlp(external(["--samples-factor", "2"]), rounds: 2, arms: arms))).first)
        let first = one.clients.filter { $0.round == 1 }, second = two.clients.filter { $0.round == 1 }
        XCTAssertEqual(first.map(\.client), second.map(\.client))
        var compared = 0
        for (a, b) in zip(first, second) where a.computeSeconds.isFinite && b.computeSeconds.isFinite {
            XCTAssertEqual(b.computeSeconds, 2 * a.computeSeconds, accuracy: 1e-9 * a.computeSeconds, "client \(a.client)")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 0)
    }

    /// `parallel` calls really run at once: five calls that each hang until their 1 s timeout
    /// take about one timeout, not five.
    func testParallelCallsRunAtOnce() throws {
        _ = try load("builtin.json", mlp(Self.builtInTrain))
        let s = try load("external.json", mlp(external(["--fail", "hang:*:1"], keys: #", "timeout": "1s", "parallel": 5, "max_consecutive_failures": 100"#),
                                              rounds: 1, arms: #"[{"codec": "lora"}]"#))
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        let started = Date()
        let r = try f.run(arm: s.arms[0])
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(r.trainer?.failures["timeout"], 5)
        XCTAssertLessThan(seconds, 4.5, "five 1 s timeouts in \(seconds) s: the calls did not run at once")
    }

    /// After `max_consecutive_failures` failed calls in a row the run stops with a message
    /// naming the key, the arm, the round, the client and the trainer's last words.
    func testFailuresInARowStopTheRun() throws {
        _ = try load("builtin.json", mlp(Self.builtInTrain))
        let s = try load("external.json", mlp(external(["--fail", "exit:*:2"], keys: #", "max_consecutive_failures": 4"#)))
        XCTAssertThrowsError(try run(s)) { error in
            let text = "\(error)"
            XCTAssertTrue(error is ExternalTrainerError, text)
            XCTAssertTrue(text.contains("4 client calls failed in a row"), text)
            XCTAssertTrue(text.contains("max_consecutive_failures"), text)
            XCTAssertTrue(text.contains("round 2"), text)
            XCTAssertTrue(text.contains("injected failure"), text)
        }
    }

    /// A trainer whose initialize fails, or whose evaluation lacks the metric asked for, stops the
    /// run with a clear message.
    func testInitializeAndEvaluationFailuresStopTheRun() throws {
        _ = try load("builtin.json", mlp(Self.builtInTrain))
        let failing = try load("false.json", mlp(#"{"external": {"command": ["false"]}}"#))
        XCTAssertThrowsError(try run(failing)) { XCTAssertTrue("\($0)".contains("initialize call exited with status 1"), "\($0)") }
        let metric = try load("metric.json", mlp(external(keys: #", "metrics": {"accuracy": "bleu"}"#)))
        XCTAssertThrowsError(try run(metric)) { error in
            XCTAssertTrue("\(error)".contains("the metric 'bleu'"), "\(error)")
            XCTAssertTrue("\(error)".contains("initial adapter"), "\(error)")
        }
    }

    /// How many calls run at once does not change a result; the exchange files are removed (or
    /// kept when asked).
    func testParallelismAndExchangeFiles() throws {
        _ = try load("builtin.json", mlp(Self.builtInTrain))
        let exchange = dir.appendingPathComponent("exchange")
        try FileManager.default.createDirectory(at: exchange, withIntermediateDirectories: true)
        let two = #"[{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.8}]"#
        let one = try run(try load("one.json", mlp(external(keys: #", "parallel": 1, "exchange_directory": "exchange""#), rounds: 3, arms: two)))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: exchange.path), [])
        let four = try run(try load("four.json", mlp(external(keys: #", "parallel": 4, "exchange_directory": "exchange", "keep_files": true"#), rounds: 3, arms: two)))
        XCTAssertEqual(csv(one).rounds, csv(four).rounds)
        let kept = try FileManager.default.contentsOfDirectory(atPath: exchange.path)
        XCTAssertEqual(kept.count, 1)
        let request = exchange.appendingPathComponent(kept[0]).appendingPathComponent("arm-0/round-1")
        let clients = try FileManager.default.contentsOfDirectory(atPath: request.path).filter { $0.hasPrefix("client-") }
        XCTAssertFalse(clients.isEmpty)
        // Every request fedsim wrote has exactly the fields docs/external-trainer/request.schema.json
        // requires for its kind (the schema lists no optional request fields).
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let schema = try JSONValue.parse(Data(contentsOf: root.appendingPathComponent("docs/external-trainer/request.schema.json")), file: nil)
        func required(_ kind: String) throws -> Set<String> {
            guard case let .object(top) = schema, case let .object(defs)? = top["$defs"], case let .object(def)? = defs[kind],
                  case let .array(list)? = def["required"], case let .object(properties)? = def["properties"] else { throw XCTSkip("schema layout") }
            let names = Set(list.compactMap { if case let .string(s) = $0 { return s } else { return nil } })
            XCTAssertEqual(names, Set(properties.keys), "\(kind): every property is required")
            return names
        }
        let run = exchange.appendingPathComponent(kept[0])
        let files: [(String, URL)] = [("train", request.appendingPathComponent(clients[0])), ("initialize", run.appendingPathComponent("initialize")),
                                      ("evaluate", run.appendingPathComponent("evaluate-base")), ("evaluate", run.appendingPathComponent("arm-0/evaluate-1"))]
        for (kind, folder) in files {
            let json = try JSONValue.parse(Data(contentsOf: folder.appendingPathComponent("request.json")), file: nil)
            guard case let .object(o) = json else { return XCTFail("not an object") }
            XCTAssertEqual(Set(o.keys), try required(kind), folder.path)
            XCTAssertEqual(o["protocol"], .string(ExternalTrainer.protocolVersion))
            XCTAssertEqual(o["kind"], .string(kind))
        }
    }

    /// The call seed is the same in every arm, differs between clients and rounds, and is exact in JSON.
    func testCallSeeds() {
        let a = ExternalWorkload.callSeed(run: 1, round: 1, client: 0), b = ExternalWorkload.callSeed(run: 1, round: 1, client: 1)
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(a, ExternalWorkload.callSeed(run: 1, round: 2, client: 0))
        XCTAssertEqual(a, ExternalWorkload.callSeed(run: 1, round: 1, client: 0))
        XCTAssertLessThan(a, 1 << 53)
    }
}
