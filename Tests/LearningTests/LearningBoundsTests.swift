import CZlib
import Foundation
@testable import Learning
import LoRA
import Numerics
import XCTest

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/corrupt-idx").path

/// Issue 9: corrupt IDX headers, models too large to hold, training that diverges.
final class LearningBoundsTests: XCTestCase {
    /// Each corrupt folder gives an InputError naming the file (no trap, no huge allocation).
    func testCorruptIDXFoldersAreInputErrorsNamingTheFile() {
        let cases: [(String, String, String)] = [
            ("overflow", "train-images-idx3-ubyte.gz", "promises 4294967295×4294967295×4294967295×4294967295 values, more than the 2147483648"),
            ("huge", "train-images-idx3-ubyte.gz", "promises 65535×65535×65535 values, more than the 2147483648"),
            ("long", "train-images-idx3-ubyte.gz", "promises 1×2×2 = 4 values, the file holds 5"),
            ("mismatch", "t10k-images-idx3-ubyte.gz", "test images have 9 pixels, the training images 4"),
            (".", "train-images-idx3-ubyte.gz", "promises 60000×28×28 = 47040000 values, the file holds 10"),
        ]
        for (folder, file, message) in cases {
            let directory = fixtures + "/" + folder
            XCTAssertThrowsError(try FashionMNIST.load(directory: directory), folder) { error in
                XCTAssertTrue(error is InputError, "\(folder): \(error)")
                let text = "\(error)"
                XCTAssertTrue(text.contains(message), "\(folder): \(text)")
                XCTAssertTrue(text.contains(directory + "/" + file), "\(folder): \(text)")
            }
        }
    }

    /// A gzip bomb behind a small header: the reader stops a little past what the header promises.
    func testIDXReadsNoMoreThanPromised() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-bomb-\(UUID().uuidString).gz").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try XCTUnwrap(gzopen(path, "wb"))
        let header: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4]
        _ = header.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<64 { _ = zeros.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) } }   // 64 MiB inflated
        gzclose(f)
        XCTAssertThrowsError(try IDX.read(path)) { error in
            XCTAssertTrue("\(error)".contains("the file holds more than 1048580"), "\(error)")
        }
    }

    /// Hidden widths [100000, 100000] pass scenario validation and need ~40 GB of base weights
    /// alone: the estimate says so before anything is allocated, and `check` refuses it.
    func testMemoryEstimateRefusesAHugeModel() {
        let huge = TrainingMemoryEstimate(widths: [784, 100_000, 100_000, 10], rank: 8, local: TrainingSettings(),
                                          trainSamples: 60_000, testSamples: 10_000, rawBytesPerSample: 784,
                                          clientsAtOnce: 2, adaptersHeld: 20, evaluationThreads: 2)
        let parameters: Double = 784 * 100_000 + 100_000 + 100_000 * 100_000 + 100_000 + 100_000 * 10 + 10
        let weights = 4 * parameters
        XCTAssertEqual(huge.parts.first { $0.what.hasPrefix("frozen base") }?.bytes, weights)
        XCTAssertGreaterThan(huge.total, 3 * weights, "pretraining holds gradients and momentum too")
        XCTAssertThrowsError(try huge.check(limit: 8e9)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("workload.train:") && text.contains("GB"), text)
        }
        // The default proxy: a few hundred MB at most, and the estimate bounds what is really held.
        let small = TrainingMemoryEstimate(widths: [784, 256, 128, 10], rank: 8, local: TrainingSettings(),
                                           trainSamples: 60_000, testSamples: 10_000, rawBytesPerSample: 784,
                                           clientsAtOnce: 2, adaptersHeld: 20, evaluationThreads: 2)
        XCTAssertNoThrow(try small.check(limit: 1e9))
        XCTAssertGreaterThan(small.total, 4.0 * 784 * 130_000, "at least the features of the training set twice and the test set")
    }

    /// A learning rate that makes training diverge stops with a typed error naming the phase.
    func testDivergenceIsATypedError() throws {
        let (train, _) = SyntheticDataset.make(classes: 3, dimension: 8, train: 300, test: 10, seed: 5)
        let wild = Pretraining(widths: [8, 6, 3], classes: [0, 1, 2], epochs: 3, learningRate: 1e30, seed: 5)
        XCTAssertThrowsError(try wild.checkedTrain(on: train)) { error in
            guard case let .diverged(phase, lr, _, step, _, round, client)? = error as? TrainingError else { return XCTFail("\(error)") }
            XCTAssertEqual(phase, .pretraining)
            XCTAssertEqual(lr, 1e30)
            XCTAssertGreaterThanOrEqual(step, 1)
            XCTAssertNil(round); XCTAssertNil(client)
        }
        // Not cached: a second call diverges again instead of reading a broken base.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-cache-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try wild.base(on: train, cacheDirectory: dir))
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: dir))?.count ?? 0, 0)

        let base = try Pretraining(widths: [8, 6, 3], classes: [0, 1], epochs: 1, seed: 5).checkedTrain(on: train)
        let start = base.initialAdapter(rank: 2, seed: 5)
        for optimizer in [Optimizer.sgd(learningRate: 1e30, momentum: 0.9), .adam(learningRate: 1e30)] {
            let settings = TrainingSettings(epochs: 2, batchSize: 16, optimizer: optimizer)
            let jobs = (0..<3).map { LocalTraining.Job(start: start, data: train, stream: StreamKey(seed: 5, purpose: "t", index: UInt64($0)), client: 10 + $0) }
            XCTAssertThrowsError(try LocalTraining.checkedTrainMany(base: base, jobs: jobs, alpha: 4, settings: settings, round: 7, threads: 2)) { error in
                guard case let .diverged(phase, _, _, _, _, round, client)? = error as? TrainingError else { return XCTFail("\(error)") }
                XCTAssertEqual(phase, .localTraining)
                XCTAssertEqual(round, 7)
                XCTAssertEqual(client, 10, "the first job in job order")
                XCTAssertTrue("\(error)".contains("local training diverged at learning rate 1e+30 (round 7, client 10)"), "\(error)")
            }
            XCTAssertTrue(LocalTraining.train(base: base, start: start, alpha: 4, data: train, settings: settings, stream: RandomStream(seed: 1, purpose: "t")).loss.isNaN)
        }
        // An ordinary learning rate: the checked and unchecked results are the same.
        let settings = TrainingSettings(epochs: 2, batchSize: 16, optimizer: .adam(learningRate: 1e-2))
        let jobs = [LocalTraining.Job(start: start, data: train, stream: StreamKey(seed: 5, purpose: "t", index: 0))]
        let checked = try LocalTraining.checkedTrainMany(base: base, jobs: jobs, alpha: 4, settings: settings)
        let plain = LocalTraining.trainMany(base: base, jobs: jobs, alpha: 4, settings: settings)
        XCTAssertEqual(checked[0].adapter, plain[0].adapter)
        XCTAssertEqual(checked[0].loss, plain[0].loss)
        XCTAssertTrue(checked[0].loss.isFinite)
    }

    func testPartitionChecksAndTinyDirichlet() {
        XCTAssertThrowsError(try Partition.shards(perClient: 1000).check(clients: Int.max / 10))
        XCTAssertThrowsError(try Partition.shards(perClient: 1000).check(clients: 3_000_000))
        XCTAssertNoThrow(try Partition.shards(perClient: 2).check(clients: 1000))
        // β so small that the proportions underflow: no trap on converting a NaN cut point.
        let (train, _) = SyntheticDataset.make(classes: 3, dimension: 4, train: 60, test: 3, seed: 1)
        let parts = Partition.dirichlet(beta: 1e-300).assign(train, clients: 4, seed: 1)
        XCTAssertEqual(parts.reduce(0) { $0 + $1.count }, 60)
    }

    /// The divergence checks change no finite result: the loops match the unchecked ones they
    /// replaced (copied here), bit for bit.
    func testCheckedLoopsMatchTheLoopsTheyReplaced() throws {
        let (train, _) = SyntheticDataset.make(classes: 3, dimension: 8, train: 300, test: 10, seed: 5)
        let pre = Pretraining(widths: [8, 6, 3], classes: [0, 1], epochs: 2, learningRate: 0.05, batchSize: 32, seed: 5)
        // Pretraining as it was.
        let keep = Set(pre.classes)
        let subset = train.subset(train.labels.indices.filter { keep.contains(Int(train.labels[$0])) })
        var reference = BaseMLP(widths: pre.widths, seed: pre.seed)
        let none = LoRAAdapter.zeros(reference.loraShapes(rank: 1))
        var state = OptimizerState(.sgd(learningRate: pre.learningRate, momentum: 0.9), shapes: reference.weights.map(\.count) + reference.biases.map(\.count))
        let stream = RandomStream(seed: pre.seed, purpose: "pretraining.batches")
        var order = Array(0..<subset.count)
        for _ in 0..<pre.epochs {
            stream.shuffle(&order)
            var i = 0
            while i < order.count {
                let batch = subset.subset(Array(order[i..<min(order.count, i + pre.batchSize)]))
                let g = MLPMath.lossAndGradients(reference, none, alpha: 1, batch.features, batch.labels[...], trainBase: true).gradients
                state.apply(&reference.weights, try XCTUnwrap(g.weights), offset: 0)
                state.apply(&reference.biases, try XCTUnwrap(g.biases), offset: reference.weights.count)
                i += pre.batchSize
            }
        }
        let base = try pre.checkedTrain(on: train)
        XCTAssertEqual(base, reference)
        // Local training as it was (the factors as two arrays, A slots then B slots).
        let settings = TrainingSettings(epochs: 3, batchSize: 16, optimizer: .adam(learningRate: 5e-3))
        let start = base.initialAdapter(rank: 2, seed: 5)
        var a = start.layers.map(\.a), b = start.layers.map(\.b)
        func adapter() -> LoRAAdapter { LoRAAdapter(layers: start.shapes.indices.map { LoRALayer(shape: start.shapes[$0], a: a[$0], b: b[$0]) }) }
        var adam = OptimizerState(settings.optimizer, shapes: a.map(\.count) + b.map(\.count))
        let batches = RandomStream(seed: 9, purpose: "t")
        var indices = Array(0..<train.count)
        var totalLoss = 0.0, steps = 0
        for _ in 0..<settings.epochs {
            batches.shuffle(&indices)
            var i = 0
            while i < indices.count {
                let sub = train.subset(Array(indices[i..<min(indices.count, i + settings.batchSize)]))
                let (loss, g) = MLPMath.lossAndGradients(base, adapter(), alpha: 4, sub.features, sub.labels[...])
                adam.apply(&a, g.a, offset: 0)
                adam.apply(&b, g.b, offset: a.count)
                totalLoss += loss
                steps += 1
                i += settings.batchSize
            }
        }
        let checked = try LocalTraining.checkedTrain(base: base, start: start, alpha: 4, data: train, settings: settings, stream: RandomStream(seed: 9, purpose: "t"))
        XCTAssertEqual(checked.adapter, adapter())
        XCTAssertEqual(checked.loss, totalLoss / Double(steps))
        XCTAssertEqual(checked.steps, steps)
    }
}
