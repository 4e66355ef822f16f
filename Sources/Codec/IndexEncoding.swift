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
            let failure = reader.bytes.withUnsafeBufferPointer { bytes in
                out.withUnsafeMutableBufferPointer { o in
                    IndexEncoding.readEliasFano(bytes, lowStart: lowStart, highStart: highStart, highBits: highBits, lowBits: low, length: n, into: o)
                }
            }
            if let failure { throw failure }
            return out
        }
    }

    /// Decodes an Elias–Fano code into `out` (k = out.count indices): the high part a 64-bit word at
    /// a time (one `trailingZeroBitCount` per index), each low part with one unaligned load. The
    /// checks (and their order) are those of a bit-by-bit reading: more than k indices, an index
    /// past n or not above the previous one, fewer than k. Returns the first failure, or nil.
    static func readEliasFano(_ bytes: UnsafeBufferPointer<UInt8>, lowStart: Int, highStart: Int, highBits: Int, lowBits low: Int,
                              length n: Int, into out: UnsafeMutableBufferPointer<UInt32>) -> WireError? {
        let k = out.count
        let highEnd = highStart + (highBits + 7) / 8
        var i = 0, lowBit = lowStart * 8
        var previous: UInt64 = 0
        var wordStart = 0
        while wordStart < highBits {
            var word = Self.load64(bytes, at: highStart + wordStart >> 3, limit: highEnd)
            let remaining = highBits - wordStart
            if remaining < 64 { word &= (UInt64(1) << UInt64(remaining)) &- 1 }
            while word != 0 {
                let position = wordStart + word.trailingZeroBitCount
                word &= word &- 1
                guard i < k else { return .malformed("Elias–Fano high part holds more than \(k) indices") }
                let high = UInt64(position - i)
                let lowValue = low > 0 ? Self.bits(bytes, at: lowBit, width: low) : 0
                lowBit += low
                let index = high << UInt64(low) | lowValue
                guard index < UInt64(n), i == 0 || index > previous else {
                    return .malformed("Elias–Fano index \(index) out of order or past \(n)")
                }
                out[i] = UInt32(index)
                previous = index
                i += 1
            }
            wordStart += 64
        }
        guard i == k else { return .malformed("Elias–Fano high part holds \(i) indices, header says \(k)") }
        return nil
    }

    /// The `width` (1…64) bits starting at bit `bit` of `bytes`, least-significant first.
    @inline(__always)
    static func bits(_ bytes: UnsafeBufferPointer<UInt8>, at bit: Int, width: Int) -> UInt64 {
        if width <= 56 { return shortBits(bytes, at: bit, width: width) }
        return shortBits(bytes, at: bit, width: 32) | shortBits(bytes, at: bit + 32, width: width - 32) << 32
    }

    /// `bits` for a width of at most 56 (one unaligned load covers them).
    @inline(__always)
    static func shortBits(_ bytes: UnsafeBufferPointer<UInt8>, at bit: Int, width: Int) -> UInt64 {
        let mask = (UInt64(1) << UInt64(width)) &- 1
        return (load64(bytes, at: bit >> 3, limit: bytes.count) >> UInt64(bit & 7)) & mask
    }

    /// Eight bytes from `start` as a little-endian word, zeros past `limit` (≤ bytes.count).
    @inline(__always)
    static func load64(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, limit: Int) -> UInt64 {
        if start + 8 <= limit, let base = bytes.baseAddress {
            return UInt64(littleEndian: UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self))
        }
        var value: UInt64 = 0
        var k = 0
        while start + k < limit && k < 8 {
            value |= UInt64(bytes[start + k]) << UInt64(8 * k)
            k += 1
        }
        return value
    }
}

/// Packs bits least-significant first.
struct BitPacker {
    var bytes: [UInt8]
    private var position = 0
    init(bitCount: Int) { bytes = [UInt8](repeating: 0, count: (bitCount + 7) / 8) }
    /// Appends the low `width` (0…64) bits of `value`, a byte at a time.
    mutating func put(_ value: UInt64, width: Int) {
        var v = width >= 64 ? value : value & ((UInt64(1) << UInt64(width)) &- 1)
        var bit = position, remaining = width
        while remaining > 0 {
            let offset = bit & 7, taken = Swift.min(8 - offset, remaining)
            bytes[bit >> 3] |= UInt8(truncatingIfNeeded: v << UInt64(offset))
            v >>= UInt64(taken)
            bit += taken
            remaining -= taken
        }
        position += width
    }
    mutating func set(_ bit: Int) { bytes[bit >> 3] |= 1 << UInt8(bit & 7) }
}
