@testable import Codec
import LoRA
import XCTest

final class TopKTests: XCTestCase {
    /// Against a full sort with (score desc, index asc) over random arrays with many ties.
    func testAgainstSortReference() {
        var f = AdapterFactory(seed: 11)
        for trial in 0..<300 {
            let n = f.int(1...2000)
            let levels = [2, 10, 1000][trial % 3]
            let scores = (0..<n).map { _ in Float(f.int(0...levels)) }
            let k = f.int(0...n)
            let reference = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k).sorted()
            XCTAssertEqual(TopK.indices(of: scores, k: k), reference.map { UInt32($0) }, "trial \(trial)")
        }
    }

    /// The radix threshold against quickselect (the previous method) and the sort reference, on
    /// signed values with ±0, infinities, subnormals and ties; NaN falls back to quickselect.
    func testRadixThresholdAgreesWithQuickselect() {
        var f = AdapterFactory(seed: 12)
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .greatestFiniteMagnitude, 1, -1]
        for trial in 0..<300 {
            let n = f.int(2...3000)
            let scores: [Float] = (0..<n).map { _ in
                switch trial % 4 {
                case 0: return Float(f.int(-3...3))
                case 1: return specials[f.int(0...specials.count - 1)]
                case 2: return f.uniform() * Float(f.int(1...1000))
                default: return abs(f.uniform())
                }
            }
            let k = f.int(1...n - 1)
            let radix = scores.withUnsafeBufferPointer { TopK.radixThreshold($0, k: k) }
            let quick = scores.withUnsafeBufferPointer { TopK.quickselectThreshold($0, k: k) }
            XCTAssertNotNil(radix)
            XCTAssertEqual(radix?.0, quick.0, "trial \(trial)")
            XCTAssertEqual(radix?.1, quick.1, "trial \(trial)")
            let reference = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(k).sorted()
            XCTAssertEqual(TopK.indices(of: scores, k: k), reference.map { UInt32($0) }, "trial \(trial)")
        }
        let withNaN: [Float] = [3, .nan, 1, 2, 2]
        XCTAssertNil(withNaN.withUnsafeBufferPointer { TopK.radixThreshold($0, k: 2) })
        let quick = withNaN.withUnsafeBufferPointer { TopK.quickselectThreshold($0, k: 2) }
        var expected: [UInt32] = []
        var ties = 2 - quick.1
        for (i, s) in withNaN.enumerated() where s > quick.0 || (s == quick.0 && ties > 0) {
            if s == quick.0 { ties -= 1 }
            expected.append(UInt32(i))
        }
        XCTAssertEqual(TopK.indices(of: withNaN, k: 2), expected, "NaN: the quickselect path, as before")
        XCTAssertEqual(TopK.key(-0.0), TopK.key(0))
        XCTAssertEqual(TopK.value(ofKey: TopK.key(-2.5)), -2.5)
    }

    func testAllEqualKeepsTheLowestIndices() {
        XCTAssertEqual(TopK.indices(of: [Float](repeating: 1, count: 10), k: 3), [0, 1, 2])
    }

    /// ρ_m = clamp(α + γ(ln κ_m − mean ln κ), ρ_min, ρ_max), means per kind, small tensors dense.
    func testKurtosisRuleKeptCounts() {
        var f = AdapterFactory(seed: 5)
        let flat = (0..<4096).map { _ in abs(f.uniform()) }                     // κ ≈ 1.8
        let heavy = (0..<4096).map { _ in Float(pow(Double(abs(f.uniform())), 8)) } // heavy-tailed
        let small = (0..<100).map { _ in abs(f.uniform()) }
        let rule = SparsityRule(alpha: 0.9, adaptive: true)
        let kinds: [LoRAMatrix] = [.a, .a, .b, .a]
        let scores = [flat, heavy, flat, small]
        let k1 = log(ImportanceStatistics.kurtosis(flat)!), k2 = log(ImportanceStatistics.kurtosis(heavy)!)
        let mean = (k1 + k2) / 2
        let rho = rule.sparsities(kinds: kinds, scores: scores)
        XCTAssertEqual(rho[0], min(max(0.9 + 0.1 * (k1 - mean), 0.5), 0.99), accuracy: 1e-12)
        XCTAssertEqual(rho[1], min(max(0.9 + 0.1 * (k2 - mean), 0.5), 0.99), accuracy: 1e-12)
        XCTAssertGreaterThan(rho[1], rho[0], "more concentrated importance → sparser")
        XCTAssertEqual(rho[2], 0.9, accuracy: 1e-12, "alone in its kind: ρ = α")
        XCTAssertEqual(rho[3], 0, "small tensors stay dense")
        let counts = rule.keptCounts(kinds: kinds, scores: scores)
        XCTAssertEqual(counts[0], Int(((1 - rho[0]) * 4096).rounded()))
        XCTAssertEqual(counts[3], 100)
        XCTAssertEqual(SparsityRule(alpha: 0.9, adaptive: false).keptCounts(kinds: kinds, scores: scores), [410, 410, 410, 100])
        XCTAssertEqual(SparsityRule.kept(count: 5, sparsity: 0.99), 1, "at least one value")
    }
}
