import Foundation

/// The JSON form of a distribution.
///
/// ```
/// 12 | "10Mbps"                                          constant
/// {"dist": "constant", "value": Q}
/// {"dist": "uniform", "min": Q, "max": Q}
/// {"dist": "normal", "mean": Q, "sd": Q, "min"?: Q, "max"?: Q}    truncated when min/max are given
/// {"dist": "lognormal", "median": Q, "p90": Q} | {"median": Q, "sigma": x} | {"mu": x, "sigma": x}
/// {"dist": "lognormal", "p10": Q, "median": Q, "p90": Q}          two-piece: its own spread each side
/// {"dist": "gamma", "shape": x, "scale": Q}
/// {"dist": "weibull", "shape": x, "scale": Q}
/// {"dist": "pareto", "shape": x, "scale": Q}
/// {"dist": "exponential", "mean": Q}
/// {"dist": "empirical", "values": [Q…], "weights"?: [x…], "method"?: "resample"|"interpolate"}
/// {"dist": "empirical", "trace": {"file": "f.csv", "column": "name or index", "unit"?: "Mbps"}, "method"?: …}
/// {"dist": "mixture", "components": [{"weight": x, <a distribution's keys>}, …]}
/// ```
/// `Q` is a quantity (`Quantity`): a string with a unit or a number in the base unit; `x` a plain
/// number. All quantities of one distribution share a dimension. `mu` is the natural log of the
/// median in the base unit.
extension Distribution {
    /// Reads a distribution from its JSON form at `node` (the one reader stack: `JSONReader` →
    /// `JSONValue` → `Node`). With a `requiredDimension` that has units, a bare number (no unit)
    /// anywhere in the distribution is an error. Trace files resolve against `node.baseDirectory`.
    public init(json node: Node, requiredDimension required: Quantity.Dimension? = nil) throws {
        let needsUnit = required.map { $0 != .dimensionless } ?? false
        switch node.value {
        case let .number(number):
            if let required, needsUnit {
                throw InputError(.invalidValue(expected: Quantity.expectation(for: nil, as: required) + ", or a distribution object",
                                               found: "\(Quantity.shortest(number)) (a number without a unit)"), at: node.path)
            }
            self = try Distribution(.constant(number)).validated(at: node.path)
        case let .string(text):
            guard let (dimension, value) = Quantity.parseAnyDimension(text), dimension != nil || !needsUnit else {
                throw InputError(.invalidValue(expected: Quantity.expectation(for: nil, as: required) + ", or a distribution object"
                                                   + (Quantity.unitHint(text, required).map { "; " + $0 } ?? ""),
                                               found: "\"\(InputError.clipped(text, 60))\""), at: node.path)
            }
            self = try Distribution(.constant(value), dimension: dimension).validated(at: node.path)
        case .object:
            self = try Distribution.decode(node, extraKeys: [], requiredDimension: required)
        default:
            throw InputError(.invalidValue(expected: "a number, a quantity string or a distribution object {\"dist\": …}",
                                           found: "another JSON type"), at: node.path)
        }
    }

    /// Reads a distribution from JSON text (the strict reader: duplicate keys, depth and UTF-8
    /// are checked, syntax errors give line and column); `file` names the text in errors.
    public static func parse(_ data: Data, file: String?, baseDirectory: String?, requiredDimension: Quantity.Dimension? = nil) throws -> Distribution {
        let value = try JSONValue.parse(data, file: file ?? "the distribution")
        return try Distribution(json: Node(value, baseDirectory: baseDirectory), requiredDimension: requiredDimension)
    }

    /// Decodes a distribution object; `extraKeys` are keys the caller owns (e.g. a mixture's `weight`).
    /// With a `requiredDimension` that has units, quantities must carry units.
    static func decode(_ node: Node, extraKeys: [String], requiredDimension: Quantity.Dimension? = nil) throws -> Distribution {
        var reader = try ParameterReader(node: node, requiredDimension: requiredDimension)
        let name = try reader.string("dist")
        let kind: Kind
        switch name {
        case "constant":
            try reader.allow(["value"], extraKeys)
            kind = .constant(try reader.quantity("value"))
        case "uniform":
            try reader.allow(["min", "max"], extraKeys)
            kind = .uniform(low: try reader.quantity("min"), high: try reader.quantity("max"))
        case "normal":
            try reader.allow(["mean", "sd", "min", "max"], extraKeys)
            kind = .normal(mean: try reader.quantity("mean"), sd: try reader.quantity("sd"),
                           low: try reader.optionalQuantity("min"), high: try reader.optionalQuantity("max"))
        case "lognormal":
            try reader.allow(["mu", "sigma", "median", "p90", "p10"], extraKeys)
            kind = try decodeLognormal(&reader)
        case "gamma", "weibull", "pareto":
            try reader.allow(["shape", "scale"], extraKeys)
            let shape = try reader.number("shape"), scale = try reader.quantity("scale")
            kind = name == "gamma" ? .gamma(shape: shape, scale: scale)
                : name == "weibull" ? .weibull(shape: shape, scale: scale) : .pareto(shape: shape, scale: scale)
        case "exponential":
            try reader.allow(["mean"], extraKeys)
            kind = .exponential(mean: try reader.quantity("mean"))
        case "empirical":
            try reader.allow(["values", "weights", "method", "trace"], extraKeys)
            kind = .empirical(try decodeEmpirical(&reader, baseDirectory: node.baseDirectory))
        case "mixture":
            try reader.allow(["components"], extraKeys)
            kind = .mixture(try decodeMixture(&reader, requiredDimension: requiredDimension))
        default:
            throw InputError(.unknownName(kind: "distribution", name: name,
                                          suggestion: Suggestion.nearest(to: name, in: familyNames), valid: familyNames),
                             at: reader.path("dist"))
        }
        try reader.checkBareNumbers()
        return try Distribution(kind, dimension: reader.dimension).validated(at: node.path)
    }

    private static func decodeLognormal(_ reader: inout ParameterReader) throws -> Kind {
        if reader.has("mu") {
            guard !reader.has("median") else {
                throw InputError(.invalidValue(expected: "either 'mu' or 'median', not both", found: "both"), at: reader.path("mu"))
            }
            if reader.has("p90") { throw InputError(.invalidValue(expected: "'p90' only with 'median'", found: "'p90' with 'mu'"), at: reader.path("p90")) }
            if reader.has("p10") { throw InputError(.invalidValue(expected: "'p10' only with 'median' and 'p90'", found: "'p10' with 'mu'"), at: reader.path("p10")) }
            return .lognormal(mu: try reader.number("mu"), sigma: try reader.number("sigma"))
        }
        guard reader.has("median") else { throw InputError(.missingKey("median"), at: reader.path()) }
        let median = try reader.quantity("median")
        guard median > 0 else {
            throw InputError(.invalidValue(expected: "a positive median", found: Quantity.shortest(median)), at: reader.path("median"))
        }
        if reader.has("p90") {
            if reader.has("sigma") { throw InputError(.invalidValue(expected: "either 'p90' or 'sigma', not both", found: "both"), at: reader.path("sigma")) }
            let p90 = try reader.quantity("p90")
            guard p90 > median else {
                throw InputError(.invalidValue(expected: "p90 greater than median (\(Quantity.shortest(median)))",
                                               found: Quantity.shortest(p90)), at: reader.path("p90"))
            }
            if reader.has("p10") {
                let p10 = try reader.quantity("p10")
                guard p10 > 0, p10 < median else {
                    throw InputError(.invalidValue(expected: "p10 positive and less than median (\(Quantity.shortest(median)))",
                                                   found: Quantity.shortest(p10)), at: reader.path("p10"))
                }
                return .splitLognormal(mu: log(median), sigmaBelow: (log(median) - log(p10)) / z90, sigmaAbove: (log(p90) - log(median)) / z90)
            }
            return .lognormal(mu: log(median), sigma: (log(p90) - log(median)) / z90)
        }
        if reader.has("p10") { throw InputError(.missingKey("p90"), at: reader.path()) }
        guard reader.has("sigma") else { throw InputError(.missingKey("p90"), at: reader.path()) }
        return .lognormal(mu: log(median), sigma: try reader.number("sigma"))
    }

    private static func decodeEmpirical(_ reader: inout ParameterReader, baseDirectory: String?) throws -> EmpiricalTable {
        let methodName = try reader.optionalString("method") ?? EmpiricalTable.Method.resample.rawValue
        guard let method = EmpiricalTable.Method(rawValue: methodName) else {
            let valid = EmpiricalTable.Method.allCases.map(\.rawValue)
            throw InputError(.unknownName(kind: "method", name: methodName, suggestion: Suggestion.nearest(to: methodName, in: valid),
                                          valid: valid), at: reader.path("method"))
        }
        let weights = try reader.optionalNumbers("weights")
        if weights != nil && method == .interpolate {
            throw InputError(.invalidValue(expected: "no weights with method 'interpolate'", found: "weights"), at: reader.path("weights"))
        }
        let values: [Double]
        var source: EmpiricalTable.TraceSource?
        switch (reader.has("values"), reader.has("trace")) {
        case (true, true):
            throw InputError(.invalidValue(expected: "either 'values' or 'trace', not both", found: "both"), at: reader.path("trace"))
        case (false, false):
            throw InputError(.missingKey("values"), at: reader.path())
        case (true, false):
            values = try reader.quantities("values")
        case (false, true):
            let trace = try reader.trace("trace")
            source = trace
            let raw = try EmpiricalTable.readColumn(file: trace.file, column: trace.column, relativeTo: baseDirectory,
                                                    keyPath: reader.path("trace"))
            values = try reader.scaleTraceValues(raw, unit: trace.unit)
        }
        if let weights {
            guard weights.count == values.count else {
                throw InputError(.invalidValue(expected: "\(values.count) weights (one per value)", found: "\(weights.count)"),
                                 at: reader.path("weights"))
            }
            if let bad = weights.first(where: { !($0 > 0) || !$0.isFinite }) {
                throw InputError(.invalidValue(expected: "positive weights", found: Quantity.shortest(bad)), at: reader.path("weights"))
            }
        }
        return EmpiricalTable(values: values, weights: weights, method: method, source: source)
    }

    private static func decodeMixture(_ reader: inout ParameterReader, requiredDimension: Quantity.Dimension?) throws -> [Component] {
        guard let list = reader.member("components") else { throw InputError(.missingKey("components"), at: reader.path()) }
        guard case .array = list.value else {
            throw InputError(.invalidValue(expected: "an array of components", found: reader.found("components")), at: reader.path("components"))
        }
        var components: [Component] = []
        for item in try list.elements() {
            guard case .object = item.value else {
                throw InputError(.invalidValue(expected: "a component object {\"weight\": w, \"dist\": …}", found: "another JSON type"), at: item.path)
            }
            let itemReader = try ParameterReader(node: item)
            let weight = try itemReader.number("weight")
            guard weight > 0, weight.isFinite else {
                throw InputError(.invalidValue(expected: "a positive weight", found: Quantity.shortest(weight)), at: itemReader.path("weight"))
            }
            let distribution = try decode(item, extraKeys: ["weight"], requiredDimension: requiredDimension)
            if let d = distribution.dimension { try reader.note(d, at: item.path) }
            components.append(Component(weight: weight, distribution: distribution))
        }
        guard !components.isEmpty else {
            throw InputError(.invalidValue(expected: "at least one component", found: "an empty array"), at: reader.path("components"))
        }
        return components
    }

    /// The canonical JSON form (what the resolved scenario and `fedsim distribution --json` show):
    /// quantities with units when the distribution has a dimension; reading it back gives the
    /// same distribution.
    public var json: JSONValue { .object(fields) }

    /// The canonical fields (mixtures inline them into their components).
    var fields: [String: JSONValue] {
        var c: [String: JSONValue] = ["dist": .string(name)]
        func q(_ key: String, _ value: Double) { c[key] = dimension.map { .string(Quantity.format(value, as: $0)) } ?? .number(value) }
        switch kind {
        case let .constant(v): q("value", v)
        case let .uniform(low, high): q("min", low); q("max", high)
        case let .normal(mean, sd, low, high):
            q("mean", mean); q("sd", sd)
            if let low { q("min", low) }
            if let high { q("max", high) }
        case let .lognormal(mu, sigma):
            if dimension != nil { q("median", Quantity.roundedToSignificant(exp(mu), 15)) } else { c["mu"] = .number(mu) }
            c["sigma"] = .number(sigma)
        case let .splitLognormal(mu, below, above):
            q("p10", Quantity.roundedToSignificant(exp(mu - below * Distribution.z90), 12))
            q("median", Quantity.roundedToSignificant(exp(mu), 15))
            q("p90", Quantity.roundedToSignificant(exp(mu + above * Distribution.z90), 12))
        case let .gamma(shape, scale), let .weibull(shape, scale), let .pareto(shape, scale):
            c["shape"] = .number(shape); q("scale", scale)
        case let .exponential(mean): q("mean", mean)
        case let .empirical(table):
            c["method"] = .string(table.method.rawValue)
            if let source = table.source {
                var trace: [String: JSONValue] = ["file": .string(source.file), "column": .string(source.column)]
                if let unit = source.unit { trace["unit"] = .string(unit) }
                c["trace"] = .object(trace)
            } else {
                c["values"] = .array(table.values.map { v in dimension.map { .string(Quantity.format(v, as: $0)) } ?? .number(v) })
                if let weights = table.weights { c["weights"] = .array(weights.map { .number($0) }) }
            }
        case let .mixture(components):
            c["components"] = .array(components.map { component in
                var item = component.distribution.fields
                item["weight"] = .number(component.weight)
                return .object(item)
            })
        }
        return c
    }
}

extension Distribution: Encodable {
    /// Encodes `json`.
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}
