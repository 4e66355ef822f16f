import Federation
import Foundation
import Learning
import LoRA
import Numerics
import Reporting
import Scenario
import XCTest

/// A tiny federation of the transformer LM on fortunes domains (skipped without Debian's fortunes).
func transformerScenario(seed: Int = 3, rounds: Int = 3, arms: String = #"[{"codec": "lora"}]"#) -> String {
    """
    {"name": "tiny-transformer", "seed": \(seed),
     "population": {"clients": 4, "device_speed": "10TFLOPS"},
     "network": {"down": "50Mbps", "up": "20Mbps", "rtt": "20ms", "model": "tcp"},
     "selection": {"per_round": 3, "over_selection": 0},
     "workload": {"payload": "measured",
                  "train": {"model": {"transformer": {"layers": 1, "width": 32, "heads": 2, "context": 16}},
                            "dataset": {"text": {"pretrain": ["en"], "domains": ["de", "es"], "bytes": 40000, "evaluation_windows": 48}},
                            "partition": {"dirichlet": 0.5},
                            "pretrain": {"steps": 60, "batch": 8, "learning_rate": 0.005},
                            "lora": {"rank": 4, "targets": ["q", "k", "v", "o"]},
                            "local": {"steps": 15, "batch": 8, "learning_rate": 0.005}}},
     "arms": \(arms), "stop": {"rounds": \(rounds)}}
    """
}

final class TransformerFederationTests: XCTestCase {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-test-cache").path

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TextCorpus.defaultDirectory + "/de"), "Debian's fortunes are not installed (make setup)")
    }

    func testParsesAndResolves() throws {
        let s = try scenario(transformerScenario())
        guard case let .transformer(x) = s.config.workload.training?.model else { return XCTFail("not the transformer") }
        XCTAssertEqual(x.config, TransformerConfig(layers: 1, width: 32, heads: 2, context: 16, hidden: 88))
        XCTAssertEqual(x.lora.targets, [.q, .k, .v, .o])
        XCTAssertEqual(x.lora.alpha, 8)
        XCTAssertEqual(x.local.optimizer, .adamW(learningRate: 0.005))
        XCTAssertEqual(x.domains, ["de", "es"])
        XCTAssertEqual(x.pretrain.steps, 60)
    }

    /// The run finishes, held-out loss falls below the base's, and the same seed gives the same rounds.csv bytes.
    func testTrainsImprovesAndIsDeterministic() throws {
        let s = try scenario(transformerScenario())
        func rounds() throws -> (String, ArmResult, FederationRun) {
            let f = try FederationRun(config: s.config, cacheDirectory: cache)
            let r = try f.run(arm: s.arms[0])
            return (RoundRow.table.text(r.rounds.map { RoundRow(seed: s.seed, arm: r.name, record: $0) }), r, f)
        }
        let (first, result, f) = try rounds()
        XCTAssertEqual(result.rounds.count, 3)
        XCTAssertTrue(f.model is TextWorkload)
        XCTAssertNil(f.learning)
        let base = try XCTUnwrap(result.initialLoss), last = try XCTUnwrap(result.rounds.last?.loss)
        XCTAssertLessThan(last, base - 0.01, "held-out loss \(base) → \(last)")
        XCTAssertGreaterThan(try XCTUnwrap(result.rounds.last?.accuracy), 0)
        let (second, _, g) = try rounds()
        XCTAssertTrue(g.model?.baseWasCached ?? false)
        XCTAssertEqual(first, second)
    }

    /// One thread and two give the same bytes (clients train one per thread, each step's shards and
    /// the evaluation's chunks summed in a fixed order), with fedsrd's fidelity columns filled in.
    func testOneAndTwoThreadsGiveTheSameRounds() throws {
        // Width 64 and rank 16: A and B have 1,024 entries, so fedsrd sparsifies them (smaller tensors travel dense).
        let text = transformerScenario(seed: 4, rounds: 2, arms: #"[{"codec": "fedsrd", "sparsity": 0.8}]"#)
            .replacingOccurrences(of: #""width": 32, "heads": 2"#, with: #""width": 64, "heads": 2"#)
            .replacingOccurrences(of: #""rank": 4"#, with: #""rank": 16"#)
        let s = try scenario(text)
        func rounds(threads: Int) throws -> (String, ArmResult) {
            Parallelism.use(threads: threads)
            let r = try FederationRun(config: s.config, cacheDirectory: cache).run(arm: s.arms[0])
            return (RoundRow.table.text(r.rounds.map { RoundRow(seed: s.seed, arm: r.name, record: $0) }), r)
        }
        let previous = Parallelism.threads
        defer { Parallelism.use(threads: previous) }
        let (one, result) = try rounds(threads: 1)
        let (two, _) = try rounds(threads: 2)
        XCTAssertEqual(one, two)
        let last = try XCTUnwrap(result.rounds.last)
        XCTAssertLessThan(try XCTUnwrap(last.keptEnergy), 1, "80% sparsity keeps less than the whole update")
        XCTAssertGreaterThan(try XCTUnwrap(last.keptEnergy), 0)
        XCTAssertLessThanOrEqual(try XCTUnwrap(last.updateCosine), 1)
        XCTAssertGreaterThan(try XCTUnwrap(last.updateNormRatio), 0)
        XCTAssertGreaterThan(try XCTUnwrap(last.updateKurtosis), 1, "kurtosis is at least 1")
    }

    /// FFA-LoRA's clients train B only: the upload (ΔB) is then the whole update, and FedAvg of B
    /// with the shared A is exact FedAvg (before A was frozen in training, 11% of the energy was lost).
    func testFFALoRAClientsKeepAFrozen() throws {
        let s = try scenario(transformerScenario(seed: 4, rounds: 1, arms: #"[{"codec": "ffa-lora"}]"#))
        let r = try FederationRun(config: s.config, cacheDirectory: cache).run(arm: s.arms[0])
        let round = try XCTUnwrap(r.rounds.first)
        XCTAssertEqual(try XCTUnwrap(round.keptEnergy), 1, accuracy: 1e-5)
        XCTAssertEqual(try XCTUnwrap(round.updateCosine), 1, accuracy: 1e-5)
    }

    /// The base is cached under a key of everything that determines it.
    func testPretrainingCacheKey() {
        let c = TransformerConfig(layers: 1, width: 32, heads: 2, context: 16, hidden: 88)
        let p = TransformerPretraining(config: c, settings: TransformerTrainingSettings(steps: 10), seed: 1)
        let text = Array("hello, world".utf8)
        XCTAssertEqual(p.key(for: text), p.key(for: text))
        var q = p; q.seed = 2
        var r = p; r.settings.steps = 11
        var s = p; s.config.layers = 2
        let keys = Set([p.key(for: text), q.key(for: text), r.key(for: text), s.key(for: text), p.key(for: Array("hello, world!".utf8))])
        XCTAssertEqual(keys.count, 5)
    }

    /// Every client domain's text goes to the clients, each domain split by its own Dirichlet draw.
    func testDomainsArePartitioned() throws {
        let s = try scenario(transformerScenario())
        let t = try XCTUnwrap(s.config.workload.training)
        guard case let .transformer(x) = t.model else { return XCTFail("not the transformer") }
        let w = try TextWorkload(t, text: x, clients: 4, seed: 3, cacheDirectory: cache)
        let expected = try x.domains.map { d in
            TextCorpus.split(try TextCorpus.load(domain: d, root: x.root, maximumBytes: x.bytesPerDomain, keyPath: ""), heldOutEvery: x.heldOutEvery).train.count
        }.reduce(0, +)
        XCTAssertEqual(w.clientText.map(\.count).reduce(0, +), expected)
        XCTAssertEqual(w.heldOut.count, 2 * 48)
        XCTAssertEqual(w.shapes.count, 4)
    }
}
