import CNumerics
import Foundation

/// A probability distribution over non-random parameters, as a scenario file states it.
///
/// A pure value: `Codable` (see `Distribution+JSON.swift` for the JSON form), `Sendable`,
/// `Equatable`. Sampling goes through a `DistributionSampler` (which holds GSL lookup tables);
/// `cdf`, `quantile` and `mean` are exact where GSL or a closed form gives them.
/// Parameters are in the base unit of `dimension` (see `Quantity`).
public struct Distribution: Sendable, Equatable {
    /// The family and its parameters.
    public indirect enum Kind: Sendable, Equatable {
        /// Always `value`.
        case constant(Double)
        /// Uniform on [low, high).
        case uniform(low: Double, high: Double)
        /// Normal(mean, sd), optionally truncated to [low, high] (nil bound = unbounded).
        case normal(mean: Double, sd: Double, low: Double?, high: Double?)
        /// exp(Normal(mu, sigma)); `mu` is the log of the median in the base unit.
        case lognormal(mu: Double, sigma: Double)
        /// A two-piece lognormal: exp(mu + σ·Z) with σ = `sigmaBelow` for Z < 0 and `sigmaAbove` for
        /// Z ≥ 0, so the median is e^mu and each side has its own spread (bandwidths with a heavier
        /// slow tail, given by p10/median/p90).
        case splitLognormal(mu: Double, sigmaBelow: Double, sigmaAbove: Double)
        /// Gamma with shape k and scale θ (mean kθ).
        case gamma(shape: Double, scale: Double)
        /// Weibull with shape k and scale λ: P(X > x) = exp(-(x/λ)^k).
        case weibull(shape: Double, scale: Double)
        /// Pareto (type I) with shape a and scale x_m: P(X > x) = (x_m/x)^a for x ≥ x_m.
        case pareto(shape: Double, scale: Double)
        /// Exponential with the given mean.
        case exponential(mean: Double)
        /// An observed sample (values or a trace column).
        case empirical(EmpiricalTable)
        /// A weighted mixture; weights are normalised.
        case mixture([Component])
    }

    /// One weighted component of a mixture.
    public struct Component: Sendable, Equatable {
        /// The unnormalised weight (> 0).
        public var weight: Double
        /// The component's distribution.
        public var distribution: Distribution
        /// Creates a component.
        public init(weight: Double, distribution: Distribution) {
            self.weight = weight
            self.distribution = distribution
        }
    }

    /// The family and parameters.
    public var kind: Kind
    /// The dimension the parameters were written in, or nil when written as bare numbers.
    public var dimension: Quantity.Dimension?

    /// Creates a distribution; `validated(at:)` checks the parameters.
    public init(_ kind: Kind, dimension: Quantity.Dimension? = nil) {
        self.kind = kind
        self.dimension = dimension
    }

    /// The family's name in the JSON form.
    public var name: String {
        switch kind {
        case .constant: return "constant"
        case .uniform: return "uniform"
        case .normal: return "normal"
        case .lognormal, .splitLognormal: return "lognormal"
        case .gamma: return "gamma"
        case .weibull: return "weibull"
        case .pareto: return "pareto"
        case .exponential: return "exponential"
        case .empirical: return "empirical"
        case .mixture: return "mixture"
        }
    }

    /// All family names, for error messages and suggestions.
    public static let familyNames = ["constant", "uniform", "normal", "lognormal", "gamma", "weibull",
                                     "pareto", "exponential", "empirical", "mixture"]

    /// The 0.9 quantile of the standard normal, used by lognormal's median/p90 form.
    public static let z90 = 1.2815515655446004

    /// A lognormal given by its median and 90th percentile.
    public static func lognormal(median: Double, p90: Double, dimension: Quantity.Dimension? = nil) -> Distribution {
        Distribution(.lognormal(mu: log(median), sigma: (log(p90) - log(median)) / z90), dimension: dimension)
    }

    /// A two-piece lognormal given by its 10th percentile, median and 90th percentile.
    public static func lognormal(p10: Double, median: Double, p90: Double, dimension: Quantity.Dimension? = nil) -> Distribution {
        Distribution(.splitLognormal(mu: log(median), sigmaBelow: (log(median) - log(p10)) / z90,
                                     sigmaAbove: (log(p90) - log(median)) / z90), dimension: dimension)
    }

    /// The smallest and largest values the distribution can produce (infinite when unbounded).
    public var support: (low: Double, high: Double) {
        switch kind {
        case let .constant(v): return (v, v)
        case let .uniform(low, high): return (low, high)
        case let .normal(_, _, low, high): return (low ?? -.infinity, high ?? .infinity)
        case .lognormal, .splitLognormal, .gamma, .weibull, .exponential: return (0, .infinity)
        case let .pareto(_, scale): return (scale, .infinity)
        case let .empirical(table): return (table.sortedValues.first!, table.sortedValues.last!)
        case let .mixture(components):
            let supports = components.map { $0.distribution.support }
            return (supports.map(\.low).min()!, supports.map(\.high).max()!)
        }
    }

    /// The expected value, or nil when it is infinite (Pareto with shape ≤ 1).
    public var mean: Double? {
        switch kind {
        case let .constant(v): return v
        case let .uniform(low, high): return (low + high) / 2
        case let .normal(mean, sd, low, high):
            guard low != nil || high != nil else { return mean }
            let a = ((low ?? -.infinity) - mean) / sd, b = ((high ?? .infinity) - mean) / sd
            let z = Distribution.standardNormalMass(a, b)
            return mean + sd * (gsl_ran_ugaussian_pdf(a) - gsl_ran_ugaussian_pdf(b)) / z
        case let .lognormal(mu, sigma): return exp(mu + sigma * sigma / 2)
        case let .splitLognormal(mu, below, above):
            // E[e^{σZ}; Z < 0] = e^{σ²/2}·Φ(−σ), E[e^{σZ}; Z ≥ 0] = e^{σ²/2}·Φ(σ).
            return exp(mu) * (exp(below * below / 2) * gsl_cdf_ugaussian_P(-below) + exp(above * above / 2) * gsl_cdf_ugaussian_P(above))
        case let .gamma(shape, scale): return shape * scale
        case let .weibull(shape, scale): return scale * tgamma(1 + 1 / shape)
        case let .pareto(shape, scale): return shape > 1 ? shape * scale / (shape - 1) : nil
        case let .exponential(mean): return mean
        case let .empirical(table): return table.mean
        case let .mixture(components):
            let total = components.reduce(0) { $0 + $1.weight }
            var sum = 0.0
            for c in components {
                guard let m = c.distribution.mean else { return nil }
                sum += c.weight / total * m
            }
            return sum
        }
    }

    /// P(X ≤ x).
    public func cdf(_ x: Double) -> Double {
        switch kind {
        case let .constant(v): return x >= v ? 1 : 0
        case let .uniform(low, high): return gsl_cdf_flat_P(x, low, high)
        case let .normal(mean, sd, low, high):
            if low == nil && high == nil { return gsl_cdf_gaussian_P(x - mean, sd) }
            let a = ((low ?? -.infinity) - mean) / sd, b = ((high ?? .infinity) - mean) / sd
            let t = (x - mean) / sd
            if t <= a { return 0 }
            if t >= b { return 1 }
            return Distribution.standardNormalMass(a, t) / Distribution.standardNormalMass(a, b)
        case let .lognormal(mu, sigma): return x <= 0 ? 0 : gsl_cdf_lognormal_P(x, mu, sigma)
        case let .splitLognormal(mu, below, above):
            if x <= 0 { return 0 }
            let t = log(x) - mu
            return gsl_cdf_ugaussian_P(t / (t < 0 ? below : above))
        case let .gamma(shape, scale): return x <= 0 ? 0 : gsl_cdf_gamma_P(x, shape, scale)
        case let .weibull(shape, scale): return x <= 0 ? 0 : gsl_cdf_weibull_P(x, scale, shape)
        case let .pareto(shape, scale): return x < scale ? 0 : gsl_cdf_pareto_P(x, shape, scale)
        case let .exponential(mean): return x <= 0 ? 0 : gsl_cdf_exponential_P(x, mean)
        case let .empirical(table): return table.cdf(x)
        case let .mixture(components):
            let total = components.reduce(0) { $0 + $1.weight }
            return components.reduce(0) { $0 + $1.weight / total * $1.distribution.cdf(x) }
        }
    }

    /// The smallest x with P(X ≤ x) ≥ p, for p in [0, 1].
    public func quantile(_ p: Double) -> Double {
        precondition(p >= 0 && p <= 1, "quantile needs p in [0, 1]")
        switch kind {
        case let .constant(v): return v
        case let .uniform(low, high): return low + p * (high - low)
        case let .normal(mean, sd, low, high):
            if low == nil && high == nil { return mean + sd * Distribution.standardNormalQuantile(p) }
            return mean + sd * Distribution.truncatedStandardNormalQuantile(
                p, low: ((low ?? -.infinity) - mean) / sd, high: ((high ?? .infinity) - mean) / sd)
        case let .lognormal(mu, sigma): return exp(mu + sigma * Distribution.standardNormalQuantile(p))
        case let .splitLognormal(mu, below, above):
            let z = Distribution.standardNormalQuantile(p)
            return exp(mu + (z < 0 ? below : above) * z)
        case let .gamma(shape, scale): return p >= 1 ? .infinity : gsl_cdf_gamma_Pinv(p, shape, scale)
        case let .weibull(shape, scale): return p >= 1 ? .infinity : gsl_cdf_weibull_Pinv(p, scale, shape)
        case let .pareto(shape, scale): return p >= 1 ? .infinity : gsl_cdf_pareto_Pinv(p, shape, scale)
        case let .exponential(mean): return p >= 1 ? .infinity : -mean * log1p(-p)
        case let .empirical(table): return table.quantile(p)
        case .mixture: return mixtureQuantile(p)
        }
    }

    /// Bisection on the mixture's CDF (monotone), to a relative width of 1e-12.
    private func mixtureQuantile(_ p: Double) -> Double {
        guard case let .mixture(components) = kind else { return .nan }
        var lo = components.map { $0.distribution.quantile(min(p, 1e-12)) }.min()!
        var hi = components.map { $0.distribution.quantile(max(p, 1 - 1e-12)) }.max()!
        if p <= 0 { return support.low }
        if p >= 1 { return support.high }
        if !hi.isFinite { hi = components.map { $0.distribution.quantile(1 - 1e-12) }.max()! }
        if !lo.isFinite { lo = components.map { $0.distribution.quantile(1e-12) }.min()! }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if cdf(mid) >= p { hi = mid } else { lo = mid }
            if hi - lo <= 1e-12 * max(abs(lo), abs(hi)) { break }
        }
        return hi
    }

    /// Φ⁻¹(p), using the upper tail above 0.5 for accuracy.
    static func standardNormalQuantile(_ p: Double) -> Double {
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        return p <= 0.5 ? gsl_cdf_ugaussian_Pinv(p) : -gsl_cdf_ugaussian_Pinv(1 - p)
    }

    /// Φ(b) − Φ(a), computed in the tail where it is most accurate.
    static func standardNormalMass(_ a: Double, _ b: Double) -> Double {
        if a >= 0 { return gsl_cdf_ugaussian_Q(a) - gsl_cdf_ugaussian_Q(b) }
        return gsl_cdf_ugaussian_P(b) - gsl_cdf_ugaussian_P(a)
    }

    /// Quantile of N(0,1) truncated to [low, high], working in the tail that keeps precision.
    static func truncatedStandardNormalQuantile(_ p: Double, low: Double, high: Double) -> Double {
        let x: Double
        if low >= 0 {
            // Upper-tail form: Q(x) = Q(low) − p·(Q(low) − Q(high)).
            let qLow = gsl_cdf_ugaussian_Q(low), qHigh = gsl_cdf_ugaussian_Q(high)
            x = gsl_cdf_ugaussian_Qinv(qLow - p * (qLow - qHigh))
        } else {
            let pLow = gsl_cdf_ugaussian_P(low), pHigh = gsl_cdf_ugaussian_P(high)
            x = gsl_cdf_ugaussian_Pinv(pLow + p * (pHigh - pLow))
        }
        return min(max(x, low), high)
    }
}

