import Foundation
import Numerics

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

/// A value inside a document with its key path: typed accessors that throw `InputError`s naming
/// the path and what was expected.
public struct Node: Sendable {
    public let value: JSONValue
    /// The key path, e.g. `network.mix[1].profile` (empty at the top).
    public let path: String
    /// The folder relative file references are resolved against.
    public let baseDirectory: String?

    public init(_ value: JSONValue, path: String = "", baseDirectory: String? = nil) {
        self.value = value
        self.path = path
        self.baseDirectory = baseDirectory
    }

    func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    public func invalid(_ expected: String) -> InputError {
        InputError(.invalidValue(expected: expected, found: value.described), at: path)
    }

    /// The object's members; throws unless an object whose keys are all in `allowed`.
    public func object(allowed: [String]) throws -> [String: JSONValue] {
        guard case let .object(members) = value else { throw invalid("an object") }
        for key in members.keys.sorted() where !allowed.contains(key) {
            throw InputError(.unknownKey(key, suggestion: Suggestion.nearest(to: key, in: allowed)), at: path)
        }
        return members
    }

    /// The member `key` of an object (nil when absent or null).
    public func member(_ key: String) -> Node? {
        guard case let .object(members) = value, let v = members[key], v != .null else { return nil }
        return Node(v, path: child(key), baseDirectory: baseDirectory)
    }

    public func required(_ key: String) throws -> Node {
        guard let m = member(key) else { throw InputError(.missingKey(key), at: path) }
        return m
    }

    public func elements() throws -> [Node] {
        guard case let .array(items) = value else { throw invalid("an array") }
        return items.enumerated().map { Node($1, path: "\(path)[\($0)]", baseDirectory: baseDirectory) }
    }

    public func string() throws -> String {
        guard case let .string(s) = value else { throw invalid("a string") }
        return s
    }

    public func bool() throws -> Bool {
        guard case let .bool(b) = value else { throw invalid("true or false") }
        return b
    }

    public func number(_ range: ClosedRange<Double>? = nil, _ expected: String = "a number") throws -> Double {
        guard case let .number(d) = value, d.isFinite, range.map({ $0.contains(d) }) ?? true else { throw invalid(expected) }
        return d
    }

    /// An integer in `range`: a JSON number with no fractional part, converted exactly (no
    /// rounding through `Double(Int.max)`, which is 2^63 and would trap).
    public func integer(_ range: ClosedRange<Int>, _ expected: String) throws -> Int {
        guard case let .number(d) = value, let n = Int(exactly: d), range.contains(n) else { throw invalid(expected) }
        return n
    }

    /// The largest integer a JSON number (a `Double`) holds exactly: 2^53 − 1.
    public static let maxExactInteger = 9_007_199_254_740_991

    /// A seed: an integer in 0…2^53 − 1 (every integer a JSON number holds exactly).
    public func seed() throws -> UInt64 {
        UInt64(try integer(0...Node.maxExactInteger, "an integer seed in 0…9007199254740991 (2^53 − 1, the largest integer a JSON number holds exactly)"))
    }

    /// A number > 0; `expected` names what was wanted.
    public func positiveNumber(_ expected: String) throws -> Double {
        let v = try number(nil, expected)
        guard v > 0 else { throw invalid(expected) }
        return v
    }

    /// A quantity of `dimension` > 0; `expected` names what was wanted when it is not positive.
    public func positiveQuantity(_ dimension: Quantity.Dimension, _ expected: String) throws -> Double {
        let v = try quantity(dimension)
        guard v > 0 else { throw invalid(expected) }
        return v
    }

    /// A quantity of `dimension`: a string with a unit (case-sensitive). A bare number (or a
    /// string without a unit) is accepted only for plain (dimensionless) values: a scenario key
    /// never implies a unit.
    public func quantity(_ dimension: Quantity.Dimension) throws -> Double {
        switch value {
        case let .number(d) where d.isFinite && dimension == .dimensionless: return d
        case let .string(s):
            if dimension == .dimensionless || Quantity.hasUnit(s), let v = Quantity.parse(s, as: dimension), v.isFinite { return v }
            throw invalid(Quantity.expectation(for: s, as: dimension))
        default: throw invalid(Quantity.expectation(for: nil, as: dimension))
        }
    }

    /// A distribution (see DISTRIBUTIONS.md) of values of `dimension`, errors located under this path.
    public func distribution(_ dimension: Quantity.Dimension) throws -> Distribution {
        let data = Data(value.text().utf8)
        let decoder = JSONDecoder()
        if let baseDirectory { decoder.userInfo[Distribution.baseDirectoryKey] = baseDirectory }
        decoder.userInfo[Distribution.requiredDimensionKey] = dimension
        var d: Distribution
        do {
            d = try decoder.decode(Distribution.self, from: data)
        } catch var error as InputError {
            error.keyPath = error.keyPath.isEmpty ? path : (error.keyPath.hasPrefix("[") ? path + error.keyPath : child(error.keyPath))
            throw error
        }
        d = try d.requiring(dimension, at: path)
        if d.dimension == nil { d.dimension = dimension }
        return d
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
