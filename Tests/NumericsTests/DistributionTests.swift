import Foundation
import Numerics
import XCTest

/// Every family: the sample (GSL `gsl_ran_*`) against the exact CDF (GSL `gsl_cdf_*`) by a KS test,
/// the sample mean against the exact mean, and the quantile function against closed forms written
/// here independently of GSL (which catches swapped parameters, e.g. Weibull's scale and shape).
final class DistributionTests: XCTestCase {
    let n = 40_000

    func check(_ d: Distribution, _ label: String, seed: UInt64 = 1, file: StaticString = #filePath, line: UInt = #line) {
        let sampler = DistributionSampler(d)
        let stream = RandomStream(seed: seed, purpose: "test.\(label)")
        let xs = sampler.samples(n, stream)
        XCTAssertLessThan(ksStatistic(xs, cdf: d.cdf), ksCritical(n), "KS \(label)", file: file, line: line)
        // Mean within 5 standard errors (estimated from the sample).
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        if let exact = d.mean {
            XCTAssertEqual(mean, exact, accuracy: 5 * (variance / Double(n)).squareRoot() + 1e-12, "mean \(label)", file: file, line: line)
        }
        // quantile is the inverse of cdf.
        for p in [0.05, 0.25, 0.5, 0.75, 0.95] {
            XCTAssertEqual(d.cdf(d.quantile(p)), p, accuracy: 1e-6, "cdf(quantile(\(p))) \(label)", file: file, line: line)
        }
        let support = d.support
        XCTAssertTrue(xs.allSatisfy { $0 >= support.low && $0 <= support.high }, "support \(label)", file: file, line: line)
    }

    func testUniform() {
        let d = Distribution(.uniform(low: 2, high: 5))
        check(d, "uniform")
        XCTAssertEqual(d.quantile(0.3), 2.9, accuracy: 1e-12)
    }

    func testNormalAndTruncatedNormal() {
        let d = Distribution(.normal(mean: 20, sd: 10, low: nil, high: nil))
        check(d, "normal")
        // Φ via erfc, independent of GSL.
        XCTAssertEqual(d.cdf(27), 0.5 * erfc(-0.7 / 2.0.squareRoot()), accuracy: 1e-12)
        let t = Distribution(.normal(mean: 20, sd: 10, low: 0, high: nil))
        check(t, "truncated-normal")
        // Mean of N(μ,σ) truncated below at a: μ + σ φ(α)/(1 − Φ(α)), α = −2.
        let phi = exp(-2.0) / (2 * Double.pi).squareRoot()
        XCTAssertEqual(t.mean!, 20 + 10 * phi / (1 - 0.5 * erfc(2 / 2.0.squareRoot())), accuracy: 1e-9)
        // Far tail: truncated to [6σ, 7σ] still samples inside and matches its CDF.
        check(Distribution(.normal(mean: 0, sd: 1, low: 6, high: 7)), "tail-normal")
        check(Distribution(.normal(mean: 0, sd: 1, low: -1, high: 0.5)), "two-sided-normal")
    }

    func testLognormalBothForms() {
        let d = Distribution.lognormal(median: 10e6, p90: 40e6)
        check(d, "lognormal")
        XCTAssertEqual(d.quantile(0.5), 10e6, accuracy: 1e-3)
        XCTAssertEqual(d.quantile(0.9), 40e6, accuracy: 1e-2)
        guard case let .lognormal(mu, sigma) = d.kind else { return XCTFail() }
        XCTAssertEqual(d.mean!, exp(mu + sigma * sigma / 2), accuracy: 1e-6)
    }

    func testSplitLognormalFromP10MedianP90() throws {
        // The Starlink downlink percentiles of NETWORK-PROFILES.md.
        let json = #"{"dist": "lognormal", "p10": "22.81Mbps", "median": "116.77Mbps", "p90": "250.96Mbps"}"#
        let d = try Distribution.parse(Data(json.utf8), file: nil, baseDirectory: nil)
        guard case let .splitLognormal(mu, below, above) = d.kind else { return XCTFail("\(d.kind)") }
        XCTAssertEqual(below, log(116.77 / 22.81) / Distribution.z90, accuracy: 1e-12)
        XCTAssertEqual(above, log(250.96 / 116.77) / Distribution.z90, accuracy: 1e-12)
        XCTAssertEqual(d.quantile(0.1), 22.81e6, accuracy: 1e-3)
        XCTAssertEqual(d.quantile(0.5), 116.77e6, accuracy: 1e-3)
        XCTAssertEqual(d.quantile(0.9), 250.96e6, accuracy: 1e-3)
        XCTAssertEqual(d.cdf(d.quantile(0.3)), 0.3, accuracy: 1e-12)
        // Mean by numerical integration of the quantile function (midpoint rule on 10^6 cells).
        var sum = 0.0
        let n = 1_000_000
        for i in 0..<n { sum += d.quantile((Double(i) + 0.5) / Double(n)) }
        XCTAssertEqual(d.mean!, sum / Double(n), accuracy: 1e-4 * d.mean!)
        XCTAssertEqual(exp(mu), 116.77e6, accuracy: 1e-3)
        check(d, "split-lognormal")
        // The JSON form round-trips.
        let again = try Distribution(json: Node(d.json))
        XCTAssertEqual(again.quantile(0.1), d.quantile(0.1), accuracy: 1e-3)
        XCTAssertEqual(again.quantile(0.9), d.quantile(0.9), accuracy: 1e-3)
        // p10 above the median is refused at its key path.
        let bad = #"{"dist": "lognormal", "p10": "200Mbps", "median": "116.77Mbps", "p90": "250.96Mbps"}"#
        XCTAssertThrowsError(try Distribution.parse(Data(bad.utf8), file: nil, baseDirectory: nil)) { error in
            XCTAssertEqual((error as? InputError)?.keyPath, "p10")
        }
    }

    func testGammaWeibullParetoExponentialClosedForms() {
        let g = Distribution(.gamma(shape: 2.5, scale: 3))
        check(g, "gamma")
        XCTAssertEqual(g.mean!, 7.5, accuracy: 1e-12)
        // Gamma(1, θ) is Exp(θ).
        XCTAssertEqual(Distribution(.gamma(shape: 1, scale: 3)).quantile(0.7), -3 * log(0.3), accuracy: 1e-9)

        let w = Distribution(.weibull(shape: 1.5, scale: 4))
        check(w, "weibull")
        XCTAssertEqual(w.quantile(0.8), 4 * pow(-log(0.2), 1 / 1.5), accuracy: 1e-9)
        XCTAssertEqual(w.mean!, 4 * tgamma(1 + 1 / 1.5), accuracy: 1e-12)

        let p = Distribution(.pareto(shape: 3, scale: 2))
        check(p, "pareto")
        XCTAssertEqual(p.quantile(0.9), 2 * pow(0.1, -1 / 3.0), accuracy: 1e-9)
        XCTAssertEqual(p.mean!, 3.0, accuracy: 1e-12)
        XCTAssertNil(Distribution(.pareto(shape: 1, scale: 2)).mean)

        let e = Distribution(.exponential(mean: 0.08))
        check(e, "exponential")
        XCTAssertEqual(e.quantile(0.5), 0.08 * log(2), accuracy: 1e-12)
    }

    func testConstant() {
        let d = Distribution(.constant(7))
        let xs = DistributionSampler(d).samples(100, RandomStream(seed: 1, purpose: "c"))
        XCTAssertTrue(xs.allSatisfy { $0 == 7 })
        XCTAssertEqual(d.quantile(0.3), 7)
    }

    func testEmpiricalResampleWithWeights() {
        let table = EmpiricalTable(values: [1, 2, 3], weights: [1, 2, 7])
        let d = Distribution(.empirical(table))
        let xs = DistributionSampler(d).samples(n, RandomStream(seed: 2, purpose: "emp"))
        let share3 = Double(xs.filter { $0 == 3 }.count) / Double(n)
        XCTAssertEqual(share3, 0.7, accuracy: 5 * (0.21 / Double(n)).squareRoot())
        XCTAssertEqual(d.mean!, 1 * 0.1 + 2 * 0.2 + 3 * 0.7, accuracy: 1e-12)
        XCTAssertEqual(d.quantile(0.25), 2)
        XCTAssertEqual(d.cdf(2.5), 0.3, accuracy: 1e-12)
    }

    func testEmpiricalInterpolateMatchesNumpyQuantiles() {
        let d = Distribution(.empirical(EmpiricalTable(values: [10, 1, 4, 2], method: .interpolate)))
        // numpy.quantile([1,2,4,10], [0.5, 0.9]) = [3.0, 8.2]
        XCTAssertEqual(d.quantile(0.5), 3.0, accuracy: 1e-12)
        XCTAssertEqual(d.quantile(0.9), 8.2, accuracy: 1e-12)
        check(d, "interpolate")
    }

    func testMixture() {
        let d = Distribution(.mixture([
            .init(weight: 0.7, distribution: .lognormal(median: 20, p90: 60)),
            .init(weight: 0.3, distribution: Distribution(.normal(mean: 150, sd: 40, low: 1, high: nil))),
        ]))
        check(d, "mixture")
        let m1 = Distribution.lognormal(median: 20, p90: 60).mean!
        let m2 = Distribution(.normal(mean: 150, sd: 40, low: 1, high: nil)).mean!
        XCTAssertEqual(d.mean!, 0.7 * m1 + 0.3 * m2, accuracy: 1e-9)
    }

    func testSameStreamSameDraws() {
        let d = Distribution(.gamma(shape: 0.7, scale: 2))
        let a = DistributionSampler(d).samples(1000, RandomStream(seed: 4, purpose: "g"))
        let b = DistributionSampler(d).samples(1000, RandomStream(seed: 4, purpose: "g"))
        XCTAssertEqual(a, b)
    }
}

final class StudentTTests: XCTestCase {
    func testQuantilesMatchPublishedTables() {
        // Two-sided 95% critical values (NIST/SEMATECH e-Handbook, table of t).
        for (df, t) in [(1, 12.706), (2, 4.303), (9, 2.262), (30, 2.042), (100, 1.984)] {
            XCTAssertEqual(StudentT.quantile(0.975, degreesOfFreedom: df), t, accuracy: 5e-4, "df \(df)")
        }
        XCTAssertGreaterThan(StudentT.quantile(0.975, degreesOfFreedom: 40), 1.96, "not the normal quantile past 30")
    }
}
