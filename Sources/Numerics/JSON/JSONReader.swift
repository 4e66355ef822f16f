import Foundation

/// A strict RFC 8259 reader over the bytes of a document, producing `JSONValue`s.
///
/// Rejected, each with the line and column: invalid UTF-8 (overlong forms, encoded surrogates,
/// code points past U+10FFFF), lone or mismatched `\u` surrogates, raw control characters in
/// strings, leading zeros, `NaN`/`Infinity`, trailing commas, comments, anything after the value,
/// nesting deeper than `maxDepth`, numbers too large for a `Double`, and an object that repeats a
/// key (reported with the object's key path and both positions). A UTF-8 byte-order mark at the
/// start is skipped (RFC 8259 §8.1 allows ignoring it).
///
/// Numbers become the `Double` that `Double(String)` gives for the lexeme (correctly rounded).
/// - Complexity: O(n) in the size of the document; recursion depth at most `maxDepth`.
public struct JSONReader {
    public static let maxDepth = 256

    /// A syntax error at a byte offset.
    public struct SyntaxError: Error {
        public let offset: Int
        public let message: String
    }

    /// A key that appears twice in one object.
    public struct DuplicateKey: Error {
        public let path: String
        public let key: String
        public let first: Int
        public let second: Int
    }

    private enum PathComponent {
        case key(String)
        case index(Int)
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var depth = 0
    private var path: [PathComponent] = []

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Parses a whole document.
    public static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { raw -> JSONValue in
            var reader = JSONReader(raw.bindMemory(to: UInt8.self))
            return try reader.document()
        }
    }

    /// (line, column), both from 1, of byte `offset` in `data`; columns count characters (UTF-8 scalars).
    public static func position(of offset: Int, in data: Data) -> (line: Int, column: Int) {
        var line = 1, column = 1, k = 0
        for b in data {
            if k >= offset { break }
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        return (line, column)
    }

    private mutating func document() throws -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        skipWhitespace()
        guard i < bytes.count else { throw SyntaxError(offset: i, message: "the document is empty (expected a JSON value)") }
        let value = try parseValue()
        skipWhitespace()
        if i < bytes.count { throw SyntaxError(offset: i, message: "unexpected \(describeByte(at: i)) after the end of the JSON value") }
        return value
    }

    @inline(__always) private mutating func skipWhitespace() {
        while i < bytes.count {
            let b = bytes[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    private func describeByte(at k: Int) -> String {
        guard k < bytes.count else { return "end of input" }
        let b = bytes[k]
        switch b {
        case 0x22: return "'\"'"
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(b)))'"
        case 0x20: return "a space"
        case 0x0A, 0x0D, 0x09: return "a line break or tab"
        case 0..<0x20, 0x7F: return "control character U+\(String(format: "%04X", Int(b)))"
        default:
            // A non-ASCII character: show it when it is valid UTF-8.
            if let (scalar, _) = decodeUTF8(at: k), let s = Unicode.Scalar(scalar) { return "'\(Character(s))'" }
            return "a byte 0x\(String(format: "%02X", Int(b))) that is not valid UTF-8"
        }
    }

    private func expected(_ what: String) -> SyntaxError {
        SyntaxError(offset: i, message: "expected \(what), found \(describeByte(at: i))")
    }

    private mutating func parseValue() throws -> JSONValue {
        guard i < bytes.count else { throw expected("a value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case UInt8(ascii: "N"), UInt8(ascii: "I"):
            throw SyntaxError(offset: i, message: "NaN and Infinity are not JSON numbers")
        default: throw expected("a value (an object, array, string, number, true, false or null)")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let start = i
        let n = word.utf8CodeUnitCount
        let p = word.utf8Start
        for k in 0..<n {
            guard i < bytes.count, bytes[i] == p[k] else {
                i = start
                throw expected("a value (an object, array, string, number, true, false or null)")
            }
            i += 1
        }
        // "truex", "nullify": the literal must end here.
        if i < bytes.count, isLetterOrDigit(bytes[i]) { throw expected("',' or the end of the value after '\(word)'") }
    }

    @inline(__always) private func isLetterOrDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth {
            throw SyntaxError(offset: i, message: "arrays and objects nested more than \(Self.maxDepth) deep")
        }
    }

    private mutating func parseArray() throws -> JSONValue {
        try enter()
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return .array(items) }
        path.append(.index(0))
        while true {
            path[path.count - 1] = .index(items.count)
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                throw SyntaxError(offset: i, message: "a trailing comma before ']'")
            }
            items.append(try parseValue())
            skipWhitespace()
            guard i < bytes.count else { throw expected("',' or ']'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; break }
            throw expected("',' or ']'")
        }
        path.removeLast()
        depth -= 1
        return .array(items)
    }

    private mutating func parseObject() throws -> JSONValue {
        try enter()
        i += 1
        var members: [String: JSONValue] = [:]
        var offsets: [String: Int] = [:]
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return .object(members) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { throw SyntaxError(offset: i, message: "a trailing comma before '}'") }
                throw expected("a key in double quotes")
            }
            let keyOffset = i
            let key = try parseString()
            if let first = offsets[key] {
                throw DuplicateKey(path: renderPath(), key: key, first: first, second: keyOffset)
            }
            offsets[key] = keyOffset
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw expected("':' after the key") }
            i += 1
            skipWhitespace()
            path.append(.key(key))
            members[key] = try parseValue()
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw expected("',' or '}'") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; break }
            throw expected("',' or '}'")
        }
        depth -= 1
        return .object(members)
    }

    /// The key path of the value being read, as `Node` writes it (`a.b[1].c`).
    private func renderPath() -> String {
        var out = ""
        for c in path {
            switch c {
            case let .key(k): out += out.isEmpty ? k : "." + k
            case let .index(n): out += "[\(n)]"
            }
        }
        return out
    }

    // MARK: strings

    /// Decodes one UTF-8 sequence at `k`: (scalar value, length), or nil when invalid (overlong,
    /// surrogate, past U+10FFFF, truncated, stray continuation byte).
    private func decodeUTF8(at k: Int) -> (UInt32, Int)? {
        let b0 = bytes[k]
        func cont(_ j: Int) -> UInt32? {
            guard j < bytes.count, bytes[j] & 0xC0 == 0x80 else { return nil }
            return UInt32(bytes[j] & 0x3F)
        }
        switch b0 {
        case 0..<0x80: return (UInt32(b0), 1)
        case 0xC2...0xDF:
            guard let c1 = cont(k + 1) else { return nil }
            return ((UInt32(b0 & 0x1F) << 6) | c1, 2)
        case 0xE0...0xEF:
            guard let c1 = cont(k + 1), let c2 = cont(k + 2) else { return nil }
            let v = (UInt32(b0 & 0x0F) << 12) | (c1 << 6) | c2
            guard v >= 0x800, !(0xD800...0xDFFF).contains(v) else { return nil }
            return (v, 3)
        case 0xF0...0xF4:
            guard let c1 = cont(k + 1), let c2 = cont(k + 2), let c3 = cont(k + 3) else { return nil }
            let v = (UInt32(b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3
            guard v >= 0x10000, v <= 0x10FFFF else { return nil }
            return (v, 4)
        default: return nil
        }
    }

    private mutating func parseString() throws -> String {
        i += 1   // the opening quote
        let start = i
        // Fast path: no escapes.
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw SyntaxError(offset: i, message: "a raw control character U+\(String(format: "%04X", Int(b))) inside a string (write it as an escape such as \\n)") }
            if b < 0x80 { i += 1; continue }
            guard let (_, n) = decodeUTF8(at: i) else { throw SyntaxError(offset: i, message: "invalid UTF-8 (byte 0x\(String(format: "%02X", Int(b))))") }
            i += n
        }
        guard i < bytes.count else { throw SyntaxError(offset: start - 1, message: "a string that is never closed") }
        // Slow path: escapes.
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b == UInt8(ascii: "\\") {
                let escapeStart = i
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(escapeStart)
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw SyntaxError(offset: escapeStart, message: "a lone high surrogate \\u\(String(format: "%04X", scalar)) (not followed by a low surrogate)")
                        }
                        i += 2
                        let low = try hex4(i - 2)
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw SyntaxError(offset: i - 6, message: "a high surrogate \\u\(String(format: "%04X", scalar)) followed by \\u\(String(format: "%04X", low)), not a low surrogate")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw SyntaxError(offset: escapeStart, message: "a lone low surrogate \\u\(String(format: "%04X", scalar))")
                    }
                    guard let s = Unicode.Scalar(scalar) else { throw SyntaxError(offset: escapeStart, message: "an invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(s)).utf8))
                default:
                    throw SyntaxError(offset: escapeStart, message: "an invalid escape '\\\(e >= 0x21 && e <= 0x7E ? String(Character(Unicode.Scalar(e))) : "…")' (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
                }
                continue
            }
            if b < 0x20 { throw SyntaxError(offset: i, message: "a raw control character U+\(String(format: "%04X", Int(b))) inside a string (write it as an escape such as \\n)") }
            if b < 0x80 { out.append(b); i += 1; continue }
            guard let (_, n) = decodeUTF8(at: i) else { throw SyntaxError(offset: i, message: "invalid UTF-8 (byte 0x\(String(format: "%02X", Int(b))))") }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + n)]))
            i += n
        }
        throw SyntaxError(offset: start - 1, message: "a string that is never closed")
    }

    private mutating func hex4(_ escapeStart: Int) throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard i < bytes.count else { throw SyntaxError(offset: escapeStart, message: "a \\u escape needs four hex digits") }
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw SyntaxError(offset: escapeStart, message: "a \\u escape needs four hex digits")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    // MARK: numbers

    @inline(__always) private func isDigit(_ k: Int) -> Bool { k < bytes.count && bytes[k] >= 0x30 && bytes[k] <= 0x39 }

    private mutating func parseNumber() throws -> Double {
        let start = i
        var negative = false
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "I") { throw SyntaxError(offset: start, message: "NaN and Infinity are not JSON numbers") }
            guard isDigit(i) else { throw SyntaxError(offset: start, message: "a '-' not followed by a digit") }
        }
        var integer: UInt64 = 0
        var digits = 0
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
            digits = 1
            if isDigit(i) { throw SyntaxError(offset: start, message: "a number with a leading zero (JSON numbers cannot start with 0 unless they are 0 or 0.…)") }
        } else {
            while isDigit(i) {
                if digits < 18 { integer = integer * 10 + UInt64(bytes[i] - 0x30) }
                digits += 1
                i += 1
            }
        }
        var simple = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            simple = false
            i += 1
            guard isDigit(i) else { throw SyntaxError(offset: i, message: "a digit after the decimal point") }
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            simple = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { throw SyntaxError(offset: i, message: "a digit in the exponent") }
            while isDigit(i) { i += 1 }
        }
        if i < bytes.count, isLetterOrDigit(bytes[i]) || bytes[i] == UInt8(ascii: ".") {
            throw SyntaxError(offset: i, message: "\(describeByte(at: i)) inside a number (a quantity with a unit is a string: \"10Mbps\")")
        }
        // Up to 15 digits an integer is exactly representable: the same Double as Double(String).
        if simple, digits <= 15 {
            let v = Double(integer)
            return negative ? -v : v
        }
        let lexeme = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        guard let v = Double(lexeme) else { throw SyntaxError(offset: start, message: "a malformed number") }
        guard v.isFinite else {
            throw SyntaxError(offset: start, message: "a number too large for a 64-bit float (magnitude above 1.8e308): \(lexeme.count > 40 ? String(lexeme.prefix(40)) + "…" : lexeme)")
        }
        return v
    }
}
