import CNumerics

/// A Double row-major matrix for accuracy-critical reductions (norms of differences of low-rank
/// products), with products on BLAS (`cblas_dgemm`).
public struct DoubleMatrix: Sendable, Equatable {
    /// Row count.
    public let rows: Int
    /// Column count.
    public let cols: Int
    /// Row-major values.
    public var storage: [Double]

    /// Zeros.
    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        storage = [Double](repeating: 0, count: rows * cols)
    }

    /// Every entry `value`.
    public init(rows: Int, cols: Int, repeating value: Double) {
        self.rows = rows
        self.cols = cols
        storage = [Double](repeating: value, count: rows * cols)
    }

    /// The Float matrix `m`, widened.
    public init(_ m: Matrix) {
        rows = m.rows
        cols = m.cols
        storage = m.storage.map(Double.init)
    }

    /// Places the columns of `block` (same rows), scaled by `scale`, at column `start`.
    public mutating func setColumns(_ block: Matrix, at start: Int, scale: Double = 1) {
        precondition(block.rows == rows && start + block.cols <= cols, "setColumns: block does not fit")
        let width = block.cols, stride = cols
        block.storage.withUnsafeBufferPointer { src in
            storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<rows {
                    for j in 0..<width { dst[i * stride + start + j] = scale * Double(src[i * width + j]) }
                }
            }
        }
    }

    /// Places the rows of `block` (same columns), scaled by `scale`, at row `start`.
    public mutating func setRows(_ block: Matrix, at start: Int, scale: Double = 1) {
        precondition(block.cols == cols && start + block.rows <= rows, "setRows: block does not fit")
        let offset = start * cols
        block.storage.withUnsafeBufferPointer { src in
            storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<src.count { dst[offset + i] = scale * Double(src[i]) }
            }
        }
    }

    /// op(self) · op(other) with `cblas_dgemm`.
    /// - Complexity: O(m·n·k).
    public func multiplied(by other: DoubleMatrix, transposeSelf: Bool = false, transposeOther: Bool = false) -> DoubleMatrix {
        let m = transposeSelf ? cols : rows, k = transposeSelf ? rows : cols
        let k2 = transposeOther ? other.cols : other.rows, n = transposeOther ? other.rows : other.cols
        precondition(k == k2, "DoubleMatrix product: inner dimensions \(k) and \(k2) differ")
        var out = DoubleMatrix(rows: m, cols: n)
        guard m > 0, n > 0, k > 0 else { return out }
        storage.withUnsafeBufferPointer { a in
            other.storage.withUnsafeBufferPointer { b in
                out.storage.withUnsafeMutableBufferPointer { c in
                    cblas_dgemm(CblasRowMajor, transposeSelf ? CblasTrans : CblasNoTrans, transposeOther ? CblasTrans : CblasNoTrans,
                                Int32(m), Int32(n), Int32(k), 1, a.baseAddress, Int32(max(1, cols)), b.baseAddress, Int32(max(1, other.cols)),
                                0, c.baseAddress, Int32(max(1, n)))
                }
            }
        }
        return out
    }

    /// R of the thin QR factorisation of selfᵀ (Householder, `dgeqrt`): min(rows, cols) × rows,
    /// upper triangular, selfᵀ = Q·R. For a thin product X·Y, ‖X·Y‖_F = ‖R_X·R_Yᵀ‖_F with R_X, R_Y
    /// the factors of X and Yᵀ: a norm that does not square the factors' condition, as Grams do.
    /// Row-major self is column-major selfᵀ, so LAPACK works on a plain copy of the storage. A NaN
    /// entry gives an all-NaN factor.
    /// - Complexity: O(cols · rows²).
    public func triangularFactorOfTranspose() -> DoubleMatrix {
        let m = cols, n = rows, p = Swift.min(m, n)
        var r = DoubleMatrix(rows: p, cols: n)
        guard p > 0 else { return r }
        var a = storage
        // dgeqrt (compact-WY blocks, recursive panels on level-3 BLAS) rather than dgeqrf: for a
        // matrix this narrow dgeqrf runs the unblocked dgeqr2, a dgemv per column.
        let block = Swift.min(p, 32)
        var t = [Double](repeating: 0, count: block * p)
        let info = LAPACKE_dgeqrt(LAPACK_COL_MAJOR, Int32(m), Int32(n), Int32(block), &a, Int32(m), &t, Int32(block))
        // LAPACKE refuses a matrix holding NaN (info < 0): the norms are then NaN, as a dense sum would be.
        guard info == 0 else { return DoubleMatrix(rows: p, cols: n, repeating: .nan) }
        for i in 0..<p {
            for j in i..<n { r.storage[i * n + j] = a[j * m + i] }
        }
        return r
    }

    /// The first `count` columns.
    public func leadingColumns(_ count: Int) -> DoubleMatrix {
        precondition(count <= cols, "leadingColumns: \(count) > \(cols)")
        var out = DoubleMatrix(rows: rows, cols: count)
        for i in 0..<rows {
            for j in 0..<count { out.storage[i * count + j] = storage[i * cols + j] }
        }
        return out
    }

    /// ‖self‖²_F.
    public func frobeniusNormSquared() -> Double { dot(self) }

    /// Σ self ∘ other.
    public func dot(_ other: DoubleMatrix) -> Double {
        precondition(storage.count == other.storage.count, "dot: sizes differ")
        var sum = 0.0
        for i in 0..<storage.count { sum += storage[i] * other.storage[i] }
        return sum
    }

    /// ‖U·V‖²_F for U = self (p × m) and V (m × q), as ⟨UᵀU, V·Vᵀ⟩: O((p + q)·m²), no p × q product.
    public func productNormSquared(_ v: DoubleMatrix) -> Double {
        let gu = multiplied(by: self, transposeSelf: true)
        let gv = v.multiplied(by: v, transposeOther: true)
        return max(0, gu.dot(gv))
    }
}
