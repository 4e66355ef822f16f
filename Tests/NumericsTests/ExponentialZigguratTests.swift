import CNumerics
import Numerics
import XCTest

/// The ziggurat exponential (`ExponentialZiggurat`) against the exponential law and against GSL's
/// own sampler (`gsl_ran_exponential`, what `RandomStream.exponential(mean:)` draws).
final class ExponentialZigguratTests: XCTestCase {
    static let n = 1_000_000

    func draws(_ n: Int, mean: Double = 1, seed: UInt64 = 5, algorithm: RandomStream.Algorithm = .mt19937) -> [Double] {
        let stream = RandomStream(seed: seed, purpose: "ziggurat", algorithm: algorithm)
        let zig = ExponentialZiggurat()
        return (0..<n).map { _ in zig.next(stream, mean: mean) }
    }

    /// The inlined mt19937 step returns exactly GSL's words, across block refills and interleaved
    /// with GSL's own calls on the same state.
    func testRawDrawsAreGSLs() {
        let a = RandomStream(seed: 9, purpose: "raw"), b = RandomStream(seed: 9, purpose: "raw")
        for i in 0..<5_000 {
            let x = i % 3 == 0 ? a.nextUInt32() : a.nextRaw32()
            XCTAssertEqual(x, b.nextUInt32(), "draw \(i)")
        }
        let t = RandomStream(seed: 9, purpose: "raw", algorithm: .taus2), u = RandomStream(seed: 9, purpose: "raw", algorithm: .taus2)
        for _ in 0..<1_000 { XCTAssertEqual(t.nextRaw32(), u.nextUInt32()) }
        let g = RandomStream(gslSeed: 4357)
        // A classically seeded stream (`gsl_rng_set`) too.
        let reference = RandomStream(gslSeed: 4357)
        for _ in 0..<2_000 { XCTAssertEqual(g.nextRaw32(), reference.nextUInt32()) }
    }

    /// The tables: every layer has area v, the top layer reaches f(0) = 1.
    func testLayersHaveEqualAreas() {
        let tables = ExponentialZiggurat.tables
        let v = ExponentialZiggurat.Tables.v, m = 16_777_216.0
        for i in 1..<256 {
            let width = tables.layers[i].width * m
            XCTAssertEqual(width * (tables.density[i - 1] - tables.density[i]), v, accuracy: 1e-9 * v * 256, "layer \(i)")
        }
        // The base strip: the rectangle under f(r) plus the tail e^{-r}.
        let r = ExponentialZiggurat.Tables.r
        XCTAssertEqual(r * exp(-r) + exp(-r), v, accuracy: 1e-12)
        XCTAssertEqual(tables.layers[0].width * m * exp(-r), v, accuracy: 1e-12)
    }

    func testKolmogorovSmirnovAgainstTheExponentialCDF() {
        let xs = draws(Self.n)
        XCTAssertLessThan(ksStatistic(xs, cdf: { 1 - exp(-max($0, 0)) }), ksCritical(xs.count))
        let taus = draws(200_000, algorithm: .taus2)
        XCTAssertLessThan(ksStatistic(taus, cdf: { 1 - exp(-max($0, 0)) }), ksCritical(taus.count), "taus2")
    }

    /// The test can fail: a sample of mean 1.01 is rejected against Exp(1), and so is GSL's sampler
    /// with the wrong mean in the two-sample test.
    func testKolmogorovSmirnovRejectsAWrongMean() {
        let xs = draws(Self.n, mean: 1.01)
        XCTAssertGreaterThan(ksStatistic(xs, cdf: { 1 - exp(-max($0, 0)) }), ksCritical(xs.count))
        let stream = RandomStream(seed: 6, purpose: "gsl")
        let gsl = (0..<Self.n).map { _ in stream.exponential(mean: 1.01) }
        XCTAssertGreaterThan(twoSampleKS(draws(Self.n), gsl), twoSampleCritical(Self.n, Self.n))
    }

    /// Same law as `gsl_ran_exponential` (two-sample KS, α = 0.001).
    func testAgreesWithGSLsSampler() {
        let stream = RandomStream(seed: 6, purpose: "gsl")
        let gsl = (0..<Self.n).map { _ in stream.exponential(mean: 2.5) }
        XCTAssertLessThan(twoSampleKS(draws(Self.n, mean: 2.5), gsl), twoSampleCritical(Self.n, Self.n))
    }

    func testMeanVarianceAndTail() {
        let xs = draws(Self.n)
        let n = Double(xs.count)
        let mean = xs.reduce(0, +) / n
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        // sd of the mean 1/√n; of the variance √(8/n) for Exp(1); 5 sd.
        XCTAssertEqual(mean, 1, accuracy: 5 / n.squareRoot())
        XCTAssertEqual(variance, 1, accuracy: 5 * (8 / n).squareRoot())
        XCTAssertTrue(xs.allSatisfy { $0 >= 0 && $0.isFinite })
        // The base layer's tail beyond r: P = e^{-r} (454 of 10⁶, sd 21), memoryless beyond r.
        let r = ExponentialZiggurat.Tables.r
        let tail = xs.filter { $0 > r }
        XCTAssertEqual(Double(tail.count), n * exp(-r), accuracy: 5 * (n * exp(-r)).squareRoot())
        let excess = tail.reduce(0) { $0 + ($1 - r) } / Double(tail.count)
        XCTAssertEqual(excess, 1, accuracy: 5 / Double(tail.count).squareRoot())
        let far = xs.filter { $0 > 10 }.count
        XCTAssertEqual(Double(far), n * exp(-10), accuracy: 5 * (n * exp(-10)).squareRoot() + 1)
        // Below the top layers (small x), the density is right too: P(X < 0.01) = 1 − e^{−0.01}.
        let small = Double(xs.filter { $0 < 0.01 }.count)
        let p = 1 - exp(-0.01)
        XCTAssertEqual(small, n * p, accuracy: 5 * (n * p * (1 - p)).squareRoot())
    }

    func testMeanScalesAndSeedsAreDeterministic() {
        let one = draws(1_000, mean: 1, seed: 3), three = draws(1_000, mean: 3, seed: 3)
        for (a, b) in zip(one, three) { XCTAssertEqual(b, 3 * a, accuracy: 1e-12 * max(1, b)) }
        XCTAssertEqual(draws(1_000, seed: 3), one, "same seed, same draws")
        XCTAssertNotEqual(draws(1_000, seed: 4), one)
        // The convenience method draws the same values.
        let stream = RandomStream(seed: 3, purpose: "ziggurat")
        XCTAssertEqual((0..<1_000).map { _ in stream.exponentialZiggurat(mean: 1) }, one)
    }

    /// The GSL sampler the product uses is untouched: `exponential(mean:)` is still
    /// `gsl_ran_exponential` on the stream (value for value).
    func testProductSamplerUnchanged() {
        let a = RandomStream(seed: 8, purpose: "p"), b = RandomStream(seed: 8, purpose: "p")
        for _ in 0..<1_000 {
            let expected = -2 * log1p(-b.uniform())
            XCTAssertEqual(a.exponential(mean: 2), expected)
        }
    }
}

/// The two-sample Kolmogorov–Smirnov statistic.
func twoSampleKS(_ a: [Double], _ b: [Double]) -> Double {
    let x = a.sorted(), y = b.sorted()
    var i = 0, j = 0, d = 0.0
    while i < x.count && j < y.count {
        let t = min(x[i], y[j])
        while i < x.count && x[i] <= t { i += 1 }
        while j < y.count && y[j] <= t { j += 1 }
        d = max(d, abs(Double(i) / Double(x.count) - Double(j) / Double(y.count)))
    }
    return d
}

/// Its critical value at α = 0.001 (asymptotic 1.949·√((n + m)/(n·m))).
func twoSampleCritical(_ n: Int, _ m: Int) -> Double { 1.949 * (Double(n + m) / Double(n * m)).squareRoot() }
