@testable import Codec
import Numerics
import XCTest

final class CodecEvaluationTests: XCTestCase {
    func testErrorsAgainstDenseComputation() throws {
        var f = AdapterFactory(seed: 21)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 60...90, dOut: 50...70)
        let before = f.global(shapes)
        let afters = (0..<3).map { _ in before.adding(f.delta(shapes, scale: 0.05)) }
        let weights = [1.0, 2.0, 3.0]
        let codec = FedSRDCodec(options: options { $0.minSparseEntries = 64 })
        let report = try CodecEvaluation.evaluate(codec, before: before, afters: afters, weights: weights)
        // Dense reference for client 0 and for the aggregate.
        var state = ClientCodecState()
        let bytes = try codec.encode(delta: afters[0].subtracting(before), global: before, round: 1, state: &state).bytes
        let sent = CodecSupport.densified(try WireMessage.decode(bytes, shapes: shapes), shapes: shapes)
        var num = 0.0, den = 0.0, aggNum = 0.0, aggDen = 0.0
        let result = try codec.aggregate(try afters.enumerated().map { i, a in
            var s = ClientCodecState()
            return WeightedUpdate(bytes: try codec.encode(delta: a.subtracting(before), global: before, round: 1, state: &s).bytes, weight: weights[i])
        }, global: before, round: 1)
        for l in 0..<shapes.count {
            let exact = afters[0].layers[l].product() - before.layers[l].product()
            let bHat = before.layers[l].b + sent.layers[l].b
            let got = sent.layers[l].b.multiplied(by: before.layers[l].a) + bHat.multiplied(by: sent.layers[l].a)
            num += (exact - got).frobeniusNormSquared(); den += exact.frobeniusNormSquared()
            var agg = Matrix.zeros(rows: shapes[l].outFeatures, cols: shapes[l].inFeatures)
            for (a, w) in zip(afters, weights) { agg.add(a.layers[l].product() - before.layers[l].product(), scaledBy: Float(w / 6)) }
            let fitted = result.global.layers[l].product() - before.layers[l].product()
            aggNum += (agg - fitted).frobeniusNormSquared(); aggDen += agg.frobeniusNormSquared()
        }
        XCTAssertEqual(report.clientRelativeErrors[0], (num / den).squareRoot(), accuracy: 1e-4)
        XCTAssertEqual(report.aggregateRelativeError, (aggNum / aggDen).squareRoot(), accuracy: 1e-4)
        XCTAssertGreaterThan(report.clientRelativeErrors[0], 0.01, "sparsification loses something")
        XCTAssertEqual(report.layers.count, 2)
        XCTAssertLessThan(report.layers[0].uploadKeptFraction, 0.5)
    }

    func testLoRAIsLosslessPerClientButNotInAggregate() throws {
        var f = AdapterFactory(seed: 22)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 30...40, dOut: 30...40)
        let before = f.global(shapes)
        let afters = (0..<2).map { _ in before.adding(f.delta(shapes, scale: 0.2)) }
        let lora = try CodecEvaluation.evaluate(LoRACodec(options: CodecOptions()), before: before, afters: afters, weights: [1, 1])
        XCTAssertEqual(lora.clientRelativeErrors, [0, 0])
        // FedAvg of factors is not the average of products: the aggregate differs.
        XCTAssertGreaterThan(lora.aggregateRelativeError, 1e-4)
        let single = try CodecEvaluation.evaluate(LoRACodec(options: CodecOptions()), before: before, afters: [afters[0]], weights: [1])
        XCTAssertLessThan(single.aggregateRelativeError, 1e-6)
        XCTAssertEqual(lora.uploadBytes[0], LoRACodec(options: CodecOptions()).payloadBytes(shapes: shapes).upload)
    }
}
