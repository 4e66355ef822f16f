import CNumerics

/// `cblas_sgemm` on raw row-major buffers with explicit leading dimensions: for products on
/// sub-blocks of a larger matrix (one attention head's columns of a batch × width activation, one
/// sequence's rows), which `Matrix.gemm` cannot address without copying.
public enum StridedGEMM {
    /// `c ← alpha · op(a) · op(b) + beta · c`, all row-major; `op(a)` is m×k, `op(b)` k×n, `c` m×n.
    /// `lda`, `ldb`, `ldc` are the row strides of the stored `a`, `b`, `c` (in elements).
    /// With `beta == 0` the previous contents of `c` are ignored, as in BLAS.
    /// - Precondition: all sizes nonnegative and within 32 bits; every leading dimension at least
    ///   the stored row length (`a` stores k or m columns as `transposeA` is false or true, etc.).
    /// - Complexity: O(m · n · k).
    @inline(__always)
    public static func multiply(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                                alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "StridedGEMM: negative size \(m)×\(n)×\(k)")
        precondition(lda >= max(1, transposeA ? m : k) && ldb >= max(1, transposeB ? k : n) && ldc >= max(1, n),
                     "StridedGEMM: leading dimension too small")
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Matrix.blasInt(m), Matrix.blasInt(n), Matrix.blasInt(k), alpha,
                    a, Matrix.blasInt(lda), b, Matrix.blasInt(ldb), beta, c, Matrix.blasInt(ldc))
    }
}
