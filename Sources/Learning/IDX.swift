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

    /// The most values an IDX file may hold (2³¹, 2 GiB of pixels; Fashion-MNIST's training images
    /// are 47 million). A header promising more is refused before anything is allocated.
    public static let maximumValues = 1 << 31

    /// Reads `path` (gzip or plain); errors name the file and what is wrong. The header is read
    /// first and its sizes multiplied with overflow checks; then exactly the promised values are
    /// read (memory grows with the data actually there, never with what the header claims).
    public static func read(_ path: String) throws -> Array {
        func fail(_ reason: String) -> InputError { InputError(.file(path: path, reason: reason), at: "") }
        let file = try GzipReader(path)
        let head = try file.read(upTo: 4)
        guard head.count >= 4 else { throw fail("not an IDX file: \(head.count) bytes, shorter than a header") }
        guard head[0] == 0, head[1] == 0 else { throw fail("not an IDX file: the first two bytes are not zero") }
        guard head[2] == 0x08 else { throw fail(String(format: "unsupported IDX element type 0x%02x (expected 0x08, unsigned bytes)", head[2])) }
        let rank = Int(head[3])
        guard rank >= 1, rank <= 4 else { throw fail("IDX header gives \(rank) dimensions (expected 1 to 4)") }
        let sizes = try file.read(upTo: 4 * rank)
        guard sizes.count == 4 * rank else { throw fail("IDX header truncated") }
        var dims: [Int] = []
        for d in 0..<rank {
            let o = 4 * d
            dims.append(Int(sizes[o]) << 24 | Int(sizes[o + 1]) << 16 | Int(sizes[o + 2]) << 8 | Int(sizes[o + 3]))
        }
        let shape = dims.map(String.init).joined(separator: "×")
        var count = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= maximumValues else {
                throw fail("IDX header promises \(shape) values, more than the \(maximumValues) an IDX file may hold")
            }
            count = product
        }
        let data = try file.read(upTo: count)
        guard data.count == count else {
            throw fail("IDX header promises \(shape) = \(count) values, the file holds \(data.count)")
        }
        let extra = try file.read(upTo: 1 << 20)
        guard extra.isEmpty else {
            let more = extra.count < 1 << 20 ? "\(count + extra.count)" : "more than \(count + extra.count)"
            throw fail("IDX header promises \(shape) = \(count) values, the file holds \(more)")
        }
        return Array(dimensions: dims, bytes: data)
    }

    /// A gzip (or plain) file read through zlib, in chunks.
    final class GzipReader {
        let path: String
        private let file: gzFile

        init(_ path: String) throws {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw InputError(.file(path: path, reason: "cannot be read (\(FileManager.default.fileExists(atPath: path) ? "unreadable" : "no such file"))"), at: "")
            }
            guard let file = gzopen(path, "rb") else { throw InputError(.file(path: path, reason: "cannot be opened"), at: "") }
            self.path = path
            self.file = file
        }

        deinit { gzclose(file) }

        /// Up to `limit` more bytes (fewer at the end of the file).
        func read(upTo limit: Int) throws -> [UInt8] {
            var out: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: min(max(limit, 0), 1 << 20))
            while out.count < limit {
                let want = min(chunk.count, limit - out.count)
                let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(want)) }
                if n < 0 { throw InputError(.file(path: path, reason: "corrupt gzip data"), at: "") }
                if n == 0 { break }
                out.append(contentsOf: chunk[0..<Int(n)])
            }
            return out
        }
    }
}
