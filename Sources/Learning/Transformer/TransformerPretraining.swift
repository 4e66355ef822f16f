import Foundation
import Numerics

/// Pretraining of a transformer base on a text (every weight trained from Llama's initialisation),
/// cached on disk under a key of everything that determines it.
public struct TransformerPretraining: Sendable, Equatable {
    public var config: TransformerConfig
    public var settings: TransformerTrainingSettings
    /// Seed of the initial weights and of the batches.
    public var seed: UInt64

    public init(config: TransformerConfig, settings: TransformerTrainingSettings, seed: UInt64) {
        self.config = config
        self.settings = settings
        self.seed = seed
    }

    /// The cache key: the shapes, the settings, the seed, the text (its length and FNV-1a hash) and
    /// the BLAS kernel (another kernel rounds differently).
    public func key(for text: [UInt8]) -> String {
        let digest = StreamKey.fnv1a64(text)
        let body = "t1|\(config)|\(settings)|\(seed)|\(text.count)|\(digest)|\(BLASKernel.coreName)"
        return String(StreamKey.fnv1a64(body), radix: 16)
    }

    /// The pretrained base: read from the cache if there, else trained (zero steps: the initial
    /// weights) and stored. Throws `TrainingError.diverged` when training diverges.
    public func base(on text: [UInt8], cacheDirectory: String?) throws -> (base: TransformerWeights, cached: Bool) {
        let path = cacheDirectory.map { $0 + "/transformer-\(key(for: text)).bin" }
        let start = TransformerWeights(config: config, seed: seed)
        if let path, let base = Self.read(path, like: start), base.isFinite { return (base, true) }
        var base = start
        if settings.steps > 0 {
            let batcher = try WindowBatcher(tokens: text, context: config.context, keyPath: "workload.train.dataset.text.pretrain")
            base = try TransformerTraining.train(base: start, adapter: nil, batcher: batcher, settings: settings,
                                                 stream: RandomStream(seed: seed, purpose: "transformer.pretrain")).base
        }
        if let path, let dir = cacheDirectory {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            Self.write(base, to: path)
        }
        return (base, false)
    }

    // "FSTB", buffer count, then per buffer its length and floats, in `forEachBuffer` order (`CacheFile`).
    static func write(_ base: TransformerWeights, to path: String) {
        var file = CacheFile.Writer(magic: "FSTB")
        let buffers = base.buffers
        file.u32(buffers.count)
        for b in buffers { file.u32(b.count); file.floats(b) }
        file.write(to: path)
    }

    /// The weights stored at `path` if they have the shapes of `like`, else nil.
    static func read(_ path: String, like: TransformerWeights) -> TransformerWeights? {
        let shapes = like.buffers.map(\.count)
        guard var file = CacheFile.Reader(path: path, magic: "FSTB"), let n = file.u32(), n == shapes.count else { return nil }
        var loaded: [[Float]] = []
        for count in shapes {
            guard let c = file.u32(), c == count, let b = file.floats(c) else { return nil }
            loaded.append(b)
        }
        guard file.atEnd else { return nil }
        var out = like
        out.forEachBuffer { i, b in b = loaded[i] }
        return out
    }
}
