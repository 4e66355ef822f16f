@testable import Codec
import LoRA
import Numerics
import XCTest

/// FEDSRD.md, "What must hold".
final class CodecPropertiesTests: XCTestCase {
    func testLoRARoundTripIsExact() throws {
        var f = AdapterFactory(seed: 1)
        let shapes = f.shapes(layers: 3, rank: 4, dIn: 20...90, dOut: 20...90)
        let global = f.global(shapes)
        let codec = LoRACodec(options: CodecOptions())
        var state = ClientCodecState()
        let deltas = (0..<3).map { _ in f.delta(shapes) }
        let weights = [1.0, 2.0, 5.0]
        let updates = try zip(deltas, weights).map { WeightedUpdate(bytes: try codec.encode(delta: $0, global: global, round: 1, state: &state).bytes, weight: $1) }
        let result = try codec.aggregate(updates, global: global, round: 1)
        for l in 0..<shapes.count {
            for m in LoRAMatrix.allCases {
                var expected = global.layers[l][m]
                for (d, w) in zip(deltas, weights) { expected.add(d.layers[l][m], scaledBy: Float(w / 8)) }
                XCTAssertEqual(relativeError(result.global.layers[l][m], expected), 0, accuracy: 1e-6)
            }
        }
        // One client with weight 1: bit-exact.
        let single = try codec.aggregate([updates[0]], global: global, round: 2)
        XCTAssertEqual(single.global, global.adding(deltas[0]))
        XCTAssertEqual(try codec.apply(broadcast: single.broadcast, to: global), single.global, "clients hold what the server holds")
    }

    /// α = 0, adaptive off: the server's ΔW is the exact FedAvg of the clients' ΔW_i = B_i'A_i' − BA.
    func testAggregatedUpdateIsExactFedAvgAtZeroSparsity() throws {
        var f = AdapterFactory(seed: 2)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 40...60, dOut: 30...50)
        let global = f.global(shapes)
        let codec = FedSRDCodec(options: options { $0.sparsity = 0; $0.adaptive = false })
        var state = ClientCodecState()
        let deltas = (0..<4).map { _ in f.delta(shapes, scale: 0.05) }
        let weights = [3.0, 1.0, 1.0, 5.0]
        let updates = try zip(deltas, weights).map { WeightedUpdate(bytes: try codec.encode(delta: $0, global: global, round: 1, state: &state).bytes, weight: $1) }
        let operators = try codec.reconstruct(updates, global: global)
        for l in 0..<shapes.count {
            var expected = Matrix.zeros(rows: shapes[l].outFeatures, cols: shapes[l].inFeatures)
            for (d, w) in zip(deltas, weights) {
                let trained = LoRALayer(shape: shapes[l], a: global.layers[l].a + d.layers[l].a, b: global.layers[l].b + d.layers[l].b)
                expected.add(trained.product() - global.layers[l].product(), scaledBy: Float(w / 10))
            }
            // Float32 products of O(1) values: relative error ~1e-7·√(2nr); 1e-5 leaves a wide margin.
            XCTAssertLessThan(relativeError(operators[l].dense(), expected), 1e-5)
        }
    }

    /// With no sparsification, J = 1 and a negligible ridge, the residual is the closed-form projection
    /// error ‖(I − P_B*)·ΔW·(I − P_A)‖_F / ‖ΔW‖_F (a rank-2r update cannot hold everything).
    func testResidualIsTheProjectionError() throws {
        var f = AdapterFactory(seed: 3)
        let shapes = [LoRALayerShape(name: "l", inFeatures: 48, outFeatures: 40, rank: 3)]
        let global = f.global(shapes)
        let codec = FedSRDCodec(options: options { $0.sparsity = 0; $0.downloadSparsity = 0; $0.adaptive = false; $0.iterations = 1; $0.ridge = 1e-9 })
        var state = ClientCodecState()
        let updates = try (0..<5).map { _ in WeightedUpdate(bytes: try codec.encode(delta: f.delta(shapes, scale: 0.1), global: global, round: 1, state: &state).bytes, weight: 1) }
        let operators = try codec.reconstruct(updates, global: global)
        let fit = try codec.decompose(operators, global: global)
        let w = operators[0].dense()
        let a = global.layers[0].a
        let bStar = global.layers[0].b + fit.delta.layers[0].b
        func projector(_ basis: Matrix) throws -> Matrix {   // columns of `basis` span the space
            let (q, _) = try basis.qr()
            return q.multiplied(by: q, transposeOther: true)
        }
        let pA = try projector(a.transposed()), pB = try projector(bStar)
        let expected = (Matrix.identity(40) - pB).multiplied(by: w).multiplied(by: Matrix.identity(48) - pA)
        let closedForm = (expected.frobeniusNormSquared() / w.frobeniusNormSquared()).squareRoot()
        XCTAssertGreaterThan(closedForm, 0.05, "the test needs an update that does not fit in rank 2r")
        // Float32 Gram identities: agreement to ~1e-5 relative (the spec's 1e-6 assumes float64).
        XCTAssertEqual(fit.residual, closedForm, accuracy: 2e-5 * max(1, closedForm))
        // The fitted update itself: δB·A + B*·δA = ΔW − residual matrix.
        let fitted = fit.delta.layers[0].b.multiplied(by: a) + bStar.multiplied(by: fit.delta.layers[0].a)
        XCTAssertLessThan(relativeError(fitted, w - expected), 1e-4)
    }

    func testFactoredAndDenseServerPathsAgree() throws {
        for seed in 0..<6 {
            var f = AdapterFactory(seed: 100 + UInt64(seed))
            let shapes = f.shapes(layers: 3, rank: f.int(2...8), dIn: 64...200, dOut: 64...200)
            let global = f.global(shapes)
            var deltas: [LoRAAdapter] = []
            for _ in 0..<f.int(1...6) { deltas.append(f.delta(shapes)) }
            let base = options { $0.sparsity = 0.8; $0.minSparseEntries = 64 }
            let factored = FedSRDCodec(options: base)
            let dense = FedSRDCodec(options: options { $0 = base; $0.denseServer = true })
            var state = ClientCodecState()
            let updates = try deltas.map { WeightedUpdate(bytes: try factored.encode(delta: $0, global: global, round: 1, state: &state).bytes, weight: Double(f.int(1...9))) }
            let a = try factored.aggregate(updates, global: global, round: 1)
            let b = try dense.aggregate(updates, global: global, round: 1)
            XCTAssertEqual(a.residual!, b.residual!, accuracy: 1e-4 * max(1, b.residual!), "seed \(seed)")
            XCTAssertEqual(a.guardEvents, b.guardEvents)
            for l in 0..<shapes.count {
                for m in LoRAMatrix.allCases {
                    XCTAssertLessThan(relativeError(a.global.layers[l][m] - global.layers[l][m], b.global.layers[l][m] - global.layers[l][m]), 1e-4,
                                      "seed \(seed) layer \(l) \(m)")
                }
            }
        }
    }

    /// At equal kept counts, importance-aware selection reconstructs ΔW_i better than magnitude top-k
    /// on factors with unequal row/column norms.
    func testImportanceBeatsMagnitudeOnStructuredUpdates() throws {
        var wins = 0
        for seed in 0..<10 {
            var f = AdapterFactory(seed: 200 + UInt64(seed))
            let shapes = [LoRALayerShape(name: "l", inFeatures: 256, outFeatures: 256, rank: 8)]
            let global = f.global(shapes)
            let delta = f.delta(shapes, scale: 0.05)
            let exact = LoRALayer(shape: shapes[0], a: global.layers[0].a + delta.layers[0].a, b: global.layers[0].b + delta.layers[0].b).product() - global.layers[0].product()
            func error(_ codec: any Codec) throws -> Double {
                var state = ClientCodecState()
                let bytes = try codec.encode(delta: delta, global: global, round: 1, state: &state).bytes
                let sent = CodecSupport.densified(try WireMessage.decode(bytes, shapes: shapes), shapes: shapes).layers[0]
                let bHat = global.layers[0].b + sent.b
                return relativeError(sent.b.multiplied(by: global.layers[0].a) + bHat.multiplied(by: sent.a), exact)
            }
            let o = options { $0.sparsity = 0.9; $0.adaptive = false; $0.minSparseEntries = 0 }
            if try error(FedSRDCodec(options: o)) < error(TopKCodec(options: o)) { wins += 1 }
        }
        XCTAssertGreaterThanOrEqual(wins, 9, "importance-aware should win on structured updates")
    }

    /// Upload + download of fedsrd at α = 0.9 ≤ 20% of lora's on layers above min_sparse_entries.
    func testFedSRDMovesAtMostOneFifthOfLoRAsBytes() throws {
        var f = AdapterFactory(seed: 4)
        let shapes = (0..<2).map { LoRALayerShape(name: "l\($0)", inFeatures: 512, outFeatures: 512, rank: 8) }
        let global = f.global(shapes)
        for type in ValueType.allCases {
            let o = options { $0.valueType = type }
            let lora = LoRACodec(options: o), srd = FedSRDCodec(options: o)
            var s1 = ClientCodecState(), s2 = ClientCodecState()
            let deltas = (0..<3).map { _ in f.delta(shapes) }
            let loraUp = try deltas.map { try lora.encode(delta: $0, global: global, round: 1, state: &s1) }
            let srdUp = try deltas.map { try srd.encode(delta: $0, global: global, round: 1, state: &s2) }
            let loraDown = try lora.aggregate(loraUp.map { WeightedUpdate(bytes: $0.bytes, weight: 1) }, global: global, round: 1)
            let srdDown = try srd.aggregate(srdUp.map { WeightedUpdate(bytes: $0.bytes, weight: 1) }, global: global, round: 1)
            let ratio = Double(srdUp[0].bytes.count + srdDown.broadcast.count) / Double(loraUp[0].bytes.count + loraDown.broadcast.count)
            XCTAssertLessThanOrEqual(ratio, 0.2, "\(type): ratio \(ratio)")
            // The size function at the measured kept counts is exact.
            let plan = srdUp[0].kept.map { k in
                TensorPlan(layer: k.layer, matrix: k.matrix, rows: shapes[k.layer].dimensions(k.matrix).rows, cols: shapes[k.layer].dimensions(k.matrix).cols, kept: k.kept)
            }
            XCTAssertEqual(FedSRDCodec.messageBytes(plan, valueType: type), srdUp[0].bytes.count)
            XCTAssertEqual(lora.payloadBytes(shapes: shapes).upload, loraUp[0].bytes.count)
        }
    }

    /// Many rounds of FedSRD on an evolving global adapter: never NaN, residual in [0, 1].
    func testHundredRoundsNeverProduceNaN() throws {
        var f = AdapterFactory(seed: 9)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 64...128, dOut: 10...64)
        var global = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(seed: 1, purpose: "lora.init"))
        for name in ["fedsrd", "fedsrd-e", "topk"] {
            let codec = try CodecRegistry.make(name, options: options { $0.minSparseEntries = 256; $0.residual = true })
            var states = [ClientCodecState](repeating: ClientCodecState(), count: 4)
            var g = global
            for round in 1...100 {
                let updates = try (0..<4).map { i in
                    WeightedUpdate(bytes: try codec.encode(delta: f.delta(shapes, scale: 0.02), global: g, round: round, state: &states[i]).bytes, weight: Double(i + 1))
                }
                let result = try codec.aggregate(updates, global: g, round: round)
                g = result.global
                XCTAssertFalse(g.layers.contains { $0.a.storage.contains { !$0.isFinite } || $0.b.storage.contains { !$0.isFinite } }, "\(name) round \(round)")
                if let r = result.residual { XCTAssertTrue(r >= 0 && r <= 1.0001, "\(name) residual \(r)") }
            }
        }
        global = LoRAAdapter.zeros(shapes)
        XCTAssertEqual(global.parameterCount, shapes.reduce(0) { $0 + $1.parameterCount })
    }

    func testStaleClientsDownloadTheSmallerOfMergedDeltasAndTheDenseAdapter() throws {
        var f = AdapterFactory(seed: 12)
        let shapes = (0..<2).map { LoRALayerShape(name: "l\($0)", inFeatures: 300, outFeatures: 200, rank: 8) }
        let codec = FedSRDCodec(options: options { $0.minSparseEntries = 100 })
        var global = f.global(shapes)
        var history = BroadcastHistory(shapes: shapes, capacity: 3), decoding = history
        var sizes: [Int] = []
        for round in 1...6 {
            var state = ClientCodecState()
            let up = try codec.encode(delta: f.delta(shapes), global: global, round: round, state: &state)
            let result = try codec.aggregate([WeightedUpdate(bytes: up.bytes, weight: 1)], global: global, round: round)
            history.record(result)
            try decoding.record(broadcast: result.broadcast)
            sizes.append(result.broadcast.count)
            global = result.global
        }
        // Recording the codec's decoded broadcast is recording the bytes.
        XCTAssertEqual((0...6).map { history.catchUpBytes(from: $0, codec: codec) }, (0...6).map { decoding.catchUpBytes(from: $0, codec: codec) })
        let dense = codec.denseAdapterBytes(shapes: shapes)
        XCTAssertEqual(history.catchUpBytes(from: 6, codec: codec), 0)
        XCTAssertEqual(history.catchUpBytes(from: 5, codec: codec), sizes[5], "one round behind: the last broadcast")
        let two = history.catchUpBytes(from: 4, codec: codec)
        XCTAssertGreaterThan(two, sizes[5])
        XCTAssertLessThanOrEqual(two, min(sizes[4] + sizes[5], dense), "merged supports overlap")
        XCTAssertEqual(history.catchUpBytes(from: 0, codec: codec), dense, "beyond the history: the dense adapter")
        // lora always downloads its full broadcast.
        var loraHistory = BroadcastHistory(shapes: shapes, capacity: 3)
        let lora = LoRACodec(options: CodecOptions())
        var s = ClientCodecState()
        let r = try lora.aggregate([WeightedUpdate(bytes: try lora.encode(delta: f.delta(shapes), global: global, round: 1, state: &s).bytes, weight: 1)], global: global, round: 1)
        loraHistory.record(r)
        XCTAssertEqual(loraHistory.catchUpBytes(from: 0, codec: lora), r.broadcast.count)
    }

    /// The merged kept fractions are measured on the recorded supports: identical supports every
    /// round merge to the one broadcast's fraction f at any depth (not 1 − (1 − f)^k), disjoint ones
    /// add up, k = 1 is the latest broadcast's fraction, and beyond the history (or for a full
    /// broadcast) there is nothing to merge. The fractions price exactly what `catchUpBytes` prices.
    func testMergedKeptFractionsAreMeasuredOnTheSupports() throws {
        let shapes = [LoRALayerShape(name: "l0", inFeatures: 100, outFeatures: 80, rank: 4)]  // A 4×100, B 80×4
        let codec = FedSRDCodec(options: options { $0.minSparseEntries = 100; $0.sparsity = 0.9 })
        func broadcast(round: Int, a: [UInt32], b: [UInt32]) -> WireMessage {
            WireMessage(codecID: FedSRDCodec.wireID, kind: .delta, round: UInt32(round), valueType: .f32, tensors: [
                WireTensor(layer: 0, matrix: .a, rows: 4, cols: 100, indices: a, values: a.map { _ in 0.5 }),
                WireTensor(layer: 0, matrix: .b, rows: 80, cols: 4, indices: b, values: b.map { _ in 0.25 }),
            ])
        }
        let a = (0..<40).map { UInt32($0 * 10) }, b = (0..<32).map { UInt32($0 * 10) }  // f = 0.1 of each
        var same = BroadcastHistory(shapes: shapes, capacity: 4)
        for round in 1...6 { try same.record(broadcast: broadcast(round: round, a: a, b: b).encoded()) }
        for k in 1...4 {
            let f = try XCTUnwrap(same.mergedKeptFractions(behind: k), "k = \(k)")
            XCTAssertEqual(f.a, 0.1, accuracy: 1e-12)
            XCTAssertEqual(f.b, 0.1, accuracy: 1e-12)
            XCTAssertEqual(same.catchUpBytes(from: same.version - k, codec: codec), same.catchUpBytes(from: same.version - 1, codec: codec))
        }
        XCTAssertLessThan(0.1, 1 - pow(0.9, 4.0), "independent supports would have priced k = 4 at 0.34")
        XCTAssertNil(same.mergedKeptFractions(behind: 5), "beyond the history: the dense adapter")
        XCTAssertEqual(same.mergedKeptFractions(behind: 0)?.a, 0)
        XCTAssertEqual(same.mergedKeptFractionsByDepth.map { $0?.a }, [0.1, 0.1, 0.1, 0.1].map { Optional($0) })

        // Disjoint supports: the merged fraction is k·f; the shifted supports overlap nowhere.
        var disjoint = BroadcastHistory(shapes: shapes, capacity: 8)
        for round in 1...3 { try disjoint.record(broadcast: broadcast(round: round, a: a.map { $0 + UInt32(round) }, b: b.map { $0 + UInt32(round) }).encoded()) }
        XCTAssertEqual(disjoint.mergedKeptFractionsByDepth.prefix(3).map { $0?.b }, [0.1, 0.2, 0.3].map { Optional($0) })
        XCTAssertNil(disjoint.mergedKeptFractions(behind: 4), "only 3 broadcasts so far")
        // What the fractions price is what catchUpBytes prices from the supports themselves.
        for k in 1...3 {
            let f = try XCTUnwrap(disjoint.mergedKeptFractions(behind: k))
            let priced = codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: 0.1, uploadB: 0.1, downloadA: f.a, downloadB: f.b)).download
            XCTAssertEqual(min(priced, codec.denseAdapterBytes(shapes: shapes)), disjoint.catchUpBytes(from: disjoint.version - k, codec: codec), "k = \(k)")
        }

        // A full broadcast: nothing to merge.
        var full = BroadcastHistory(shapes: shapes, capacity: 4)
        let lora = LoRACodec(options: CodecOptions())
        var f = AdapterFactory(seed: 3), state = ClientCodecState()
        let global = f.global(shapes)
        full.record(try lora.aggregate([WeightedUpdate(bytes: try lora.encode(delta: f.delta(shapes), global: global, round: 1, state: &state).bytes, weight: 1)],
                                       global: global, round: 1))
        XCTAssertNil(full.mergedKeptFractions(behind: 1))
    }

    /// Every codec decodes its broadcast once, in `aggregate`: the result's decoded message is the
    /// broadcast's bytes decoded, and its global is what `apply(broadcast:to:)` gives a client, so a
    /// caller needs neither a second decode nor a second apply.
    func testAggregationResultCarriesTheDecodedBroadcast() throws {
        var f = AdapterFactory(seed: 21)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 30...60, dOut: 20...50)
        let global = f.global(shapes)
        for type in CodecRegistry.all {
            for valueType in [ValueType.f32, .f16] {
                let codec = type.init(options: options { $0.minSparseEntries = 50; $0.sparsity = 0.7; $0.valueType = valueType })
                let updates = try (0..<3).map { k -> WeightedUpdate in
                    var state = ClientCodecState()
                    return WeightedUpdate(bytes: try codec.encode(delta: f.delta(shapes), global: global, round: 1, state: &state).bytes, weight: Double(k + 1))
                }
                let result = try codec.aggregate(updates, global: global, round: 1)
                XCTAssertEqual(result.decodedBroadcast, try WireMessage.decode(result.broadcast, shapes: shapes), "\(type.name) \(valueType)")
                XCTAssertEqual(result.global, try codec.apply(broadcast: result.broadcast, to: global), "\(type.name) \(valueType)")
                XCTAssertNotEqual(result.global, global, "\(type.name) \(valueType): the broadcast moved the adapter")
            }
        }
    }

    func testErrorFeedbackCarriesWhatWasDropped() throws {
        var f = AdapterFactory(seed: 13)
        let shapes = [LoRALayerShape(name: "l", inFeatures: 100, outFeatures: 80, rank: 4)]
        let global = f.global(shapes)
        let codec = FedSRDCodec(options: options { $0.residual = true; $0.minSparseEntries = 10 })
        var state = ClientCodecState()
        let delta = f.delta(shapes)
        let up = try codec.encode(delta: delta, global: global, round: 1, state: &state)
        let sent = CodecSupport.densified(try WireMessage.decode(up.bytes, shapes: shapes), shapes: shapes)
        XCTAssertEqual(sent.adding(state.residual!).layers[0].a, delta.layers[0].a)
        XCTAssertEqual(sent.adding(state.residual!).layers[0].b, delta.layers[0].b)
    }

    func testRegistryAndBadInput() throws {
        XCTAssertEqual(CodecRegistry.names, ["lora", "fedsrd", "fedsrd-e", "topk", "ffa-lora"])
        XCTAssertThrowsError(try CodecRegistry.make("fedsdr"))
        var f = AdapterFactory(seed: 14)
        let shapes = [LoRALayerShape(name: "l", inFeatures: 10, outFeatures: 10, rank: 2)]
        var bad = f.delta(shapes)
        bad.layers[0].a[0, 0] = .nan
        var state = ClientCodecState()
        XCTAssertThrowsError(try FedSRDCodec(options: CodecOptions()).encode(delta: bad, global: f.global(shapes), round: 1, state: &state)) { error in
            XCTAssertEqual(error as? CodecError, .nonFinite("update l.A"))
        }
        XCTAssertThrowsError(try LoRACodec(options: CodecOptions()).aggregate([], global: f.global(shapes), round: 1))
        // An update from another codec is refused.
        let up = try LoRACodec(options: CodecOptions()).encode(delta: f.delta(shapes), global: f.global(shapes), round: 1, state: &state)
        XCTAssertThrowsError(try FedSRDCodec(options: CodecOptions()).aggregate([WeightedUpdate(bytes: up.bytes, weight: 1)], global: f.global(shapes), round: 1))
    }

    func testFFALoRASendsOnlyB() throws {
        var f = AdapterFactory(seed: 15)
        let shapes = [LoRALayerShape(name: "l", inFeatures: 64, outFeatures: 32, rank: 4)]
        let global = f.global(shapes)
        let codec = FFALoRACodec(options: CodecOptions())
        var state = ClientCodecState()
        let delta = f.delta(shapes)
        let up = try codec.encode(delta: delta, global: global, round: 1, state: &state)
        XCTAssertEqual(up.kept.map(\.matrix), [.b])
        let result = try codec.aggregate([WeightedUpdate(bytes: up.bytes, weight: 1)], global: global, round: 1)
        XCTAssertEqual(result.global.layers[0].a, global.layers[0].a, "A stays frozen")
        XCTAssertEqual(result.global.layers[0].b, global.layers[0].b + delta.layers[0].b)
        XCTAssertEqual(codec.payloadBytes(shapes: shapes).upload, up.bytes.count)
    }
}
