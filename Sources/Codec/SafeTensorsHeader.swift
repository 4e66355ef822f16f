import Foundation

/// A strict JSON parser for safetensors headers: rejects duplicate keys (Foundation's keeps the last) and keeps
/// numbers as text (so offsets stay exact).
struct HeaderJSON {
    indirect enum Value {
        case object([String: Value]), array([Value]), string(String), number(String), bool(Bool), null

        /// A short description for error messages.
        var summary: String {
            switch self {
            case .object: return "an object"
            case .array(let items): return "an array of \(items.count)"
            case .string(let s): return "the string \"\(s.prefix(40))\""
            case .number(let n): return "the number \(n)"
            case .bool(let b): return "\(b)"
            case .null: return "null"
            }
        }
    }

    struct Failure: Error {
        let message: String
        /// Set when the failure is a key repeated in the top-level object, i.e. a duplicate tensor name.
        var duplicateTopLevelKey: String? = nil
    }

    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(Failure) -> Value {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard pos == bytes.count else { throw fail("expected the end of the header after the top-level value") }
        return value
    }

    private func fail(_ what: String) -> Failure {
        let found = pos >= bytes.count ? "the end" : bytes[pos] < 0x80 ? "'\(Character(Unicode.Scalar(bytes[pos])))'" : "a non-ASCII byte"
        return Failure(message: "not valid JSON at byte \(pos) of the header: \(what), found \(found)")
    }

    private mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == byte else { return false }
        pos += 1
        return true
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> Value {
        guard depth < 64 else { throw fail("expected at most 64 levels of nesting") }
        skipSpace()
        guard pos < bytes.count else { throw fail("expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var pairs: [String: Value] = [:]
            if consume(UInt8(ascii: "}")) { return .object(pairs) }
            repeat {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                guard pairs[key] == nil else {
                    throw Failure(message: "key \"\(key)\" appears twice in one object; expected unique keys",
                                  duplicateTopLevelKey: depth == 0 ? key : nil)
                }
                guard consume(UInt8(ascii: ":")) else { throw fail("expected ':'") }
                pairs[key] = try parseValue(depth: depth + 1)
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { throw fail("expected ',' or '}'") }
            return .object(pairs)
        case UInt8(ascii: "["):
            pos += 1
            var items: [Value] = []
            if consume(UInt8(ascii: "]")) { return .array(items) }
            repeat { items.append(try parseValue(depth: depth + 1)) } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "]")) else { throw fail("expected ',' or ']'") }
            return .array(items)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            for (word, value) in [("true", Value.bool(true)), ("false", .bool(false)), ("null", .null)]
            where bytes[pos...].starts(with: word.utf8) {
                pos += word.utf8.count
                return value
            }
            throw fail("expected a value")
        }
    }

    /// A JSON number, kept as its text (integers are read from it exactly).
    private mutating func parseNumber() throws(Failure) -> String {
        let start = pos
        func digits(_ p: inout Int, _ b: [UInt8]) -> Int {
            let first = p
            while p < b.count, b[p] >= 0x30, b[p] <= 0x39 { p += 1 }
            return p - first
        }
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let integer = pos, count = digits(&pos, bytes)
        var valid = count == 1 || (count > 1 && bytes[integer] != UInt8(ascii: "0"))
        if valid, pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            valid = digits(&pos, bytes) > 0
        }
        if valid, pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            valid = digits(&pos, bytes) > 0
        }
        guard valid else { throw fail("expected a JSON number") }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    /// A JSON string; escapes are decoded by Foundation's parser once the literal's extent is known.
    private mutating func parseString() throws(Failure) -> String {
        let start = pos
        pos += 1
        var escaped = false
        while pos < bytes.count, bytes[pos] != UInt8(ascii: "\"") {
            guard bytes[pos] >= 0x20 else { throw fail("expected control characters to be escaped in strings") }
            if bytes[pos] == UInt8(ascii: "\\") { escaped = true; pos += 1 }
            pos += 1
        }
        guard pos < bytes.count else { pos = start; throw fail("expected a closing '\"'") }
        pos += 1
        guard escaped else { return String(decoding: bytes[(start + 1)..<(pos - 1)], as: UTF8.self) }
        let literal = Data(bytes[start..<pos])
        guard let text = try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed) as? String else {
            pos = start
            throw fail("expected a string with valid escapes")
        }
        return text
    }
}
