/// How the positions of a sparse tensor's values are written.
///
/// The choice depends only on the tensor length n and the kept count k, so the exact message size
/// is known from (shape, k) alone — the simulator charges LLM-sized payloads without building them.
public enum IndexEncoding: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// All n values, no indices.
    case dense = 0
    /// One bit per position: ⌈n/8⌉ bytes.
    case bitmap = 1
    /// Elias–Fano code of the sorted flat indices: k·L low bits plus k + ⌊(n−1)/2^L⌋ high bits,
    /// L = ⌊log₂(n/k)⌋ — within two bits per index of the information-theoretic minimum.
    case eliasFano = 2

    public var description: String {
        switch self {
        case .dense: return "dense"
        case .bitmap: return "bitmap"
        case .eliasFano: return "elias-fano"
        }
    }

    /// Bytes of the index part for `kept` of `length` positions.
    public func indexBytes(length n: Int, kept k: Int) -> Int {
        switch self {
        case .dense: return 0
        case .bitmap: return (n + 7) / 8
        case .eliasFano:
            guard k > 0 else { return 0 }
            let low = IndexEncoding.lowBits(length: n, kept: k)
            return (k * low + 7) / 8 + (k + ((n - 1) >> low) + 7) / 8
        }
    }

    /// L = ⌊log₂(n/k)⌋ (0 when k ≥ n/2).
    static func lowBits(length n: Int, kept k: Int) -> Int {
        let ratio = n / k
        return ratio <= 1 ? 0 : (Int.bitWidth - 1 - ratio.leadingZeroBitCount)
    }

    /// The smallest encoding for `kept` of `length` values of `width` bytes: dense when the sparse
    /// forms would not be smaller; otherwise bitmap or Elias–Fano (bitmap on ties).
    public static func best(length n: Int, kept k: Int, valueWidth: Int) -> IndexEncoding {
        guard k < n else { return .dense }
        let bitmap = IndexEncoding.bitmap.indexBytes(length: n, kept: k)
        let eliasFano = IndexEncoding.eliasFano.indexBytes(length: n, kept: k)
        let sparse = min(bitmap, eliasFano) + k * valueWidth
        if sparse >= n * valueWidth { return .dense }
        return bitmap <= eliasFano ? .bitmap : .eliasFano
    }

    /// Appends the index part for sorted, distinct `indices` in 0..<n.
    func write(_ indices: [UInt32], length n: Int, into writer: inout ByteWriter) {
        switch self {
        case .dense: return
        case .bitmap:
            var bits = [UInt8](repeating: 0, count: (n + 7) / 8)
            for i in indices { bits[Int(i) >> 3] |= 1 << UInt8(i & 7) }
            writer.append(bits)
        case .eliasFano:
            let k = indices.count
            guard k > 0 else { return }
            let low = IndexEncoding.lowBits(length: n, kept: k)
            var lowPart = BitPacker(bitCount: k * low)
            var highPart = BitPacker(bitCount: k + ((n - 1) >> low))
            let mask = (UInt64(1) << UInt64(low)) &- 1
            for (i, index) in indices.enumerated() {
                if low > 0 { lowPart.put(UInt64(index) & mask, width: low) }
                highPart.set(Int(index >> UInt32(low)) + i)
            }
            writer.append(lowPart.bytes)
            writer.append(highPart.bytes)
        }
    }

    /// Reads `k` sorted indices of a tensor of length `n`.
    func read(count k: Int, length n: Int, from reader: inout ByteReader) throws(WireError) -> [UInt32] {
        switch self {
        case .dense: return []
        case .bitmap:
            let start = try reader.take((n + 7) / 8)
            var out: [UInt32] = []
            out.reserveCapacity(k)
            for byteIndex in 0..<((n + 7) / 8) {
                var byte = reader.bytes[start + byteIndex]
                while byte != 0 {
                    let bit = byte.trailingZeroBitCount
                    out.append(UInt32(byteIndex * 8 + bit))
                    byte &= byte - 1
                }
            }
            guard out.count == k, out.last.map({ Int($0) < n }) ?? true else {
                throw .malformed("bitmap holds \(out.count) positions, header says \(k)")
            }
            return out
        case .eliasFano:
            guard k > 0 else { return [] }
            let low = IndexEncoding.lowBits(length: n, kept: k)
            let lowStart = try reader.take((k * low + 7) / 8)
            let highBits = k + ((n - 1) >> low)
            let highStart = try reader.take((highBits + 7) / 8)
            var out = [UInt32](repeating: 0, count: k)
            var lowReader = BitUnpacker(bytes: reader.bytes, start: lowStart)
            var i = 0
            for position in 0..<highBits where reader.bytes[highStart + position >> 3] & (1 << UInt8(position & 7)) != 0 {
                guard i < k else { throw .malformed("Elias–Fano high part holds more than \(k) indices") }
                let high = UInt64(position - i)
                let lowValue = low > 0 ? lowReader.get(width: low) : 0
                let index = high << UInt64(low) | lowValue
                guard index < UInt64(n), i == 0 || UInt32(index) > out[i - 1] else {
                    throw .malformed("Elias–Fano index \(index) out of order or past \(n)")
                }
                out[i] = UInt32(index)
                i += 1
            }
            guard i == k else { throw .malformed("Elias–Fano high part holds \(i) indices, header says \(k)") }
            return out
        }
    }
}

/// Packs bits least-significant first.
struct BitPacker {
    var bytes: [UInt8]
    private var position = 0
    init(bitCount: Int) { bytes = [UInt8](repeating: 0, count: (bitCount + 7) / 8) }
    mutating func put(_ value: UInt64, width: Int) {
        for b in 0..<width where (value >> UInt64(b)) & 1 == 1 { set(position + b) }
        position += width
    }
    mutating func set(_ bit: Int) { bytes[bit >> 3] |= 1 << UInt8(bit & 7) }
}

/// Reads bits least-significant first.
struct BitUnpacker {
    let bytes: [UInt8]
    var position: Int
    init(bytes: [UInt8], start: Int) {
        self.bytes = bytes
        position = start * 8
    }
    mutating func get(width: Int) -> UInt64 {
        var value: UInt64 = 0
        for b in 0..<width {
            let bit = position + b
            if bytes[bit >> 3] & (1 << UInt8(bit & 7)) != 0 { value |= 1 << UInt64(b) }
        }
        position += width
        return value
    }
}
