/// The identity of one random stream: (scenario seed, purpose, index).
///
/// Derivation (documented in docs/RANDOM-STREAMS.md and fixed: changing it changes every result):
/// 1. `purposeHash = FNV-1a-64(UTF-8 bytes of purpose)`.
/// 2. `key = mix(mix(mix(seed) ^ purposeHash) ^ index)`, where `mix` is SplitMix64's finaliser
///    applied to `x + 0x9E3779B97F4A7C15`.
/// 3. The generator's whole state is filled from a SplitMix64 sequence started at `key`
///    (624 words for mt19937, 3 for taus2).
///
/// Each stream depends only on its own triple, so adding a client (a new index) or a purpose
/// never shifts the draws of another stream.
public struct StreamKey: Hashable, Sendable, CustomStringConvertible {
    /// The scenario seed.
    public var seed: UInt64
    /// What the stream is for, e.g. `"population.downlink"` or `"dropout"`.
    public var purpose: String
    /// Which member of the family, e.g. a client or a round number.
    public var index: UInt64

    /// Creates the key of stream `index` of `purpose` under `seed`.
    public init(seed: UInt64, purpose: String, index: UInt64 = 0) {
        self.seed = seed
        self.purpose = purpose
        self.index = index
    }

    /// The 64-bit value every state word is derived from.
    public var derivedKey: UInt64 {
        var x = SplitMix64.mix(seed &+ SplitMix64.gamma)
        x = SplitMix64.mix((x ^ StreamKey.fnv1a64(purpose)) &+ SplitMix64.gamma)
        return SplitMix64.mix((x ^ index) &+ SplitMix64.gamma)
    }

    /// FNV-1a, 64-bit, over the UTF-8 bytes of `text`.
    public static func fnv1a64(_ text: String) -> UInt64 { fnv1a64(text.utf8) }

    /// FNV-1a's offset basis, where a hash starts.
    public static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325

    /// FNV-1a, 64-bit, one step per value (its bits, zero-extended: a byte of text, a float's bit
    /// pattern), continuing from `hash` (so several sequences hash as one).
    @inlinable
    public static func fnv1a64<S: Sequence>(_ values: S, continuing hash: UInt64 = fnvOffsetBasis) -> UInt64 where S.Element: UnsignedInteger & FixedWidthInteger {
        var h = hash
        for value in values { h = (h ^ UInt64(truncatingIfNeeded: value)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    public var description: String { "\(purpose)#\(index)@seed\(seed)" }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny generator used only to expand a 64-bit key into
/// generator state words.
public struct SplitMix64: Sendable {
    /// The golden-ratio increment.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// The current state.
    public private(set) var state: UInt64

    /// Starts a sequence at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The finaliser: a bijective avalanche mix of 64 bits.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64-bit value.
    public mutating func next() -> UInt64 {
        state &+= SplitMix64.gamma
        return SplitMix64.mix(state)
    }
}

extension StreamKey {
    /// Draw number `counter` of this key as a counter-based uniform in (0, 1): 53 bits of
    /// `mix(mix(derivedKey + counter·γ))`. Stateless, so any draw can be made in any order — used
    /// where a value must be the same whatever happened before it (a client's dropout in a round,
    /// shared by every arm: common random numbers). Documented in docs/RANDOM-STREAMS.md.
    @inlinable
    public func uniform(at counter: UInt64) -> Double {
        StreamKey.uniform(key: derivedKey, counter: counter)
    }

    /// `uniform(at:)` for a precomputed `derivedKey` (hot loops derive the key once).
    @inlinable
    public static func uniform(key: UInt64, counter: UInt64) -> Double {
        let bits = SplitMix64.mix(SplitMix64.mix(key &+ counter &* SplitMix64.gamma) &+ SplitMix64.gamma)
        return (Double(bits >> 11) + 0.5) * 0x1p-53
    }
}
