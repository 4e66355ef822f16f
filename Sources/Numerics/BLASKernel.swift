import CNumerics
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which OpenBLAS kernel family runs the products, why, and whether it multiplies correctly.
///
/// Debian 12's OpenBLAS 0.3.21 is built with `DYNAMIC_ARCH`: it picks its kernel family once, when
/// the library is loaded, from the CPU's identification. Different families round differently
/// (blocking, FMA, vector width), so the same seed gives different accuracies on different CPUs, and
/// a CPU this OpenBLAS does not know gets its slow generic `Prescott` kernels. The only way to choose
/// the family is the `OPENBLAS_CORETYPE` environment variable, read at load time, i.e. before `main`.
/// `ensureDeterministicKernel` therefore re-executes the program once, with the variable set, on
/// every CPU that can run the chosen family; `startUp` adds a correctness self-check.
public enum BLASKernel {
    /// The kernel family fedsim pins on every CPU that supports it (AVX2 + FMA).
    public static let pinnedCoreType = "Haswell"
    /// OpenBLAS's own variable: a kernel family name, read when the library is loaded.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set by fedsim before it re-executes itself: the family it set, or `failed: <reason>` when the
    /// re-execution failed. Its presence stops any further re-execution (no loops), also in children.
    public static let markerVariable = "FEDSIM_BLAS_CORETYPE"
    /// The marker's prefix when re-execution failed.
    static let failedPrefix = "failed: "

    /// The kernel family in use (`openblas_get_corename`), e.g. `Haswell`, `Prescott`; never empty.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        let text = String(cString: name).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown" : text
    }

    /// OpenBLAS's build configuration (`openblas_get_config`), e.g. `OpenBLAS 0.3.21 … DYNAMIC_ARCH … Haswell …`.
    public static var config: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - How the kernel was chosen

    /// How the kernel family in use was chosen.
    public enum Choice: String, Codable, Sendable, Equatable, CaseIterable {
        /// `OPENBLAS_CORETYPE` was set by whoever started fedsim.
        case forcedByEnvironment = "forced by OPENBLAS_CORETYPE"
        /// fedsim re-executed itself with `OPENBLAS_CORETYPE` = `pinnedCoreType`.
        case chosenByFedsim = "chosen by fedsim"
        /// OpenBLAS's own pick from the CPU identification.
        case openBLASDefault = "OpenBLAS's own pick"
    }

    /// The choice, what was asked for, and a note in plain words (empty when there is nothing to add).
    public struct Selection: Codable, Sendable, Equatable {
        public var choice: Choice
        /// The `OPENBLAS_CORETYPE` value in force, or nil.
        public var requested: String?
        public var note: String
    }

    /// The selection of this process, from its environment, the CPU and the kernel in use.
    public static var selection: Selection {
        selection(environment: currentEnvironment(), cpu: CPUInfo.current, coreName: coreName)
    }

    /// The selection for a given environment, CPU and kernel name (pure; the core of `selection`).
    public static func selection(environment: [String: String], cpu: CPUInfo, coreName: String) -> Selection {
        let requested = environment[coreTypeVariable].flatMap { $0.isEmpty ? nil : $0 }
        let marker = environment[markerVariable]
        var notes: [String] = []
        let choice: Choice
        if let requested {
            choice = marker == requested ? .chosenByFedsim : .forcedByEnvironment
            if requested.lowercased() != coreName.lowercased() {
                notes.append("OPENBLAS_CORETYPE=\(requested.prefix(40)) was asked for but OpenBLAS runs \(coreName)")
            }
        } else {
            choice = .openBLASDefault
            if let marker, marker.hasPrefix(failedPrefix) {
                notes.append("re-executing with \(coreTypeVariable)=\(pinnedCoreType) failed (\(marker.dropFirst(failedPrefix.count).prefix(120)))")
            } else if !cpu.supportsPinnedKernel {
                notes.append("this CPU lacks AVX2 or FMA, so \(pinnedCoreType) is not pinned")
            } else if marker == nil {
                notes.append("this process did not re-execute itself (a library or test process)")
            }
        }
        if coreName.lowercased() == "prescott" {
            notes.append("Prescott is OpenBLAS's slow generic fallback")
        }
        return Selection(choice: choice, requested: requested, note: notes.joined(separator: "; "))
    }

    // MARK: - Pinning the kernel

    /// What `ensureDeterministicKernel` would do in a given situation (pure; tested).
    public enum Plan: Equatable, Sendable {
        /// Keep running: the kernel is already chosen, or cannot be pinned here.
        case keep
        /// Re-execute with `OPENBLAS_CORETYPE` = the pinned family.
        case reexecute
    }

    /// Re-execute only when nobody chose a kernel, fedsim has not tried already, and the CPU runs Haswell kernels.
    public static func plan(environment: [String: String], cpu: CPUInfo) -> Plan {
        if let requested = environment[coreTypeVariable], !requested.isEmpty { return .keep }
        if environment[markerVariable] != nil { return .keep }
        return cpu.supportsPinnedKernel ? .reexecute : .keep
    }

    /// Call first thing in `main`: when `OPENBLAS_CORETYPE` is not set and the CPU supports AVX2 and
    /// FMA, replaces this process by the same executable (`/proc/self/exe`, same arguments, no shell)
    /// with `OPENBLAS_CORETYPE=Haswell`, so that every such CPU runs the same kernels and gives the
    /// same bytes. Returns only when no re-execution is needed or it failed (then OpenBLAS's own
    /// pick stays, and `selection` says why).
    public static func ensureDeterministicKernel() {
        #if os(Linux) && arch(x86_64)
        guard plan(environment: currentEnvironment(), cpu: CPUInfo.current) == .reexecute else { return }
        setenv(coreTypeVariable, pinnedCoreType, 1)
        setenv(markerVariable, pinnedCoreType, 1)
        _ = execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: the exec failed. Undo, and leave a marker so that children do not retry.
        let reason = String(cString: strerror(errno))
        unsetenv(coreTypeVariable)
        setenv(markerVariable, failedPrefix + reason, 1)
        #endif
    }

    /// `ensureDeterministicKernel`, then the self-check. Returns nil when the program may go on, or
    /// the message to print (the caller prints it and exits 1).
    public static func startUp(program: String) -> String? {
        fedsim_tune_malloc()
        ensureDeterministicKernel()
        let failures = selfCheck()
        guard !failures.isEmpty else { return nil }
        return "\(program): the BLAS library's \(coreName) kernels multiply matrices wrongly on this machine (\(failures.joined(separator: "; "))). Results would be wrong, so nothing was run. Set OPENBLAS_CORETYPE to another kernel family (e.g. OPENBLAS_CORETYPE=Prescott) and retry, or reinstall libopenblas0."
    }

    /// The environment, for children that must see what the user gave fedsim: fedsim's own
    /// `OPENBLAS_CORETYPE` and marker removed (e.g. a peer program with its own OpenBLAS).
    public static func userEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        let marker = environment.removeValue(forKey: markerVariable)
        if let marker, environment[coreTypeVariable] == marker { environment.removeValue(forKey: coreTypeVariable) }
        return environment
    }

    // MARK: - Self-check

    /// A product under test: `op(a) · op(b)`.
    public typealias Product = @Sendable (_ a: Matrix, _ transposeA: Bool, _ b: Matrix, _ transposeB: Bool) -> Matrix

    /// BLAS's sgemm, as the program uses it.
    public static let blasProduct: Product = { a, ta, b, tb in a.multiplied(by: b, transposeSelf: ta, transposeOther: tb) }

    /// Compares `product` with a naive triple loop on a few shapes (odd sizes for the edge code,
    /// one larger block for the main kernel; each transposition the training uses) and one
    /// matrix–vector product. Returns one line per failure, empty when all agree within the
    /// tolerance (relative to Σ|a||b| of each entry). The inputs are multiples of 1/8, so a correct
    /// product is in fact exact; the tolerance only keeps the check meaningful for any kernel.
    public static func selfCheck(product: Product = blasProduct, tolerance: Float = 1e-5) -> [String] {
        var failures: [String] = []
        let shapes: [(m: Int, n: Int, k: Int, ta: Bool, tb: Bool)] = [
            (33, 29, 47, false, false), (33, 29, 47, false, true), (33, 29, 47, true, false), (64, 48, 96, false, false),
        ]
        for (index, s) in shapes.enumerated() {
            let a = checkMatrix(rows: s.ta ? s.k : s.m, cols: s.ta ? s.m : s.k, salt: 2 * index)
            let b = checkMatrix(rows: s.tb ? s.n : s.k, cols: s.tb ? s.k : s.n, salt: 2 * index + 1)
            let c = product(a, s.ta, b, s.tb)
            let label = "sgemm \(s.ta ? "T" : "N")\(s.tb ? "T" : "N") \(s.m)×\(s.n)×\(s.k)"
            guard c.rows == s.m, c.cols == s.n, c.storage.count == s.m * s.n else {
                failures.append("\(label): result is \(c.rows)×\(c.cols)"); continue
            }
            var worst: (error: Float, i: Int, j: Int)? = nil
            for i in 0..<s.m {
                for j in 0..<s.n {
                    var exact: Float = 0, magnitude: Float = 0
                    for p in 0..<s.k {
                        let x = s.ta ? a[p, i] : a[i, p]
                        let y = s.tb ? b[j, p] : b[p, j]
                        exact += x * y
                        magnitude += abs(x * y)
                    }
                    // Written so that a NaN or infinite entry fails too.
                    let error = abs(c[i, j] - exact)
                    guard !(error <= tolerance * max(magnitude, 1)) else { continue }
                    let rank = error.isNaN ? Float.infinity : error
                    if rank >= (worst?.error ?? -1) { worst = (rank, i, j) }
                }
            }
            if let worst { failures.append("\(label): off by \(worst.error) at (\(worst.i), \(worst.j))") }
        }
        // sgemv: training and evaluation also multiply by vectors.
        let a = checkMatrix(rows: 37, cols: 23, salt: 11)
        let x = (0..<23).map { Float(($0 * 5) % 13 - 6) / 8 }
        let y = a.multiplied(byVector: x)
        for i in 0..<37 {
            var exact: Float = 0
            for p in 0..<23 { exact += a[i, p] * x[p] }
            if !(abs(y[i] - exact) <= tolerance * 64) {
                failures.append("sgemv 37×23: off by \(abs(y[i] - exact)) at \(i)"); break
            }
        }
        return failures
    }

    /// Deterministic entries in [-1, 1], multiples of 1/8.
    static func checkMatrix(rows: Int, cols: Int, salt: Int) -> Matrix {
        Matrix(rows: rows, cols: cols) { i, j in Float((i * 7 + j * 3 + salt * 5) % 17 - 8) / 8 }
    }

    static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        for name in [coreTypeVariable, markerVariable] {
            if let value = getenv(name) { result[name] = String(cString: value) }
        }
        return result
    }
}
