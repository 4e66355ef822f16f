import CNumerics

/// Student's t distribution (GSL), for confidence intervals over seeds.
public enum StudentT {
    /// The `p` quantile with `degreesOfFreedom` degrees of freedom (e.g. 0.975 for a two-sided 95% interval).
    public static func quantile(_ p: Double, degreesOfFreedom: Int) -> Double {
        precondition(degreesOfFreedom >= 1 && p > 0 && p < 1, "t quantile needs df ≥ 1 and p in (0, 1)")
        return gsl_cdf_tdist_Pinv(p, Double(degreesOfFreedom))
    }
}
