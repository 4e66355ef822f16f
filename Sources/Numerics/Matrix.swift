import CNumerics

/// A dense, row-major matrix of `Float` with contiguous storage, backed by BLAS and LAPACK.
///
/// Element `(i, j)` lives at `storage[i * cols + j]`. The value has copy-on-write semantics
/// through its `[Float]` storage; products, axpy/scal and the factorisations hand that buffer
/// straight to OpenBLAS / LAPACKE (row-major) without per-element Swift loops.
///
/// Equality is elementwise `Float` equality with matching shapes, so `-0.0 == 0.0` and any
/// matrix containing a NaN is unequal to itself.
public struct Matrix: Equatable, Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// The elements in row-major order; its count must always equal `rows * cols`.
    ///
    /// Deliberately a plain stored property: a `didSet` check here would make every external
    /// `m.storage[i] = x` copy the whole array (measured: ~90 µs per write at 1024×1024, a full 4 MB copy).
    /// The BLAS/LAPACK entry points check the count instead.
    public var storage: [Float]

    // MARK: Initialisers

    /// Wraps `storage`, given in row-major order, as a `rows`×`cols` matrix.
    /// - Precondition: `rows >= 0`, `cols >= 0` and `storage.count == rows * cols`.
    /// - Complexity: O(1).
    public init(rows: Int, cols: Int, storage: [Float]) {
        precondition(rows >= 0 && cols >= 0, "Matrix dimensions must be nonnegative, got \(rows)×\(cols)")
        let (count, overflow) = rows.multipliedReportingOverflow(by: cols)
        precondition(!overflow, "Matrix dimensions \(rows)×\(cols) overflow Int")
        precondition(storage.count == count,
                     "Matrix \(rows)×\(cols) needs \(count) elements, got \(storage.count)")
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// Creates a `rows`×`cols` matrix whose element `(i, j)` is `generator(i, j)`, filled row by row.
    /// - Complexity: O(rows · cols) calls of `generator`.
    public init(rows: Int, cols: Int, generator: (_ row: Int, _ col: Int) throws -> Float) rethrows {
        precondition(rows >= 0 && cols >= 0, "Matrix dimensions must be nonnegative, got \(rows)×\(cols)")
        var values: [Float] = []
        values.reserveCapacity(rows * cols)
        for i in 0..<rows {
            for j in 0..<cols { values.append(try generator(i, j)) }
        }
        self.init(rows: rows, cols: cols, storage: values)
    }

    /// A `rows`×`cols` matrix of zeros.
    /// - Complexity: O(rows · cols).
    public static func zeros(rows: Int, cols: Int) -> Matrix {
        precondition(rows >= 0 && cols >= 0, "Matrix dimensions must be nonnegative, got \(rows)×\(cols)")
        return Matrix(rows: rows, cols: cols, storage: [Float](repeating: 0, count: rows * cols))
    }

    /// The `n`×`n` identity matrix.
    /// - Complexity: O(n²).
    public static func identity(_ n: Int) -> Matrix {
        var m = zeros(rows: n, cols: n)
        m.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { p[i * n + i] = 1 }
        }
        return m
    }

    /// The square matrix with `values` on its diagonal and zeros elsewhere.
    /// - Complexity: O(n²) for `n = values.count`.
    public static func diagonal(_ values: [Float]) -> Matrix {
        let n = values.count
        var m = zeros(rows: n, cols: n)
        m.storage.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { p[i * n + i] = values[i] }
        }
        return m
    }

    // MARK: Shape and access

    /// Number of elements, `rows * cols`.
    public var count: Int { storage.count }

    /// Whether the matrix has as many rows as columns.
    public var isSquare: Bool { rows == cols }

    /// The element in row `row` and column `col`.
    /// - Precondition: both indices are in range.
    /// - Complexity: O(1).
    public subscript(row: Int, col: Int) -> Float {
        get {
            precondition(row >= 0 && row < rows && col >= 0 && col < cols,
                         "Index (\(row), \(col)) out of range for \(rows)×\(cols) matrix")
            return storage[row * cols + col]
        }
        set {
            precondition(row >= 0 && row < rows && col >= 0 && col < cols,
                         "Index (\(row), \(col)) out of range for \(rows)×\(cols) matrix")
            storage[row * cols + col] = newValue
        }
    }

    /// The transpose, a `cols`×`rows` matrix (computed in cache-friendly 32×32 tiles).
    /// - Complexity: O(rows · cols).
    public func transposed() -> Matrix {
        checkStorage()
        let (m, n) = (rows, cols)
        let tile = 32
        let out = [Float](unsafeUninitializedCapacity: m * n) { dst, initialized in
            storage.withUnsafeBufferPointer { src in
                var i0 = 0
                while i0 < m {
                    let i1 = Swift.min(i0 + tile, m)
                    var j0 = 0
                    while j0 < n {
                        let j1 = Swift.min(j0 + tile, n)
                        for i in i0..<i1 {
                            for j in j0..<j1 { dst[j * m + i] = src[i * n + j] }
                        }
                        j0 = j1
                    }
                    i0 = i1
                }
            }
            initialized = m * n
        }
        return Matrix(rows: n, cols: m, storage: out)
    }

    // MARK: Norms (accumulated in Double)

    /// The Frobenius norm `sqrt(Σ aᵢⱼ²)`, accumulated in Double (no overflow or cancellation issues
    /// for any finite Float input).
    /// - Complexity: O(rows · cols).
    public func frobeniusNorm() -> Float {
        storage.withUnsafeBufferPointer { Float(Self.sumOfSquares($0).squareRoot()) }
    }

    /// The Euclidean norm of each row, `rows` values, accumulated in Double.
    /// - Complexity: O(rows · cols).
    public func rowNorms() -> [Float] {
        checkStorage()
        let n = cols
        return storage.withUnsafeBufferPointer { p in
            (0..<rows).map { i in
                let row = UnsafeBufferPointer(rebasing: p[(i * n)..<(i * n + n)])
                return Float(Self.sumOfSquares(row).squareRoot())
            }
        }
    }

    /// The Euclidean norm of each column, `cols` values, accumulated in Double (one row-order pass).
    /// - Complexity: O(rows · cols) time, O(cols) extra space.
    public func columnNorms() -> [Float] {
        checkStorage()
        let n = cols
        var acc = [Double](repeating: 0, count: n)
        storage.withUnsafeBufferPointer { p in
            acc.withUnsafeMutableBufferPointer { a in
                for i in 0..<rows {
                    let base = i * n
                    for j in 0..<n {
                        let x = Double(p[base + j])
                        a[j] += x * x
                    }
                }
            }
        }
        return acc.map { Float($0.squareRoot()) }
    }

    /// Σ x² in Double with four independent accumulators (lets the optimiser vectorise).
    @inline(__always)
    static func sumOfSquares(_ p: UnsafeBufferPointer<Float>) -> Double {
        var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
        let n = p.count
        var k = 0
        while k + 4 <= n {
            let a = Double(p[k]), b = Double(p[k + 1]), c = Double(p[k + 2]), d = Double(p[k + 3])
            s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d
            k += 4
        }
        while k < n { let a = Double(p[k]); s0 += a * a; k += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    // MARK: Elementwise arithmetic (BLAS level 1)

    /// Multiplies every element by `alpha` in place (`cblas_sscal`).
    /// - Complexity: O(rows · cols).
    public mutating func scale(by alpha: Float) {
        checkStorage()
        let n = Self.blasInt(count)
        storage.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            cblas_sscal(n, alpha, base, 1)
        }
    }

    /// Adds `alpha · other` to `self` in place (`cblas_saxpy`).
    /// - Precondition: `other` has the same shape as `self`.
    /// - Complexity: O(rows · cols).
    public mutating func add(_ other: Matrix, scaledBy alpha: Float = 1) {
        precondition(rows == other.rows && cols == other.cols,
                     "add: shape \(other.rows)×\(other.cols) does not match \(rows)×\(cols)")
        checkStorage(); other.checkStorage()
        let n = Self.blasInt(count)
        other.storage.withUnsafeBufferPointer { x in
            storage.withUnsafeMutableBufferPointer { y in
                guard let xb = x.baseAddress, let yb = y.baseAddress else { return }
                cblas_saxpy(n, alpha, xb, 1, yb, 1)
            }
        }
    }

    /// Elementwise sum of two matrices of equal shape.
    /// - Complexity: O(rows · cols).
    public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        var result = lhs
        result.add(rhs, scaledBy: 1)
        return result
    }

    /// Elementwise difference of two matrices of equal shape.
    /// - Complexity: O(rows · cols).
    public static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        var result = lhs
        result.add(rhs, scaledBy: -1)
        return result
    }

    /// Elementwise negation.
    /// - Complexity: O(rows · cols).
    public static prefix func - (m: Matrix) -> Matrix { m * -1 }

    /// Adds `rhs` to `lhs` in place.
    /// - Complexity: O(rows · cols).
    public static func += (lhs: inout Matrix, rhs: Matrix) { lhs.add(rhs, scaledBy: 1) }

    /// Subtracts `rhs` from `lhs` in place.
    /// - Complexity: O(rows · cols).
    public static func -= (lhs: inout Matrix, rhs: Matrix) { lhs.add(rhs, scaledBy: -1) }

    /// Every element multiplied by the scalar `rhs`.
    /// - Complexity: O(rows · cols).
    public static func * (lhs: Matrix, rhs: Float) -> Matrix {
        var result = lhs
        result.scale(by: rhs)
        return result
    }

    /// Every element multiplied by the scalar `lhs`.
    /// - Complexity: O(rows · cols).
    public static func * (lhs: Float, rhs: Matrix) -> Matrix { rhs * lhs }

    /// Multiplies every element of `lhs` by `rhs` in place.
    /// - Complexity: O(rows · cols).
    public static func *= (lhs: inout Matrix, rhs: Float) { lhs.scale(by: rhs) }
}

// MARK: - Description

extension Matrix: CustomStringConvertible {
    /// A shape header and the elements row by row; large matrices show their corners only.
    public var description: String {
        let limit = 6
        func indices(_ n: Int) -> [Int?] {
            n <= limit ? (0..<n).map { $0 } : (0..<limit / 2).map { $0 } + [nil] + ((n - limit / 2)..<n).map { $0 }
        }
        var lines = ["Matrix \(rows)×\(cols)"]
        for i in indices(rows) {
            guard let i else { lines.append("  ⋮"); continue }
            let cells = indices(cols).map { j in j.map { "\(self[i, $0])" } ?? "…" }
            lines.append("  [" + cells.joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n")
    }
}

// MARK: - Internal helpers (kept inside `Matrix` so they cannot clash with other files of the module)

extension Matrix {
    /// Converts a dimension to the 32-bit `int` that CBLAS takes, trapping if it does not fit.
    @inline(__always)
    static func blasInt(_ x: Int) -> Int32 {
        precondition(x >= 0 && x <= Int(Int32.max), "Dimension \(x) does not fit a 32-bit BLAS int")
        return Int32(truncatingIfNeeded: x)
    }

    /// Traps if `storage` was resized behind the matrix's back (it is a public `var`); called
    /// before any raw pointer is handed to BLAS or LAPACK.
    @inline(__always)
    func checkStorage() {
        precondition(storage.count == rows * cols,
                     "Matrix storage has \(storage.count) elements but the shape is \(rows)×\(cols)")
    }
}
