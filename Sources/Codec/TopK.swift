import Foundation
import LoRA

/// Top-k selection in O(n) (a radix select for the threshold, then one pass), with ties broken by
/// the lower flat index so the result is deterministic.
public enum TopK {
    /// Sorted indices of the `k` largest `scores`; among equal scores the lower indices win.
    /// - Complexity: O(n).
    public static func indices(of scores: [Float], k: Int) -> [UInt32] {
        let n = scores.count
        guard k < n else { return (0..<n).map { UInt32($0) } }
        guard k > 0 else { return [] }
        let (threshold, greater) = kthLargest(scores, k: k)
        var ties = k - greater
        var out = [UInt32]()
        out.reserveCapacity(k)
        scores.withUnsafeBufferPointer { s in
            for i in 0..<n {
                let x = s[i]
                if x > threshold {
                    out.append(UInt32(i))
                } else if x == threshold && ties > 0 {
                    out.append(UInt32(i))
                    ties -= 1
                }
            }
        }
        return out
    }

    /// The threshold of `indices(of:k:)` (0 < k < n): the k-th largest score and how many scores lie
    /// strictly above it (radix select; quickselect when a score is NaN).
    static func kthLargest(_ scores: [Float], k: Int) -> (Float, Int) {
        scores.withUnsafeBufferPointer { s in radixThreshold(s, k: k) ?? quickselectThreshold(s, k: k) }
    }

    /// The k-th largest score and the count of scores above it, by quickselect on a copy.
    static func quickselectThreshold(_ scores: UnsafeBufferPointer<Float>, k: Int) -> (Float, Int) {
        var scratch = Array(scores)
        let threshold = scratch.withUnsafeMutableBufferPointer { select($0, rank: scores.count - k) }
        var greater = 0
        for s in scores where s > threshold { greater += 1 }
        return (threshold, greater)
    }

    /// An order-preserving key of a non-NaN float: a < b ⇔ key(a) < key(b), and −0 has +0's key
    /// (they compare equal).
    @inline(__always)
    static func key(_ x: Float) -> UInt32 {
        let bits = x == 0 ? 0 : x.bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    /// The float of a key (the inverse of `key`, +0 for zero).
    @inline(__always)
    static func value(ofKey key: UInt32) -> Float {
        Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
    }

    /// The k-th largest score (0 < k < n) and the count of scores above it, by a three-digit
    /// (11, 11, 10 bits) most-significant-first radix select on the keys: one pass over all
    /// scores, then passes over the candidates only. Nil when a score is NaN (the caller falls
    /// back to quickselect, whose order NaN does not have either).
    static func radixThreshold(_ scores: UnsafeBufferPointer<Float>, k: Int) -> (Float, Int)? {
        let n = scores.count
        var histogram = [Int](repeating: 0, count: 2048)
        var hasNaN = false
        let keys = [UInt32](unsafeUninitializedCapacity: n) { out, initialized in
            histogram.withUnsafeMutableBufferPointer { h in
                for i in 0..<n {
                    let x = scores[i]
                    if x.isNaN { hasNaN = true }
                    let key = Self.key(x)
                    out[i] = key
                    h[Int(key >> 21)] += 1
                }
            }
            initialized = n
        }
        if hasNaN { return nil }
        // Walks the histogram down from the top: the bucket holding the `need`-th largest key,
        // and how many of the wanted keys are still to be found inside it.
        func descend(_ h: [Int], need: Int) -> (bucket: Int, need: Int) {
            var remaining = need
            var bucket = h.count - 1
            while bucket > 0 && h[bucket] < remaining {
                remaining -= h[bucket]
                bucket -= 1
            }
            return (bucket, remaining)
        }
        let (top, need1) = descend(histogram, need: k)
        // Second digit, over the keys of the top bucket (collected as candidates).
        var candidates: [UInt32] = []
        candidates.reserveCapacity(Swift.min(n, 4 * (histogram[top] + 1)))
        var second = [Int](repeating: 0, count: 2048)
        keys.withUnsafeBufferPointer { ks in
            for key in ks where Int(key >> 21) == top {
                candidates.append(key)
                second[Int((key >> 10) & 0x7FF)] += 1
            }
        }
        let (middle, need2) = descend(second, need: need1)
        var third = [Int](repeating: 0, count: 1024)
        for key in candidates where Int((key >> 10) & 0x7FF) == middle { third[Int(key & 0x3FF)] += 1 }
        let (low, need3) = descend(third, need: need2)
        let thresholdKey = UInt32(top) << 21 | UInt32(middle) << 10 | UInt32(low)
        // Keys above the threshold: k minus the ties still wanted at the last digit.
        return (value(ofKey: thresholdKey), k - need3)
    }

    /// The value that would sit at position `rank` if `values` were sorted ascending (values are
    /// permuted). Hoare partitioning around a median of three; switches to sorting small ranges.
    static func select(_ values: UnsafeMutableBufferPointer<Float>, rank: Int) -> Float {
        var lo = 0, hi = values.count - 1
        while hi - lo > 16 {
            let mid = lo + (hi - lo) / 2
            // Median of three as the pivot value.
            let a = values[lo], b = values[mid], c = values[hi]
            let pivot = max(min(a, b), min(max(a, b), c))
            var i = lo, j = hi
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j {
                    values.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if rank <= j { hi = j } else if rank >= i { lo = i } else { return values[rank] }
        }
        // Small range: insertion sort.
        if lo < hi {
            for x in (lo + 1)...hi {
                let v = values[x]
                var y = x - 1
                while y >= lo && values[y] > v {
                    values[y + 1] = values[y]
                    y -= 1
                }
                values[y + 1] = v
            }
        }
        return values[rank]
    }
}

/// Statistics of importance scores used by the adaptive sparsity rule.
public enum ImportanceStatistics {
    /// Pearson kurtosis E[(x−μ)⁴]/σ⁴ (not excess; 3 for a normal), or nil when σ = 0.
    public static func kurtosis(_ values: [Float]) -> Double? {
        guard values.count > 1 else { return nil }
        var mean = 0.0
        for v in values { mean += Double(v) }
        mean /= Double(values.count)
        var m2 = 0.0, m4 = 0.0
        for v in values {
            let d = Double(v) - mean
            let d2 = d * d
            m2 += d2
            m4 += d2 * d2
        }
        m2 /= Double(values.count)
        m4 /= Double(values.count)
        guard m2 > 0, m2.isFinite, m4.isFinite else { return nil }
        return m4 / (m2 * m2)
    }
}

/// Which matrices one application of the sparsity rule sees [ours]: all matrices of a kind in the
/// message at once (`crossLayer`: the allocation — one threshold, or the kurtosis rule's mean and
/// budget — runs over them, so budget moves between layers), or each matrix alone (`perLayer`: every
/// layer keeps its own budget, ρ = α; a rule that compares matrices has nothing to compare with).
public enum RuleScope: String, Sendable, Equatable, Codable, CaseIterable {
    case crossLayer = "cross-layer"
    case perLayer = "per-layer"
}

/// How the kept entries of a message are shared among its matrices of one kind (A or B) [ours; the
/// paper's is `kurtosis`]: `fixed`, ρ = α for every matrix; `kurtosis`, the paper's rule on each
/// matrix's importance kurtosis; `threshold`, one importance threshold for all of them — the kind's
/// top Σ kept(n_m, α) entries by importance across the message, so an entry is kept for what it adds
/// to ΔW, wherever it is (the sum of the dropped importances², a first-order proxy of ‖ΔW − ΔW̃‖², is
/// the smallest any split of that count can give).
public enum SparsityAllocation: String, Sendable, Equatable, Codable, CaseIterable {
    case fixed
    case kurtosis
    case threshold

    /// Whether the matrices' budgets differ (false: ρ = α everywhere), the older `adaptive` key;
    /// setting it true on `fixed` picks the kurtosis rule, and leaves any other allocation as it is.
    public var isAdaptive: Bool {
        get { self != .fixed }
        set { self = newValue ? (self == .fixed ? .kurtosis : self) : .fixed }
    }
}

/// What the kurtosis rule holds fixed [ours]: `exact` keeps the kept *count* of each kind (A or B) at
/// what ρ = α would keep — the rule only moves entries between matrices, so the bytes match the fixed
/// rule's up to the indices' own overhead, even where ρ_max clamps at high α; `mean` is the paper's
/// normalisation (the unweighted mean of ρ is α before clamping, so clamping and unequal sizes move the
/// kept fraction: at α = 0.99 it kept 2.55% instead of 1%).
public enum SparsityBudget: String, Sendable, Equatable, Codable, CaseIterable {
    case exact
    case mean
}

/// How many entries each matrix of a message keeps (docs/FEDSRD.md): each kind (A or B) keeps
/// K = Σ kept(n_m, α) in all, shared by `allocation` over the matrices `scope` lets it compare —
/// one importance threshold (`threshold`), ρ = α each (`fixed`), or the kurtosis rule of FedSRD,
/// ρ_m = clamp(α + γ·(ln κ_m − mean ln κ) + c, ρ_lo, ρ_hi), mean over the sparsified matrices of the
/// kind, bounds [min(ρ_min, α), max(ρ_max, α)] (so ρ = α is always allowed), the shift c chosen per
/// kind so that no more than K are kept (`budget: .exact`; c = 0 for `.mean`, the paper's normalisation).
public struct SparsityRule: Sendable, Equatable {
    /// α: the target average sparsity.
    public var alpha: Double
    /// How the kept entries are shared among the matrices.
    public var allocation: SparsityAllocation
    /// `allocation.isAdaptive`.
    public var adaptive: Bool {
        get { allocation.isAdaptive }
        set { allocation.isAdaptive = newValue }
    }
    /// γ, ρ_min, ρ_max of the rule.
    public var gamma: Double
    public var rhoMin: Double
    public var rhoMax: Double
    /// Tensors with fewer entries are sent dense.
    public var minSparseEntries: Int
    /// Which matrices the rule compares.
    public var scope: RuleScope
    /// What the kurtosis rule holds fixed.
    public var budget: SparsityBudget

    /// Creates a rule (`adaptive`: the kurtosis rule, else fixed).
    public init(alpha: Double, adaptive: Bool, gamma: Double = 0.1, rhoMin: Double = 0.5, rhoMax: Double = 0.99, minSparseEntries: Int = 1024,
                scope: RuleScope = .crossLayer, budget: SparsityBudget = .exact) {
        self.init(alpha: alpha, allocation: adaptive ? .kurtosis : .fixed, gamma: gamma, rhoMin: rhoMin, rhoMax: rhoMax,
                  minSparseEntries: minSparseEntries, scope: scope, budget: budget)
    }

    /// Creates a rule.
    public init(alpha: Double, allocation: SparsityAllocation, gamma: Double = 0.1, rhoMin: Double = 0.5, rhoMax: Double = 0.99,
                minSparseEntries: Int = 1024, scope: RuleScope = .crossLayer, budget: SparsityBudget = .exact) {
        self.alpha = alpha
        self.allocation = allocation
        self.gamma = gamma
        self.rhoMin = rhoMin
        self.rhoMax = rhoMax
        self.minSparseEntries = minSparseEntries
        self.scope = scope
        self.budget = budget
    }

    /// Values kept of `count` at sparsity ρ: max(1, round((1 − ρ)·count)).
    public static func kept(count: Int, sparsity rho: Double) -> Int {
        min(count, max(1, Int(((1 - rho) * Double(count)).rounded())))
    }

    /// The range ρ is clamped to: [min(ρ_min, α), max(ρ_max, α)].
    public var bounds: ClosedRange<Double> { min(rhoMin, alpha)...max(rhoMax, alpha) }

    /// The kurtosis rule's sparsity of each tensor (0 for small, dense tensors; α for every sparse one
    /// when the allocation is not `kurtosis` or the scope is per layer).
    public func sparsities(kinds: [LoRAMatrix], scores: [[Float]]) -> [Double] {
        let sparse = scores.map { $0.count >= minSparseEntries }
        guard allocation == .kurtosis, scope == .crossLayer else { return sparse.map { $0 ? alpha : 0 } }
        let logKurtosis: [Double?] = zip(scores, sparse).map { s, isSparse in
            isSparse ? ImportanceStatistics.kurtosis(s).map { log($0) } : nil
        }
        var sums: [LoRAMatrix: (Double, Int)] = [:]
        for (kind, lk) in zip(kinds, logKurtosis) {
            if let lk { sums[kind, default: (0, 0)].0 += lk; sums[kind, default: (0, 0)].1 += 1 }
        }
        // γ·(ln κ_m − mean ln κ) of each matrix the rule moves (nil: dense, or κ undefined → ρ = α).
        let deviation: [Double?] = zip(kinds, logKurtosis).map { kind, lk in
            guard let lk, let (sum, n) = sums[kind] else { return nil }
            return gamma * (lk - sum / Double(n))
        }
        var shift: [LoRAMatrix: Double] = [:]
        if budget == .exact {
            for kind in sums.keys {
                let members = kinds.indices.filter { kinds[$0] == kind && deviation[$0] != nil }
                shift[kind] = budgetShift(counts: members.map { scores[$0].count }, deviations: members.compactMap { deviation[$0] })
            }
        }
        let range = bounds
        return kinds.indices.map { m in
            guard sparse[m] else { return 0 }
            guard let d = deviation[m] else { return alpha }
            return min(max(alpha + d + (shift[kinds[m]] ?? 0), range.lowerBound), range.upperBound)
        }
    }

    /// The smallest shift c with Σ kept(n_m, clamp(α + d_m + c)) ≤ Σ kept(n_m, α): the most entries the
    /// rule may keep without exceeding the fixed rule's count (bisection; the total falls as c grows,
    /// and at c = 1 every ρ sits at its upper bound ≥ α).
    func budgetShift(counts: [Int], deviations: [Double]) -> Double {
        let range = bounds
        let target = counts.reduce(0) { $0 + SparsityRule.kept(count: $1, sparsity: alpha) }
        func total(_ c: Double) -> Int {
            zip(counts, deviations).reduce(0) { sum, m in
                sum + SparsityRule.kept(count: m.0, sparsity: min(max(alpha + m.1 + c, range.lowerBound), range.upperBound))
            }
        }
        var low = -1.0, high = 1.0
        if total(low) <= target { return low }
        for _ in 0..<60 {
            let middle = (low + high) / 2
            if total(middle) <= target { high = middle } else { low = middle }
        }
        return high
    }

    /// Kept counts for each tensor (all of a small tensor).
    public func keptCounts(kinds: [LoRAMatrix], scores: [[Float]]) -> [Int] {
        if allocation == .threshold, scope == .crossLayer { return thresholdCounts(kinds: kinds, scores: scores) }
        return zip(sparsities(kinds: kinds, scores: scores), scores).map { rho, s in
            rho == 0 ? s.count : SparsityRule.kept(count: s.count, sparsity: rho)
        }
    }

    /// One threshold per kind: the kind's sparse matrices together keep their top Σ kept(n_m, α)
    /// entries by importance (ties to the earlier matrix, then the lower index, as `TopK`), at least
    /// one each; small tensors whole.
    func thresholdCounts(kinds: [LoRAMatrix], scores: [[Float]]) -> [Int] {
        var counts = scores.map { $0.count }
        for kind in Set(kinds) {
            let members = kinds.indices.filter { kinds[$0] == kind && scores[$0].count >= minSparseEntries }
            guard !members.isEmpty else { continue }
            let target = members.reduce(0) { $0 + SparsityRule.kept(count: scores[$1].count, sparsity: alpha) }
            var all: [Float] = []
            all.reserveCapacity(members.reduce(0) { $0 + scores[$1].count })
            for m in members { all += scores[m] }
            guard target < all.count else { continue }
            // What `TopK.indices(of: all, k: target)` keeps, counted per matrix without listing it:
            // everything above the threshold, and the ties at it in order until `target` is reached.
            let (threshold, greater) = TopK.kthLargest(all, k: target)
            var ties = target - greater
            for m in members {
                var kept = 0
                for x in scores[m] {
                    if x > threshold { kept += 1 } else if x == threshold && ties > 0 { kept += 1; ties -= 1 }
                }
                counts[m] = max(1, kept)
            }
        }
        return counts
    }
}
