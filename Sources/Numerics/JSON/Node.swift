import Foundation

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

    /// The key path of member `key`.
    public func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

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

    /// One of an enumeration's raw values (the error lists them all).
    public func choice<E: RawRepresentable & CaseIterable>(_ type: E.Type) throws -> E where E.RawValue == String {
        let names = E.allCases.map { "\"\($0.rawValue)\"" }
        let valid = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1] : names.joined()
        guard case let .string(s) = value, let e = E(rawValue: s) else { throw invalid(valid) }
        return e
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
        var d = try Distribution(json: self, requiredDimension: dimension).requiring(dimension, at: path)
        if d.dimension == nil { d.dimension = dimension }
        return d
    }
}
