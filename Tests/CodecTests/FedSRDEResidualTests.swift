@testable import Codec
import LoRA
import Numerics
import XCTest

/// FedSRD-e's residual ‖ΔW − (B'A' − BA)‖ / ‖ΔW‖, computed from Grams in Double, against the same
/// quantity formed densely in Double, entry by entry.
final class FedSRDEResidualTests: XCTestCase {
    /// The oracle: ΔW = U·Vᵀ and B'A' − BA formed as d_out × d_in Double matrices.
    static func denseResidual(_ operators: [any UpdateOperator], from before: LoRAAdapter, to after: LoRAAdapter) -> Double {
        var num = 0.0, den = 0.0
        for (l, op) in operators.enumerated() {
            let w: DoubleMatrix
            if let f = op as? FactoredUpdate {
                w = DoubleMatrix(f.u).multiplied(by: DoubleMatrix(f.vt))
            } else {
                w = DoubleMatrix(op.dense())
            }
            // B'A' − BA = (B' − B)·A + B'·(A' − A), the differences taken in Double.
            let b = DoubleMatrix(before.layers[l].b), a = DoubleMatrix(before.layers[l].a)
            let bNow = DoubleMatrix(after.layers[l].b), aNow = DoubleMatrix(after.layers[l].a)
            var deltaB = bNow, deltaA = aNow
            for i in 0..<deltaB.storage.count { deltaB.storage[i] -= b.storage[i] }
            for i in 0..<deltaA.storage.count { deltaA.storage[i] -= a.storage[i] }
            let first = deltaB.multiplied(by: a), second = bNow.multiplied(by: deltaA)
            for i in 0..<w.storage.count {
                let e = w.storage[i] - (first.storage[i] + second.storage[i])
                num += e * e
                den += w.storage[i] * w.storage[i]
            }
        }
        return den > 0 ? (num / den).squareRoot() : 0
    }

    /// What `FedSRDECodec.residual` computed before the factored form: Float products, one dense
    /// d_out × d_in matrix per layer.
    static func floatDenseResidual(_ operators: [any UpdateOperator], from before: LoRAAdapter, to after: LoRAAdapter) -> Double {
        var num = 0.0, den = 0.0
        for (l, op) in operators.enumerated() {
            let w = op.dense()
            let fitted = after.layers[l].product() - before.layers[l].product()
            num += (w - fitted).frobeniusNormSquared()
            den += w.frobeniusNormSquared()
        }
        return den > 0 ? (num / den).squareRoot() : 0
    }

    /// One round of fedsrd-e with the residual reported, and the operators it was computed against.
    static func round(_ shapes: [LoRALayerShape], clients: Int, seed: UInt64, configure: (inout CodecOptions) -> Void)
        throws -> (result: AggregationResult, silent: AggregationResult, operators: [any UpdateOperator], global: LoRAAdapter) {
        var factory = AdapterFactory(seed: seed)
        let global = factory.global(shapes)
        var o = options(configure)
        o.reportResidual = true
        let codec = FedSRDECodec(options: o)
        var updates: [WeightedUpdate] = []
        for i in 0..<clients {
            var state = ClientCodecState()
            let up = try codec.encode(delta: factory.delta(shapes, scale: 0.02), global: global, round: 1, state: &state)
            updates.append(WeightedUpdate(bytes: up.bytes, weight: Double(10 + 7 * i)))
        }
        let result = try codec.aggregate(updates, global: global, round: 1)
        o.reportResidual = false
        let silent = try FedSRDECodec(options: o).aggregate(updates, global: global, round: 1)
        let operators = try FedSRDCodec(options: o).reconstructForeign(updates, global: global, codecID: FedSRDECodec.wireID)
        return (result, silent, operators, global)
    }

    func check(_ shapes: [LoRALayerShape], clients: Int, seed: UInt64, tolerance: Double = 1e-9,
               file: StaticString = #filePath, line: UInt = #line, configure: (inout CodecOptions) -> Void = { _ in }) throws {
        let run = try Self.round(shapes, clients: clients, seed: seed, configure: configure)
        let factored = try XCTUnwrap(run.result.residual, file: file, line: line)
        let dense = Self.denseResidual(run.operators, from: run.global, to: run.result.global)
        XCTAssertGreaterThan(dense, 0, file: file, line: line)
        XCTAssertEqual(factored, dense, accuracy: tolerance * dense, "factored \(factored) vs dense \(dense)", file: file, line: line)
        // Reporting only: the broadcast and the next global do not depend on it.
        XCTAssertNil(run.silent.residual, file: file, line: line)
        XCTAssertEqual(run.result.broadcast, run.silent.broadcast, file: file, line: line)
        XCTAssertEqual(run.result.global, run.silent.global, file: file, line: line)
        // The old Float computation agrees to its own rounding where the residual is well above it
        // (near α = 0 the residual is ~1e-7 and Float products of B'A' and BA miss it by up to 8×).
        let old = Self.floatDenseResidual(run.operators, from: run.global, to: run.result.global)
        if dense > 1e-3 { XCTAssertEqual(old, dense, accuracy: 1e-4 * dense, file: file, line: line) }
    }

    func testRandomAdaptersAcrossRanksSparsitiesAndValueTypes() throws {
        var seed: UInt64 = 1
        for rank in [1, 4, 8, 16] {
            for (alpha, values) in [(0.0, ValueType.f32), (0.5, .f16), (0.9, .f32), (0.99, .bf16)] {
                var factory = AdapterFactory(seed: seed)
                let shapes = factory.shapes(layers: 3, rank: rank, dIn: 40...300, dOut: 40...300)
                try check(shapes, clients: 1 + Int(seed % 4), seed: seed) {
                    $0.sparsity = alpha
                    $0.valueType = values
                    $0.adaptive = seed % 2 == 0
                }
                seed += 1
            }
        }
    }

    func testMixedRanksAndDenseSmallTensors() throws {
        // Ranks differ by layer; the 2 × 30 layer is below min_sparse_entries and goes dense.
        let shapes = [LoRALayerShape(name: "a", inFeatures: 257, outFeatures: 64, rank: 2),
                      LoRALayerShape(name: "b", inFeatures: 128, outFeatures: 511, rank: 16),
                      LoRALayerShape(name: "c", inFeatures: 30, outFeatures: 2, rank: 1),
                      LoRALayerShape(name: "d", inFeatures: 300, outFeatures: 300, rank: 7)]
        for (i, alpha) in [0.0, 0.8, 0.95].enumerated() {
            try check(shapes, clients: 3, seed: 100 + UInt64(i)) { $0.sparsity = alpha; $0.downloadSparsity = 0.97 }
        }
    }

    func testRealShapedAdapter() throws {
        // Qwen2.5 0.5B on q, k, v, o (896 hidden, 128-wide k/v): its first two blocks, r = 16 and 8.
        let model = try ModelCatalog.named("qwen2.5-0.5b")
        for (rank, seed) in [(16, UInt64(200)), (8, 201)] {
            let shapes = Array(try model.loraShapes(rank: rank, targets: ["q", "k", "v", "o"]).prefix(8))
            try check(shapes, clients: 4, seed: seed) { $0.sparsity = 0.9 }
        }
    }

    func testDenseServerOperator() throws {
        var factory = AdapterFactory(seed: 300)
        let shapes = factory.shapes(layers: 2, rank: 5, dIn: 50...150, dOut: 50...150)
        try check(shapes, clients: 2, seed: 300) { $0.sparsity = 0.9; $0.denseServer = true }
    }

    /// A NaN anywhere gives a NaN residual (LAPACK refuses the matrix; no trap), as the dense sum would.
    func testNaNGivesNaN() {
        var factory = AdapterFactory(seed: 500)
        let op = FactoredUpdate(u: factory.structured(20, 4, rowSkew: false), vt: factory.structured(4, 30, rowSkew: true))
        var left = DoubleMatrix(rows: 20, cols: 2), right = DoubleMatrix(rows: 2, cols: 30)
        left.storage[7] = .nan
        right.storage[3] = 1
        XCTAssertTrue(op.distanceSquared(toProduct: left, right).distance.isNaN)
    }

    /// The identity itself on sparse and low-rank pieces: ‖U·Vᵀ − L·R‖² and ‖U·Vᵀ‖².
    func testDistanceIdentityOnSparseFactors() {
        var factory = AdapterFactory(seed: 400)
        for (m, n, k, j) in [(37, 53, 6, 4), (200, 31, 12, 2), (1, 9, 3, 3)] {
            var u = factory.structured(m, k, rowSkew: false), vt = factory.structured(k, n, rowSkew: true)
            var left = DoubleMatrix(rows: m, cols: j), right = DoubleMatrix(rows: j, cols: n)
            for i in 0..<left.storage.count where i % 3 == 0 { left.storage[i] = Double(factory.uniform()) }
            for i in 0..<right.storage.count where i % 5 != 1 { right.storage[i] = Double(factory.uniform()) }
            for i in 0..<u.storage.count where i % 4 == 0 { u.storage[i] = 0 }
            for i in 0..<vt.storage.count where i % 2 == 0 { vt.storage[i] = 0 }
            let op = FactoredUpdate(u: u, vt: vt)
            let got = op.distanceSquared(toProduct: left, right)
            let w = DoubleMatrix(u).multiplied(by: DoubleMatrix(vt)), f = left.multiplied(by: right)
            var distance = 0.0, norm = 0.0
            for i in 0..<w.storage.count {
                distance += (w.storage[i] - f.storage[i]) * (w.storage[i] - f.storage[i])
                norm += w.storage[i] * w.storage[i]
            }
            XCTAssertEqual(got.distance, distance, accuracy: 1e-12 * distance)
            XCTAssertEqual(got.norm, norm, accuracy: 1e-12 * norm)
            let dense = DenseUpdate(w: op.dense()).distanceSquared(toProduct: left, right)
            XCTAssertEqual(dense.distance, distance, accuracy: 1e-6 * distance)
        }
    }
}
