import Numerics

/// A contiguous Float32 buffer owned by a class (so that worker threads can share stable pointers
/// for the length of a step), zero-filled at creation.
final class FloatPack: @unchecked Sendable {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    /// Sets every entry to 0.
    func zero() { pointer.update(repeating: 0, count: count) }

    /// `self += other`, entry by entry, in index order.
    func add(_ other: FloatPack) {
        precondition(other.count == count)
        let p = pointer, q = UnsafePointer(other.pointer)
        for i in 0..<count { p[i] += q[i] }
    }

    /// Copies `values` to `offset`.
    func write(_ values: [Float], at offset: Int) {
        precondition(offset >= 0 && offset + values.count <= count)
        values.withUnsafeBufferPointer { src in
            guard let b = src.baseAddress else { return }
            (pointer + offset).update(from: b, count: values.count)
        }
    }

    /// `length` values from `offset`.
    func read(at offset: Int, count length: Int) -> [Float] {
        precondition(offset >= 0 && offset + length <= count)
        return Array(UnsafeBufferPointer(start: pointer + offset, count: length))
    }
}

/// Where each tensor of the base model and of an adapter lives in a flat pack.
struct TransformerLayout: Sendable {
    let config: TransformerConfig
    /// Offsets of the base tensors: embedding, per layer the seven projections (module order),
    /// then the two norm gains, then the final norm and the head (`TransformerWeights.forEachBuffer` order).
    let embedding: Int
    let modules: [[Int]]
    let attentionNorm: [Int]
    let mlpNorm: [Int]
    let finalNorm: Int
    let head: Int
    let baseCount: Int
    /// Per adapter entry, the offsets of A and B, and the entry's slot per (layer, module).
    let adapterA: [Int]
    let adapterB: [Int]
    let adapterSlots: [[Int?]]
    let adapterCount: Int
    let rank: Int
    let scaling: Float

    init(config: TransformerConfig, adapter: TransformerAdapter?) {
        self.config = config
        let d = config.width, v = config.vocabulary
        var o = 0
        embedding = o; o += v * d
        var modules: [[Int]] = [], an: [Int] = [], mn: [Int] = []
        for _ in 0..<config.layers {
            var row: [Int] = []
            for m in TransformerModule.allCases {
                let s = m.shape(config)
                row.append(o); o += s.out * s.in
            }
            modules.append(row)
            an.append(o); o += d
            mn.append(o); o += d
        }
        self.modules = modules
        attentionNorm = an
        mlpNorm = mn
        finalNorm = o; o += d
        head = o; o += v * d
        baseCount = o
        var a: [Int] = [], b: [Int] = [], p = 0
        var slots = [[Int?]](repeating: [Int?](repeating: nil, count: TransformerModule.allCases.count), count: config.layers)
        if let adapter {
            for (i, e) in adapter.entries.enumerated() {
                a.append(p); p += e.a.count
                b.append(p); p += e.b.count
                let site = adapter.sites[i]
                if let m = TransformerModule.allCases.firstIndex(of: site.module) { slots[site.layer][m] = i }
            }
        }
        adapterA = a
        adapterB = b
        adapterSlots = slots
        adapterCount = p
        rank = adapter?.lora.rank ?? 0
        scaling = adapter?.lora.scaling ?? 0
    }

    /// The base weights packed in this layout.
    func pack(_ w: TransformerWeights) -> FloatPack {
        let out = FloatPack(count: baseCount)
        var offset = 0
        var copy = w
        copy.forEachBuffer { _, buffer in out.write(buffer, at: offset); offset += buffer.count }
        return out
    }

    /// Writes `pack` back into weights of the same configuration.
    func unpack(_ pack: FloatPack, into w: inout TransformerWeights) {
        var offset = 0
        w.forEachBuffer { _, buffer in buffer = pack.read(at: offset, count: buffer.count); offset += buffer.count }
    }

    /// The adapter packed in this layout (A then B per entry).
    func pack(_ adapter: TransformerAdapter) -> FloatPack {
        let out = FloatPack(count: adapterCount)
        for (i, e) in adapter.entries.enumerated() {
            out.write(e.a.storage, at: adapterA[i])
            out.write(e.b.storage, at: adapterB[i])
        }
        return out
    }

    /// Writes `pack` back into an adapter of the same shape.
    func unpack(_ pack: FloatPack, into adapter: inout TransformerAdapter) {
        for i in adapter.entries.indices {
            adapter.entries[i].a.storage = pack.read(at: adapterA[i], count: adapter.entries[i].a.count)
            adapter.entries[i].b.storage = pack.read(at: adapterB[i], count: adapter.entries[i].b.count)
        }
    }
}
