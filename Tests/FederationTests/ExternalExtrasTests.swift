import Codec
import Federation
import Foundation
import LoRA
import Numerics
import Scenario
import XCTest

/// The external trainer's adapters with tensors that are not LoRA factors (extras) and embedding LoRA:
/// the global carries them as the initial adapter had them, and an update must bring them back.
final class ExternalExtrasTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("external-extras-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    private func layout() -> PEFTFile {
        let shapes = [LoRALayerShape(name: "m.embed_tokens", inFeatures: 10, outFeatures: 4, rank: 2),
                      LoRALayerShape(name: "m.layers.0.q_proj", inFeatures: 4, outFeatures: 4, rank: 2)]
        let adapter = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(seed: 3, purpose: "external-extras"))
        let head = PEFTExtra(name: "m.score.weight", dtype: .f32, shape: [2], bytes: [0, 0, 128, 63, 0, 0, 0, 64])
        let steps = PEFTExtra(name: "m.norm.num_batches_tracked", dtype: .i64, shape: [], bytes: [5, 0, 0, 0, 0, 0, 0, 0])
        return PEFTFile(adapter: adapter, styles: [.embedding, .linear], extras: [steps, head])
    }

    private func failure(_ result: Result<ExternalUpdate, TrainingFailure>) -> TrainingFailure? {
        if case let .failure(f) = result { return f }
        return nil
    }

    func testGlobalCarriesExtrasAndUpdatesMustReturnThem() throws {
        let file = layout()
        let global = folder + "/global.safetensors"
        try ExternalWorkload.writeAdapter(file.adapter, to: global, layout: file)
        let written = try SafeTensorsFile.read(contentsOf: global)
        XCTAssertNotNil(written.tensors["m.embed_tokens.lora_embedding_A"], "embedding LoRA keeps PEFT's names")
        XCTAssertNotNil(written.tensors["m.layers.0.q_proj.lora_A.weight"])
        XCTAssertEqual(written.raw["m.norm.num_batches_tracked"]?.bytes, file.extras[0].bytes)
        XCTAssertEqual(try PEFTFile.read(contentsOf: global), file)
        // The trainer returns the same tensors: accepted.
        let trained = try ExternalWorkload.readUpdate(global, global: file.adapter, freezingA: false, layout: file).get()
        XCTAssertEqual(trained.adapter, file.adapter)
        XCTAssertEqual(trained.extras, file.extras, "the extras come back, in the layout's order")
        // The global written with other extras (an arm's global ones) carries those instead of the layout's.
        var other = file.extras
        other[1] = PEFTExtra(name: "m.score.weight", dtype: .f32, shape: [2], bytes: [0, 0, 64, 64, 0, 0, 128, 64])
        try ExternalWorkload.writeAdapter(file.adapter, to: folder + "/other.safetensors", layout: file, extras: other)
        XCTAssertEqual(try PEFTFile.read(contentsOf: folder + "/other.safetensors").extras, other)

        // A trainer that drops an extra: a failed participant (shape), naming the tensor.
        var dropped = written
        dropped.raw.removeValue(forKey: "m.norm.num_batches_tracked")
        try dropped.write(to: folder + "/dropped.safetensors")
        let d = try XCTUnwrap(failure(ExternalWorkload.readUpdate(folder + "/dropped.safetensors", global: file.adapter, freezingA: false, layout: file)))
        XCTAssertEqual(d.kind, .shape)
        XCTAssertTrue(d.message.contains("missing: m.norm.num_batches_tracked"), d.message)
        // Another dtype: shape, naming both signatures.
        var retyped = written
        retyped.raw["m.norm.num_batches_tracked"] = .init(dtype: .i32, shape: [], bytes: [5, 0, 0, 0])
        try retyped.write(to: folder + "/retyped.safetensors")
        let r = try XCTUnwrap(failure(ExternalWorkload.readUpdate(folder + "/retyped.safetensors", global: file.adapter, freezingA: false, layout: file)))
        XCTAssertEqual(r.kind, .shape)
        XCTAssertTrue(r.message.contains("I64 []") && r.message.contains("I32 []"), r.message)
        // NaN in a float extra: non_finite, naming the tensor (the writer refuses NaN, so patch the bytes).
        var bytes = try Data(contentsOf: URL(fileURLWithPath: global))
        let header = String(decoding: bytes[8..<(8 + Int(bytes[0]) + Int(bytes[1]) << 8)], as: UTF8.self)
        let headerEnd = 8 + Int(bytes[0]) + Int(bytes[1]) << 8
        let range = try XCTUnwrap(header.range(of: #""m.score.weight":{"data_offsets":["#))
        let offset = Int(header[range.upperBound...].prefix { $0.isNumber })!
        for (k, b) in [0x00, 0x00, 0xC0, 0x7F].enumerated() { bytes[headerEnd + offset + k] = UInt8(b) }
        try bytes.write(to: URL(fileURLWithPath: folder + "/nan.safetensors"))
        let n = try XCTUnwrap(failure(ExternalWorkload.readUpdate(folder + "/nan.safetensors", global: file.adapter, freezingA: false, layout: file)))
        XCTAssertEqual(n.kind, .nonFinite)
        XCTAssertTrue(n.message.contains("'m.score.weight'") && n.message.contains("NaN"), n.message)
        // Without a layout (plain LoRA), the extras are tensors the global does not have.
        let plain = try XCTUnwrap(failure(ExternalWorkload.readUpdate(global, global: file.adapter, freezingA: false)))
        XCTAssertEqual(plain.kind, .shape)
    }
}

/// The server's aggregation of the extras (`ExtrasAggregation`): float extras FedAvg'd with the
/// LoRA factors' weights in `Double` and rounded once to their dtype; the others taken whole from
/// the heaviest update, ties to the lowest client index.
final class ExtrasAggregationTests: XCTestCase {
    private func extra(_ name: String, _ dtype: SafeTensorsElementType, _ values: [Double]) -> PEFTExtra {
        PEFTExtra(name: name, dtype: dtype, shape: [values.count], bytes: [UInt8](repeating: 0, count: values.count * dtype.byteCount)).replacingNumbers(values)
    }

    private func bits16(_ e: PEFTExtra) -> [UInt16] {
        stride(from: 0, to: e.bytes.count, by: 2).map { UInt16(e.bytes[$0]) | UInt16(e.bytes[$0 + 1]) << 8 }
    }

    func testFloatExtrasAreAveragedWithTheWeights() throws {
        // Weights 1 and 3: p = 1/4, 3/4.
        let a = [extra("h", .f32, [1, 2]), extra("d", .f64, [0.1, -3]), extra("n", .f16, [1, 1]), extra("m", .bf16, [1, -2])]
        let b = [extra("h", .f32, [3, 4.5]), extra("d", .f64, [0.2, 5]), extra("n", .f16, [1.0009765625, 3]), extra("m", .bf16, [1.0078125, 2])]
        let out = try ExtrasAggregation.aggregate([a, b], weights: [1, 3], clients: [3, 1])
        XCTAssertEqual(out.map(\.name), ["h", "d", "n", "m"])
        XCTAssertEqual(out[0].numbers(), [2.5, 3.875])
        XCTAssertEqual(out[1].numbers(), [0.25 * 0.1 + 0.75 * 0.2, 0.25 * -3 + 0.75 * 5])
        // 1 + 3·2^-12 lies between the F16 values 1 and 1 + 2^-10, nearer the second; 2.5 is exact.
        XCTAssertEqual(out[2].numbers(), [1.0009765625, 2.5])
        // 1 + 3·2^-9 is between the BF16 values 1 and 1 + 2^-7, nearer the second; 1 is exact.
        XCTAssertEqual(out[3].numbers(), [1.0078125, 1])
        // Equal weights put the F16 and BF16 averages on ties: to even (1, not 1 + 2^-10 or 1 + 2^-7).
        let even = try ExtrasAggregation.aggregate([a, b], weights: [2, 2], clients: [0, 1])
        XCTAssertEqual(even[2].numbers()?.first, 1)
        XCTAssertEqual(even[3].numbers()?.first, 1)
        XCTAssertEqual(even[0].dtype, .f32)
        XCTAssertEqual(even[0].bytes.count, 8)
    }

    /// Rounding goes once from the `Double` to the dtype: through `Float` first, values just above a
    /// tie would land on it and round to even (down) instead of up.
    func testRoundingIsOnceToNearestEven() {
        let up = 1 + 0x1p-8 + 0x1p-30, upF16 = 1 + 0x1p-11 + 0x1p-40
        XCTAssertEqual(bits16(extra("m", .bf16, [up, -up, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 0.1])), [0x3F81, 0xBF81, 0x3F80, 0x3F82, 0x3DCD])
        XCTAssertEqual(bits16(extra("n", .f16, [upF16, 1 + 0x1p-11, 65504, 0x1p-24])), [0x3C01, 0x3C00, 0x7BFF, 0x0001])
        let f32 = extra("h", .f32, [1 + 0x1p-24 + 0x1p-40])
        XCTAssertEqual(f32.numbers(), [1 + 0x1p-23])
    }

    func testOtherExtrasComeFromTheHeaviestUpdate() throws {
        func counter(_ n: Int64) -> PEFTExtra { PEFTExtra(name: "steps", dtype: .i64, shape: [], bytes: withUnsafeBytes(of: n.littleEndian) { Array($0) }) }
        func mask(_ b: [UInt8]) -> PEFTExtra { PEFTExtra(name: "mask", dtype: .bool, shape: [b.count], bytes: b) }
        func f8(_ b: UInt8) -> PEFTExtra { PEFTExtra(name: "scale", dtype: .f8e4m3, shape: [1], bytes: [b]) }
        let updates = [[counter(90), mask([1, 0]), f8(0x38)], [counter(70), mask([0, 0]), f8(0x40)], [counter(40), mask([1, 1]), f8(0x30)]]
        // Clients 9 and 4 weigh 5, client 7 weighs 2: client 4's (the lower index of the heaviest) is taken.
        let out = try ExtrasAggregation.aggregate(updates, weights: [5, 2, 5], clients: [9, 7, 4])
        XCTAssertEqual(out, updates[2])
        XCTAssertEqual(try ExtrasAggregation.aggregate(updates, weights: [5, 6, 5], clients: [9, 7, 4]), updates[1])
        XCTAssertFalse(out[2].isAveraged, "8-bit floats have no conversion: taken whole")
    }

    func testMismatchedUpdatesAreErrorsNotCrashes() {
        let a = [PEFTExtra(name: "h", dtype: .f32, shape: [1], bytes: [0, 0, 128, 63])]
        let b = [PEFTExtra(name: "h", dtype: .f16, shape: [1], bytes: [0, 60])]
        XCTAssertThrowsError(try ExtrasAggregation.aggregate([a, b], weights: [1, 1], clients: [0, 1]))
        XCTAssertThrowsError(try ExtrasAggregation.aggregate([a, []], weights: [1, 1], clients: [0, 1]))
        XCTAssertThrowsError(try ExtrasAggregation.aggregate([a], weights: [0], clients: [0]))
        XCTAssertThrowsError(try ExtrasAggregation.aggregate([], weights: [], clients: []))
        // A corrupt message does not decode (what the learner's server side reports as an error).
        var bytes = ExtrasMessage(kind: .update, round: 1, extras: a).encoded()
        bytes[bytes.count - 6] ^= 0x40
        XCTAssertThrowsError(try ExtrasMessage.decode(bytes, expected: a))
        XCTAssertThrowsError(try ExtrasMessage.decode(ExtrasMessage(kind: .update, round: 1, extras: a).encoded(), expected: b))
    }
}

/// A `fedsim run` with the external trainer and an adapter with extras (fedsim-train `--extras`):
/// the global extras are the FedAvg of the arrived updates' extras, written into every file the
/// trainer reads, and every upload and download carries their `ExtrasMessage` bytes.
final class ExternalExtrasRunTests: XCTestCase {
    var dir: URL!
    var cache: String { dir.appendingPathComponent("cache").path }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-external-extras-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try XCTSkipIf(Subprocess.resolve("fedsim-train", directory: dir.path) == nil, "fedsim-train is not built beside the tests")
        try Data(scenario(Self.builtInTrain).utf8).write(to: dir.appendingPathComponent("builtin.json"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let builtInTrain = #"{"dataset": {"synthetic": {"classes": 4, "dimension": 20, "train": 600, "test": 200}}, "hidden": [16], "pretrain": {"classes": [0, 1]}, "lora": {"rank": 4}, "local": {"epochs": 1, "learning_rate": 0.01}}"#

    func scenario(_ train: String, payload: String = #"{"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}"#, selection: String = #"{"per_round": 3, "over_selection": 0.4}"#,
                  availability: String = #"{"dropout_per_round": 0.1}"#, rounds: Int = 2,
                  arms: String = #"[{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.8}, {"codec": "ffa-lora"}]"#) -> String {
        """
        {"name": "extras", "seed": 5, "population": {"clients": 8}, "selection": \(selection), "availability": \(availability),
         "workload": {"payload": \(payload), "train": \(train)}, "arms": \(arms), "stop": {"rounds": \(rounds)}}
        """
    }

    func external(_ args: [String], keys: String = "") -> String {
        let argv = (["fedsim-train", "--scenario", "builtin.json", "--cache", cache] + args).map { "\"\($0)\"" }.joined(separator: ", ")
        return #"{"external": {"command": [\#(argv)]\#(keys)}}"#
    }

    func run(_ json: String, name: String) throws -> (FederationRun, [ArmResult]) {
        let path = dir.appendingPathComponent(name).path
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        let s = try ScenarioParser.load(file: path)
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        return (f, try s.arms.map { try f.run(arm: $0) })
    }

    /// The F16 / BF16 value nearest `x`, ties to the even one, found among the neighbours of a
    /// `Float` conversion (independent of the code under test's round-to-odd).
    static func nearest(_ x: Double, dtype: SafeTensorsElementType) -> Double {
        switch dtype {
        case .f64: return x
        case .f32: return Double(Float(x))
        case .f16:
            let c = Float16(Float(x)).bitPattern
            let candidates = [c &- 1, c, c &+ 1].map { ($0, Double(Float16(bitPattern: $0))) }
            return candidates.min { (abs($0.1 - x), $0.0 & 1) < (abs($1.1 - x), $1.0 & 1) }!.1
        default:
            let c = UInt16(truncatingIfNeeded: Float(x).bitPattern >> 16)
            let candidates = [c &- 1, c, c &+ 1, c &+ 2].map { ($0, Double(Float(bitPattern: UInt32($0) << 16))) }
            return candidates.min { (abs($0.1 - x), $0.0 & 1) < (abs($1.1 - x), $1.0 & 1) }!.1
        }
    }

    /// The FedAvg of the extras of `clients`' files with weights `weights`, computed here.
    static func expected(_ files: [PEFTFile], weights: [Double], clients: [Int]) -> [PEFTExtra] {
        let total = weights.reduce(0, +)
        var heaviest = 0
        for k in weights.indices where weights[k] > weights[heaviest] || (weights[k] == weights[heaviest] && clients[k] < clients[heaviest]) { heaviest = k }
        return files[0].extras.indices.map { e in
            let first = files[0].extras[e]
            guard let n = first.numbers()?.count else { return files[heaviest].extras[e] }
            var sum = [Double](repeating: 0, count: n)
            for (f, w) in zip(files, weights) { for (j, v) in (f.extras[e].numbers() ?? []).enumerated() { sum[j] += w / total * v } }
            return first.replacingNumbers(sum.map { nearest($0, dtype: first.dtype) })
        }
    }

    /// Each round's next global extras (what the next round's global file, and the evaluation
    /// after it, carry) are the FedAvg of the completed clients' extras, in every arm; clients whose
    /// extras are corrupt are failed participants and count for nothing.
    func testTheGlobalExtrasAreTheFedAvgOfTheArrivedUpdates() throws {
        let exchange = dir.appendingPathComponent("exchange")
        try FileManager.default.createDirectory(at: exchange, withIntermediateDirectories: true)
        let (f, results) = try run(scenario(external(["--extras", "--fail", "extras-nan:1", "--fail", "extras-dtype:2"],
                                                     keys: #", "exchange_directory": "exchange", "keep_files": true, "max_consecutive_failures": 100"#)),
                                   name: "run.json")
        let initial = try XCTUnwrap(f.model as? ExternalWorkload).initialExtras
        XCTAssertEqual(initial.count, 6)
        let kept = try FileManager.default.contentsOfDirectory(atPath: exchange.path)
        let root = exchange.appendingPathComponent(try XCTUnwrap(kept.first))
        var checkedRounds = 0
        for (index, r) in results.enumerated() {
            let t = try XCTUnwrap(r.trainer)
            let failing = r.clients.filter { $0.client == 1 || $0.client == 2 }
            XCTAssertEqual(t.failures["non_finite"] ?? 0, failing.filter { $0.client == 1 }.count, "\(t.failures)")
            XCTAssertEqual(t.failures["shape"] ?? 0, failing.filter { $0.client == 2 }.count, "\(t.failures)")
            // Failed participants (or dropped / cut off before their failure shows): never an upload.
            XCTAssertFalse(failing.isEmpty)
            XCTAssertFalse(failing.contains { $0.outcome == .completed })
            XCTAssertTrue(failing.contains { $0.outcome == .failed })
            var global = initial
            for round in r.rounds {
                let arm = root.appendingPathComponent("arm-\(index)")
                let file = try PEFTFile.read(contentsOf: arm.appendingPathComponent("round-\(round.round)/global.safetensors").path)
                XCTAssertEqual(file.extras, global, "arm \(r.name), round \(round.round): the global file carries the global extras")
                let arrived = r.clients.filter { Int($0.round) == round.round && $0.outcome == .completed }.map { Int($0.client) }
                if round.aggregated {
                    let files = try arrived.map { try PEFTFile.read(contentsOf: arm.appendingPathComponent("round-\(round.round)/client-\($0)/adapter.safetensors").path) }
                    let next = Self.expected(files, weights: arrived.map { f.population.samples[$0] }, clients: arrived)
                    XCTAssertNotEqual(next, global)
                    for file in files { XCTAssertNotEqual(next, file.extras, "an average, not one client's") }
                    global = next
                    checkedRounds += 1
                }
                if round.accuracy != nil {
                    let evaluated = try PEFTFile.read(contentsOf: arm.appendingPathComponent("evaluate-\(round.round)/adapter.safetensors").path)
                    XCTAssertEqual(evaluated.extras, global, "arm \(r.name), round \(round.round): the evaluation carries the global extras")
                }
            }
            XCTAssertEqual(r.finalGlobalExtras, global)
        }
        XCTAssertGreaterThanOrEqual(checkedRounds, 4)
    }

    /// Every upload carries the client's extras message and every download (k ≥ 1 broadcasts behind)
    /// the current global extras: with everyone completing every round, the same run with extras
    /// has exactly `ExtrasMessage.size` more bytes per upload and per download, and nothing else
    /// changes; without extras, the run is the built-in one.
    func testExtrasBytesAreInEveryUploadAndDownload() throws {
        let everyone = #"{"per_round": 4, "over_selection": 0}"#, nobodyDrops = #"{"dropout_per_round": 0}"#
        for payload in [#"{"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}"#, #""measured""#] {
            let (fx, with) = try run(scenario(external(["--extras"]), payload: payload, selection: everyone, availability: nobodyDrops, rounds: 4), name: "with.json")
            let (_, without) = try run(scenario(external([]), payload: payload, selection: everyone, availability: nobodyDrops, rounds: 4), name: "without.json")
            let (_, builtin) = try run(scenario(Self.builtInTrain, payload: payload, selection: everyone, availability: nobodyDrops, rounds: 4), name: "builtin-run.json")
            let extras = ExtrasMessage.size(of: try XCTUnwrap(fx.model as? ExternalWorkload).initialExtras)
            // 15 bytes of framing; per tensor 3 bytes, a byte per dimension and the elements:
            // F64 [2], BOOL [3], BF16 [4], I64 [], F16 [3], F32 [2, 3].
            XCTAssertEqual(extras, 15 + (3 + 1 + 16) + (3 + 1 + 3) + (3 + 1 + 8) + (3 + 8) + (3 + 1 + 6) + (3 + 2 + 24))
            for (a, (b, c)) in zip(with, zip(without, builtin)) {
                XCTAssertEqual(b.clients.map(\.uploadBytes), c.clients.map(\.uploadBytes), "without extras, the built-in run's bytes")
                XCTAssertEqual(b.bytesUp, c.bytesUp)
                XCTAssertEqual(b.bytesDown, c.bytesDown)
                XCTAssertTrue(b.finalGlobalExtras.isEmpty)
                XCTAssertEqual(a.clients.count, b.clients.count)
                var downloads = 0
                for (x, y) in zip(a.clients, b.clients) {
                    XCTAssertEqual([x.round, x.client], [y.round, y.client])
                    XCTAssertEqual(x.outcome, .completed)
                    XCTAssertEqual(x.uploadBytes, y.uploadBytes + extras, "\(payload) \(a.name) round \(x.round) client \(x.client)")
                    XCTAssertEqual(x.staleRounds, y.staleRounds)
                    XCTAssertEqual(x.downloadBytes, y.downloadBytes + (x.staleRounds > 0 ? extras : 0))
                    if x.staleRounds > 0 { downloads += 1 }
                }
                XCTAssertGreaterThan(downloads, 0)
                XCTAssertEqual(a.bytesUp, b.bytesUp + extras * a.clients.count, "\(payload) \(a.name)")
                XCTAssertEqual(a.bytesDown, b.bytesDown + extras * downloads, "\(payload) \(a.name)")
                XCTAssertEqual(a.uploadBytesPerClient, b.uploadBytesPerClient + extras)
                XCTAssertEqual(a.downloadBytesInSync, b.downloadBytesInSync + extras)
                XCTAssertEqual(a.downloadBytesDense, b.downloadBytesDense + extras)
                XCTAssertEqual(a.rounds.map(\.accuracy), b.rounds.map(\.accuracy), "the extras change no LoRA training")
            }
        }
    }
}
