import Numerics

/// The aggregated full-rank update ΔW of one layer, as the decomposition uses it: only ΔW·Mᵀ,
/// Mᵀ·ΔW and ‖ΔW‖²_F are ever needed.
protocol UpdateOperator {
    var rows: Int { get }
    var cols: Int { get }
    /// ΔW · mᵀ for m with `cols` columns (e.g. A: gives d_out × r).
    func timesTransposed(_ m: Matrix) -> Matrix
    /// mᵀ · ΔW for m with `rows` rows (e.g. B*: gives r × d_in).
    func transposedTimes(_ m: Matrix) -> Matrix
    /// ‖ΔW‖²_F.
    func frobeniusNormSquared() -> Double
    /// ΔW as a dense matrix (tests, small layers).
    func dense() -> Matrix
    /// ‖ΔW − L·R‖²_F and ‖ΔW‖²_F in Double, for L (`rows` × k) and R (k × `cols`).
    func distanceSquared(toProduct left: DoubleMatrix, _ right: DoubleMatrix) -> (distance: Double, norm: Double)
}

/// ΔW = U·Vᵀ, never formed: U = [Σ p_i ΔB̃_i, p_1 B̂_1, …, p_n B̂_n] (d_out × (n+1)r) and
/// Vᵀ = [A; ΔÃ_1; …; ΔÃ_n] ((n+1)r × d_in). Products cost O(d·n·r²); no d_out × d_in memory.
struct FactoredUpdate: UpdateOperator {
    let u: Matrix
    let vt: Matrix
    var rows: Int { u.rows }
    var cols: Int { vt.cols }

    func timesTransposed(_ m: Matrix) -> Matrix { u.multiplied(by: vt.multiplied(by: m, transposeOther: true)) }
    func transposedTimes(_ m: Matrix) -> Matrix { m.multiplied(by: u, transposeSelf: true).multiplied(by: vt) }
    /// Σ (UᵀU) ∘ (VᵀV), accumulated in Double; both Grams by `ssyrk` (half the flops of gemm).
    func frobeniusNormSquared() -> Double { max(u.gram().frobeniusInner(vt.rowGram()), 0) }
    func dense() -> Matrix { u.multiplied(by: vt) }

    /// ΔW − L·R = X·Y with X = [U | L] (d_out × w) and Y = [Vᵀ; −R] (w × d_in), w = K + k,
    /// K = (n+1)r. With thin QR factorisations X = Q_X·R_X and Yᵀ = Q_Y·R_Y (Householder, `dgeqrt`, Double),
    /// ‖X·Y‖_F = ‖R_X·R_Yᵀ‖_F, a w × w product; ‖ΔW‖_F = ‖U·Vᵀ‖_F is the same with the leading K
    /// columns of R_X and R_Y (QR works column by column). O((d_out + d_in)·w²); no d_out × d_in
    /// matrix. QR rather than Grams ⟨XᵀX, Y·Yᵀ⟩: a Gram squares the factors' condition, and a
    /// residual much smaller than ‖ΔW‖ (1e-7 at α = 0) would lose every digit to cancellation.
    func distanceSquared(toProduct left: DoubleMatrix, _ right: DoubleMatrix) -> (distance: Double, norm: Double) {
        precondition(left.rows == rows && right.cols == cols && left.cols == right.rows, "distanceSquared: shapes differ")
        let k = u.cols, width = k + left.cols, m = rows, n = cols
        guard m > 0, n > 0 else { return (0, 0) }
        // Xᵀ, row by row: the columns of U, then those of L.
        var xt = DoubleMatrix(rows: width, cols: m)
        xt.storage.withUnsafeMutableBufferPointer { x in
            u.storage.withUnsafeBufferPointer { us in
                for i in 0..<m {
                    for j in 0..<k { x[j * m + i] = Double(us[i * k + j]) }
                }
            }
            left.storage.withUnsafeBufferPointer { ls in
                for i in 0..<m {
                    for j in 0..<left.cols { x[(k + j) * m + i] = ls[i * left.cols + j] }
                }
            }
        }
        var y = DoubleMatrix(rows: width, cols: n)
        y.setRows(vt, at: 0)
        y.storage.withUnsafeMutableBufferPointer { ys in
            right.storage.withUnsafeBufferPointer { rs in
                for i in 0..<rs.count { ys[k * n + i] = -rs[i] }
            }
        }
        let rx = xt.triangularFactorOfTranspose(), ry = y.triangularFactorOfTranspose()
        let distance = rx.multiplied(by: ry, transposeOther: true).frobeniusNormSquared()
        let norm = rx.leadingColumns(k).multiplied(by: ry.leadingColumns(k), transposeOther: true).frobeniusNormSquared()
        return (distance, norm)
    }
}

/// ΔW formed densely: the test oracle for `FactoredUpdate`.
struct DenseUpdate: UpdateOperator {
    let w: Matrix
    var rows: Int { w.rows }
    var cols: Int { w.cols }
    func timesTransposed(_ m: Matrix) -> Matrix { w.multiplied(by: m, transposeOther: true) }
    func transposedTimes(_ m: Matrix) -> Matrix { m.multiplied(by: w, transposeSelf: true) }
    func frobeniusNormSquared() -> Double { w.frobeniusNormSquared() }
    func dense() -> Matrix { w }
    /// Entry by entry in Double (L·R formed densely): the oracle for the factored form.
    func distanceSquared(toProduct left: DoubleMatrix, _ right: DoubleMatrix) -> (distance: Double, norm: Double) {
        let fitted = left.multiplied(by: right)
        var distance = 0.0, norm = 0.0
        for i in 0..<w.storage.count {
            let x = Double(w.storage[i])
            distance += (x - fitted.storage[i]) * (x - fitted.storage[i])
            norm += x * x
        }
        return (distance, norm)
    }
}

/// Small helpers on matrices used by the server steps.
extension Matrix {
    /// Σ self ∘ other, in Double.
    func dot(_ other: Matrix) -> Double { frobeniusInner(other) }

    /// self + λ·I (square).
    func addingToDiagonal(_ lambda: Float) -> Matrix {
        var m = self
        for i in 0..<Swift.min(rows, cols) { m[i, i] += lambda }
        return m
    }

    /// Zeros every entry not in `indices` (sorted flat indices).
    func keepingOnly(_ indices: [UInt32]) -> Matrix {
        precondition(indices.last.map { Int($0) < count } ?? true, "keepingOnly: index past the matrix")
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { o in
            storage.withUnsafeBufferPointer { s in
                for i in indices { o[Int(i)] = s[Int(i)] }
            }
        }
        return Matrix(rows: rows, cols: cols, storage: out)
    }
}
