/// Parameter checks, shared by the JSON decoder and by code that builds distributions directly.
extension Distribution {
    /// `self` if its parameters are valid; otherwise an `InputError` at `keyPath` naming the parameter.
    public func validated(at keyPath: String) throws -> Distribution {
        func at(_ key: String) -> String { keyPath.isEmpty ? key : keyPath + "." + key }
        func positive(_ value: Double, _ key: String, _ what: String = "a positive number") throws {
            guard value > 0, value.isFinite else { throw InputError(.invalidValue(expected: what, found: Quantity.shortest(value)), at: at(key)) }
        }
        func finite(_ value: Double, _ key: String) throws {
            guard value.isFinite else { throw InputError(.invalidValue(expected: "a finite number", found: "\(value)"), at: at(key)) }
        }
        switch kind {
        case let .constant(v): try finite(v, "value")
        case let .uniform(low, high):
            try finite(low, "min"); try finite(high, "max")
            guard high > low else {
                throw InputError(.invalidValue(expected: "max greater than min (\(Quantity.shortest(low)))", found: Quantity.shortest(high)), at: at("max"))
            }
        case let .normal(mean, sd, low, high):
            try finite(mean, "mean"); try positive(sd, "sd")
            if let low { try finite(low, "min") }
            if let high { try finite(high, "max") }
            if let low, let high, !(high > low) {
                throw InputError(.invalidValue(expected: "max greater than min (\(Quantity.shortest(low)))", found: Quantity.shortest(high)), at: at("max"))
            }
            if low != nil || high != nil {
                let mass = Distribution.standardNormalMass(((low ?? -.infinity) - mean) / sd, ((high ?? .infinity) - mean) / sd)
                guard mass > 1e-12 else {
                    throw InputError(.invalidValue(expected: "a truncation interval [min, max] with probability above 1e-12 under the normal",
                                                   found: "probability \(mass)"), at: at(low != nil ? "min" : "max"))
                }
            }
        case let .lognormal(mu, sigma): try finite(mu, "mu"); try positive(sigma, "sigma")
        case let .splitLognormal(mu, below, above): try finite(mu, "median"); try positive(below, "p10"); try positive(above, "p90")
        case let .gamma(shape, scale), let .weibull(shape, scale), let .pareto(shape, scale):
            try positive(shape, "shape"); try positive(scale, "scale")
        case let .exponential(mean): try positive(mean, "mean")
        case let .empirical(table):
            guard !table.values.isEmpty else { throw InputError(.invalidValue(expected: "at least one value", found: "none"), at: at("values")) }
            if let bad = table.values.first(where: { !$0.isFinite }) {
                throw InputError(.invalidValue(expected: "finite values", found: "\(bad)"), at: at("values"))
            }
        case let .mixture(components):
            guard !components.isEmpty else { throw InputError(.invalidValue(expected: "at least one component", found: "none"), at: at("components")) }
            for (i, component) in components.enumerated() {
                let here = at("components") + "[\(i)]"
                guard component.weight > 0, component.weight.isFinite else {
                    throw InputError(.invalidValue(expected: "a positive weight", found: Quantity.shortest(component.weight)), at: here + ".weight")
                }
                _ = try component.distribution.validated(at: here)
            }
        }
        return self
    }

    /// `self` if its values are of `dimension` (or bare numbers); otherwise an `InputError` at `keyPath`.
    public func requiring(_ expected: Quantity.Dimension, at keyPath: String) throws -> Distribution {
        if let dimension, dimension != expected {
            throw InputError(.invalidValue(expected: "a \(expected.rawValue) distribution (e.g. \(expected.example))",
                                           found: "a \(dimension.rawValue)"), at: keyPath)
        }
        return self
    }

    /// `self` if it can only produce positive values (zero allowed only with probability 0, as at a
    /// lognormal's lower end); otherwise an `InputError` at `keyPath` saying `what` must be positive.
    public func requiringPositive(_ what: String, at keyPath: String) throws -> Distribution {
        let low = support.low
        guard low > 0 || (low == 0 && cdf(0) == 0) else {
            throw InputError(.invalidValue(expected: "\(what) that are all positive (truncate with min, or use lognormal)",
                                           found: "\(name) reaching \(Quantity.shortest(low))"), at: keyPath)
        }
        return self
    }

    /// `self` if it can never produce a value below `minimum` (e.g. a negative bandwidth).
    public func requiringSupport(atLeast minimum: Double, at keyPath: String) throws -> Distribution {
        let low = support.low
        guard low >= minimum else {
            throw InputError(.invalidValue(expected: "a distribution whose values are all ≥ \(Quantity.shortest(minimum)) (truncate it with min, or use lognormal)",
                                           found: "\(name) reaching \(Quantity.shortest(low))"), at: keyPath)
        }
        return self
    }
}
