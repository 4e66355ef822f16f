/// Reads the parameters of one JSON object by hand: quantities with units, plain numbers, strings,
/// with every error naming its key path. Tracks the one dimension the quantities share.
struct ParameterReader {
    let container: KeyedDecodingContainer<DynamicKey>
    /// The dimension of the quantities read so far (nil while all were bare numbers).
    private(set) var dimension: Quantity.Dimension?
    private var dimensionKey: String?

    init(container: KeyedDecodingContainer<DynamicKey>) { self.container = container }

    func path(_ key: String? = nil) -> String {
        key.map { KeyPathText.render(container.codingPath, $0) } ?? KeyPathText.render(container.codingPath)
    }

    func has(_ key: String) -> Bool { container.contains(DynamicKey(key)) }

    func allow(_ keys: [String], _ extra: [String]) throws {
        try KeyPathText.rejectUnknownKeys(container, allowed: ["dist"] + keys + extra)
    }

    private func found(_ key: String) -> String { KeyPathText.describe(container, DynamicKey(key)) }

    func string(_ key: String) throws -> String {
        guard has(key) else { throw InputError(.missingKey(key), at: path()) }
        guard let value = try? container.decode(String.self, forKey: DynamicKey(key)) else {
            throw InputError(.invalidValue(expected: "a string", found: found(key)), at: path(key))
        }
        return value
    }

    func optionalString(_ key: String) throws -> String? { has(key) ? try string(key) : nil }

    /// A plain number (no unit), finite.
    func number(_ key: String) throws -> Double {
        guard has(key) else { throw InputError(.missingKey(key), at: path()) }
        guard let value = try? container.decode(Double.self, forKey: DynamicKey(key)), value.isFinite else {
            throw InputError(.invalidValue(expected: "a number", found: found(key)), at: path(key))
        }
        return value
    }

    func optionalNumbers(_ key: String) throws -> [Double]? {
        guard has(key) else { return nil }
        guard let values = try? container.decode([Double].self, forKey: DynamicKey(key)), values.allSatisfy(\.isFinite) else {
            throw InputError(.invalidValue(expected: "an array of numbers", found: found(key)), at: path(key))
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
            throw InputError(.invalidValue(expected: "a number or a quantity with a unit, e.g. \"10Mbps\", \"80ms\", \"16MB\", \"30TFLOPS\"",
                                           found: "\"\(text)\""), at: keyPath)
        }
        if let dimension { try note(dimension, at: keyPath) }
        return value
    }

    /// A quantity: a number in the base unit or a string with a unit.
    mutating func quantity(_ key: String) throws -> Double {
        guard has(key) else { throw InputError(.missingKey(key), at: path()) }
        if let value = try? container.decode(Double.self, forKey: DynamicKey(key)) {
            guard value.isFinite else { throw InputError(.invalidValue(expected: "a finite number", found: found(key)), at: path(key)) }
            return value
        }
        if let text = try? container.decode(String.self, forKey: DynamicKey(key)) { return try parseQuantity(text, at: path(key)) }
        throw InputError(.invalidValue(expected: "a number or a quantity string such as \"10Mbps\"", found: found(key)), at: path(key))
    }

    mutating func optionalQuantity(_ key: String) throws -> Double? { has(key) ? try quantity(key) : nil }

    /// An array of quantities.
    mutating func quantities(_ key: String) throws -> [Double] {
        var list: UnkeyedDecodingContainer
        do { list = try container.nestedUnkeyedContainer(forKey: DynamicKey(key)) } catch {
            throw InputError(.invalidValue(expected: "an array of numbers or quantities", found: found(key)), at: path(key))
        }
        var values: [Double] = []
        while !list.isAtEnd {
            let here = path(key) + "[\(list.currentIndex)]"
            if let v = try? list.decode(Double.self) {
                values.append(v)
            } else if let text = try? list.decode(String.self) {
                values.append(try parseQuantity(text, at: here))
            } else {
                throw InputError(.invalidValue(expected: "a number or a quantity string", found: "another JSON type"), at: here)
            }
        }
        guard !values.isEmpty else { throw InputError(.invalidValue(expected: "at least one value", found: "an empty array"), at: path(key)) }
        return values
    }

    /// A trace reference object.
    func trace(_ key: String) throws -> EmpiricalTable.TraceSource {
        let nested: KeyedDecodingContainer<DynamicKey>
        do { nested = try container.nestedContainer(keyedBy: DynamicKey.self, forKey: DynamicKey(key)) } catch {
            throw InputError(.invalidValue(expected: "an object {\"file\": …, \"column\": …}", found: found(key)), at: path(key))
        }
        try KeyPathText.rejectUnknownKeys(nested, allowed: ["file", "column", "unit"])
        let inner = ParameterReader(container: nested)
        let column: String
        if let index = try? nested.decode(Int.self, forKey: DynamicKey("column")) { column = String(index) } else { column = try inner.string("column") }
        return EmpiricalTable.TraceSource(file: try inner.string("file"), column: column, unit: try inner.optionalString("unit"))
    }

    /// Trace cells are bare numbers in `unit` (or the base unit); converts and records the dimension.
    mutating func scaleTraceValues(_ raw: [Double], unit: String?) throws -> [Double] {
        guard let unit else { return raw }
        let here = path("trace") + ".unit"
        guard let (dimension, factor) = Quantity.parseAnyDimension("1" + unit), let dimension else {
            throw InputError(.invalidValue(expected: "a unit such as \"Mbps\", \"ms\", \"MB\"", found: "\"\(unit)\""), at: here)
        }
        try note(dimension, at: here)
        return raw.map { $0 * factor }
    }
}
