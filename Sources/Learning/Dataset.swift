import Foundation
import Numerics

/// A labelled dataset: features as a row-major matrix (one sample per row) and integer labels.
public struct Dataset: Sendable {
    public var features: Matrix
    public var labels: [Int32]
    public let classes: Int
    /// Where it came from, for reports.
    public var name: String

    public init(features: Matrix, labels: [Int32], classes: Int, name: String) {
        precondition(features.rows == labels.count, "one label per sample")
        self.features = features
        self.labels = labels
        self.classes = classes
        self.name = name
    }

    public var count: Int { labels.count }
    public var dimension: Int { features.cols }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        let d = dimension
        var storage = [Float](repeating: 0, count: indices.count * d)
        features.storage.withUnsafeBufferPointer { src in
            storage.withUnsafeMutableBufferPointer { dst in
                for (row, i) in indices.enumerated() {
                    dst.baseAddress!.advanced(by: row * d).update(from: src.baseAddress!.advanced(by: i * d), count: d)
                }
            }
        }
        return Dataset(features: Matrix(rows: indices.count, cols: d, storage: storage), labels: indices.map { labels[$0] },
                       classes: classes, name: name)
    }

    /// Indices of the samples of each class.
    public var indicesByClass: [[Int]] {
        var byClass = [[Int]](repeating: [], count: classes)
        for (i, y) in labels.enumerated() { byClass[Int(y)].append(i) }
        return byClass
    }
}

/// Fashion-MNIST from Debian's `dataset-fashion-mnist` (60,000 training and 10,000 test images of
/// 28 × 28 pixels, 10 classes). Pixels are scaled to [0, 1] and standardised with the training
/// set's mean and standard deviation (0.2860, 0.3530).
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    static let mean: Float = 0.2860, std: Float = 0.3530

    /// Loads (train, test) from `directory` (the four `*-ubyte.gz` files).
    public static func load(directory: String = defaultDirectory) throws -> (train: Dataset, test: Dataset) {
        func part(_ prefix: String) throws -> Dataset {
            let imagesPath = directory + "/\(prefix)-images-idx3-ubyte.gz", labelsPath = directory + "/\(prefix)-labels-idx1-ubyte.gz"
            if !FileManager.default.fileExists(atPath: imagesPath) {
                throw InputError(.file(path: imagesPath, reason: "not found: install Debian's dataset-fashion-mnist (make setup) or point workload.train.data at a folder with the four IDX files"), at: "")
            }
            let images = try IDX.read(imagesPath), labels = try IDX.read(labelsPath)
            guard images.dimensions.count == 3 else {
                throw InputError(.file(path: imagesPath, reason: "expected 3 dimensions (n × rows × cols), found \(images.dimensions.count)"), at: "")
            }
            guard labels.dimensions.count == 1, labels.dimensions[0] == images.dimensions[0] else {
                throw InputError(.file(path: labelsPath, reason: "expected \(images.dimensions[0]) labels, found \(labels.dimensions)"), at: "")
            }
            if let bad = labels.bytes.first(where: { $0 > 9 }) {
                throw InputError(.file(path: labelsPath, reason: "label \(bad) outside 0…9"), at: "")
            }
            // The sizes multiply without overflow: IDX.read bounds their product.
            let n = images.dimensions[0], d = images.dimensions[1] * images.dimensions[2]
            guard n > 0, d > 0 else {
                throw InputError(.file(path: imagesPath, reason: "holds no images (\(images.dimensions.map(String.init).joined(separator: "×")))"), at: "")
            }
            var storage = [Float](repeating: 0, count: n * d)
            images.bytes.withUnsafeBufferPointer { src in
                storage.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<(n * d) { dst[i] = (Float(src[i]) / 255 - mean) / std }
                }
            }
            return Dataset(features: Matrix(rows: n, cols: d, storage: storage), labels: labels.bytes.map { Int32($0) },
                           classes: 10, name: "fashion-mnist")
        }
        let train = try part("train"), test = try part("t10k")
        guard test.dimension == train.dimension else {
            throw InputError(.file(path: directory + "/t10k-images-idx3-ubyte.gz",
                                   reason: "test images have \(test.dimension) pixels, the training images \(train.dimension)"), at: "")
        }
        return (train, test)
    }
}

/// A small synthetic dataset for fast tests: `classes` Gaussian clusters in `dimension`
/// dimensions, centres drawn once, samples with unit noise.
public enum SyntheticDataset {
    public static func make(classes: Int = 4, dimension: Int = 20, train: Int = 2000, test: Int = 1000,
                            separation: Double = 2.5, seed: UInt64 = 1) -> (train: Dataset, test: Dataset) {
        let centres = RandomStream(seed: seed, purpose: "synthetic.centres")
        let centre = (0..<classes).map { _ in (0..<dimension).map { _ in Float(centres.standardNormal() * separation / Double(dimension).squareRoot() * 2) } }
        func draw(_ n: Int, _ purpose: String) -> Dataset {
            let s = RandomStream(seed: seed, purpose: purpose)
            var storage = [Float](repeating: 0, count: n * dimension)
            var labels = [Int32](repeating: 0, count: n)
            for i in 0..<n {
                let y = i % classes
                labels[i] = Int32(y)
                for j in 0..<dimension { storage[i * dimension + j] = centre[y][j] + Float(s.standardNormal()) }
            }
            return Dataset(features: Matrix(rows: n, cols: dimension, storage: storage), labels: labels, classes: classes, name: "synthetic")
        }
        return (draw(train, "synthetic.train"), draw(test, "synthetic.test"))
    }
}
