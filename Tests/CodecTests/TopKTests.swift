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
