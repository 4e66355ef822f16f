/// Reads the parameters of one JSON object by hand: quantities with units, plain numbers, strings,
/// with every error naming its key path. Tracks the one dimension the quantities share.
struct ParameterReader {
    /// The object read.
    let node: Node
    private let members: [String: JSONValue]
    /// The dimension of the quantities read so far (nil while all were bare numbers).
    private(set) var dimension: Quantity.Dimension?
    private var dimensionKey: String?
    /// The dimension the caller requires (a scenario key's), when known: then a bare number is
    /// rejected at once unless the dimension is plain.
    let requiredDimension: Quantity.Dimension?
    /// The first quantity key given as a bare number (no unit), if any.
    private(set) var bareKey: String?

    /// A reader of the object at `node` (an error naming its path when it is not an object).
    init(node: Node, requiredDimension: Quantity.Dimension? = nil) throws {
        guard case let .object(members) = node.value else { throw node.invalid("an object") }
        self.node = node
        self.members = members
        self.requiredDimension = requiredDimension
    }

    /// Records a quantity written without a unit at `keyPath`; an error when the required dimension has units.
    private mutating func noteBare(_ value: Double, at keyPath: String) throws {
        if let required = requiredDimension, required != .dimensionless {
            throw InputError(.invalidValue(expected: Quantity.expectation(for: nil, as: required), found: "\(Quantity.shortest(value)) (a number without a unit)"), at: keyPath)
        }
        bareKey = bareKey ?? keyPath
    }

    /// Throws when some quantities carry a unit of a dimension that has units and others are bare numbers.
    func checkBareNumbers() throws {
        guard let dimension, dimension != .dimensionless, let bareKey else { return }
        throw InputError(.invalidValue(expected: "a \(dimension.rawValue) with a unit like the other parameters (\(dimensionKey ?? "")), e.g. \(dimension.example)",
                                       found: "a number without a unit"), at: bareKey)
    }

    func path(_ key: String? = nil) -> String { key.map(node.child) ?? node.path }

    /// Whether `key` is present (null included: a null parameter is an error, not a default).
    func has(_ key: String) -> Bool { members[key] != nil }

    /// The member `key` as a node (nil when absent).
    func member(_ key: String) -> Node? {
        members[key].map { Node($0, path: path(key), baseDirectory: node.baseDirectory) }
    }

    func allow(_ keys: [String], _ extra: [String]) throws {
        let allowed = ["dist"] + keys + extra
        for key in members.keys.sorted() where !allowed.contains(key) {
            throw InputError(.unknownKey(key, suggestion: Suggestion.nearest(to: key, in: allowed)), at: node.path)
        }
    }

    /// A short description of the value under `key`, for "found …" in errors.
    func found(_ key: String) -> String {
        switch members[key] {
        case nil, .null?: return "null"
        case let .number(v)?: return Quantity.shortest(v)
        case let .string(v)?: return "\"\(InputError.clipped(v, 60))\""
        case let .bool(v)?: return String(v)
        case .array?: return "an array"
        case .object?: return "an object"
        }
    }

    func string(_ key: String) throws -> String {
        guard has(key) else { throw InputError(.missingKey(key), at: path()) }
        guard case let .string(value)? = members[key] else {
            throw InputError(.invalidValue(expected: "a string", found: found(key)), at: path(key))
        }
        return value
    }

    func optionalString(_ key: String) throws -> String? { has(key) ? try string(key) : nil }

    /// A plain number (no unit), finite.
    func number(_ key: String) throws -> Double {
        guard has(key) else { throw InputError(.missingKey(key), at: path()) }
        guard case let .number(value)? = members[key], value.isFinite else {
            throw InputError(.invalidValue(expected: "a number", found: found(key)), at: path(key))
        }
        return value
    }

    func optionalNumbers(_ key: String) throws -> [Double]? {
        guard has(key) else { return nil }
        guard case let .array(items)? = members[key] else {
            throw InputError(.invalidValue(expected: "an array of numbers", found: found(key)), at: path(key))
        }
        var values: [Double] = []
        for item in items {
            guard case let .number(v) = item, v.isFinite else {
                throw InputError(.invalidValue(expected: "an array of numbers", found: found(key)), at: path(key))
            }
            values.append(v)
        }
        return values
    }

    /// Records that a quantity of `dimension` was read at `keyPath`; all must agree.
    mutating func note(_ dimension: Quantity.Dimension, at keyPath: String) throws {
        if let existing = self.dimension, existing != dimension {
            throw InputError(.invalidValue(expected: "a \(existing.rawValue) like the other parameters (\(dimensionKey ?? "")), e.g. \(existing.example)",
                                           found: "a \(dimension.rawValue)"), at: keyPath)
        }
        self.dimension = dimension
        dimensionKey = dimensionKey ?? keyPath
    }

    private mutating func parseQuantity(_ text: String, at keyPath: String) throws -> Double {
        guard let (dimension, value) = Quantity.parseAnyDimension(text) else {
            throw InputError(.invalidValue(expected: Quantity.expectation(for: text, as: requiredDimension ?? dimension),
                                           found: "\"\(InputError.clipped(text, 60))\""), at: keyPath)
        }
        if let dimension { try note(dimension, at: keyPath) } else { try noteBare(value, at: keyPath) }
        return value
    }

    /// A quantity: a number in the base unit or a string with a unit.
    mutating func quantity(_ key: String) throws -> Double {
        guard has(key) else { throw InputError(.missingKey(key), at: path()) }
        switch members[key] {
        case let .number(value)?:
            guard value.isFinite else { throw InputError(.invalidValue(expected: "a finite number", found: found(key)), at: path(key)) }
            try noteBare(value, at: path(key))
            return value
        case let .string(text)?:
            return try parseQuantity(text, at: path(key))
        default:
            throw InputError(.invalidValue(expected: "a number or a quantity string such as \"10Mbps\"", found: found(key)), at: path(key))
        }
    }

    mutating func optionalQuantity(_ key: String) throws -> Double? { has(key) ? try quantity(key) : nil }

    /// An array of quantities.
    mutating func quantities(_ key: String) throws -> [Double] {
        guard case let .array(items)? = members[key] else {
            throw InputError(.invalidValue(expected: "an array of numbers or quantities", found: found(key)), at: path(key))
        }
        var values: [Double] = []
        for (index, item) in items.enumerated() {
            let here = path(key) + "[\(index)]"
            switch item {
            case let .number(v):
                try noteBare(v, at: here)
                values.append(v)
            case let .string(text):
                values.append(try parseQuantity(text, at: here))
            default:
                throw InputError(.invalidValue(expected: "a number or a quantity string", found: "another JSON type"), at: here)
            }
        }
        guard !values.isEmpty else { throw InputError(.invalidValue(expected: "at least one value", found: "an empty array"), at: path(key)) }
        return values
    }

    /// A trace reference object.
    func trace(_ key: String) throws -> EmpiricalTable.TraceSource {
        guard let nested = member(key), case .object = nested.value else {
            throw InputError(.invalidValue(expected: "an object {\"file\": …, \"column\": …}", found: found(key)), at: path(key))
        }
        let inner = try ParameterReader(node: nested)
        let known = ["file", "column", "unit"]
        for k in inner.members.keys.sorted() where !known.contains(k) {
            throw InputError(.unknownKey(k, suggestion: Suggestion.nearest(to: k, in: known)), at: nested.path)
        }
        let column: String
        if case let .number(d)? = inner.members["column"], let index = Int(exactly: d) { column = String(index) } else { column = try inner.string("column") }
        guard inner.has("unit") else {
            throw InputError(.invalidValue(expected: "the unit of the trace's numbers, e.g. \"unit\": \"Mbps\" (\"1\" for plain numbers)",
                                           found: "no 'unit'"), at: path(key))
        }
        return EmpiricalTable.TraceSource(file: try inner.string("file"), column: column, unit: try inner.string("unit"))
    }

    /// Trace cells are bare numbers in `unit` ("1" for plain numbers); converts and records the dimension.
    mutating func scaleTraceValues(_ raw: [Double], unit: String?) throws -> [Double] {
        let here = path("trace") + ".unit"
        guard let unit else {
            throw InputError(.invalidValue(expected: "the unit of the trace's numbers, e.g. \"Mbps\" (\"1\" for plain numbers)", found: "none"), at: here)
        }
        if unit == "1" {
            try note(.dimensionless, at: here)
            return raw
        }
        guard !unit.isEmpty, let (dimension, factor) = Quantity.parseAnyDimension("1" + unit), let dimension else {
            throw InputError(.invalidValue(expected: "a unit such as \"Mbps\", \"ms\", \"MB\" (case-sensitive), or \"1\" for plain numbers"
                                                + (Quantity.unitHint("1" + unit, requiredDimension).map { "; " + $0 } ?? ""),
                                           found: "\"\(InputError.clipped(unit, 40))\""), at: here)
        }
        if let requiredDimension, requiredDimension != dimension {
            throw InputError(.invalidValue(expected: "a \(requiredDimension.rawValue) unit (\(requiredDimension.unitList))",
                                           found: "\"\(InputError.clipped(unit, 40))\" (a \(dimension.rawValue) unit)"), at: here)
        }
        try note(dimension, at: here)
        return raw.map { $0 * factor }
    }
}
