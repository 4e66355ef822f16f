import CZlib
import Foundation
@testable import Learning
import LoRA
import Numerics
import XCTest

final class MLPTests: XCTestCase {
    /// α of `tinyModel`'s adapter (rank 2: scaling 2).
    let alpha: Float = 4

    func tinyModel(seed: UInt64 = 1) -> (BaseMLP, LoRAAdapter, Matrix, [Int32]) {
        let base = BaseMLP(widths: [6, 5, 4, 3], seed: seed)
        var lora = base.initialAdapter(rank: 2, seed: seed)
        let s = RandomStream(seed: seed, purpose: "test.b")
        for l in lora.layers.indices {
            let b = lora.layers[l].b
            lora.layers[l].b = Matrix(rows: b.rows, cols: b.cols) { _, _ in Float(s.standardNormal() * 0.5) }
        }
        let x = Matrix(rows: 7, cols: 6) { _, _ in Float(s.standardNormal()) }
        let y: [Int32] = [0, 1, 2, 0, 1, 2, 1]
        return (base, lora, x, y)
    }

    /// Every analytic gradient (A, B, and the base's W and b for pretraining) against central
    /// differences of the loss.
    func testGradientsByFiniteDifferences() {
        let (base, lora, x, y) = tinyModel()
        let analytic = MLPMath.lossAndGradients(base, lora, alpha: alpha, x, y[...], trainBase: true).gradients
        func loss(_ b: BaseMLP, _ l: LoRAAdapter) -> Double { MLPMath.lossAndGradients(b, l, alpha: alpha, x, y[...]).loss }
        let eps: Float = 1e-3
        func check(_ numeric: Double, _ exact: Float, _ what: String) {
            XCTAssertEqual(numeric, Double(exact), accuracy: 2e-3 + 2e-2 * abs(Double(exact)), what)
        }
        for l in 0..<base.layerCount {
            for k in 0..<lora.layers[l].a.count {
                var p = lora, m = lora
                p.layers[l].a.storage[k] += eps; m.layers[l].a.storage[k] -= eps
                check((loss(base, p) - loss(base, m)) / Double(2 * eps), analytic.a[l].storage[k], "dA[\(l)][\(k)]")
            }
            for k in 0..<lora.layers[l].b.count {
                var p = lora, m = lora
                p.layers[l].b.storage[k] += eps; m.layers[l].b.storage[k] -= eps
                check((loss(base, p) - loss(base, m)) / Double(2 * eps), analytic.b[l].storage[k], "dB[\(l)][\(k)]")
            }
            for k in 0..<base.weights[l].count {
                var p = base, m = base
                p.weights[l].storage[k] += eps; m.weights[l].storage[k] -= eps
                check((loss(p, lora) - loss(m, lora)) / Double(2 * eps), analytic.weights![l].storage[k], "dW[\(l)][\(k)]")
            }
            for k in 0..<base.biases[l].count {
                var p = base, m = base
                p.biases[l][k] += eps; m.biases[l][k] -= eps
                check((loss(p, lora) - loss(m, lora)) / Double(2 * eps), analytic.biases![l][k], "db[\(l)][\(k)]")
            }
        }
    }

    /// With B = 0 the adapted model is exactly the base, whatever A is.
    func testZeroBLeavesTheModelUnchanged() {
        let (base, _, x, _) = tinyModel()
        let fresh = base.initialAdapter(rank: 3, seed: 9)
        XCTAssertTrue(fresh.layers.allSatisfy { $0.b.storage.allSatisfy { $0 == 0 } })
        XCTAssertFalse(fresh.layers[0].a.storage.allSatisfy { $0 == 0 })
        XCTAssertEqual(MLPMath.logits(base, fresh, alpha: 8, x), MLPMath.logits(base, x))
        XCTAssertEqual(MLPMath.logits(base, nil, alpha: 8, x), MLPMath.logits(base, x))
    }

    /// A base pretrained on two of four synthetic classes, then LoRA trained on all four: accuracy
    /// climbs far above the base's.
    func testLoRATrainingOnSyntheticDataConverges() {
        let (train, test) = SyntheticDataset.make(classes: 4, dimension: 20, train: 2000, test: 1000, seed: 3)
        let pre = Pretraining(widths: [20, 32, 4], classes: [0, 1], epochs: 5, learningRate: 0.05, batchSize: 32, seed: 3)
        let base = pre.train(on: train)
        let before = MLPMath.evaluate(base, on: test)
        XCTAssertLessThan(before.accuracy, 0.6, "the base knows only two classes")
        let start = base.initialAdapter(rank: 4, seed: 3)
        let trained = LocalTraining.train(base: base, start: start, alpha: 8, data: train,
                                          settings: TrainingSettings(epochs: 5, batchSize: 32, optimizer: .adam(learningRate: 5e-3)),
                                          stream: RandomStream(seed: 3, purpose: "test.batches"))
        let after = MLPMath.evaluate(base, trained.adapter, alpha: 8, on: test)
        XCTAssertGreaterThan(after.accuracy, before.accuracy + 0.3, "before \(before.accuracy), after \(after.accuracy)")
        XCTAssertLessThan(after.loss, before.loss)
        // The base did not move.
        XCTAssertEqual(MLPMath.evaluate(base, on: test).accuracy, before.accuracy)
        // The trained adapter keeps the proxy's layer names and shapes (PEFT keys mlp.<l>.lora_A.weight).
        XCTAssertEqual(trained.adapter.shapes, base.loraShapes(rank: 4))
        XCTAssertEqual(trained.adapter.shapes.map(\.name), ["mlp.0", "mlp.1"])
    }

    /// With `freezesA` (FFA-LoRA) local training moves B only; A stays bit for bit at its start.
    func testFrozenAStaysAtItsStart() {
        let (train, _) = SyntheticDataset.make(classes: 3, dimension: 12, train: 300, test: 10, seed: 8)
        let base = Pretraining(widths: [12, 16, 3], classes: [0, 1], epochs: 1, learningRate: 0.05, batchSize: 32, seed: 8).train(on: train)
        let start = base.initialAdapter(rank: 2, seed: 8)
        var settings = TrainingSettings(epochs: 1, batchSize: 32, optimizer: .adam(learningRate: 5e-3))
        settings.freezesA = true
        let trained = LocalTraining.train(base: base, start: start, alpha: 4, data: train, settings: settings,
                                          stream: RandomStream(seed: 8, purpose: "test.batches")).adapter
        for (t, s) in zip(trained.layers, start.layers) {
            XCTAssertEqual(t.a, s.a)
            XCTAssertNotEqual(t.b, s.b)
        }
    }

    /// The pretrained base is cached under its settings and read back bit for bit.
    func testPretrainingCache() throws {
        let (train, _) = SyntheticDataset.make(classes: 3, dimension: 8, train: 300, test: 10, seed: 5)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pre = Pretraining(widths: [8, 6, 3], classes: [0, 1], epochs: 1, seed: 5)
        let first = try pre.base(on: train, cacheDirectory: dir)
        let second = try pre.base(on: train, cacheDirectory: dir)
        XCTAssertFalse(first.cached)
        XCTAssertTrue(second.cached)
        XCTAssertEqual(first.base, second.base)
        var other = pre
        other.epochs = 2
        XCTAssertNotEqual(other.key(for: train), pre.key(for: train))
    }

    /// The cache key follows the data, not only their name and size: synthetic data drawn with
    /// another seed (a run's seed draws them) or one changed feature or label is another base.
    /// Before, a sweep over seeds of a synthetic scenario read the first seed's base for every seed.
    func testPretrainingCacheKeyFollowsTheData() throws {
        let pre = Pretraining(widths: [8, 6, 3], classes: [0, 1], epochs: 1, seed: 5)
        let (a, _) = SyntheticDataset.make(classes: 3, dimension: 8, train: 300, test: 10, seed: 1)
        let (b, _) = SyntheticDataset.make(classes: 3, dimension: 8, train: 300, test: 10, seed: 2)
        XCTAssertEqual(a.name, b.name)
        XCTAssertEqual(a.count, b.count)
        XCTAssertEqual(pre.key(for: a), pre.key(for: SyntheticDataset.make(classes: 3, dimension: 8, train: 300, test: 99, seed: 1).train))
        XCTAssertNotEqual(pre.key(for: a), pre.key(for: b))
        var pixel = a
        pixel.features.storage[123] += 1
        var label = a
        label.labels[7] = (label.labels[7] + 1) % 3
        XCTAssertEqual(Set([pre.key(for: a), pre.key(for: pixel), pre.key(for: label)]).count, 3)
        // Through the cache: the second dataset gets its own base, not the first one's.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try pre.base(on: a, cacheDirectory: dir)
        let second = try pre.base(on: b, cacheDirectory: dir)
        XCTAssertFalse(second.cached)
        XCTAssertEqual(second.base, pre.train(on: b))
    }
}

final class DataTests: XCTestCase {
    func writeGzip(_ bytes: [UInt8], to path: String) {
        let f = gzopen(path, "wb")!
        _ = bytes.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
        gzclose(f)
    }

    func testIDXRoundTripAndMalformedFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-idx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.gz").path
        writeGzip([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6], to: good)
        let a = try IDX.read(good)
        XCTAssertEqual(a.dimensions, [2, 3])
        XCTAssertEqual(a.bytes, [1, 2, 3, 4, 5, 6])
        let cases: [(String, [UInt8], String)] = [
            ("magic.gz", [1, 0, 8, 1, 0, 0, 0, 1, 7], "first two bytes"),
            ("type.gz", [0, 0, 0x0D, 1, 0, 0, 0, 1, 7], "element type 0x0d"),
            ("short.gz", [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2], "promises 2×3 = 6 values, the file holds 2"),
            ("header.gz", [0, 0, 8, 3, 0, 0], "header truncated"),
        ]
        for (name, bytes, message) in cases {
            let path = dir.appendingPathComponent(name).path
            writeGzip(bytes, to: path)
            XCTAssertThrowsError(try IDX.read(path), name) { error in
                XCTAssertTrue("\(error)".contains(message), "\(name): \(error)")
                XCTAssertTrue("\(error)".contains(path), "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try FashionMNIST.load(directory: dir.path)) { error in
            XCTAssertTrue("\(error)".contains("dataset-fashion-mnist"), "\(error)")
        }
    }

    /// Debian's dataset-fashion-mnist (installed by make setup).
    func testFashionMNISTLoads() throws {
        let (train, test) = try FashionMNIST.load()
        XCTAssertEqual(train.count, 60_000)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(train.dimension, 784)
        XCTAssertEqual(Set(test.labels), Set((0..<10).map(Int32.init)))
        // Balanced: 6,000 training images per class.
        XCTAssertTrue(train.indicesByClass.allSatisfy { $0.count == 6000 })
        let mean = train.features.storage.reduce(0.0) { $0 + Double($1) } / Double(train.features.count)
        XCTAssertEqual(mean, 0, accuracy: 0.01, "standardised")
    }

    func testPartitions() {
        let (train, _) = SyntheticDataset.make(classes: 10, dimension: 2, train: 5000, test: 10, seed: 2)
        for partition in [Partition.iid, .dirichlet(beta: 0.5), .dirichlet(beta: 100), .shards(perClient: 2)] {
            let parts = partition.assign(train, clients: 50, seed: 4)
            XCTAssertEqual(parts.count, 50)
            let all = parts.flatMap { $0 }
            XCTAssertEqual(all.count, train.count, "\(partition)")
            XCTAssertEqual(Set(all).count, train.count, "each sample once: \(partition)")
        }
        // Label skew: classes per client (with ≥ 5 % of its samples) — few for β = 0.5 or shards, all for IID.
        func classesPerClient(_ p: Partition) -> Double {
            let parts = p.assign(train, clients: 50, seed: 4)
            let counts = parts.map { idx -> Int in
                var c = [Int](repeating: 0, count: 10)
                for i in idx { c[Int(train.labels[i])] += 1 }
                return c.filter { Double($0) >= 0.05 * Double(max(idx.count, 1)) }.count
            }
            return Double(counts.reduce(0, +)) / 50
        }
        XCTAssertGreaterThan(classesPerClient(.iid), 9)
        XCTAssertLessThan(classesPerClient(.dirichlet(beta: 0.5)), 6)
        XCTAssertLessThanOrEqual(classesPerClient(.shards(perClient: 2)), 2.01)
        XCTAssertGreaterThan(classesPerClient(.dirichlet(beta: 100)), 9)
    }
}

final class ParallelTrainingTests: XCTestCase {
    /// Training several clients at once gives the same adapters whatever the number of threads,
    /// and evaluation in chunks on all cores gives the same figures as one chunk.
    func testParallelTrainingAndEvaluationDoNotDependOnThreads() {
        let (train, test) = SyntheticDataset.make(classes: 4, dimension: 30, train: 800, test: 700, seed: 6)
        let base = BaseMLP(widths: [30, 24, 4], seed: 6)
        let start = base.initialAdapter(rank: 3, seed: 6)
        let parts = Partition.iid.assign(train, clients: 5, seed: 6)
        let jobs = parts.enumerated().map { k, idx in
            LocalTraining.Job(start: start, data: train.subset(idx), stream: StreamKey(seed: 6, purpose: "test.jobs", index: UInt64(k)))
        }
        let settings = TrainingSettings(epochs: 2, batchSize: 16, optimizer: .adam(learningRate: 1e-2))
        let one = LocalTraining.trainMany(base: base, jobs: jobs, alpha: 6, settings: settings, threads: 1)
        let two = LocalTraining.trainMany(base: base, jobs: jobs, alpha: 6, settings: settings, threads: 2)
        let four = LocalTraining.trainMany(base: base, jobs: jobs, alpha: 6, settings: settings, threads: 4)
        XCTAssertEqual(one.map(\.adapter), two.map(\.adapter))
        XCTAssertEqual(one.map(\.adapter), four.map(\.adapter))
        XCTAssertNotEqual(one[0].adapter, one[1].adapter)
        let chunked = MLPMath.evaluate(base, one[0].adapter, alpha: 6, on: test, batch: 100)
        let whole = MLPMath.evaluate(base, one[0].adapter, alpha: 6, on: test, batch: 700)
        XCTAssertEqual(chunked.accuracy, whole.accuracy)
        XCTAssertEqual(chunked.loss, whole.loss, accuracy: 1e-6)
    }
}
