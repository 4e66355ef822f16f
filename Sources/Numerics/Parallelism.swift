import CNumerics
import Foundation

/// How many threads fedsim's own parallel work uses: local training (clients or a batch's shards,
/// one per thread with single-threaded BLAS), evaluation, and OpenBLAS's threads elsewhere.
///
/// Every parallel loop splits its work into pieces that do not depend on the thread count and sums
/// them in a fixed order, so outputs are the same bytes whatever the setting (`--threads 1` and the
/// default are compared by `make test`). Default: every core; `--threads N` or `FEDSIM_THREADS=N`.
public enum Parallelism {
    private final class Setting: @unchecked Sendable {
        let lock = NSLock()
        var threads: Int?
    }
    private static let setting = Setting()

    /// The thread count in use (at least 1).
    public static var threads: Int {
        setting.lock.lock(); defer { setting.lock.unlock() }
        if let t = setting.threads { return t }
        if let text = ProcessInfo.processInfo.environment["FEDSIM_THREADS"], let t = Int(text), t >= 1 { return min(t, 1024) }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Sets the thread count (clamped to 1 … 1024) for fedsim's loops and OpenBLAS.
    public static func use(threads: Int) {
        let t = min(max(1, threads), 1024)
        setting.lock.lock()
        setting.threads = t
        setting.lock.unlock()
        openblas_set_num_threads(Int32(t))
    }

    /// Applies `FEDSIM_THREADS` to OpenBLAS too (called once at start-up).
    public static func applyEnvironment() {
        if let text = ProcessInfo.processInfo.environment["FEDSIM_THREADS"], let t = Int(text), t >= 1 { use(threads: t) }
    }
}
