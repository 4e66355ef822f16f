import CNumerics

/// Draws from a `Distribution` with GSL's samplers (`gsl_ran_*`).
///
/// Built once per distribution (it precomputes the Walker alias tables of `gsl_ran_discrete` for
/// empirical resampling and mixture weights), then used with any `RandomStream`. Draws depend only
/// on the stream, so a given (distribution, stream) pair always yields the same sequence.
public final class DistributionSampler {
    private enum Node {
        case constant(Double)
        case uniform(Double, Double)
        case normal(Double, Double)
        case truncatedNormal(mean: Double, sd: Double, low: Double, high: Double)
        case lognormal(Double, Double)
        case splitLognormal(Double, Double, Double)
        case gamma(Double, Double)
        case weibull(shape: Double, scale: Double)
        case pareto(Double, Double)
        case exponential(Double)
        case resample(values: [Double], table: UnsafeMutablePointer<gsl_ran_discrete_t>)
        case interpolate(EmpiricalTable)
        case mixture(components: [DistributionSampler], table: UnsafeMutablePointer<gsl_ran_discrete_t>)
    }

    private let node: Node
    /// The distribution this sampler draws from.
    public let distribution: Distribution

    /// Prepares a sampler. The distribution must be valid (`Distribution.validated(at:)`).
    public init(_ distribution: Distribution) {
        GSLRuntime.ensureConfigured()
        self.distribution = distribution
        switch distribution.kind {
        case let .constant(v): node = .constant(v)
        case let .uniform(low, high): node = .uniform(low, high)
        case let .normal(mean, sd, low, high):
            if low == nil && high == nil {
                node = .normal(mean, sd)
            } else {
                node = .truncatedNormal(mean: mean, sd: sd, low: ((low ?? -.infinity) - mean) / sd, high: ((high ?? .infinity) - mean) / sd)
            }
        case let .lognormal(mu, sigma): node = .lognormal(mu, sigma)
        case let .splitLognormal(mu, below, above): node = .splitLognormal(mu, below, above)
        case let .gamma(shape, scale): node = .gamma(shape, scale)
        case let .weibull(shape, scale): node = .weibull(shape: shape, scale: scale)
        case let .pareto(shape, scale): node = .pareto(shape, scale)
        case let .exponential(mean): node = .exponential(mean)
        case let .empirical(table):
            switch table.method {
            case .resample:
                let weights = table.weights ?? [Double](repeating: 1, count: table.values.count)
                node = .resample(values: table.values, table: DistributionSampler.aliasTable(weights))
            case .interpolate:
                node = .interpolate(table)
            }
        case let .mixture(components):
            node = .mixture(components: components.map { DistributionSampler($0.distribution) },
                            table: DistributionSampler.aliasTable(components.map(\.weight)))
        }
    }

    private static func aliasTable(_ weights: [Double]) -> UnsafeMutablePointer<gsl_ran_discrete_t> {
        weights.withUnsafeBufferPointer { buffer in
            guard let table = gsl_ran_discrete_preproc(buffer.count, buffer.baseAddress) else {
                fatalError("gsl_ran_discrete_preproc failed on validated weights")
            }
            return table
        }
    }

    deinit {
        switch node {
        case let .resample(_, table), let .mixture(_, table): gsl_ran_discrete_free(table)
        default: break
        }
    }

    /// One draw.
    /// - Complexity: O(1) for every family (mixtures and resampling use alias tables; truncated
    ///   normal and interpolation use an inverse CDF, O(log n) for interpolation).
    public func sample(_ stream: RandomStream) -> Double {
        let r = stream.rng
        switch node {
        case let .constant(v): return v
        case let .uniform(low, high): return gsl_ran_flat(r, low, high)
        case let .normal(mean, sd): return mean + gsl_ran_gaussian_ziggurat(r, sd)
        case let .truncatedNormal(mean, sd, low, high):
            return mean + sd * Distribution.truncatedStandardNormalQuantile(gsl_rng_uniform_pos(r), low: low, high: high)
        case let .lognormal(mu, sigma): return gsl_ran_lognormal(r, mu, sigma)
        case let .splitLognormal(mu, below, above):
            let z = gsl_ran_ugaussian(r)
            return exp(mu + (z < 0 ? below : above) * z)
        case let .gamma(shape, scale): return gsl_ran_gamma(r, shape, scale)
        case let .weibull(shape, scale): return gsl_ran_weibull(r, scale, shape)
        case let .pareto(shape, scale): return gsl_ran_pareto(r, shape, scale)
        case let .exponential(mean): return gsl_ran_exponential(r, mean)
        case let .resample(values, table): return values[gsl_ran_discrete(r, table)]
        case let .interpolate(table): return table.quantile(gsl_rng_uniform(r))
        case let .mixture(components, table): return components[gsl_ran_discrete(r, table)].sample(stream)
        }
    }

    /// `count` draws, in order.
    /// - Complexity: O(count).
    public func samples(_ count: Int, _ stream: RandomStream) -> [Double] {
        [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = sample(stream) }
            initialized = count
        }
    }
}
