@testable import Codec
import LoRA
import Numerics
import XCTest

/// The fidelity indicators against a brute-force reference that forms every d_out × d_in ΔW in
/// Double: kept energy, cosine and norm ratio, and the kurtosis of known distributions.
final class UpdateFidelityTests: XCTestCase {
    /// B·A of a layer in Double, row-major.
    func dense(_ l: LoRALayer) -> [Double] {
        var out = [Double](repeating: 0, count: l.shape.outFeatures * l.shape.inFeatures)
        for i in 0..<l.shape.outFeatures {
            for j in 0..<l.shape.inFeatures {
                var s = 0.0
                for k in 0..<l.shape.rank { s += Double(l.b[i, k]) * Double(l.a[k, j]) }
                out[i * l.shape.inFeatures + j] = s
            }
        }
        return out
    }
    func difference(_ x: LoRALayer, _ y: LoRALayer) -> [Double] { zip(dense(x), dense(y)).map { $0 - $1 } }
    func norm2(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 } }

    func testKeptEnergyCosineAndNormRatioMatchTheDenseReference() throws {
        var f = AdapterFactory(seed: 21)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 40...60, dOut: 30...50)
        let global = f.global(shapes)
        let trained = (0..<3).map { _ in global.adding(f.delta(shapes, scale: 0.05)) }
        let weights = [1.0, 2.0, 3.0], p = weights.map { $0 / 6 }
        var options = CodecOptions()
        options.minSparseEntries = 16
        options.sparsity = 0.7
        let codec = try CodecRegistry.make("fedsrd", options: options)
        var encoded: [EncodedUpdate] = []
        for t in trained {
            var state = ClientCodecState()
            encoded.append(try codec.encode(delta: t.subtracting(global), global: global, round: 1, state: &state))
        }
        let result = try codec.aggregate(zip(encoded, weights).map { WeightedUpdate(bytes: $0.bytes, weight: $1) }, global: global, round: 1)

        // Client 0: ΔW = B'A' − BA, ΔŴ = (B + ΔB̃)(A + ΔÃ) − BA from the decoded upload.
        let sent = CodecSupport.densified(try WireMessage.decode(encoded[0].bytes, shapes: shapes), shapes: shapes)
        var error = 0.0, total = 0.0
        for l in shapes.indices {
            let truth = difference(trained[0].layers[l], global.layers[l])
            let g = global.layers[l]
            let got = difference(LoRALayer(shape: g.shape, a: g.a + sent.layers[l].a, b: g.b + sent.layers[l].b), g)
            total += norm2(truth)
            error += norm2(zip(truth, got).map { $0 - $1 })
        }
        let kept = try UpdateFidelity.keptEnergy(upload: encoded[0].bytes, global: global, trained: trained[0])
        XCTAssertEqual(kept, 1 - error / total, accuracy: 1e-6)
        XCTAssertLessThan(kept, 1, "70% sparsity drops energy")

        // Aggregate: exact = Σ p_i ΔW_i, applied = B_new·A_new − B·A.
        var dot = 0.0, exactNorm = 0.0, appliedNorm = 0.0
        for l in shapes.indices {
            var exact = [Double](repeating: 0, count: shapes[l].outFeatures * shapes[l].inFeatures)
            for (i, t) in trained.enumerated() {
                for (k, x) in difference(t.layers[l], global.layers[l]).enumerated() { exact[k] += p[i] * x }
            }
            let applied = difference(result.global.layers[l], global.layers[l])
            dot += zip(exact, applied).reduce(0) { $0 + $1.0 * $1.1 }
            exactNorm += norm2(exact)
            appliedNorm += norm2(applied)
        }
        let agreement = try XCTUnwrap(UpdateFidelity.agreement(UpdateFidelity.aggregateErrors(global: global, trained: trained, p: p, next: result.global)))
        XCTAssertEqual(agreement.cosine, dot / (exactNorm * appliedNorm).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(agreement.normRatio, (appliedNorm / exactNorm).squareRoot(), accuracy: 1e-5)
    }

    func testALosslessUploadOfOneClientIsExact() throws {
        var f = AdapterFactory(seed: 5)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 20...30, dOut: 20...30)
        let global = f.global(shapes), trained = global.adding(f.delta(shapes, scale: 0.05))
        let codec = try CodecRegistry.make("lora", options: CodecOptions())
        var state = ClientCodecState()
        let up = try codec.encode(delta: trained.subtracting(global), global: global, round: 1, state: &state)
        XCTAssertEqual(try UpdateFidelity.keptEnergy(upload: up.bytes, global: global, trained: trained), 1, accuracy: 1e-6)
        let result = try codec.aggregate([WeightedUpdate(bytes: up.bytes, weight: 1)], global: global, round: 1)
        let a = try XCTUnwrap(UpdateFidelity.agreement(UpdateFidelity.aggregateErrors(global: global, trained: [trained], p: [1], next: result.global)))
        XCTAssertEqual(a.cosine, 1, accuracy: 1e-6)
        XCTAssertEqual(a.normRatio, 1, accuracy: 1e-6)
        XCTAssertNil(UpdateFidelity.agreement(UpdateFidelity.aggregateErrors(global: global, trained: [global], p: [1], next: global)),
                     "no update: nothing to compare")
    }

    func testKurtosisOfKnownDistributions() {
        let shape = LoRALayerShape(name: "l", inFeatures: 1000, outFeatures: 2, rank: 1)
        let global = LoRAAdapter.zeros([shape])
        // A: ±1 alternating (a sign-like, Adam-style update): kurtosis 1. B: constant: no spread, left out.
        var trained = global
        trained.layers[0].a = Matrix(rows: 1, cols: 1000) { _, j in j % 2 == 0 ? 1 : -1 }
        trained.layers[0].b = Matrix(rows: 2, cols: 1) { _, _ in 0.5 }
        XCTAssertEqual(UpdateFidelity.kurtoses(global: global, trained: trained), [1])
        // One large entry among small ones: heavy-tailed.
        trained.layers[0].a = Matrix(rows: 1, cols: 1000) { _, j in j == 0 ? 100 : (j % 2 == 0 ? 1 : -1) }
        XCTAssertGreaterThan(UpdateFidelity.kurtoses(global: global, trained: trained)[0], 100)
        XCTAssertEqual(UpdateFidelity.median([3, 1, 2]), 2)
        XCTAssertEqual(UpdateFidelity.median([4, 1, 2, 3]), 2.5)
        XCTAssertNil(UpdateFidelity.median([]))
    }
}
