import Codec
import Federation
import Foundation
import Learning
import LoRA
import Numerics
import Reporting
import Scenario
import XCTest

/// A small federation that really trains, on the synthetic dataset (fast).
func learningScenario(clients: Int = 6, perRound: Int = 6, rounds: Int = 3, arms: String = #"[{"codec": "lora"}]"#,
                      extra: String = "", partition: String = #"{"dirichlet": 1.0}"#, payload: String = #""measured""#,
                      dimension: Int = 20, hidden: Int = 32, rank: Int = 4) -> String {
    """
    {"name": "learning", "seed": 4,
     "population": {"clients": \(clients), "device_speed": "10TFLOPS"},
     "network": {"down": "50Mbps", "up": "20Mbps", "rtt": "20ms", "model": "tcp"},
     "selection": {"per_round": \(perRound), "over_selection": 0},
     "workload": {"payload": \(payload),
                  "train": {"dataset": {"synthetic": {"classes": 4, "dimension": \(dimension), "train": 1200, "test": 600}},
                            "partition": \(partition), "hidden": [\(hidden)], "pretrain": {"classes": [0, 1], "epochs": 5},
                            "lora": {"rank": \(rank), "alpha": \(2 * rank)}, "local": {"epochs": 2, "batch": 16, "learning_rate": 0.005}}},
     "arms": \(arms), "stop": {"rounds": \(rounds)} \(extra)}
    """
}

final class LearningFederationTests: XCTestCase {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-test-cache").path

    /// The pretrained base and its evaluation do not depend on how many threads OpenBLAS has when
    /// the model is made: pretraining runs single-threaded, as training and evaluation do. The layers are large enough
    /// that OpenBLAS splits their products over threads (before the fix the two bases differed).
    func testPretrainedBaseDoesNotDependOnBLASThreads() throws {
        let s = try scenario(learningScenario(dimension: 784, hidden: 256))
        let training = try XCTUnwrap(s.config.workload.training)
        let threadsBefore = Parallelism.threads
        defer { Parallelism.use(threads: threadsBefore) }
        func make(threads: Int) throws -> LearningWorkload {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-threads-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            Parallelism.use(threads: threads)
            let model = try training.makeModel(clients: 6, seed: 4, cacheDirectory: dir)
            return try XCTUnwrap(model as? LearningWorkload)
        }
        let one = try make(threads: 1), two = try make(threads: 2)
        XCTAssertFalse(one.baseWasCached)
        XCTAssertFalse(two.baseWasCached)
        XCTAssertEqual(one.base, two.base)
        XCTAssertEqual(one.baseAccuracy, two.baseAccuracy)
        XCTAssertEqual(one.baseLoss, two.baseLoss)
    }

    /// With `lora` (dense FedAvg on A and B, f32) and every client completing, one round's global
    /// adapter equals centralised FedAvg of the same local updates, computed here independently.
    func testLoRAWithFullParticipationIsFedAvg() throws {
        let s = try scenario(learningScenario(rounds: 1))
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        let result = try f.run(arm: s.arms[0])
        XCTAssertEqual(result.rounds[0].completed, 6)
        let w = f.learning!
        var sum = LoRAAdapter.zeros(w.shapes)
        var total = 0.0
        for i in 0..<6 {
            let data = w.data(of: i)
            let stream = RandomStream(seed: s.seed, purpose: "training.batches", index: UInt64(1) << 32 | UInt64(i), algorithm: .taus2)
            let trained = LocalTraining.train(base: w.base, start: w.initial, alpha: w.alpha, data: data, settings: w.training.local, stream: stream).adapter
            let delta = trained.subtracting(w.initial)
            let weight = Float(data.count)
            for l in sum.layers.indices {
                sum.layers[l].a.add(delta.layers[l].a, scaledBy: weight)
                sum.layers[l].b.add(delta.layers[l].b, scaledBy: weight)
            }
            total += Double(data.count)
        }
        let global = try XCTUnwrap(result.finalGlobal)
        XCTAssertEqual(global.shapes, w.shapes)
        for l in sum.layers.indices {
            let expectedA = w.initial.layers[l].a + sum.layers[l].a * Float(1 / total), expectedB = w.initial.layers[l].b + sum.layers[l].b * Float(1 / total)
            for (x, y) in zip(global.layers[l].a.storage, expectedA.storage) { XCTAssertEqual(x, y, accuracy: 1e-5) }
            for (x, y) in zip(global.layers[l].b.storage, expectedB.storage) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        }
    }

    /// Training raises accuracy well above the frozen base; every codec learns; fedsrd sends far
    /// fewer bytes than lora.
    func testEveryCodecLearnsAndFedSRDSendsLess() throws {
        let arms = #"[{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.8}, {"codec": "fedsrd-e", "sparsity": 0.8}, {"codec": "topk", "sparsity": 0.8}, {"codec": "ffa-lora"}]"#
        // Layers large enough to be sparsified (tensors below 1,024 entries travel dense).
        let s = try scenario(learningScenario(clients: 8, perRound: 4, rounds: 8, arms: arms, dimension: 200, hidden: 128, rank: 8))
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        let results = try s.arms.map { try f.run(arm: $0) }
        let base = f.learning!.baseAccuracy
        for r in results {
            // FFA-LoRA trains B only (A frozen) and climbs slower.
            XCTAssertGreaterThan(Metrics.bestAccuracy(r)!, base + (r.codec == "ffa-lora" ? 0.05 : 0.1), "\(r.name): base \(base), best \(Metrics.bestAccuracy(r)!)")
            XCTAssertEqual(r.rounds.filter { $0.accuracy != nil }.count, 8)
        }
        let lora = results[0], fedsrd = results[1]
        XCTAssertLessThan(Double(fedsrd.bytesUp), 0.5 * Double(lora.bytesUp))
        XCTAssertNotNil(fedsrd.measuredUploadKept)
        XCTAssertLessThan(fedsrd.measuredUploadKept!, 0.5)
    }

    /// Same scenario and seed: byte-identical summary.json and rounds.csv, with training.
    func testDeterministicWithTraining() throws {
        func files() throws -> [String: Data] {
            let s = try scenario(learningScenario(clients: 10, perRound: 3, rounds: 4,
                                                  arms: #"[{"codec": "lora"}, {"codec": "fedsrd"}]"#, extra: #", "availability": {"dropout_per_round": 0.2}"#))
            let f = try FederationRun(config: s.config, cacheDirectory: cache)
            let r = RunResults(scenario: s, population: f.population, arms: try s.arms.map { try f.run(arm: $0) })
            return Dictionary(uniqueKeysWithValues: RunOutput.files(r).map { ($0.name, $0.contents) })
        }
        let a = try files(), b = try files()
        XCTAssertEqual(a["summary.json"], b["summary.json"])
        XCTAssertEqual(a["rounds.csv"], b["rounds.csv"])
        XCTAssertTrue(String(decoding: a["rounds.csv"]!, as: UTF8.self).contains(",0."), "accuracy column filled")
    }

    /// A catalogue payload is priced at the kept fractions measured on the proxy: fedsrd's upload
    /// for Llama 2 7B follows the real messages' fraction, not the nominal one.
    func testCataloguePayloadUsesMeasuredKeptFractions() throws {
        let s = try scenario(learningScenario(clients: 4, perRound: 4, rounds: 2, arms: #"[{"codec": "fedsrd", "sparsity": 0.9}]"#,
                                              payload: #"{"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}"#))
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        let r = try f.run(arm: s.arms[0])
        let codec = try CodecRegistry.make("fedsrd", options: s.arms[0].options)
        let measured = r.measuredUploadKept!
        let priced = codec.payloadBytes(shapes: s.workload.payload!.shapes,
                                        keptFraction: KeptFraction(uploadA: measured, uploadB: measured, downloadA: 1, downloadB: 1)).upload
        // Within a few percent (A and B fractions differ slightly from their mean).
        XCTAssertEqual(Double(r.uploadBytesPerClient), Double(priced), accuracy: 0.1 * Double(priced))
        XCTAssertGreaterThan(r.uploadBytesPerClient, 1_000_000, "Llama-sized, not proxy-sized")
    }
}

final class ReportTests: XCTestCase {
    /// The report of a small training run: every file, the headline, the measured/modelled split,
    /// the plots inline in the HTML; re-rendering from the data files (decoded typed) gives the
    /// same report as rendering the in-memory records.
    func testReportFilesAndRerender() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-test-cache").path
        let s = try scenario(learningScenario(clients: 6, perRound: 3, rounds: 4, arms: #"[{"codec": "lora"}, {"codec": "fedsrd"}]"#))
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        let results = RunResults(scenario: s, population: f.population, arms: try s.arms.map { try f.run(arm: $0) })
        let files = try Report.files(results)
        let names = Set(files.map(\.name))
        XCTAssertEqual(names, ["report.md", "report.html", "plots/accuracy-vs-time.svg", "plots/accuracy-vs-round.svg",
                               "plots/bytes-per-round.svg", "plots/client-time-cdf.svg", "plots/phases.svg", "plots/fidelity.svg"])
        let md = String(decoding: files.first { $0.name == "report.md" }!.contents, as: UTF8.self)
        XCTAssertTrue(md.contains("accuracy: lora "), md)
        XCTAssertTrue(md.contains("**Measured**") && md.contains("**Modelled**"))
        XCTAssertTrue(md.contains("| fedsrd |"))
        let html = String(decoding: files.first { $0.name == "report.html" }!.contents, as: UTF8.self)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 6, "six plots inline")
        XCTAssertTrue(md.contains("### Update fidelity") && md.contains("How well each codec preserved the update"), md)
        XCTAssertFalse(html.contains("src=\"plots/"), "self-contained")
        // Write the data files, re-render, compare.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try RunOutput.writeAtomically(RunOutput.files(results), to: dir.path)
        _ = try Report.rerender(directory: dir.path)
        // In memory and from disk: the same records, so the same bytes in every file.
        for f in files { XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent(f.name)), f.contents, f.name) }
        // The headline states each arm's share of the mean round spent training locally, from the records.
        let lora = try XCTUnwrap(Metrics.computeShare(rounds: results.runs[0].arms[0].rounds, clients: results.runs[0].arms[0].clients))
        XCTAssertTrue(Report.headline(results).contains("Share of the mean round spent training locally: lora \(String(format: "%.1f%%", lora * 100)) · fedsrd "),
                      Report.headline(results))
        XCTAssertTrue(md.contains(Report.headline(results)), "the report's headline is the console's")
        XCTAssertEqual(RunRecords(results).computeShares["lora"], lora)
    }

    /// The compute share is mean compute time of the completed clients ÷ mean round duration:
    /// late and dropped clients, and phases that never finished (NaN), do not count.
    func testComputeShareOfTheMeanRound() throws {
        func round(_ i: Int, _ start: Double, _ end: Double) -> RoundRecord {
            RoundRecord(round: i, startSeconds: start, closeSeconds: end, endSeconds: end, available: 4, selected: 4, completed: 2, dropped: 1,
                        late: 1, aggregated: true, close: .quota, bytesUp: 0, bytesDown: 0, version: i)
        }
        func client(_ r: Int32, _ outcome: ClientOutcome, compute: Double) -> ClientRecord {
            ClientRecord(round: r, client: 0, outcome: outcome, staleRounds: 0, downloadBytes: 0, uploadBytes: 0,
                         downloadSeconds: 1, computeSeconds: compute, uploadSeconds: 1, endSeconds: 0)
        }
        let rounds = [round(1, 0, 100), round(2, 100, 400)]  // mean round 200 s
        let clients = [client(1, .completed, compute: 40), client(1, .completed, compute: 60), client(1, .late, compute: 500), client(1, .dropped, compute: .nan),
                       client(2, .completed, compute: 80), client(2, .completed, compute: 20)]  // mean compute of the completed: 50 s
        XCTAssertEqual(try XCTUnwrap(Metrics.computeShare(rounds: rounds, clients: clients)), 0.25, accuracy: 1e-15)
        XCTAssertNil(Metrics.computeShare(rounds: rounds, clients: clients.filter { $0.outcome != .completed }), "no completed client")
        XCTAssertNil(Metrics.computeShare(rounds: [], clients: clients))
        // The headline states the figures it is given in the arms' order, as percentages.
        let s = try scenario(#"{"name": "t", "population": {"clients": 10}, "selection": {"per_round": 3}, "stop": {"rounds": 2}, "workload": {"payload": {"model": "gpt2", "rank": 4, "targets": ["c_attn"]}}}"#)
        let f = try FederationRun(config: s.config)
        let summary = RunSummary(RunResults(scenario: s, population: f.population, arms: try s.arms.map { try f.run(arm: $0) }))
        XCTAssertTrue(Report.headline(summary, computeShares: ["fedsrd": 0.5, "lora": 0.25]).hasSuffix(". Share of the mean round spent training locally: lora 25.0% · fedsrd 50.0%"))
        XCTAssertFalse(Report.headline(summary).contains("Share"), "nothing measured, nothing stated")
    }
}
