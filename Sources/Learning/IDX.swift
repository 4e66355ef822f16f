import CZlib
import Foundation
import Numerics

/// The IDX format of (Fashion-)MNIST: a big-endian header — two zero bytes, a type code (0x08:
/// unsigned bytes), the number of dimensions — then one 32-bit size per dimension, then the data.
/// Files may be gzip-compressed (read through zlib).
public enum IDX {
    /// An IDX array of unsigned bytes.
    public struct Array: Sendable {
        public var dimensions: [Int]
        public var bytes: [UInt8]
    }

    /// Reads `path` (gzip or plain); errors name the file and what is wrong.
    public static func read(_ path: String) throws -> Array {
        let data = try readGzip(path)
        func fail(_ reason: String) -> InputError { InputError(.file(path: path, reason: reason), at: "") }
        guard data.count >= 4 else { throw fail("not an IDX file: \(data.count) bytes, shorter than a header") }
        guard data[0] == 0, data[1] == 0 else { throw fail("not an IDX file: the first two bytes are not zero") }
        guard data[2] == 0x08 else { throw fail(String(format: "unsupported IDX element type 0x%02x (expected 0x08, unsigned bytes)", data[2])) }
        let rank = Int(data[3])
        guard rank >= 1, rank <= 4 else { throw fail("IDX header gives \(rank) dimensions (expected 1 to 4)") }
        guard data.count >= 4 + 4 * rank else { throw fail("IDX header truncated") }
        var dims: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dims.append(Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3]))
        }
        let count = dims.reduce(1, *)
        let offset = 4 + 4 * rank
        guard data.count - offset == count else {
            throw fail("IDX header promises \(dims.map(String.init).joined(separator: "×")) = \(count) values, the file holds \(data.count - offset)")
        }
        return Array(dimensions: dims, bytes: Swift.Array(data[offset...]))
    }

    /// The whole (decompressed) contents of `path`.
    static func readGzip(_ path: String) throws -> [UInt8] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw InputError(.file(path: path, reason: "cannot be read (\(FileManager.default.fileExists(atPath: path) ? "unreadable" : "no such file"))"), at: "")
        }
        guard let file = gzopen(path, "rb") else { throw InputError(.file(path: path, reason: "cannot be opened"), at: "") }
        defer { gzclose(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw InputError(.file(path: path, reason: "corrupt gzip data"), at: "") }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        return out
    }
}
