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
    /// Σ (UᵀU) ∘ (VᵀV), accumulated in Double.
    func frobeniusNormSquared() -> Double {
        let gu = u.multiplied(by: u, transposeSelf: true)
        let gv = vt.multiplied(by: vt, transposeOther: true)
        var sum = 0.0
        for i in 0..<gu.storage.count { sum += Double(gu.storage[i]) * Double(gv.storage[i]) }
        return max(sum, 0)
    }
    func dense() -> Matrix { u.multiplied(by: vt) }
}

/// ΔW formed densely: the test oracle for `FactoredUpdate`.
struct DenseUpdate: UpdateOperator {
    let w: Matrix
    var rows: Int { w.rows }
    var cols: Int { w.cols }
    func timesTransposed(_ m: Matrix) -> Matrix { w.multiplied(by: m, transposeOther: true) }
    func transposedTimes(_ m: Matrix) -> Matrix { m.multiplied(by: w, transposeSelf: true) }
    func frobeniusNormSquared() -> Double { w.storage.reduce(0) { $0 + Double($1) * Double($1) } }
    func dense() -> Matrix { w }
}

/// Small helpers on matrices used by the server steps.
extension Matrix {
    /// Σ self ∘ other, in Double.
    func dot(_ other: Matrix) -> Double {
        var sum = 0.0
        for i in 0..<storage.count { sum += Double(storage[i]) * Double(other.storage[i]) }
        return sum
    }

    /// self + λ·I (square).
    func addingToDiagonal(_ lambda: Float) -> Matrix {
        var m = self
        for i in 0..<Swift.min(rows, cols) { m[i, i] += lambda }
        return m
    }

    /// Zeros every entry not in `indices` (sorted flat indices).
    func keepingOnly(_ indices: [UInt32]) -> Matrix {
        var out = Matrix.zeros(rows: rows, cols: cols)
        for i in indices { out.storage[Int(i)] = storage[Int(i)] }
        return out
    }
}
