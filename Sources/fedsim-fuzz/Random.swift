/// The fuzzer's own generator (SplitMix64): case `i` of target `t` with seed `s` is always the same
/// bytes, whatever ran before it, because every case starts its own stream from (s, t, i).
struct FuzzRandom {
    private var state: UInt64

    init(seed: UInt64, target: String, index: UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in target.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        state = FuzzRandom.mix(FuzzRandom.mix(seed ^ h) ^ index)
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n (n ≥ 1).
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    /// Uniform in the range.
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(UInt64(1) << 53) < p }
    /// One element of a non-empty array.
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    /// Small values much more often than large ones: 1, 2, 4 … up to `limit`.
    mutating func skewed(_ limit: Int) -> Int {
        let bits = below(max(1, (Int.bitWidth - limit.leadingZeroBitCount)))
        return min(limit, 1 + below(1 << bits))
    }
}

/// FNV-1a 64 of the bytes, as 16 hex digits: the name of a saved case.
func hashName(_ parts: [[UInt8]]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for part in parts {
        for byte in part { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        h = (h ^ 0xFF) &* 0x0000_0100_0000_01b3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
