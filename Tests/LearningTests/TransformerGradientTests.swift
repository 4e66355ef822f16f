import Foundation
@testable import Learning
import Numerics
import XCTest

/// Every analytic gradient of the transformer against central finite differences of the loss.
///
/// Well-conditioned small case in Float32: weights of sd 0.3 (not Llama's 0.02, so every path
/// carries signal), norm gains drawn around 1, LoRA B non-zero, 2 layers, width 8, 2 heads of 4,
/// 6 positions, vocabulary 11, SwiGLU hidden 12, 2 windows. Step ε = 3·10⁻³; the loss is accumulated
/// in Double. Tolerance |numeric − analytic| ≤ 3·10⁻⁴ + 2·10⁻² |analytic|.
final class TransformerGradientTests: XCTestCase {
    static let config = TransformerConfig(layers: 2, width: 8, heads: 2, context: 6, vocabulary: 11, hidden: 12)
    static let windows: [Int32] = [1, 5, 2, 9, 9, 0, 3, 7, 4, 10, 6, 2, 8, 1]  // 2 windows of 7 tokens

    static func model(seed: UInt64 = 3) -> TransformerWeights {
        var w = TransformerWeights(config: config, seed: seed, std: 0.3)
        let s = RandomStream(seed: seed, purpose: "test.gains")
        func gains() -> [Float] { (0..<config.width).map { _ in Float(1 + 0.3 * s.standardNormal()) } }
        for l in w.layers.indices { w.layers[l].attentionNorm = gains(); w.layers[l].mlpNorm = gains() }
        w.finalNorm = gains()
        return w
    }

    static func adapter(targets: [TransformerModule] = TransformerModule.allCases, seed: UInt64 = 4) -> TransformerAdapter {
        var a = TransformerAdapter(config: config, lora: TransformerLoRAConfig(targets: targets, rank: 2, alpha: 3), seed: seed)
        let s = RandomStream(seed: seed, purpose: "test.b")
        for i in a.entries.indices {
            a.entries[i].b = Matrix(rows: a.entries[i].b.rows, cols: a.entries[i].b.cols) { _, _ in Float(0.3 * s.standardNormal()) }
        }
        return a
    }

    /// Checks the gradient of every entry of `pack` (base or adapter) of `trainer`; returns the worst error.
    func checkAll(_ trainer: TransformerTrainer, pack: FloatPack, name: (Int) -> String) -> Double {
        let analytic = trainer.lossAndGradient(Self.windows, sequences: 2).gradient.read(at: 0, count: pack.count)
        let eps: Float = 3e-3
        var worst = 0.0
        for i in 0..<pack.count {
            let saved = pack.pointer[i]
            pack.pointer[i] = saved + eps
            let plus = trainer.lossAndGradient(Self.windows, sequences: 2).loss
            pack.pointer[i] = saved - eps
            let minus = trainer.lossAndGradient(Self.windows, sequences: 2).loss
            pack.pointer[i] = saved
            let numeric = (plus - minus) / Double(2 * eps), exact = Double(analytic[i])
            let error = abs(numeric - exact)
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, 3e-4 + 2e-2 * abs(exact), "\(name(i)): numeric \(numeric), analytic \(exact)")
        }
        print("transformer gradient check: \(pack.count) entries, worst |numeric − analytic| \(worst), largest |analytic| \(analytic.map { abs($0) }.max() ?? 0)")
        return worst
    }

    func testBaseGradientsByFiniteDifferences() {
        let base = Self.model()
        let trainer = TransformerTrainer(base: base, adapter: nil, settings: TransformerTrainingSettings(shardSize: 1), threads: 1)
        let names = base.tensorNames
        var counts: [Int] = []
        var copy = base
        copy.forEachBuffer { _, b in counts.append(b.count) }
        func name(_ i: Int) -> String {
            var rest = i
            for (k, c) in counts.enumerated() { if rest < c { return "\(names[k])[\(rest)]" }; rest -= c }
            return "?"
        }
        let worst = checkAll(trainer, pack: trainer.basePack, name: name)
        XCTAssertEqual(trainer.basePack.count, base.parameterCount)
        // The largest error seen is far below the tolerance's floor (the bound is loose on purpose).
        XCTAssertLessThan(worst, 3e-4)
    }

    func testAdapterGradientsByFiniteDifferences() {
        let adapter = Self.adapter()
        XCTAssertEqual(adapter.entries.count, 14)
        let trainer = TransformerTrainer(base: Self.model(), adapter: adapter, settings: TransformerTrainingSettings(shardSize: 1), threads: 1)
        let layout = trainer.layout
        func name(_ i: Int) -> String {
            for (k, e) in adapter.entries.enumerated() {
                if i >= layout.adapterA[k] && i < layout.adapterB[k] { return "\(e.shape.tensorName(.a))[\(i - layout.adapterA[k])]" }
                if i >= layout.adapterB[k] && i < layout.adapterB[k] + e.b.count { return "\(e.shape.tensorName(.b))[\(i - layout.adapterB[k])]" }
            }
            return "?"
        }
        guard let pack = trainer.adapterPack else { return XCTFail("no adapter pack") }
        XCTAssertLessThan(checkAll(trainer, pack: pack, name: name), 3e-4)
    }

    /// A gradient summed over shards equals the one-shard gradient (up to rounding), and the loss too.
    func testShardsSumToTheWholeBatch() {
        let whole = TransformerTrainer(base: Self.model(), adapter: Self.adapter(), settings: TransformerTrainingSettings(shardSize: 2), threads: 1)
        let split = TransformerTrainer(base: Self.model(), adapter: Self.adapter(), settings: TransformerTrainingSettings(shardSize: 1), threads: 2)
        let a = whole.lossAndGradient(Self.windows, sequences: 2), b = split.lossAndGradient(Self.windows, sequences: 2)
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-6)
        let ga = a.gradient.read(at: 0, count: a.gradient.count), gb = b.gradient.read(at: 0, count: b.gradient.count)
        for i in ga.indices { XCTAssertEqual(ga[i], gb[i], accuracy: 1e-6 + 1e-4 * abs(ga[i])) }
    }
}
