import XCTest
import Numerics

// Tolerances. Float32 has unit roundoff u = 2⁻²⁴ ≈ 6e-8; `eps` below is Float.ulpOfOne = 2u ≈ 1.2e-7.
// * A length-k dot product in Float obeys |fl(x·y) − x·y| ≤ γ_k |x|·|y| with γ_k ≈ k·u (Higham,
//   "Accuracy and Stability of Numerical Algorithms", §3.1); gemm with alpha/beta adds two more
//   roundings. So gemm is checked ELEMENTWISE against a Double reference with the bound
//   2·(k+2)·eps·(|α|·(|A||B|)ᵢⱼ + |β|·|Cᵢⱼ|): a factor 4 above the worst case (typical errors are
//   ~√k·u), while any indexing or transposition bug gives O(1) errors.
// * Householder QR, the SVD and LU/Cholesky solves are normwise backward stable with constants
//   that grow mildly with the dimension; we allow 4·(m+n)·eps relative (≥ 50× the errors seen),
//   for solves times the condition number bound where forward errors are checked.
// All reference products in the checks are computed in Double so only the routine under test
// contributes error.
private let eps = Double(Float.ulpOfOne)

/// Numerics' SplitMix64 with the draws these tests need, so failures reproduce.
private struct TestGenerator {
    var base: SplitMix64
    init(seed: UInt64) { base = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { base.next() }
    /// Uniform in [-1, 1) on the 2⁻²³ grid.
    mutating func symmetric() -> Float { Float(next() >> 40) * 0x1p-23 - 1 }
    /// Uniform integer in `range` (modulo bias is irrelevant here).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
    mutating func matrix(_ rows: Int, _ cols: Int) -> Matrix {
        Matrix(rows: rows, cols: cols) { _, _ in symmetric() }
    }
}

/// Row-major Double product op(a)·op(b), plus the elementwise |op(a)|·|op(b)| used for error bounds.
private func referenceProduct(_ a: Matrix, _ tA: Bool, _ b: Matrix, _ tB: Bool)
    -> (value: [Double], magnitude: [Double], rows: Int, cols: Int) {
    let m = tA ? a.cols : a.rows, k = tA ? a.rows : a.cols, n = tB ? b.rows : b.cols
    func ea(_ i: Int, _ p: Int) -> Double { Double(tA ? a[p, i] : a[i, p]) }
    func eb(_ p: Int, _ j: Int) -> Double { Double(tB ? b[j, p] : b[p, j]) }
    var value = [Double](repeating: 0, count: m * n), magnitude = value
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0, t = 0.0
            for p in 0..<k { let x = ea(i, p) * eb(p, j); s += x; t += abs(x) }
            value[i * n + j] = s
            magnitude[i * n + j] = t
        }
    }
    return (value, magnitude, m, n)
}

/// max |(op(a)·op(b))ᵢⱼ − expectedᵢⱼ| computed in Double.
private func maxDeviation(_ a: Matrix, _ tA: Bool, _ b: Matrix, _ tB: Bool, from expected: Matrix) -> Double {
    let p = referenceProduct(a, tA, b, tB)
    precondition(p.rows == expected.rows && p.cols == expected.cols)
    return zip(p.value, expected.storage).map { abs($0 - Double($1)) }.max() ?? 0
}

private func frobenius(_ values: [Double]) -> Double { values.reduce(0) { $0 + $1 * $1 }.squareRoot() }

final class MatrixTests: XCTestCase {

    // MARK: Construction, access, shape

    func testInitialisersAndRowMajorLayout() {
        let m = Matrix(rows: 2, cols: 3, storage: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(m.rows, 2); XCTAssertEqual(m.cols, 3); XCTAssertEqual(m.count, 6)
        XCTAssertEqual(m[0, 2], 3); XCTAssertEqual(m[1, 0], 4)
        XCTAssertEqual(Matrix(rows: 2, cols: 3) { i, j in Float(10 * i + j) }.storage, [0, 1, 2, 10, 11, 12])
        XCTAssertEqual(Matrix.zeros(rows: 2, cols: 2).storage, [0, 0, 0, 0])
        XCTAssertEqual(Matrix.identity(3).storage, [1, 0, 0, 0, 1, 0, 0, 0, 1])
        XCTAssertEqual(Matrix.diagonal([2, 3]).storage, [2, 0, 0, 3])
        var w = m
        w[1, 2] = -7
        XCTAssertEqual(w.storage[5], -7)
        XCTAssertEqual(m[1, 2], 6, "value semantics: the copy must not alias")
        XCTAssertTrue(Matrix.identity(4).isSquare); XCTAssertFalse(m.isSquare)
    }

    func testEquatableComparesShapeAndValues() {
        let a = Matrix(rows: 2, cols: 2, storage: [1, 2, 3, 4])
        XCTAssertEqual(a, Matrix(rows: 2, cols: 2, storage: [1, 2, 3, 4]))
        XCTAssertNotEqual(a, Matrix(rows: 1, cols: 4, storage: [1, 2, 3, 4]))
        XCTAssertNotEqual(a, Matrix(rows: 2, cols: 2, storage: [1, 2, 3, 5]))
    }

    func testTranspose() {
        var rng = TestGenerator(seed: 1)
        for (r, c) in [(1, 1), (3, 5), (33, 70), (64, 31), (0, 4)] {
            let a = rng.matrix(r, c)
            let t = a.transposed()
            XCTAssertEqual(t.rows, c); XCTAssertEqual(t.cols, r)
            for i in 0..<r { for j in 0..<c { XCTAssertEqual(t[j, i], a[i, j]) } }
            XCTAssertEqual(t.transposed(), a)
        }
    }

    func testNorms() {
        let m = Matrix(rows: 2, cols: 2, storage: [3, 4, 0, 12])
        XCTAssertEqual(m.frobeniusNorm(), 13)
        XCTAssertEqual(m.rowNorms(), [5, 12])
        XCTAssertEqual(m.columnNorms(), [3, Float((16.0 + 144.0).squareRoot())])
        var rng = TestGenerator(seed: 2)
        let a = rng.matrix(37, 23)
        let exact = a.storage.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(Double(a.frobeniusNorm()), exact, accuracy: exact * eps)  // one final rounding
        let rows = a.rowNorms(), cols = a.columnNorms()
        for i in 0..<37 {
            let e = (0..<23).reduce(0.0) { $0 + Double(a[i, $1]) * Double(a[i, $1]) }.squareRoot()
            XCTAssertEqual(Double(rows[i]), e, accuracy: e * eps)
        }
        for j in 0..<23 {
            let e = (0..<37).reduce(0.0) { $0 + Double(a[$1, j]) * Double(a[$1, j]) }.squareRoot()
            XCTAssertEqual(Double(cols[j]), e, accuracy: e * eps)
        }
        // (1e30)² overflows Float; the Double accumulator must not.
        let big = Matrix(rows: 2, cols: 2, storage: [1e30, 1e30, 1e30, 1e30])
        XCTAssertEqual(big.frobeniusNorm(), 2e30, accuracy: 2e30 * Float.ulpOfOne)
        XCTAssertEqual(big.rowNorms()[0], 1e30 * Float(2).squareRoot(), accuracy: 2e30 * Float.ulpOfOne)
        XCTAssertEqual(big.columnNorms()[1], 1e30 * Float(2).squareRoot(), accuracy: 2e30 * Float.ulpOfOne)
        // 10⁶ values whose Float running sum would stall: Σ 1 + 10⁶·(1e-4)² = 1.01.
        var tiny = Matrix(rows: 1000, cols: 1001, storage: [Float](repeating: 1e-4, count: 1_001_000))
        tiny[0, 0] = 1
        let expected = (1.0 + 1_000_999 * Double(Float(1e-4)) * Double(Float(1e-4))).squareRoot()
        XCTAssertEqual(Double(tiny.frobeniusNorm()), expected, accuracy: expected * eps)
    }

    func testElementwiseArithmetic() {
        let a = Matrix(rows: 2, cols: 2, storage: [1, 2, 3, 4])
        let b = Matrix(rows: 2, cols: 2, storage: [10, 20, 30, 40])
        XCTAssertEqual((a + b).storage, [11, 22, 33, 44])
        XCTAssertEqual((b - a).storage, [9, 18, 27, 36])
        XCTAssertEqual((a * 2).storage, [2, 4, 6, 8])
        XCTAssertEqual((0.5 * b).storage, [5, 10, 15, 20])
        XCTAssertEqual((-a).storage, [-1, -2, -3, -4])
        var c = a
        c.scale(by: 3)
        XCTAssertEqual(c.storage, [3, 6, 9, 12])
        c.add(b, scaledBy: -0.5)
        XCTAssertEqual(c.storage, [-2, -4, -6, -8])
        c += a; XCTAssertEqual(c.storage, [-1, -2, -3, -4])
        c -= a; XCTAssertEqual(c.storage, [-2, -4, -6, -8])
        c *= -1; XCTAssertEqual(c.storage, [2, 4, 6, 8])
        XCTAssertEqual(a.storage, [1, 2, 3, 4], "operands must be untouched")
    }

    func testDescription() {
        let small = Matrix(rows: 2, cols: 3, storage: [1, 2, 3, 4, 5, 6]).description
        XCTAssertTrue(small.hasPrefix("Matrix 2×3"))
        XCTAssertTrue(small.contains("[4.0, 5.0, 6.0]"))
        let big = Matrix.identity(100).description
        XCTAssertTrue(big.contains("⋮") && big.contains("…"))
        XCTAssertLessThan(big.split(separator: "\n").count, 10)
    }

    // MARK: BLAS

    func testGemmAllTransposesAlphaBetaAgainstNaiveLoops() {
        for seed in UInt64(0)..<60 {
            var rng = TestGenerator(seed: seed)
            let m = rng.int(1...33), n = rng.int(1...33), k = rng.int(1...33)
            let alpha = 2 * rng.symmetric(), beta = seed % 3 == 0 ? 0 : 2 * rng.symmetric()
            for (tA, tB) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = tA ? rng.matrix(k, m) : rng.matrix(m, k)
                let b = tB ? rng.matrix(n, k) : rng.matrix(k, n)
                let c0 = rng.matrix(m, n)
                var c = c0
                Matrix.gemm(a, transposeA: tA, b, transposeB: tB, alpha: alpha, beta: beta, into: &c)
                let ref = referenceProduct(a, tA, b, tB)
                XCTAssertEqual(ref.rows, c.rows); XCTAssertEqual(ref.cols, c.cols)
                for idx in 0..<(m * n) {
                    let exact = Double(alpha) * ref.value[idx] + Double(beta) * Double(c0.storage[idx])
                    let bound = 2 * Double(k + 2) * eps
                        * (abs(Double(alpha)) * ref.magnitude[idx] + abs(Double(beta) * Double(c0.storage[idx])))
                        + Double(Float.leastNormalMagnitude)
                    XCTAssertLessThanOrEqual(abs(Double(c.storage[idx]) - exact), bound,
                                             "seed \(seed) tA \(tA) tB \(tB) m \(m) n \(n) k \(k) at \(idx)")
                }
            }
        }
    }

    func testGemmBetaZeroIgnoresNaNAndEmptyInnerDimension() {
        var rng = TestGenerator(seed: 99)
        let a = rng.matrix(5, 4), b = rng.matrix(4, 6)
        var c = Matrix(rows: 5, cols: 6, storage: [Float](repeating: .nan, count: 30))
        Matrix.gemm(a, b, into: &c)
        XCTAssertTrue(c.storage.allSatisfy { $0.isFinite })
        XCTAssertLessThanOrEqual(maxDeviation(a, false, b, false, from: c), 8 * 4 * eps)
        // k = 0: op(a)·op(b) is the zero matrix, so c becomes beta·c.
        var d = Matrix(rows: 2, cols: 2, storage: [1, 2, 3, 4])
        Matrix.gemm(.zeros(rows: 2, cols: 0), .zeros(rows: 0, cols: 2), beta: 2, into: &d)
        XCTAssertEqual(d.storage, [2, 4, 6, 8])
        XCTAssertEqual(Matrix.zeros(rows: 3, cols: 0) * Matrix.zeros(rows: 0, cols: 2), .zeros(rows: 3, cols: 2))
    }

    func testMultipliedOperatorGramAndGemv() {
        var rng = TestGenerator(seed: 7)
        let a = rng.matrix(17, 9), b = rng.matrix(9, 12), x = rng.matrix(17, 1).storage
        let tol = 8 * 17 * eps  // entries are ≤ 1, so |A||B| ≤ k ≤ 17; see the header
        XCTAssertLessThanOrEqual(maxDeviation(a, false, b, false, from: a * b), tol)
        XCTAssertEqual(a * b, a.multiplied(by: b))
        XCTAssertLessThanOrEqual(maxDeviation(a, true, a, false, from: a.multiplied(by: a, transposeSelf: true)), tol)
        XCTAssertLessThanOrEqual(maxDeviation(b, false, b, true, from: b.multiplied(by: b, transposeOther: true)), tol)
        let g = a.gram()
        XCTAssertEqual(g.rows, 9); XCTAssertEqual(g, g.transposed(), "gram must be exactly symmetric")
        XCTAssertLessThanOrEqual(maxDeviation(a, true, a, false, from: g), tol)
        let y = a.multiplied(byVector: x, transposeSelf: true)       // Aᵀx, length 9
        let xm = Matrix(rows: 17, cols: 1, storage: x)
        XCTAssertLessThanOrEqual(maxDeviation(a, true, xm, false, from: Matrix(rows: 9, cols: 1, storage: y)), tol)
        let z = a.multiplied(byVector: Array(y))                        // A(Aᵀx), length 17
        XCTAssertLessThanOrEqual(maxDeviation(a, false, Matrix(rows: 9, cols: 1, storage: y), false,
                                              from: Matrix(rows: 17, cols: 1, storage: z)), 8 * 9 * 17 * eps)
    }

    /// rowGram = self·selfᵀ (exactly symmetric); frobeniusInner and frobeniusNormSquared in Double.
    func testRowGramAndFrobeniusInner() {
        var rng = TestGenerator(seed: 17)
        let a = rng.matrix(9, 33), b = rng.matrix(9, 33)
        let g = a.rowGram()
        XCTAssertEqual(g.rows, 9); XCTAssertEqual(g.cols, 9)
        XCTAssertEqual(g, g.transposed(), "rowGram must be exactly symmetric")
        XCTAssertLessThanOrEqual(maxDeviation(a, false, a, true, from: g), 8 * 33 * eps)
        var inner = 0.0, squares = 0.0
        for i in 0..<a.count {
            inner += Double(a.storage[i]) * Double(b.storage[i])
            squares += Double(a.storage[i]) * Double(a.storage[i])
        }
        XCTAssertEqual(a.frobeniusInner(b), inner, accuracy: 1e-12)
        XCTAssertEqual(a.frobeniusNormSquared(), squares, accuracy: 1e-12)
        XCTAssertEqual(Matrix.zeros(rows: 0, cols: 3).frobeniusNormSquared(), 0)
        XCTAssertEqual(Matrix.zeros(rows: 3, cols: 0).rowGram(), .zeros(rows: 3, cols: 3))
        // Products in Double: Float would round 2²⁴ + 1.
        let big = Matrix(rows: 1, cols: 2, storage: [4096, 1])
        XCTAssertEqual(big.frobeniusNormSquared(), 16_777_217)
    }

    // MARK: LAPACK: QR

    func testQROrthonormalUpperTriangularAndReconstructs() throws {
        for seed in UInt64(0)..<25 {
            var rng = TestGenerator(seed: 1000 + seed)
            let n = rng.int(1...24), m = n + rng.int(0...24)
            let a = rng.matrix(m, n)
            let (q, r) = try a.qr()
            XCTAssertEqual(q.rows, m); XCTAssertEqual(q.cols, n); XCTAssertEqual(r.rows, n); XCTAssertEqual(r.cols, n)
            let tol = 4 * Double(m + n) * eps
            XCTAssertLessThanOrEqual(maxDeviation(q, true, q, false, from: .identity(n)), tol, "QᵀQ = I, seed \(seed)")
            for i in 0..<n {
                XCTAssertGreaterThanOrEqual(r[i, i], 0, "diag(R) ≥ 0")
                for j in 0..<i { XCTAssertEqual(r[i, j], 0, "R must be upper triangular") }
            }
            let qr = referenceProduct(q, false, r, false).value
            let residual = frobenius(zip(qr, a.storage).map { $0 - Double($1) })
            XCTAssertLessThanOrEqual(residual, tol * Double(a.frobeniusNorm()), "QR = A, seed \(seed)")
        }
    }

    // MARK: LAPACK: SVD

    private func checkSVD(_ a: Matrix, driver: Matrix.SVDDriver, _ label: String) throws {
        let (u, s, vt) = try a.svd(driver: driver)
        let k = min(a.rows, a.cols)
        XCTAssertEqual([u.rows, u.cols, s.count, vt.rows, vt.cols], [a.rows, k, k, k, a.cols], label)
        let tol = 4 * Double(a.rows + a.cols) * eps
        XCTAssertLessThanOrEqual(maxDeviation(u, true, u, false, from: .identity(k)), tol, "UᵀU = I \(label)")
        XCTAssertLessThanOrEqual(maxDeviation(vt, false, vt, true, from: .identity(k)), tol, "V Vᵀ = I \(label)")
        XCTAssertTrue(s.allSatisfy { $0 >= 0 }, "nonnegative \(label)")
        XCTAssertEqual(s, s.sorted(by: >), "descending \(label)")
        var us = u
        for i in 0..<u.rows { for j in 0..<k { us[i, j] *= s[j] } }  // exact enough: one rounding each
        let recon = referenceProduct(us, false, vt, false).value
        let residual = frobenius(zip(recon, a.storage).map { $0 - Double($1) })
        XCTAssertLessThanOrEqual(residual, tol * Double(a.frobeniusNorm()), "U·diag(s)·Vᵀ = A \(label)")
    }

    func testSVDPropertiesTallAndWideBothDrivers() throws {
        for seed in UInt64(0)..<20 {
            var rng = TestGenerator(seed: 2000 + seed)
            let a = rng.matrix(rng.int(1...30), rng.int(1...30))
            try checkSVD(a, driver: .divideAndConquer, "gesdd seed \(seed) \(a.rows)×\(a.cols)")
            try checkSVD(a, driver: .qrIteration, "gesvd seed \(seed) \(a.rows)×\(a.cols)")
        }
    }

    func testSVDRecoversKnownSingularValues() throws {
        var rng = TestGenerator(seed: 3)
        let sigma: [Float] = [10, 5, 2, 1, 0.5, 0.1, 0]   // includes an exact rank deficiency
        let k = sigma.count
        for (m, n) in [(20, 7), (7, 15), (7, 7), (30, 12)] {
            // A = Q1·diag(σ)·Q2ᵀ with orthonormal Q1 (m×k) and Q2 (n×k).
            let q1 = try rng.matrix(m, k).qr().q, q2 = try rng.matrix(n, k).qr().q
            let a = q1 * Matrix.diagonal(sigma) * q2.transposed()
            // Weyl: |sᵢ − σᵢ| ≤ ‖E‖₂ where E is the rounding in forming A (~k·u·σ_max) plus the
            // SVD's backward error (~(m+n)·u·‖A‖).
            let tol = 4 * Double(m + n) * eps * Double(sigma[0])
            for driver in [Matrix.SVDDriver.divideAndConquer, .qrIteration] {
                let s = try a.svd(driver: driver).singularValues
                XCTAssertEqual(s.count, min(m, n))
                for i in 0..<s.count {
                    XCTAssertEqual(Double(s[i]), Double(i < k ? sigma[i] : 0), accuracy: tol, "\(m)×\(n) σ\(i)")
                }
            }
        }
        let zero = try Matrix.zeros(rows: 4, cols: 3).svd()
        XCTAssertEqual(zero.singularValues, [0, 0, 0])
    }

    // MARK: LAPACK: solves

    func testSolveGeneralWellConditioned() throws {
        for seed in UInt64(0)..<25 {
            var rng = TestGenerator(seed: 4000 + seed)
            let n = rng.int(1...40), nrhs = rng.int(1...5)
            // Strictly diagonally dominant: |aᵢᵢ| ≥ 2n−1 > Σⱼ≠ᵢ|aᵢⱼ| + n, so ‖A⁻¹‖∞ ≤ 1/n and κ∞(A) ≤ 3.
            var a = rng.matrix(n, n)
            for i in 0..<n { a[i, i] += Float(2 * n) }
            let xTrue = rng.matrix(n, nrhs)
            let b = Matrix(rows: n, cols: nrhs, storage: referenceProduct(a, false, xTrue, false).value.map { Float($0) })
            let x = try a.solve(b)
            XCTAssertEqual(x.rows, n); XCTAssertEqual(x.cols, nrhs)
            let tol = 4 * Double(2 * n) * eps
            // Backward error: ‖AX − B‖ relative to ‖A‖·‖X‖ (both ∞-norm style bounds, entries ≤ 3n).
            XCTAssertLessThanOrEqual(maxDeviation(a, false, x, false, from: b), tol * 3 * Double(n), "AX = B seed \(seed)")
            // Forward error ≤ κ · backward error (+ rounding of B), κ ≤ 3.
            let fwd = zip(x.storage, xTrue.storage).map { abs(Double($0) - Double($1)) }.max()!
            XCTAssertLessThanOrEqual(fwd, 3 * tol + 3 * eps, "X = X_true seed \(seed)")
        }
    }

    func testSolveSymmetricPositiveDefiniteRidge() throws {
        for seed in UInt64(0)..<20 {
            var rng = TestGenerator(seed: 5000 + seed)
            let n = rng.int(1...30), m = rng.int(1...40)
            let g = rng.matrix(m, n)
            let spd = g.gram() + .identity(n)        // ridge normal matrix GᵀG + I, λ_min ≥ 1
            let b = rng.matrix(n, 3)
            let x = try spd.solveSymmetricPositiveDefinite(b)
            // Cholesky is backward stable; entries of spd are ≤ m+1, of x ≤ ‖b‖ since ‖spd⁻¹‖₂ ≤ 1.
            let xMax: Double = x.storage.map { abs(Double($0)) }.max()!
            let scale = Double(m + 1) * Double(n) * (xMax + 1)
            XCTAssertLessThanOrEqual(maxDeviation(spd, false, x, false, from: b), 4 * Double(2 * n) * eps * scale,
                                     "SPD residual seed \(seed)")
            // The general solver must agree (both are accurate to κ·backward error, κ ≤ 1 + σ_max(G)²).
            let xg = try spd.solve(b)
            let gNorm = Double(g.frobeniusNorm())
            let kappaBound: Double = 1 + gNorm * gNorm
            let disagreement: Double = zip(x.storage, xg.storage).map { abs(Double($0) - Double($1)) }.max()!
            XCTAssertLessThanOrEqual(disagreement, kappaBound * 16 * Double(n) * eps * (xMax + 1), "seed \(seed)")
            // Only the upper triangle may be read: garbage below the diagonal must not change anything.
            var corrupted = spd
            for i in 0..<n { for j in 0..<i { corrupted[i, j] = 1e6 } }
            XCTAssertEqual(try corrupted.solveSymmetricPositiveDefinite(b), x)
        }
    }

    /// The two-sided Cholesky solve: `.left` is `solveSymmetricPositiveDefinite(_:)`, `.right` exactly
    /// it on the transposed system (no transposes done); only the upper triangle is read; same errors.
    func testSolveSymmetricPositiveDefiniteBothSides() throws {
        for seed in UInt64(0)..<20 {
            var rng = TestGenerator(seed: 7000 + seed)
            let n = rng.int(1...30), m = rng.int(1...40), k = rng.int(1...50)
            let g = rng.matrix(m, n)
            let spd = g.gram() + .identity(n)
            let b = rng.matrix(n, k), bt = rng.matrix(k, n)
            let left = try spd.solveSymmetricPositiveDefinite(b, side: .left)
            let right = try spd.solveSymmetricPositiveDefinite(bt, side: .right)
            XCTAssertEqual(left.rows, n); XCTAssertEqual(left.cols, k)
            XCTAssertEqual(right.rows, k); XCTAssertEqual(right.cols, n)
            let reference = try spd.solveSymmetricPositiveDefinite(b)
            let referenceRight = try spd.solveSymmetricPositiveDefinite(bt.transposed()).transposed()
            XCTAssertEqual(left, reference, "seed \(seed)")
            XCTAssertEqual(right, referenceRight, "the same sposv on the same column-major data, seed \(seed)")
            let xMax: Double = (reference.storage + referenceRight.storage).map { abs(Double($0)) }.max()!
            let gNorm = Double(g.frobeniusNorm())
            let bound = (1 + gNorm * gNorm) * 16 * Double(n) * eps * (xMax + 1)
            XCTAssertLessThanOrEqual(zip(left.storage, reference.storage).map { abs(Double($0) - Double($1)) }.max()!, bound, "seed \(seed)")
            XCTAssertLessThanOrEqual(zip(right.storage, referenceRight.storage).map { abs(Double($0) - Double($1)) }.max()!, bound, "seed \(seed)")
            // Residuals: spd·left ≈ b and right·spd ≈ bt.
            let scale = Double(m + 1) * Double(n) * (xMax + 1)
            XCTAssertLessThanOrEqual(maxDeviation(spd, false, left, false, from: b), 4 * Double(2 * n) * eps * scale, "seed \(seed)")
            XCTAssertLessThanOrEqual(maxDeviation(right, false, spd, false, from: bt), 4 * Double(2 * n) * eps * scale, "seed \(seed)")
            var corrupted = spd
            for i in 0..<n { for j in 0..<i { corrupted[i, j] = 1e6 } }
            XCTAssertEqual(try corrupted.solveSymmetricPositiveDefinite(b, side: .left), left)
            XCTAssertEqual(try corrupted.solveSymmetricPositiveDefinite(bt, side: .right), right)
        }
        let indefinite = Matrix(rows: 2, cols: 2, storage: [1, 2, 2, 1])
        for side in [Matrix.SolveSide.left, .right] {
            XCTAssertThrowsError(try indefinite.solveSymmetricPositiveDefinite(.identity(2), side: side)) {
                XCTAssertEqual($0 as? LinearAlgebraError, .notPositiveDefinite(info: 2))
            }
        }
        var rng = TestGenerator(seed: 9)
        let square = rng.matrix(4, 4).gram() + .identity(4)
        for (b, side) in [(rng.matrix(3, 2), Matrix.SolveSide.left), (rng.matrix(2, 3), .right)] {
            XCTAssertThrowsError(try square.solveSymmetricPositiveDefinite(b, side: side)) {
                guard case .dimensionMismatch? = $0 as? LinearAlgebraError else { return XCTFail("\($0)") }
            }
        }
        XCTAssertThrowsError(try rng.matrix(3, 4).solveSymmetricPositiveDefinite(rng.matrix(3, 1), side: .left)) {
            guard case .dimensionMismatch? = $0 as? LinearAlgebraError else { return XCTFail("\($0)") }
        }
        var bad = rng.matrix(5, 4)
        bad[1, 2] = .nan
        XCTAssertThrowsError(try square.solveSymmetricPositiveDefinite(bad, side: .right)) {
            XCTAssertEqual($0 as? LinearAlgebraError, .nonFinite("solveSymmetricPositiveDefinite"))
        }
        XCTAssertEqual(try square.solveSymmetricPositiveDefinite(Matrix.zeros(rows: 0, cols: 4), side: .right).rows, 0)
    }

    func testSingularAndNotPositiveDefiniteThrow() {
        let rankOne = Matrix(rows: 2, cols: 2, storage: [1, 2, 2, 4])
        XCTAssertThrowsError(try rankOne.solve(.identity(2))) {
            XCTAssertEqual($0 as? LinearAlgebraError, .singular(info: 2))
        }
        // Zero second column: the second LU pivot is exactly zero whatever the row exchanges.
        var rng = TestGenerator(seed: 6)
        var zeroColumn = rng.matrix(4, 4)
        for i in 0..<4 { zeroColumn[i, 1] = 0 }
        XCTAssertThrowsError(try zeroColumn.solve(rng.matrix(4, 1))) {
            XCTAssertEqual($0 as? LinearAlgebraError, .singular(info: 2))
        }
        let indefinite = Matrix(rows: 2, cols: 2, storage: [1, 2, 2, 1])   // eigenvalues 3, −1
        XCTAssertThrowsError(try indefinite.solveSymmetricPositiveDefinite(.identity(2))) {
            XCTAssertEqual($0 as? LinearAlgebraError, .notPositiveDefinite(info: 2))
        }
        XCTAssertNoThrow(try indefinite.solve(.identity(2)), "indefinite but nonsingular: LU works")
    }

    func testDimensionMismatchAndNonFiniteThrow() {
        var rng = TestGenerator(seed: 8)
        let wide = rng.matrix(3, 5), square = rng.matrix(4, 4)
        func assertMismatch(_ body: @autoclosure () throws -> Any, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { error in
                guard case .dimensionMismatch(let what)? = error as? LinearAlgebraError else {
                    return XCTFail("expected dimensionMismatch, got \(error)", line: line)
                }
                XCTAssertFalse(what.isEmpty, line: line)
            }
        }
        assertMismatch(try wide.qr())
        assertMismatch(try wide.solve(rng.matrix(3, 1)))
        assertMismatch(try square.solve(rng.matrix(3, 1)))
        assertMismatch(try wide.solveSymmetricPositiveDefinite(rng.matrix(3, 1)))
        assertMismatch(try square.solveSymmetricPositiveDefinite(rng.matrix(5, 2)))
        var bad = square
        bad[2, 3] = .nan
        XCTAssertThrowsError(try bad.svd()) { XCTAssertEqual($0 as? LinearAlgebraError, .nonFinite("svd")) }
        bad[2, 3] = .infinity
        XCTAssertThrowsError(try bad.qr()) { XCTAssertEqual($0 as? LinearAlgebraError, .nonFinite("qr")) }
        XCTAssertThrowsError(try square.solve(bad)) { XCTAssertEqual($0 as? LinearAlgebraError, .nonFinite("solve")) }
    }

    func testEmptyShapesAndErrorDescriptions() throws {
        let (q, r) = try Matrix.zeros(rows: 3, cols: 0).qr()
        XCTAssertEqual([q.rows, q.cols, r.rows, r.cols], [3, 0, 0, 0])
        let svd = try Matrix.zeros(rows: 0, cols: 4).svd()
        XCTAssertEqual([svd.u.rows, svd.u.cols, svd.singularValues.count, svd.vt.rows, svd.vt.cols], [0, 0, 0, 0, 4])
        XCTAssertEqual(try Matrix.identity(3).solve(.zeros(rows: 3, cols: 0)), .zeros(rows: 3, cols: 0))
        XCTAssertTrue(LinearAlgebraError.singular(info: 3).description.contains("singular"))
        XCTAssertTrue(LinearAlgebraError.lapack(routine: "sgesdd", info: -4).description.contains("argument 4"))
        XCTAssertTrue(LinearAlgebraError.dimensionMismatch("2×3 vs 4×1").description.contains("2×3 vs 4×1"))
        XCTAssertTrue(LinearAlgebraError.didNotConverge(info: 1).description.contains("converge"))
    }
}
