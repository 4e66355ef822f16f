import CNumerics

/// One-time configuration of the GSL runtime shared by every `RandomStream` and `Distribution`.
enum GSLRuntime {
    /// Switches GSL's abort-on-error handler off; evaluated once, on first use.
    static let configured: Bool = {
        fedsim_gsl_quiet_errors()
        return true
    }()

    /// Ensures `configured` has been evaluated before a GSL call.
    @inline(__always)
    static func ensureConfigured() { _ = configured }
}
