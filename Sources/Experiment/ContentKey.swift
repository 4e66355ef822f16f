import Foundation
import Numerics
import Scenario

/// fedsim's version: part of every content key (so results of another version are never reused)
/// and of `provenance.json`.
public enum FedSimVersion {
    /// The version string.
    public static let current = "0.1.0"
}

/// What keys a sweep point's folder and a saved seed, so edited definitions are never reused.
public enum ContentKey {
    /// The first 16 hex digits of SHA-256 over fedsim's version, the resolved scenario and `also`.
    public static func of(_ scenario: Scenario, also: String? = nil) -> String {
        String(SHA256.hex(FedSimVersion.current + "\n" + scenario.resolved.text() + (also.map { "\n" + $0 } ?? "")).prefix(16))
    }
}

/// The files an experiment writes beside its results.
public enum ExperimentFiles {
    /// `provenance.json`: what produced the outputs (fedsim's version and commit, the CPU, the BLAS
    /// kernel). Kept apart from the results, which are byte-identical across machines.
    /// Computed once per process (every sweep point writes the same one).
    public static let provenance: (name: String, contents: Data) =
        ("provenance.json", (try? Provenance.current(version: FedSimVersion.current).canonicalJSON()) ?? Data("{}\n".utf8))
}
