import Foundation

/// The little binary format of the pretraining caches: a 4-byte magic, then little-endian `UInt32`
/// counts and `Float` arrays. Written to a temporary sibling and moved into place (a reader never
/// sees half a file); read back only if it parses to the end exactly.
enum CacheFile {
    struct Writer {
        private(set) var bytes: [UInt8]
        init(magic: String) { bytes = Array(magic.utf8) }
        mutating func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func floats(_ f: [Float]) { for x in f { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } } }
        /// Stores the bytes at `path` (best effort: a cache that cannot be written is recomputed next time).
        func write(to path: String) {
            let tmp = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
            if FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) {
                _ = try? FileManager.default.removeItem(atPath: path)
                try? FileManager.default.moveItem(atPath: tmp, toPath: path)
            }
        }
    }

    struct Reader {
        private let raw: [UInt8]
        private var offset = 4
        /// Nil unless the file at `path` exists, holds more than 8 bytes and starts with `magic`.
        init?(path: String, magic: String) {
            guard let data = FileManager.default.contents(atPath: path), data.count > 8, data.prefix(4) == Data(magic.utf8) else { return nil }
            raw = [UInt8](data)
        }
        private func word(at o: Int) -> UInt32 {
            UInt32(raw[o]) | UInt32(raw[o + 1]) << 8 | UInt32(raw[o + 2]) << 16 | UInt32(raw[o + 3]) << 24
        }
        mutating func u32() -> Int? {
            guard offset + 4 <= raw.count else { return nil }
            defer { offset += 4 }
            return Int(word(at: offset))
        }
        mutating func floats(_ n: Int) -> [Float]? {
            guard n >= 0, offset + 4 * n <= raw.count else { return nil }
            defer { offset += 4 * n }
            return (0..<n).map { Float(bitPattern: word(at: offset + 4 * $0)) }
        }
        /// Whether every byte was read.
        var atEnd: Bool { offset == raw.count }
    }
}
