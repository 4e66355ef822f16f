import Foundation
import Numerics

/// A reader for `fortune`'s text files: entries separated by lines holding only `%`.
///
/// Bytes are kept as they are (the byte tokenizer needs no decoding; Debian's collections are UTF-8,
/// a few older files Latin-1). Trailing whitespace of an entry is kept; empty entries are dropped.
public enum FortuneFile {
    /// The largest file read (bytes).
    public static let maximumFileBytes = 64 << 20
    /// The largest entry kept (bytes); longer entries are an error, not silently cut.
    public static let maximumEntryBytes = 1 << 20

    /// The entries of the file at `path`, each without its separator line.
    /// Throws an `InputError(.file(path:reason:))` at `keyPath` when the file is missing or unreadable,
    /// larger than `maximumBytes`, holds an entry above `maximumEntryBytes`, or has no entry.
    public static func read(_ path: String, keyPath: String = "corpus", maximumBytes: Int = maximumFileBytes,
                            maximumEntryBytes: Int = maximumEntryBytes) throws -> [[UInt8]] {
        func fail(_ reason: String) -> InputError { InputError(.file(path: path, reason: reason), at: keyPath) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw fail(FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maximumBytes + 1) ?? Data() } catch {
            throw fail("cannot be read (\(error.localizedDescription))")
        }
        guard data.count <= maximumBytes else { throw fail("is larger than \(maximumBytes) bytes") }
        let entries = try parse([UInt8](data), maximumEntryBytes: maximumEntryBytes) { fail($0) }
        guard !entries.isEmpty else { throw fail("holds no fortune (entries separated by lines of '%')") }
        return entries
    }

    /// The entries of `bytes`; `error` makes the error thrown for an oversized entry.
    public static func parse(_ bytes: [UInt8], maximumEntryBytes: Int = maximumEntryBytes,
                             error: (String) -> Error = { InputError(.invalidValue(expected: "fortune text", found: $0), at: "") }) throws -> [[UInt8]] {
        var entries: [[UInt8]] = []
        var current: [UInt8] = []
        var lineStart = 0
        func finish() throws {
            // Drop the newline that precedes the separator line.
            if current.last == UInt8(ascii: "\n") { current.removeLast() }
            if current.last == UInt8(ascii: "\r") { current.removeLast() }
            if !current.isEmpty { entries.append(current) }
            current = []
        }
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == UInt8(ascii: "\n") {
                let line = bytes[lineStart..<i]
                let bare = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
                if bare.count == 1 && bare.first == UInt8(ascii: "%") {
                    try finish()
                } else {
                    current.append(contentsOf: line)
                    if i < bytes.count { current.append(UInt8(ascii: "\n")) }
                    if current.count > maximumEntryBytes {
                        throw error("an entry of more than \(maximumEntryBytes) bytes (at byte \(lineStart))")
                    }
                }
                lineStart = i + 1
            }
            i += 1
        }
        try finish()
        return entries
    }
}
