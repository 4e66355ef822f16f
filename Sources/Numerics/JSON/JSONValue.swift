import Foundation

/// A JSON document as a value, keeping object keys in a canonical (sorted) order so error messages
/// and output are deterministic.
public indirect enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        if let c = try? decoder.singleValueContainer() {
            if c.decodeNil() { self = .null; return }
            if let b = try? c.decode(Bool.self) { self = .bool(b); return }
            if let d = try? c.decode(Double.self) { self = .number(d); return }
            if let s = try? c.decode(String.self) { self = .string(s); return }
            if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        }
        self = .object(try decoder.singleValueContainer().decode([String: JSONValue].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(d):
            if d == d.rounded(), abs(d) < 1e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    /// A short description of the value's type and content, for "found …" in messages.
    public var described: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .number(d): return Quantity.shortest(d)
        case let .string(s): return "\"\(InputError.clipped(s, 40))\""
        case let .array(a): return a.isEmpty ? "an empty array" : "an array of \(a.count)"
        case .object: return "an object"
        }
    }

    /// Parses `data` (the contents of `file`) with the strict reader (`JSONReader`, RFC 8259) or
    /// throws an `InputError` saying where the syntax breaks (line and column), or which object
    /// repeats a key.
    public static func parse(_ data: Data, file: String?) throws -> JSONValue {
        do {
            return try JSONReader.parse(data)
        } catch let e as JSONReader.SyntaxError {
            let (line, column) = JSONReader.position(of: e.offset, in: data)
            throw InputError(.file(path: file ?? "input", reason: "not valid JSON: line \(line), column \(column): \(e.message)"), at: "")
        } catch let e as JSONReader.DuplicateKey {
            let (l1, c1) = JSONReader.position(of: e.first, in: data)
            let (l2, c2) = JSONReader.position(of: e.second, in: data)
            throw InputError(.invalidValue(expected: "each key at most once (a repeated key is ambiguous)",
                                           found: "'\(InputError.clipped(e.key, 80))' twice: line \(l1), column \(c1) and line \(l2), column \(c2)"),
                             at: e.path, file: file)
        }
    }

    /// Canonical text: sorted keys, optionally pretty.
    public func text(pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

extension JSONValue {
    /// A copy with `value` at the dotted key path (`network.mix.1.profile`: numbers index arrays),
    /// creating missing objects on the way; nil when the path crosses a value that is neither an
    /// object nor an array, or indexes past an array's end.
    public func setting(_ path: [String], to value: JSONValue) -> JSONValue? {
        guard let key = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch self {
        case var .object(members):
            guard let child = (members[key] ?? .object([:])).setting(rest, to: value) else { return nil }
            members[key] = child
            return .object(members)
        case var .array(items):
            guard let i = Int(key), items.indices.contains(i), let child = items[i].setting(rest, to: value) else { return nil }
            items[i] = child
            return .array(items)
        case .null:
            return JSONValue.object([:]).setting(path, to: value)
        default:
            return nil
        }
    }
}

// Literals, so JSON documents built in Swift (the scenario schema) read like JSON.
extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue {
    /// Pretty text that keeps objects and arrays on one line when they fit in `width` columns
    /// (keys sorted; `": "` and `", "` separators): compact enough to read, stable to diff.
    public func compactText(width: Int = 110) -> String { compact(indent: 0, width: width) }

    private func flat() -> String {
        switch self {
        case let .array(items): return "[" + items.map { $0.flat() }.joined(separator: ", ") + "]"
        case let .object(members):
            return "{" + members.keys.sorted().map { JSONValue.string($0).text() + ": " + (members[$0] ?? .null).flat() }.joined(separator: ", ") + "}"
        default: return text()
        }
    }

    private func compact(indent: Int, width: Int) -> String {
        let line = flat()
        let pad = String(repeating: " ", count: indent), inner = String(repeating: " ", count: indent + 2)
        switch self {
        case let .object(members) where !members.isEmpty && line.count + indent > width:
            let items = members.keys.sorted().map { inner + JSONValue.string($0).text() + ": " + (members[$0] ?? .null).compact(indent: indent + 2, width: width) }
            return "{\n" + items.joined(separator: ",\n") + "\n" + pad + "}"
        case let .array(items) where !items.isEmpty && line.count + indent > width:
            return "[\n" + items.map { inner + $0.compact(indent: indent + 2, width: width) }.joined(separator: ",\n") + "\n" + pad + "]"
        default:
            return line
        }
    }
}
