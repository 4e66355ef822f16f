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

    func testAdaptiveIsTheAllocationsOlderForm() {
        // Reading: only fixed is not adaptive. Setting true: fixed becomes kurtosis, others stay; false: fixed.
        XCTAssertEqual(SparsityAllocation.allCases.map(\.isAdaptive), [false, true, true])
        for allocation in SparsityAllocation.allCases {
            var on = allocation, off = allocation
            on.isAdaptive = true
            off.isAdaptive = false
            XCTAssertEqual(on, allocation == .fixed ? .kurtosis : allocation)
            XCTAssertEqual(off, .fixed)
            var options = CodecOptions()
            options.allocation = allocation
            options.adaptive = true
            XCTAssertEqual(options.allocation, on)
            var rule = SparsityRule(alpha: 0.9, allocation: allocation)
            rule.adaptive = false
            XCTAssertEqual(rule.allocation, .fixed)
        }
    }

    /// ρ_m = clamp(α + γ(ln κ_m − mean ln κ), ρ_min, ρ_max), means per kind, small tensors dense (the paper's normalisation).
    func testKurtosisRuleKeptCounts() {
        var f = AdapterFactory(seed: 5)
        let flat = (0..<4096).map { _ in abs(f.uniform()) }                     // κ ≈ 1.8
        let heavy = (0..<4096).map { _ in Float(pow(Double(abs(f.uniform())), 8)) } // heavy-tailed
        let small = (0..<100).map { _ in abs(f.uniform()) }
        let rule = SparsityRule(alpha: 0.9, adaptive: true, budget: .mean)
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

    /// Matrices of graded concentration: importance |u|^p with p from 1 (flat) to 12 (heavy), sizes varied.
    static func gradedScores(_ f: inout AdapterFactory, count: Int) -> [[Float]] {
        (0..<count).map { m in
            let power = 1 + 11 * Double(m) / Double(max(1, count - 1))
            return (0..<(2048 + 512 * (m % 5))).map { _ in Float(pow(Double(abs(f.uniform())), power)) }
        }
    }

    /// `budget: .exact`: each kind keeps at most what ρ = α keeps (and no fewer than that less one
    /// entry per matrix), at every α, while still moving budget to the flatter matrices; the paper's
    /// `.mean` overshoots at high α, where ρ_max clamps the sparse side only.
    func testExactBudgetHoldsTheFixedRulesCount() {
        var f = AdapterFactory(seed: 9)
        let scores = Self.gradedScores(&f, count: 12)
        let kinds = scores.indices.map { $0 % 2 == 0 ? LoRAMatrix.a : .b }
        for alpha in [0.0, 0.3, 0.5, 0.9, 0.95, 0.99, 0.995] {
            let fixed = SparsityRule(alpha: alpha, adaptive: false).keptCounts(kinds: kinds, scores: scores)
            let exact = SparsityRule(alpha: alpha, adaptive: true).keptCounts(kinds: kinds, scores: scores)
            for kind in [LoRAMatrix.a, .b] {
                let members = kinds.indices.filter { kinds[$0] == kind }
                let target = members.reduce(0) { $0 + fixed[$1] }, kept = members.reduce(0) { $0 + exact[$1] }
                XCTAssertLessThanOrEqual(kept, target, "α = \(alpha), \(kind)")
                XCTAssertGreaterThanOrEqual(kept, target - members.count, "α = \(alpha), \(kind): the budget is used")
            }
            if alpha > 0.5, alpha < 0.99 {
                // (At α ≤ ρ_min the lower bound is α itself, so holding the budget leaves every ρ at α.)
                XCTAssertGreaterThan(exact[0], exact[10], "α = \(alpha): flatter importance keeps more")
            }
        }
        // The paper's normalisation at α = 0.99 keeps more than 1% (ρ_max = 0.99 clamps only one side).
        let total = scores.reduce(0) { $0 + $1.count }
        let mean = SparsityRule(alpha: 0.99, adaptive: true, budget: .mean).keptCounts(kinds: kinds, scores: scores).reduce(0, +)
        XCTAssertGreaterThan(Double(mean) / Double(total), 0.015)
        let exact = SparsityRule(alpha: 0.99, adaptive: true).keptCounts(kinds: kinds, scores: scores).reduce(0, +)
        XCTAssertLessThanOrEqual(Double(exact) / Double(total), 0.0101)
    }

    /// `scope: .perLayer`: every matrix alone, so ρ = α whatever its kurtosis.
    func testPerLayerScopeIsTheFixedRule() {
        var f = AdapterFactory(seed: 4)
        let scores = Self.gradedScores(&f, count: 6)
        let kinds = scores.indices.map { $0 % 2 == 0 ? LoRAMatrix.a : .b }
        let perLayer = SparsityRule(alpha: 0.9, adaptive: true, scope: .perLayer)
        XCTAssertEqual(perLayer.keptCounts(kinds: kinds, scores: scores), SparsityRule(alpha: 0.9, adaptive: false).keptCounts(kinds: kinds, scores: scores))
        XCTAssertNotEqual(SparsityRule(alpha: 0.9, adaptive: true).keptCounts(kinds: kinds, scores: scores),
                          perLayer.keptCounts(kinds: kinds, scores: scores))
    }

    /// `allocation: .threshold`: each kind's sparse matrices together keep exactly the kind's top
    /// Σ kept(n_m, α) entries by importance (so the per-matrix top-k of those counts is the message's
    /// top-k), small tensors whole; per layer it is the fixed rule.
    func testThresholdAllocationKeepsTheMessagesTopEntries() {
        var f = AdapterFactory(seed: 21)
        var scores = Self.gradedScores(&f, count: 8)
        scores.append((0..<100).map { _ in abs(f.uniform()) })
        let kinds = scores.indices.map { $0 % 2 == 0 ? LoRAMatrix.a : .b }
        let rule = SparsityRule(alpha: 0.9, allocation: .threshold)
        let counts = rule.keptCounts(kinds: kinds, scores: scores)
        XCTAssertEqual(counts[8], 100, "small tensors stay dense")
        for kind in [LoRAMatrix.a, .b] {
            let members = kinds.indices.filter { kinds[$0] == kind && scores[$0].count >= 1024 }
            let target = members.reduce(0) { $0 + SparsityRule.kept(count: scores[$1].count, sparsity: 0.9) }
            XCTAssertEqual(members.reduce(0) { $0 + counts[$1] }, target, "\(kind)")
            // The entries kept matrix by matrix are the kind's top `target` overall.
            let all = members.flatMap { m in scores[m] }
            let threshold = all.sorted(by: >)[target - 1]
            for m in members {
                let kept = TopK.indices(of: scores[m], k: counts[m])
                XCTAssertTrue(kept.allSatisfy { scores[m][Int($0)] >= threshold }, "matrix \(m)")
                XCTAssertEqual(scores[m].filter { $0 > threshold }.count <= counts[m], true, "matrix \(m) keeps everything above the threshold")
            }
        }
        XCTAssertNotEqual(counts, SparsityRule(alpha: 0.9, adaptive: false).keptCounts(kinds: kinds, scores: scores), "budgets move between matrices")
        XCTAssertEqual(SparsityRule(alpha: 0.9, allocation: .threshold, scope: .perLayer).keptCounts(kinds: kinds, scores: scores),
                       SparsityRule(alpha: 0.9, adaptive: false).keptCounts(kinds: kinds, scores: scores))
    }
}
