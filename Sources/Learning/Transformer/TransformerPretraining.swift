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
        let digest = text.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
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

    // "FSTB", buffer count, then per buffer its length and floats (f32 LE), in `forEachBuffer` order.
    static func write(_ base: TransformerWeights, to path: String) {
        var bytes: [UInt8] = Array("FSTB".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { bytes.append(contentsOf: $0) } }
        let buffers = base.buffers
        u32(buffers.count)
        for b in buffers {
            u32(b.count)
            for x in b { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        }
        let tmp = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        if FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) {
            _ = try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.moveItem(atPath: tmp, toPath: path)
        }
    }

    /// The weights stored at `path` if they have the shapes of `like`, else nil.
    static func read(_ path: String, like: TransformerWeights) -> TransformerWeights? {
        guard let data = FileManager.default.contents(atPath: path), data.count > 8, data.prefix(4) == Data("FSTB".utf8) else { return nil }
        let raw = [UInt8](data)
        var offset = 4
        func u32() -> Int? {
            guard offset + 4 <= raw.count else { return nil }
            defer { offset += 4 }
            return Int(UInt32(raw[offset]) | UInt32(raw[offset + 1]) << 8 | UInt32(raw[offset + 2]) << 16 | UInt32(raw[offset + 3]) << 24)
        }
        let shapes = like.buffers.map(\.count)
        guard let n = u32(), n == shapes.count else { return nil }
        var loaded: [[Float]] = []
        for count in shapes {
            guard let c = u32(), c == count, offset + 4 * c <= raw.count else { return nil }
            var b = [Float](repeating: 0, count: c)
            for i in 0..<c {
                let o = offset + 4 * i
                b[i] = Float(bitPattern: UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24)
            }
            offset += 4 * c
            loaded.append(b)
        }
        guard offset == raw.count else { return nil }
        var out = like
        out.forEachBuffer { i, b in b = loaded[i] }
        return out
    }
}
