import CNumerics

/// A seeded GSL generator: the only source of randomness in FedSim.
///
/// A stream owns its C generator, so it is a class (identity matters: two owners of one stream
/// would interleave draws). Create one per purpose, or per purpose and client, from a `StreamKey`.
public final class RandomStream {
    /// The GSL generator algorithms FedSim offers.
    public enum Algorithm: String, Sendable, CaseIterable {
        /// Mersenne Twister (GSL `mt19937`): the default; 2.5 KB of state.
        case mt19937
        /// Tausworthe (GSL `taus2`): 24 bytes of state, for millions of per-client streams.
        case taus2
    }

    /// The key this stream was derived from.
    public let key: StreamKey
    /// The algorithm behind the stream.
    public let algorithm: Algorithm
    /// The GSL generator; valid for the stream's lifetime. Only `Numerics` touches it (and its
    /// inlinable code, `ExponentialZiggurat`).
    @usableFromInline let rng: UnsafeMutablePointer<gsl_rng>

    /// Creates the stream for `key`, filling the generator's whole state from the derived key.
    /// - Complexity: O(state size): 624 words for mt19937, 3 for taus2.
    public init(_ key: StreamKey, algorithm: Algorithm = .mt19937) {
        GSLRuntime.ensureConfigured()
        self.key = key
        self.algorithm = algorithm
        switch algorithm {
        case .mt19937:
            guard let r = gsl_rng_alloc(fedsim_rng_mt19937()) else { fatalError("gsl_rng_alloc: out of memory") }
            rng = r
            precondition(gsl_rng_size(r) == MemoryLayout<fedsim_mt_state>.size, "GSL's mt19937 state layout changed")
            var words = [UInt32](repeating: 0, count: 624)
            RandomStream.fill(&words, from: key.derivedKey)
            words.withUnsafeBufferPointer { fedsim_mt19937_set_state(rng, $0.baseAddress) }
        case .taus2:
            guard let r = gsl_rng_alloc(fedsim_rng_taus2()) else { fatalError("gsl_rng_alloc: out of memory") }
            rng = r
            precondition(gsl_rng_size(r) == MemoryLayout<fedsim_taus_state>.size, "GSL's taus2 state layout changed")
            var words = [UInt32](repeating: 0, count: 3)
            RandomStream.fill(&words, from: key.derivedKey)
            words.withUnsafeBufferPointer { fedsim_taus2_set_state(rng, $0.baseAddress) }
        }
    }

    /// Convenience for `RandomStream(StreamKey(seed:purpose:index:))`.
    public convenience init(seed: UInt64, purpose: String, index: UInt64 = 0, algorithm: Algorithm = .mt19937) {
        self.init(StreamKey(seed: seed, purpose: purpose, index: index), algorithm: algorithm)
    }

    /// A stream seeded the classic GSL way (`gsl_rng_set`), for cross-checks against GSL's documentation.
    public init(gslSeed: UInt, algorithm: Algorithm = .mt19937) {
        GSLRuntime.ensureConfigured()
        key = StreamKey(seed: UInt64(gslSeed), purpose: "gsl_rng_set")
        self.algorithm = algorithm
        let type = algorithm == .mt19937 ? fedsim_rng_mt19937() : fedsim_rng_taus2()
        guard let r = gsl_rng_alloc(type) else { fatalError("gsl_rng_alloc: out of memory") }
        rng = r
        gsl_rng_set(rng, gslSeed)
    }

    deinit { gsl_rng_free(rng) }

    private static func fill(_ words: inout [UInt32], from derivedKey: UInt64) {
        var expander = SplitMix64(seed: derivedKey)
        var i = 0
        while i < words.count {
            let v = expander.next()
            words[i] = UInt32(truncatingIfNeeded: v)
            if i + 1 < words.count { words[i + 1] = UInt32(truncatingIfNeeded: v >> 32) }
            i += 2
        }
    }

    /// A raw 32-bit draw (GSL's `gsl_rng_get`).
    @inlinable public func nextUInt32() -> UInt32 { UInt32(truncatingIfNeeded: rawGet()) }

    @usableFromInline func rawGet() -> UInt { gsl_rng_get(rng) }

    /// A raw 32-bit draw for hot loops, inlined into the caller: the same value as `nextUInt32()`
    /// (and the same generator state afterwards), so the two may be interleaved. For mt19937 it is
    /// GSL's step on GSL's state without its mispredicted branch (`fedsim_mt19937_get32`);
    /// for taus2, `gsl_rng_get` through the generator's function pointer.
    @inlinable @inline(__always)
    public func nextRaw32() -> UInt32 {
        algorithm == .mt19937 ? fedsim_mt19937_get32(rng) : fedsim_rng_get32(rng)
    }

    /// A uniform draw in [0, 1) (`gsl_rng_uniform`).
    public func uniform() -> Double { gsl_rng_uniform(rng) }

    /// A uniform draw in (0, 1) (`gsl_rng_uniform_pos`).
    public func uniformPositive() -> Double { gsl_rng_uniform_pos(rng) }

    /// A uniform integer in [0, n) (`gsl_rng_uniform_int`); `n` must be in 1...2^32.
    public func uniformInt(below n: Int) -> Int {
        precondition(n > 0 && UInt64(n) <= UInt64(UInt32.max) + 1, "uniformInt(below:) needs 0 < n <= 2^32")
        return Int(gsl_rng_uniform_int(rng, UInt(n)))
    }

    /// An exponential draw with the given mean (`gsl_ran_exponential`).
    public func exponential(mean: Double) -> Double { gsl_ran_exponential(rng, mean) }

    /// A standard normal draw (`gsl_ran_gaussian_ziggurat` with σ = 1).
    public func standardNormal() -> Double { gsl_ran_gaussian_ziggurat(rng, 1) }

    /// A Bernoulli trial with success probability `p`.
    /// A draw from the Dirichlet distribution with parameters `alpha` (`gsl_ran_dirichlet`): positive
    /// weights summing to 1.
    public func dirichlet(_ alpha: [Double]) -> [Double] {
        var theta = [Double](repeating: 0, count: alpha.count)
        alpha.withUnsafeBufferPointer { a in
            theta.withUnsafeMutableBufferPointer { t in gsl_ran_dirichlet(rng, alpha.count, a.baseAddress, t.baseAddress) }
        }
        return theta
    }

    public func bernoulli(_ p: Double) -> Bool { gsl_rng_uniform(rng) < p }

    /// Shuffles `values` in place (Fisher–Yates driven by this stream).
    /// - Complexity: O(n).
    public func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            let j = uniformInt(below: i + 1)
            if i != j { values.swapAt(i, j) }
        }
    }

    /// Chooses `k` distinct indices from 0..<n uniformly, in increasing order (selection sampling).
    /// - Complexity: O(n).
    public func choose(_ k: Int, from n: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "choose(k, from: n) needs 0 <= k <= n")
        var out: [Int] = []
        out.reserveCapacity(k)
        var needed = k
        for i in 0..<n where needed > 0 {
            if Double(needed) > gsl_rng_uniform(rng) * Double(n - i) {
                out.append(i)
                needed -= 1
            }
        }
        return out
    }
}
