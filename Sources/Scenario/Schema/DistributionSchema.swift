import Numerics

/// The schema of distributions (docs/DISTRIBUTIONS.md), one set of definitions per kind of value
/// a scenario key takes (`distribution-rate`, `distribution-duration`, …): the same families,
/// with each parameter's quantity type set by the kind.
enum DistributionSchema {
    /// A kind of distributed value and the quantity definition each parameter role takes.
    struct Kind {
        var name: String
        var title: String
        /// A constant (or empirical) value; a signed location; a lower end; an upper end; a positive parameter.
        var constant: String, signed: String, low: String, upper: String, positive: String
        var note: String
        /// The unit pattern a trace's "unit" accepts.
        var traceUnits: String
    }

    static var kinds: [Kind] {
        func dimensioned(_ name: String, _ title: String, _ dimension: Quantity.Dimension, _ note: String) -> Kind {
            Kind(name: name, title: title, constant: "quantity-\(name)-positive", signed: "quantity-\(name)", low: "quantity-\(name)-nonneg",
                 upper: "quantity-\(name)-positive", positive: "quantity-\(name)-positive", note: note,
                 traceUnits: SchemaVocabulary.units(dimension))
        }
        let plainUnits = "(?:" + SchemaVocabulary.units(.dimensionless) + "|1)"
        return [
            Kind(name: "any", title: "any dimension", constant: "quantity", signed: "quantity", low: "quantity", upper: "quantity",
                 positive: "quantity-positive", note: "All quantities of one distribution must share one dimension (not checked by this schema).",
                 traceUnits: "(?:" + SchemaVocabulary.anyUnit + "|1)"),
            dimensioned("rate", "bit rate", .bitRate,
                        "Values are bit rates (\"10Mbps\" or bit/s); every value must be positive (truncate a normal with min, or use lognormal)."),
            dimensioned("duration", "duration", .duration, "Values are durations (\"80ms\" or seconds); every value must be positive."),
            dimensioned("flop-rate", "FLOP/s", .flopRate, "Values are compute speeds (\"30TFLOPS\" or FLOP/s); every value must be positive."),
            Kind(name: "count", title: "positive plain number", constant: "quantity-plain-positive", signed: "quantity-plain", low: "quantity-plain-nonneg",
                 upper: "quantity-plain-positive", positive: "quantity-plain-positive", note: "Values are plain positive numbers (e.g. local samples per client).",
                 traceUnits: plainUnits),
            Kind(name: "loss", title: "loss rate", constant: "loss-value", signed: "quantity-plain", low: "loss-nonneg", upper: "loss-positive",
                 positive: "loss-positive", note: "Values are packet-loss probabilities: plain numbers or percentages; the distribution must sit in [0, 1).",
                 traceUnits: plainUnits),
        ]
    }

    /// One family: its name, description, parameters, required parameters and extra keywords.
    struct Family {
        var name: String
        var description: String
        var properties: [String: JSONValue]
        var required: [String]
        var extra: [String: JSONValue] = [:]
    }

    static func families(_ k: Kind) -> [Family] {
        func ref(_ name: String, _ description: String) -> JSONValue { SchemaVocabulary.ref(name, description) }
        let positive = SchemaVocabulary.positiveNumber
        var list = [
            Family(name: "constant", description: "A constant: {\"dist\": \"constant\", \"value\": Q}.",
                   properties: ["value": ref(k.constant, "The constant value.")], required: ["value"]),
            Family(name: "uniform", description: "Uniform on [min, max]; max must be greater than min.",
                   properties: ["min": ref(k.low, "Lower end."), "max": ref(k.upper, "Upper end (> min).")], required: ["min", "max"]),
            Family(name: "normal", description: "Normal with mean and standard deviation sd; truncated to [min, max] when min and/or max are given.",
                   properties: ["mean": ref(k.signed, "Mean (before truncation)."), "sd": ref(k.positive, "Standard deviation (> 0)."),
                                "min": ref(k.low, "Optional lower truncation point."), "max": ref(k.upper, "Optional upper truncation point (> min).")],
                   required: ["mean", "sd"]),
            Family(name: "lognormal",
                   description: "Lognormal, given as median + p90, median + sigma, mu + sigma, or (two-piece, its own spread each side) p10 + median + p90. "
                       + "p90 must exceed the median, p10 must be below it.",
                   properties: ["median": ref(k.positive, "Median (> 0)."), "p90": ref(k.positive, "90th percentile (> median)."),
                                "p10": ref(k.positive, "10th percentile (< median); only together with median and p90 (two-piece lognormal)."),
                                "sigma": positive("σ of the underlying normal (a plain number > 0)."),
                                "mu": ["type": "number", "description": "μ: the natural log of the median in the base unit (a plain number)."]],
                   required: [], extra: ["$ref": "#/$defs/lognormal-forms"]),
        ]
        for (family, formula) in [("gamma", "mean = shape·scale"), ("weibull", "P(X > x) = exp(−(x/scale)^shape)"),
                                  ("pareto", "P(X > x) = (scale/x)^shape for x ≥ scale")] {
            list.append(Family(name: family, description: "\(family.prefix(1).uppercased() + family.dropFirst()) with a plain shape and a scale quantity; \(formula).",
                               properties: ["shape": positive("Shape (a plain number > 0)."), "scale": ref(k.positive, "Scale (> 0).")],
                               required: ["shape", "scale"]))
        }
        list.append(Family(name: "exponential", description: "Exponential with the given mean.", properties: ["mean": ref(k.positive, "Mean (> 0).")],
                           required: ["mean"]))
        list.append(Family(name: "empirical",
                           description: "Empirical: a list of values (optionally weighted) or a CSV trace column, either resampled or interpolated (inverse CDF). "
                               + "Exactly one of values / trace; no weights with method \"interpolate\".",
                           properties: [
                               "values": ["type": "array", "minItems": 1, "items": SchemaVocabulary.ref(k.constant), "description": "The observed values (at least one)."],
                               "weights": ["type": "array", "minItems": 1, "items": ["type": "number", "exclusiveMinimum": 0],
                                           "description": "Optional positive weights, one per value (resample only)."],
                               "method": ["enum": ["resample", "interpolate"], "default": "resample",
                                          "description": "\"resample\" (default) draws the given values; \"interpolate\" draws from the piecewise-linear CDF."],
                               "trace": SchemaVocabulary.ref("trace-\(k.name)"),
                           ], required: [], extra: ["$ref": "#/$defs/empirical-forms"]))
        list.append(Family(name: "mixture",
                           description: "A weighted mixture; each component is {\"weight\": w, <a distribution's keys>}. A component is first chosen by weight.",
                           properties: ["components": ["type": "array", "minItems": 1, "items": SchemaVocabulary.ref("component-\(k.name)"),
                                                       "description": "At least one component: {\"weight\": w > 0, \"dist\": …, …}."]],
                           required: ["components"]))
        return list
    }

    /// A family's object schema, at the top level or as a mixture component (which carries a
    /// weight and leaves the parameters' descriptions to the top-level definition).
    static func object(_ k: Kind, _ f: Family, component: Bool) -> JSONValue {
        var properties: [String: JSONValue] = ["dist": ["const": .string(f.name), "description": .string("The family: \"\(f.name)\".")]]
        var description = f.description
        var parameters = f.properties
        if component {
            properties["weight"] = ["type": "number", "exclusiveMinimum": 0, "description": "The component's weight (> 0); weights need not sum to 1."]
            parameters = parameters.mapValues { value in
                guard case var .object(o) = value else { return value }
                o["description"] = nil
                return .object(o)
            }
            description = k.name == "any" ? "A \"\(f.name)\" component (see $defs/dist-\(f.name))." : "A \"\(f.name)\" component (see $defs/dist-\(k.name)-\(f.name) for its parameters)."
        }
        properties.merge(parameters) { $1 }
        var o: [String: JSONValue] = ["title": .string(f.name), "description": .string(description), "type": "object",
                                      "properties": .object(properties), "additionalProperties": false,
                                      "required": .array(((component ? ["weight"] : []) + ["dist"] + f.required).map { .string($0) })]
        o.merge(f.extra) { $1 }
        return .object(o)
    }

    /// The definitions of one kind: each family, the object and distribution unions, components, traces.
    static func definitions(_ k: Kind) -> [String: JSONValue] {
        let suffix = k.name == "any" ? "" : "-" + k.name
        let list = families(k)
        var defs: [String: JSONValue] = [:]
        for f in list { defs["dist\(suffix)-\(f.name)"] = object(k, f, component: false) }
        let names = JSONValue.array(list.map { .string($0.name) })
        let familyNames = list.map(\.name).joined(separator: ", ")
        defs["distribution\(suffix)-object"] = [
            "description": .string("A distribution object (\(k.title)): {\"dist\": family, …} with family one of \(familyNames). \(k.note)"),
            "type": "object", "required": ["dist"], "properties": ["dist": ["enum": names, "description": "The distribution family."]],
            "oneOf": .array(list.map { SchemaVocabulary.ref("dist\(suffix)-\($0.name)") }),
        ]
        defs["distribution\(suffix)"] = [
            "description": .string("A distribution (\(k.title)): a constant quantity, or a distribution object {\"dist\": …} (see docs/DISTRIBUTIONS.md). \(k.note)"),
            "anyOf": [SchemaVocabulary.ref(k.constant), SchemaVocabulary.ref("distribution\(suffix)-object")],
        ]
        defs["component-\(k.name)"] = [
            "description": .string("A mixture component (\(k.title)): {\"weight\": w, \"dist\": …, <that family's keys>}."),
            "type": "object", "required": ["weight", "dist"], "properties": ["dist": ["enum": names]],
            "oneOf": .array(list.map { object(k, $0, component: true) }),
        ]
        defs["trace-\(k.name)"] = [
            "description": .string("A CSV trace column: {\"file\": path relative to the file naming it, \"column\": header name or 0-based index, "
                + "\"unit\": the unit of the column's bare numbers (required; \"1\" for plain numbers)}."),
            "type": "object", "required": ["file", "column", "unit"], "additionalProperties": false,
            "properties": [
                "file": ["type": "string", "minLength": 1, "description": "CSV file, relative to the file that names it."],
                "column": ["anyOf": [["type": "string", "minLength": 1], ["type": "integer", "minimum": 0]],
                           "description": "A column name from the header row, or a 0-based column index."],
                "unit": ["type": "string", "pattern": .string(#"^\s*"# + k.traceUnits + #"\s*$"#),
                         "description": "Required: the unit of the column's bare numbers, e.g. \"Mbps\", \"ms\" (case-sensitive), or \"1\" for plain numbers."],
            ],
        ]
        return defs
    }
}
