import CNumerics

/// Failures of the LAPACK-backed `Matrix` factorisations and solvers.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operands' shapes are incompatible with the operation (the string says how).
    case dimensionMismatch(String)
    /// An input contains NaN or ±infinity (the string names the operation).
    case nonFinite(String)
    /// The matrix is exactly singular: LU pivot `info` (1-based) is zero (`sgesv`).
    case singular(info: Int32)
    /// The leading minor of order `info` is not positive definite (`sposv`).
    case notPositiveDefinite(info: Int32)
    /// An iterative routine (the SVD) failed to converge; `info` is LAPACK's count of failures.
    case didNotConverge(info: Int32)
    /// Any other nonzero LAPACK status, e.g. an illegal argument (`info < 0`) or a failed allocation.
    case lapack(routine: String, info: Int32)

    /// A readable one-line explanation.
    public var description: String {
        switch self {
        case .dimensionMismatch(let what):
            return "dimension mismatch: \(what)"
        case .nonFinite(let operation):
            return "\(operation): input contains NaN or infinity"
        case .singular(let info):
            return "matrix is singular: U(\(info),\(info)) is exactly zero in the LU factorisation"
        case .notPositiveDefinite(let info):
            return "matrix is not positive definite: leading minor of order \(info) is not positive"
        case .didNotConverge(let info):
            return "SVD did not converge: \(info) superdiagonal(s) of the bidiagonal form did not reach zero"
        case .lapack(let routine, let info):
            if info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR {
                return "\(routine): LAPACKE could not allocate memory (info \(info))"
            }
            if info < 0 { return "\(routine): argument \(-info) had an illegal value" }
            return "\(routine) failed with info \(info)"
        }
    }
}

// The wrappers below use the LAPACKE row-major (LAPACK_ROW_MAJOR) interface. LAPACK itself is
// column-major, so LAPACKE transposes every matrix argument into a temporary and back: each
// call costs O(size) extra memory and copying on top of the O(n³) work. Leading dimensions
// in row-major mode are the number of COLUMNS of each stored array.

extension Matrix {
    /// Which LAPACK driver `svd(driver:)` uses.
    public enum SVDDriver: Sendable, Equatable {
        /// Divide and conquer (`sgesdd`), falling back to `sgesvd` if it does not converge.
        case divideAndConquer
        /// Implicit-shift QR iteration (`sgesvd`): slower, occasionally more robust.
        case qrIteration
    }

    /// Thin QR factorisation `self = q · r` with `q` rows×cols orthonormal-columned and `r`
    /// cols×cols upper triangular with a nonnegative diagonal (`sgeqrf` + `sorgqr`).
    ///
    /// Signs are normalised so that `diag(r) ≥ 0`, which makes the factors unique when `self`
    /// has full column rank.
    /// - Throws: `.dimensionMismatch` if `rows < cols`, `.nonFinite` for NaN/infinite input.
    /// - Complexity: O(rows · cols²).
    public func qr() throws(LinearAlgebraError) -> (q: Matrix, r: Matrix) {
        let (m, n) = (rows, cols)
        guard m >= n else {
            throw .dimensionMismatch("qr needs rows >= cols, got \(m)×\(n)")
        }
        try requireFinite("qr")
        guard n > 0 else { return (Matrix.zeros(rows: m, cols: 0), Matrix.zeros(rows: 0, cols: 0)) }
        let (m32, n32) = (try Self.lapackInt(m), try Self.lapackInt(n))
        var a = storage
        var tau = [Float](repeating: 0, count: n)
        let info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m32, n32, &a, n32, &tau)
        guard info == 0 else { throw .lapack(routine: "sgeqrf", info: info) }

        // R is the upper triangle of the first n rows; read it before sorgqr overwrites `a`.
        var r = Matrix.zeros(rows: n, cols: n)
        var signs = [Float](repeating: 1, count: n)
        r.storage.withUnsafeMutableBufferPointer { pr in
            for i in 0..<n {
                signs[i] = a[i * n + i] < 0 ? -1 : 1
                for j in i..<n { pr[i * n + j] = signs[i] * a[i * n + j] }
            }
        }
        let info2 = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m32, n32, n32, &a, n32, &tau)
        guard info2 == 0 else { throw .lapack(routine: "sorgqr", info: info2) }
        // Flip the matching columns of Q so that Q·R is unchanged.
        if signs.contains(-1) {
            a.withUnsafeMutableBufferPointer { pq in
                for i in 0..<m {
                    for j in 0..<n { pq[i * n + j] *= signs[j] }
                }
            }
        }
        return (Matrix(rows: m, cols: n, storage: a), r)
    }

    /// Thin SVD `self = u · diag(singularValues) · vt`, with k = min(rows, cols): `u` is rows×k,
    /// `vt` is k×cols, and the singular values are nonnegative and sorted descending.
    /// - Parameter driver: `.divideAndConquer` (default, `sgesdd` with `sgesvd` fallback) or `.qrIteration`.
    /// - Throws: `.nonFinite` for NaN/infinite input, `.didNotConverge` if every driver fails.
    /// - Complexity: O(rows · cols · min(rows, cols)).
    public func svd(driver: SVDDriver = .divideAndConquer)
        throws(LinearAlgebraError) -> (u: Matrix, singularValues: [Float], vt: Matrix) {
        let (m, n) = (rows, cols)
        let k = Swift.min(m, n)
        try requireFinite("svd")
        guard k > 0 else { return (Matrix.zeros(rows: m, cols: 0), [], Matrix.zeros(rows: 0, cols: n)) }
        let (m32, n32, k32) = (try Self.lapackInt(m), try Self.lapackInt(n), try Self.lapackInt(k))
        let job = CChar(UInt8(ascii: "S"))
        var s = [Float](repeating: 0, count: k)
        var u = [Float](repeating: 0, count: m * k)
        var vt = [Float](repeating: 0, count: k * n)

        if driver == .divideAndConquer {
            var a = storage  // sgesdd destroys its input; keep `storage` for the fallback
            let info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, job, m32, n32, &a, n32, &s, &u, k32, &vt, n32)
            if info == 0 {
                return (Matrix(rows: m, cols: k, storage: u), s, Matrix(rows: k, cols: n, storage: vt))
            }
            guard info > 0 else { throw .lapack(routine: "sgesdd", info: info) }
            // info > 0: the divide-and-conquer bidiagonal SVD failed; retry with QR iteration.
        }
        var a = storage
        var superb = [Float](repeating: 0, count: Swift.max(1, k - 1))
        let info = LAPACKE_sgesvd(LAPACK_ROW_MAJOR, job, job, m32, n32, &a, n32, &s, &u, k32, &vt, n32, &superb)
        if info > 0 { throw .didNotConverge(info: info) }
        guard info == 0 else { throw .lapack(routine: "sgesvd", info: info) }
        return (Matrix(rows: m, cols: k, storage: u), s, Matrix(rows: k, cols: n, storage: vt))
    }

    /// Solves `self · x = b` for square `self` by LU with partial pivoting (`sgesv`); `b` may
    /// hold several right-hand sides as columns.
    ///
    /// Only exact singularity (a zero pivot) is reported; an ill-conditioned but nonsingular
    /// matrix yields an inaccurate solution rather than an error.
    /// - Throws: `.dimensionMismatch`, `.nonFinite`, or `.singular(info:)`.
    /// - Complexity: O(n³ + n² · b.cols).
    public func solve(_ b: Matrix) throws(LinearAlgebraError) -> Matrix {
        try solveSquare(b, name: "solve", routine: "sgesv", failure: { .singular(info: $0) }) { n32, nrhs32, a, x in
            var pivots = [Int32](repeating: 0, count: Int(n32))
            return LAPACKE_sgesv(LAPACK_ROW_MAJOR, n32, nrhs32, &a, n32, &pivots, &x, nrhs32)
        }
    }

    /// Solves `self · x = b` for symmetric positive definite `self` by Cholesky (`sposv`), e.g.
    /// ridge normal equations `(AᵀA + λI) x = Aᵀy`. Only the upper triangle of `self` is read.
    /// - Throws: `.dimensionMismatch`, `.nonFinite`, or `.notPositiveDefinite(info:)`.
    /// - Complexity: O(n³ / 3 + n² · b.cols), about half the cost of `solve(_:)`.
    public func solveSymmetricPositiveDefinite(_ b: Matrix) throws(LinearAlgebraError) -> Matrix {
        try solveSquare(b, name: "solveSymmetricPositiveDefinite", routine: "sposv", failure: { .notPositiveDefinite(info: $0) }) { n32, nrhs32, a, x in
            LAPACKE_sposv(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), n32, nrhs32, &a, n32, &x, nrhs32)
        }
    }

    /// Which side of the unknown a matrix multiplies in a solve.
    public enum SolveSide: Sendable, Equatable {
        /// `self · x = b`.
        case left
        /// `x · self = b`: `x = b · self⁻¹` (b has as many columns as self).
        case right
    }

    /// Solves `self · x = b` (`.left`: `solveSymmetricPositiveDefinite(_:)`) or `x · self = b`
    /// (`.right`: x = b·self⁻¹, b with as many columns as self) for symmetric positive definite `self`
    /// by Cholesky (`sposv`; only the upper triangle of `self` is read).
    ///
    /// `.right` gives exactly `solveSymmetricPositiveDefinite(b.transposed()).transposed()` without
    /// either transpose: row-major `b` (m × n) is the column-major n × m right-hand side LAPACK wants,
    /// so `sposv` runs in column-major order on a copy of `b` (LAPACKE's row-major interface would copy
    /// the m × n matrix to column-major order and back), with `self`'s n × n upper triangle laid out
    /// as LAPACKE lays it out.
    /// - Throws: `.dimensionMismatch`, `.nonFinite`, or `.notPositiveDefinite(info:)`.
    /// - Complexity: O(n³ / 3 + n² · m).
    public func solveSymmetricPositiveDefinite(_ b: Matrix, side: SolveSide) throws(LinearAlgebraError) -> Matrix {
        if side == .left { return try solveSymmetricPositiveDefinite(b) }
        let name = "solveSymmetricPositiveDefinite"
        guard rows == cols else { throw .dimensionMismatch("\(name) needs a square matrix, got \(rows)×\(cols)") }
        guard b.cols == rows else {
            throw .dimensionMismatch("\(name): right-hand side is \(b.rows)×\(b.cols), matrix is \(rows)×\(cols)")
        }
        try requireFinite(name)
        try b.requireFinite(name)
        let n = rows
        guard n > 0, b.rows > 0 else { return Matrix.zeros(rows: b.rows, cols: b.cols) }
        let (n32, nrhs32) = (try Self.lapackInt(n), try Self.lapackInt(b.rows))
        // Column-major copy of self (its transpose in row-major terms): element (i, j) at i + j·n.
        var a = transposed().storage
        var x = b.storage
        let info = LAPACKE_sposv_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), n32, nrhs32, &a, n32, &x, n32)
        if info > 0 { throw .notPositiveDefinite(info: info) }
        guard info == 0 else { throw .lapack(routine: "sposv", info: info) }
        return Matrix(rows: b.rows, cols: b.cols, storage: x)
    }

    // MARK: Internal helpers

    /// Converts a dimension to LAPACK's 32-bit `lapack_int`, throwing if it does not fit.
    static func lapackInt(_ x: Int) throws(LinearAlgebraError) -> Int32 {
        guard x >= 0, x <= Int(Int32.max) else {
            throw .dimensionMismatch("dimension \(x) does not fit LAPACK's 32-bit integers")
        }
        return Int32(truncatingIfNeeded: x)
    }

    /// Throws `.nonFinite` if any element is NaN or infinite (LAPACKE only screens for NaN).
    func requireFinite(_ operation: String) throws(LinearAlgebraError) {
        checkStorage()
        let finite = storage.withUnsafeBufferPointer { p in
            // Sum of x·0 is 0 for finite x and NaN for NaN/±inf: branch-free and vectorisable.
            var acc: Float = 0
            for x in p { acc += x * 0 }
            return acc == 0
        }
        if !finite { throw .nonFinite(operation) }
    }

    /// Checks that `self` is square and `b` has as many rows as `self`.
    func checkSolveShapes(_ b: Matrix, _ operation: String) throws(LinearAlgebraError) {
        guard rows == cols else {
            throw .dimensionMismatch("\(operation) needs a square matrix, got \(rows)×\(cols)")
        }
        guard b.rows == rows else {
            throw .dimensionMismatch("\(operation): right-hand side has \(b.rows) rows, matrix is \(rows)×\(cols)")
        }
    }
}

extension Matrix {
    /// The shared frame of the square solves: shape and finiteness checks, copies for LAPACK, and
    /// the mapping of `info` (> 0 → `failure`, < 0 → `.lapack`).
    fileprivate func solveSquare(_ b: Matrix, name: String, routine: String,
                                 failure: (Int32) -> LinearAlgebraError,
                                 _ call: (Int32, Int32, inout [Float], inout [Float]) -> Int32) throws(LinearAlgebraError) -> Matrix {
        try checkSolveShapes(b, name)
        try requireFinite(name)
        try b.requireFinite(name)
        let (n, nrhs) = (rows, b.cols)
        guard n > 0, nrhs > 0 else { return Matrix.zeros(rows: n, cols: nrhs) }
        let (n32, nrhs32) = (try Self.lapackInt(n), try Self.lapackInt(nrhs))
        var a = storage
        var x = b.storage
        let info = call(n32, nrhs32, &a, &x)
        if info > 0 { throw failure(info) }
        guard info == 0 else { throw .lapack(routine: routine, info: info) }
        return Matrix(rows: n, cols: nrhs, storage: x)
    }
}
