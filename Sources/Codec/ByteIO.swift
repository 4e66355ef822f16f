import CZlib

/// Appends little-endian integers, LEB128 varints and packed bits to a byte array.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Bytes a varint of `value` takes.
    static func varintSize(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }
}

/// Reads what `ByteWriter` wrote, throwing `WireError.truncated` instead of reading past the end.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - offset }

    mutating func u8() throws(WireError) -> UInt8 {
        guard offset < end else { throw .truncated(at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u32() throws(WireError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(at: offset) }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << UInt32(8 * i) }
        offset += 4
        return v
    }
    mutating func varint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            guard shift < 64 else { throw .malformed("varint longer than 10 bytes at byte \(offset)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
    /// Advances past `count` bytes and returns where they start.
    mutating func take(_ count: Int) throws(WireError) -> Int {
        guard count >= 0, remaining >= count else { throw .truncated(at: offset) }
        defer { offset += count }
        return offset
    }
}

/// CRC-32 (zlib's polynomial) of `bytes[range]`.
func crc32(_ bytes: [UInt8], count: Int) -> UInt32 {
    bytes.withUnsafeBufferPointer { buffer in
        UInt32(truncatingIfNeeded: CZlib.crc32(0, buffer.baseAddress, uInt(count)))
    }
}

/// Checks a framed message (at least 9 bytes: the caller checks its own minimum first): its 4-byte
/// `magic`, its version byte, and the CRC-32 of everything before the trailing 4 bytes. Returns
/// where the body ends (the CRC's offset).
func checkFrame(_ bytes: [UInt8], magic: [UInt8], version: UInt8) throws(WireError) -> Int {
    guard Array(bytes[0..<4]) == magic else { throw .badMagic }
    guard bytes[4] == version else { throw .unsupportedVersion(bytes[4]) }
    let bodyEnd = bytes.count - 4
    var tail = ByteReader(bytes, from: bodyEnd)
    let stored = try tail.u32()
    let computed = crc32(bytes, count: bodyEnd)
    guard stored == computed else { throw .checksumMismatch(expected: stored, found: computed) }
    return bodyEnd
}
