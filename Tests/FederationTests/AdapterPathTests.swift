import Codec
@testable import Federation
import Foundation
import Learning
import LoRA
import Numerics
import XCTest

/// A codec that forwards to another and counts what its caller asks of it.
final class CountingCodec: Codec, @unchecked Sendable {
    static let name = "counting"
    static let wireID: UInt8 = 250
    static let summary = "counts the calls it forwards"
    let inner: any Codec
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private(set) var lastBroadcast: [UInt8] = []

    var options: CodecOptions { inner.options }
    init(options: CodecOptions) { inner = LoRACodec(options: options) }

    func calls(_ name: String) -> Int { lock.lock(); defer { lock.unlock() }; return counts[name] ?? 0 }
    private func count(_ name: String) { lock.lock(); counts[name, default: 0] += 1; lock.unlock() }

    func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        count("encode")
        return try inner.encode(delta: delta, global: global, round: round, state: &state)
    }

    func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        count("aggregate")
        let result = try inner.aggregate(updates, global: global, round: round)
        lock.lock(); lastBroadcast = result.broadcast; lock.unlock()
        return result
    }

    func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        count("apply")
        return try inner.apply(broadcast: broadcast, to: global)
    }

    func plan(shapes: [LoRALayerShape], keptFraction: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        inner.plan(shapes: shapes, keptFraction: keptFraction)
    }
}

/// The adapter the learner trains is the adapter the codecs carry: one type, no conversion.
final class AdapterPathTests: XCTestCase {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-test-cache").path

    func workload() throws -> (LearningWorkload, UInt64) {
        let s = try scenario(learningScenario(clients: 4, perRound: 4, rounds: 1))
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        return (try XCTUnwrap(f.learning), s.seed)
    }

    /// train → encode → decode → aggregate → apply with the lossless `lora` codec (f32) changes no
    /// value: the upload decodes to exactly trained − global, one client's FedAvg is exactly
    /// global + that delta, the broadcast applied by a client gives the same adapter, the adapter
    /// keeps the proxy's layer names and shapes, and its PEFT safetensors (f32) read back equal.
    /// A conversion that rounds, reorders, transposes or renames anywhere on the path fails here.
    func testLosslessCodecPathKeepsTheTrainedValues() throws {
        let (w, seed) = try workload()
        let stream = RandomStream(seed: seed, purpose: "training.batches", index: UInt64(1) << 32, algorithm: .taus2)
        let trained = LocalTraining.train(base: w.base, start: w.initial, alpha: w.alpha, data: w.data(of: 0),
                                          settings: w.training.local, stream: stream).adapter
        XCTAssertEqual(trained.shapes, w.initial.shapes)
        XCTAssertNotEqual(trained, w.initial, "training moved the adapter")
        let delta = trained.subtracting(w.initial)
        let codec = LoRACodec(options: CodecOptions())
        var state = ClientCodecState()
        let upload = try codec.encode(delta: delta, global: w.initial, round: 1, state: &state)
        let message = try WireMessage.decode(upload.bytes, shapes: w.shapes)
        XCTAssertEqual(message.tensors.count, 2 * w.shapes.count)
        for t in message.tensors {
            XCTAssertNil(t.indices)
            XCTAssertEqual(t.values, delta.layers[t.layer][t.matrix].storage, "\(w.shapes[t.layer].name).\(t.matrix)")
        }
        let result = try codec.aggregate([WeightedUpdate(bytes: upload.bytes, weight: Double(w.data(of: 0).count))], global: w.initial, round: 1)
        XCTAssertEqual(result.global, w.initial.adding(delta))
        XCTAssertEqual(try codec.apply(broadcast: result.broadcast, to: w.initial), result.global)
        XCTAssertEqual(result.global.shapes.map(\.name), w.base.weights.indices.map { "mlp.\($0)" })
        for (x, y) in zip(result.global.layers, trained.layers) {
            for m in LoRAMatrix.allCases {
                for (p, q) in zip(x[m].storage, y[m].storage) { XCTAssertEqual(p, q, accuracy: 1e-6 * max(1, abs(q))) }
            }
        }
        // The evaluation the learner reports is of that adapter.
        XCTAssertEqual(MLPMath.evaluate(w.base, result.global, alpha: w.alpha, on: w.test).accuracy,
                       MLPMath.evaluate(w.base, w.initial.adding(delta), alpha: w.alpha, on: w.test).accuracy)
        // PEFT's layout: mlp.<l>.lora_A.weight / lora_B.weight, f32, read back unchanged.
        let file = PEFTAdapter.safetensors(from: trained, dtype: .f32)
        XCTAssertEqual(Set(file.tensors.keys), Set(w.shapes.flatMap { ["\($0.name).lora_A.weight", "\($0.name).lora_B.weight"] }))
        let back = try PEFTAdapter.loraAdapter(from: SafeTensorsFile.read(data: file.serialized(), name: "trained"), fileName: "trained")
        XCTAssertEqual(back, trained)
    }

    /// The arm's learner trains, encodes and evaluates the adapter as it is and decodes each
    /// broadcast once: the codec's `aggregate` decodes it (for its result's global and the broadcast
    /// history); the learner never calls `apply`. Its uploads are exactly the trained adapters minus
    /// the global, and its global is what a client applying the broadcast holds.
    func testArmLearnerDecodesEachBroadcastOnce() throws {
        let (w, seed) = try workload()
        let codec = CountingCodec(options: CodecOptions())
        let learner = ArmLearner(workload: w, codec: codec, seed: seed, arm: ArmContext(index: 0, name: "counting", codec: "counting"))
        XCTAssertEqual(learner.global, w.initial)
        let clients = [0, 1, 2]
        try learner.pretrain(clients: clients, round: 1)
        var updates: [WeightedUpdate] = []
        for i in clients {
            let upload = try learner.encode(client: i, round: 1)
            let stream = RandomStream(learner.streamKey(client: i, round: 1), algorithm: .taus2)
            let trained = LocalTraining.train(base: w.base, start: w.initial, alpha: w.alpha, data: w.data(of: i),
                                              settings: w.training.local, stream: stream).adapter
            let message = try WireMessage.decode(upload.bytes, shapes: w.shapes)
            let delta = trained.subtracting(w.initial)
            for t in message.tensors { XCTAssertEqual(t.values, delta.layers[t.layer][t.matrix].storage, "client \(i)") }
            updates.append(WeightedUpdate(bytes: upload.bytes, weight: Double(w.data(of: i).count)))
        }
        for round in 1...2 {
            let before = learner.global
            try learner.aggregate(updates, extras: [], clients: clients, round: round)
            XCTAssertEqual(codec.calls("aggregate"), round)
            XCTAssertEqual(codec.calls("apply"), 0, "the learner takes the codec's decoded global instead of decoding again")
            XCTAssertEqual(learner.global, try LoRACodec(options: CodecOptions()).apply(broadcast: codec.lastBroadcast, to: before))
        }
        XCTAssertEqual(learner.measuredCatchUp(stale: 1), codec.lastBroadcast.count, "the history recorded the broadcast")
        try learner.evaluate(round: 1)
        let expected = MLPMath.evaluate(w.base, learner.global, alpha: w.alpha, on: w.test)
        XCTAssertEqual(learner.accuracy, expected.accuracy)
        XCTAssertEqual(learner.loss, expected.loss)
    }
}

/// A stale client's catch-up, when the proxy trains but payloads are priced on a catalogue model, is
/// priced at the merged kept fractions the broadcast history measures on the proxy's real supports.
final class CatchUpPricingTests: XCTestCase {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-test-cache").path

    func testCatalogueCatchUpIsPricedAtTheMeasuredMergedFractions() throws {
        let s = try scenario(learningScenario(clients: 4, perRound: 4, rounds: 1))
        let w = try XCTUnwrap(try FederationRun(config: s.config, cacheDirectory: cache).learning)
        var options = CodecOptions()
        options.sparsity = 0.9
        options.minSparseEntries = 16  // the proxy's tensors are small: sparsify them
        let codec = try CodecRegistry.make("fedsrd", options: options)
        let shapes = try ModelCatalog.named("llama-2-7b").loraShapes(rank: 16, targets: ["q", "v"])
        let learner = ArmLearner(workload: w, codec: codec, seed: s.seed, arm: ArmContext(index: 0, name: "fedsrd", codec: "fedsrd"))
        var payloads = ArmPayloads(nominal: PayloadSizes(codec: codec, shapes: shapes), codec: codec, shapes: shapes, learner: learner, measured: false)
        let clients = [0, 1, 2, 3]
        for round in 1...4 {
            try payloads.pretrain(clients: clients, round: round)
            let updates = try clients.map { WeightedUpdate(bytes: try XCTUnwrap(try payloads.upload(client: $0, round: round).encoded), weight: 1) }
            try payloads.aggregate(updates, extras: [], clients: clients, round: round)
        }
        let dense = codec.denseAdapterBytes(shapes: shapes)
        let f = learner.broadcastFractions
        XCTAssertLessThan(f.a, 1)
        func priced(_ a: Double, _ b: Double) -> Int {
            min(codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: 1, uploadB: 1, downloadA: a, downloadB: b)).download, dense)
        }
        // One behind: the latest broadcast, priced as before (the merged fraction of one broadcast is its own).
        let independent = PayloadSizes(codec: codec, shapes: shapes, keptFraction: KeptFraction(uploadA: 1, uploadB: 1, downloadA: f.a, downloadB: f.b))
        XCTAssertEqual(payloads.downloadBytes(stale: 1), independent.download(stale: 1))
        XCTAssertEqual(payloads.downloadBytes(stale: 1), priced(f.a, f.b))
        let merged = learner.mergedKeptFractions
        XCTAssertEqual(merged.count, options.historyRounds)
        XCTAssertEqual(merged[0]?.a, f.a)
        XCTAssertEqual(merged[0]?.b, f.b)
        for k in 2...4 {
            let m = try XCTUnwrap(merged[k - 1])
            XCTAssertGreaterThanOrEqual(m.a, merged[k - 2]?.a ?? 1, "unions only grow")
            XCTAssertEqual(payloads.downloadBytes(stale: k), priced(m.a, m.b), "k = \(k): the measured merged fractions")
        }
        XCTAssertNil(merged[4], "4 broadcasts so far")
        XCTAssertEqual(payloads.downloadBytes(stale: 5), dense)
    }
}
