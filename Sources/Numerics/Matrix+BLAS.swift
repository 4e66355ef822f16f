import CNumerics

// Level 2 and level 3 BLAS. Everything goes straight to OpenBLAS through the CBLAS interface
// with `CblasRowMajor`; the leading dimension of a stored row-major matrix is its column count.
// Shape mismatches here are programmer errors and trap (preconditions), unlike the LAPACK
// wrappers, which throw.

extension Matrix {
    /// General matrix multiply, `c ← alpha · op(a) · op(b) + beta · c` (`cblas_sgemm`), where
    /// `op(x)` is `xᵀ` when the matching `transpose` flag is set.
    ///
    /// With `beta == 0` the previous contents of `c` are ignored (even NaNs), as in BLAS.
    /// - Precondition: `op(a)` is m×k, `op(b)` is k×n and `c` is m×n.
    /// - Complexity: O(m · n · k).
    public static func gemm(_ a: Matrix, transposeA: Bool = false,
                            _ b: Matrix, transposeB: Bool = false,
                            alpha: Float = 1, beta: Float = 0,
                            into c: inout Matrix) {
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows
        let n = transposeB ? b.rows : b.cols
        precondition(k == kb, "gemm: inner dimensions differ, op(a) is \(m)×\(k) but op(b) is \(kb)×\(n)")
        precondition(c.rows == m && c.cols == n, "gemm: c is \(c.rows)×\(c.cols), expected \(m)×\(n)")
        a.checkStorage(); b.checkStorage(); c.checkStorage()
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // Empty inner product: op(a)·op(b) is the zero matrix. Handled here so that no
            // zero leading dimension ever reaches BLAS (which rejects lda < 1).
            if beta == 0 {
                c.storage.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            } else if beta != 1 {
                c.scale(by: beta)
            }
            return
        }
        let (m32, n32, k32) = (blasInt(m), blasInt(n), blasInt(k))
        let (lda, ldb, ldc) = (blasInt(a.cols), blasInt(b.cols), blasInt(c.cols))
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor,
                                transposeA ? CblasTrans : CblasNoTrans,
                                transposeB ? CblasTrans : CblasNoTrans,
                                m32, n32, k32, alpha,
                                pa.baseAddress, lda, pb.baseAddress, ldb,
                                beta, pc.baseAddress, ldc)
                }
            }
        }
    }

    /// The product `op(self) · op(other)`, where `op` transposes when the matching flag is set.
    /// - Precondition: the inner dimensions agree.
    /// - Complexity: O(m · n · k).
    public func multiplied(by other: Matrix, transposeSelf: Bool = false,
                           transposeOther: Bool = false) -> Matrix {
        var c = Matrix.zeros(rows: transposeSelf ? cols : rows,
                             cols: transposeOther ? other.rows : other.cols)
        Matrix.gemm(self, transposeA: transposeSelf, other, transposeB: transposeOther, into: &c)
        return c
    }

    /// The matrix product `lhs · rhs`.
    /// - Precondition: `lhs.cols == rhs.rows`.
    /// - Complexity: O(lhs.rows · rhs.cols · lhs.cols).
    public static func * (lhs: Matrix, rhs: Matrix) -> Matrix {
        lhs.multiplied(by: rhs)
    }

    /// The Gram matrix `selfᵀ · self` (cols×cols, exactly symmetric), via `cblas_ssyrk`.
    /// - Complexity: O(rows · cols²), about half the flops of the equivalent gemm.
    public func gram() -> Matrix { symmetricProduct(transposingFirst: true) }

    /// The Gram matrix of the rows, `self · selfᵀ` (rows×rows, exactly symmetric), via `cblas_ssyrk`.
    /// - Complexity: O(rows² · cols), about half the flops of the equivalent gemm.
    public func rowGram() -> Matrix { symmetricProduct(transposingFirst: false) }

    /// `selfᵀ·self` (`transposingFirst`) or `self·selfᵀ` by `cblas_ssyrk`, its upper triangle mirrored.
    private func symmetricProduct(transposingFirst: Bool) -> Matrix {
        let n = transposingFirst ? cols : rows, k = transposingFirst ? rows : cols
        checkStorage()
        var g = Matrix.zeros(rows: n, cols: n)
        guard n > 0, k > 0 else { return g }
        let (n32, k32, lda) = (Matrix.blasInt(n), Matrix.blasInt(k), Matrix.blasInt(cols))
        storage.withUnsafeBufferPointer { pa in
            g.storage.withUnsafeMutableBufferPointer { pg in
                cblas_ssyrk(CblasRowMajor, CblasUpper, transposingFirst ? CblasTrans : CblasNoTrans, n32, k32,
                            1, pa.baseAddress, lda, 0, pg.baseAddress, n32)
                // syrk fills the upper triangle only; mirror it so the result is a full matrix.
                for i in 0..<n {
                    for j in (i + 1)..<n { pg[j * n + i] = pg[i * n + j] }
                }
            }
        }
        return g
    }

    /// Σ self ∘ other (the Frobenius inner product), products and sum in Double (four independent
    /// accumulators; OpenBLAS's `cblas_dsdot` is not used: its Haswell kernel sums in Float).
    /// - Precondition: same shape.
    /// - Complexity: O(rows · cols).
    public func frobeniusInner(_ other: Matrix) -> Double {
        precondition(rows == other.rows && cols == other.cols,
                     "frobeniusInner: shape \(other.rows)×\(other.cols) does not match \(rows)×\(cols)")
        checkStorage(); other.checkStorage()
        return storage.withUnsafeBufferPointer { x in
            other.storage.withUnsafeBufferPointer { y in
                var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
                let n = x.count
                var k = 0
                while k + 4 <= n {
                    s0 += Double(x[k]) * Double(y[k]); s1 += Double(x[k + 1]) * Double(y[k + 1])
                    s2 += Double(x[k + 2]) * Double(y[k + 2]); s3 += Double(x[k + 3]) * Double(y[k + 3])
                    k += 4
                }
                while k < n { s0 += Double(x[k]) * Double(y[k]); k += 1 }
                return (s0 + s1) + (s2 + s3)
            }
        }
    }

    /// ‖self‖²_F, accumulated in Double in index order (one accumulator: the same value as
    /// `storage.reduce(0) { $0 + Double($1) * Double($1) }`, over the buffer).
    /// - Complexity: O(rows · cols).
    public func frobeniusNormSquared() -> Double {
        checkStorage()
        return storage.withUnsafeBufferPointer { p in
            var sum = 0.0
            for x in p { sum += Double(x) * Double(x) }
            return sum
        }
    }

    /// Matrix–vector product `op(self) · x` (`cblas_sgemv`), `op` transposing when `transposeSelf` is set.
    /// - Precondition: `x.count` equals the column count of `op(self)`.
    /// - Complexity: O(rows · cols).
    public func multiplied(byVector x: [Float], transposeSelf: Bool = false) -> [Float] {
        let outCount = transposeSelf ? cols : rows
        let inCount = transposeSelf ? rows : cols
        precondition(x.count == inCount, "gemv: vector has \(x.count) elements, expected \(inCount)")
        checkStorage()
        var y = [Float](repeating: 0, count: outCount)
        guard rows > 0, cols > 0 else { return y }
        let (m32, n32) = (Matrix.blasInt(rows), Matrix.blasInt(cols))
        storage.withUnsafeBufferPointer { pa in
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    cblas_sgemv(CblasRowMajor, transposeSelf ? CblasTrans : CblasNoTrans,
                                m32, n32, 1, pa.baseAddress, n32, px.baseAddress, 1,
                                0, py.baseAddress, 1)
                }
            }
        }
        return y
    }
}

/// OpenBLAS's thread count (global to the process).
public enum BLASThreads {
    /// Threads OpenBLAS uses for one call.
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with single-threaded BLAS calls (for running independent work on several
    /// threads of our own, and for results that must not depend on the number of cores), then
    /// restores the previous count. Calls may nest (the inner one restores 1); the count is global
    /// to the process, so calls must not overlap from threads running at the same time.
    public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        return try body()
    }
}
