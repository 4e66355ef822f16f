import Foundation

/// Physical quantities in user input: one scheme everywhere.
///
/// A quantity is written either as a string with a unit suffix (`"10Mbps"`, `"80ms"`, `"16MB"`,
/// `"30TFLOPS"`, `"8%"`) or as a bare number in the dimension's base unit (bit/s, seconds, bytes,
/// FLOP/s, FLOP, or a plain number). Decimal prefixes are powers of 1000; `KiB`, `MiB`, `GiB`,
/// `TiB` are powers of 1024. Internally every value is held in its base unit.
public enum Quantity {
    /// What a number measures.
    public enum Dimension: String, Sendable, CaseIterable, Codable {
        case bitRate = "bit-rate"
        case duration
        case bytes
        case flopRate = "flop-rate"
        case flops
        case dimensionless

        /// The unit a bare number is taken in.
        public var baseUnit: String {
            switch self {
            case .bitRate: return "bps"
            case .duration: return "s"
            case .bytes: return "B"
            case .flopRate: return "FLOPS"
            case .flops: return "FLOP"
            case .dimensionless: return ""
            }
        }

        /// An example string, used in error messages.
        public var example: String {
            switch self {
            case .bitRate: return "\"10Mbps\""
            case .duration: return "\"80ms\""
            case .bytes: return "\"16MB\""
            case .flopRate: return "\"30TFLOPS\""
            case .flops: return "\"2TFLOP\""
            case .dimensionless: return "a number"
            }
        }

        /// Accepted suffixes and their factors to the base unit, longest first for parsing.
        var units: [(suffix: String, factor: Double)] {
            switch self {
            case .bitRate:
                return [("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3), ("Kbps", 1e3), ("bps", 1),
                        ("TB/s", 8e12), ("GB/s", 8e9), ("MB/s", 8e6), ("kB/s", 8e3), ("KB/s", 8e3), ("B/s", 8)]
            case .duration:
                return [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("min", 60), ("s", 1), ("h", 3600), ("d", 86400)]
            case .bytes:
                return [("TiB", 1_099_511_627_776), ("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024),
                        ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("KB", 1e3), ("B", 1)]
            case .flopRate:
                return [("PFLOPS", 1e15), ("TFLOPS", 1e12), ("GFLOPS", 1e9), ("MFLOPS", 1e6), ("kFLOPS", 1e3), ("FLOPS", 1)]
            case .flops:
                return [("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3), ("FLOP", 1)]
            case .dimensionless:
                return [("%", 0.01)]
            }
        }

        /// The accepted unit suffixes (case-sensitive), e.g. for the scenario schema's patterns.
        public var suffixes: [String] { units.map(\.suffix) }

        /// The accepted unit spellings, for messages.
        public var unitList: String {
            switch self {
            case .bitRate: return "bps, kbps, Mbps, Gbps, Tbps for bits per second; B/s, kB/s, MB/s, GB/s, TB/s for bytes per second"
            case .duration: return "ns, us, µs, ms, s, min, h, d"
            case .bytes: return "B, kB, MB, GB, TB; KiB, MiB, GiB, TiB"
            case .flopRate: return "FLOPS, kFLOPS, MFLOPS, GFLOPS, TFLOPS, PFLOPS"
            case .flops: return "FLOP, kFLOP, MFLOP, GFLOP, TFLOP, PFLOP"
            case .dimensionless: return "%"
            }
        }

        /// Units used when printing, largest first.
        var displayUnits: [(suffix: String, factor: Double)] {
            switch self {
            case .bitRate: return [("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3), ("bps", 1)]
            case .duration: return [("s", 1), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)]
            case .bytes: return [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1)]
            case .flopRate: return [("PFLOPS", 1e15), ("TFLOPS", 1e12), ("GFLOPS", 1e9), ("MFLOPS", 1e6), ("FLOPS", 1)]
            case .flops: return [("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("FLOP", 1)]
            case .dimensionless: return []
            }
        }
    }

    /// Splits `"12.5Mbps"` into its number and unit suffix (suffix may be empty).
    static func split(_ text: String) -> (number: Double, suffix: String)? {
        let trimmed = text.trimmingCharactersInWhitespace()
        var end = trimmed.startIndex
        for index in trimmed.indices {
            let c = trimmed[index]
            if c.isNumber || c == "." || c == "-" || c == "+" || ((c == "e" || c == "E") && index != trimmed.startIndex && trimmed[trimmed.index(after: index)...].first.map { $0.isNumber || $0 == "-" || $0 == "+" } == true) {
                end = trimmed.index(after: index)
            } else {
                break
            }
        }
        guard end != trimmed.startIndex, let number = Double(trimmed[..<end]) else { return nil }
        return (number, trimmed[end...].trimmingCharactersInWhitespace())
    }

    /// The value of `text` in the base unit of `dimension`, or nil when it is not a quantity of that
    /// dimension. Units are case-sensitive (`MB` megabytes, `Mb` is rejected; `ms`, not `Ms`); a
    /// string without a unit is a number in the base unit (callers that need a unit check
    /// `hasUnit`).
    public static func parse(_ text: String, as dimension: Dimension) -> Double? {
        guard let (number, suffix) = split(text), number.isFinite else { return nil }
        if suffix.isEmpty { return number }
        for unit in dimension.units where unit.suffix == suffix { return number * unit.factor }
        return nil
    }

    /// Whether `text` is a number followed by a (non-empty) unit suffix.
    public static func hasUnit(_ text: String) -> Bool {
        guard let (_, suffix) = split(text) else { return false }
        return !suffix.isEmpty
    }

    /// What a quantity of `dimension` (or of any dimension when nil) should look like, naming
    /// the valid spellings, and — when the unit of `text` differs only in case or spelling from
    /// valid ones — which it may have meant. For "expected …" in messages.
    public static func expectation(for text: String?, as dimension: Dimension?) -> String {
        var out: String
        if let dimension, dimension != .dimensionless {
            out = "a \(dimension.rawValue) with a unit (\(dimension.unitList); case-sensitive), e.g. \(dimension.example)"
        } else if dimension == .dimensionless {
            out = "a plain number or a percentage such as \"8%\""
        } else {
            out = "a quantity with a unit, e.g. \"10Mbps\", \"80ms\", \"16MB\", \"30TFLOPS\" (units are case-sensitive)"
        }
        if let text, let hint = unitHint(text, dimension) { out += "; " + hint }
        return out
    }

    /// "did you mean …" for a unit that is valid only in another case or spelling ("MBps", "Mb", "MS").
    static func unitHint(_ text: String, _ dimension: Dimension?) -> String? {
        guard let (_, suffix) = split(text), !suffix.isEmpty else { return nil }
        let dimensions = dimension.map { [$0] } ?? Dimension.allCases
        var candidates: [String] = []
        func add(_ s: String, _ d: Dimension) {
            let entry = "'\(s)' (\(d.rawValue))"
            if !candidates.contains(entry) { candidates.append(entry) }
        }
        // "MBps", "kBps": bytes per second are written "MB/s".
        if suffix.count > 3, suffix.hasSuffix("Bps") {
            let slashed = String(suffix.dropLast(3)) + "B/s"
            if dimensions.contains(.bitRate), Dimension.bitRate.units.contains(where: { $0.suffix == slashed }) { add(slashed, .bitRate) }
        }
        for d in dimensions {
            for unit in d.units where unit.suffix.lowercased() == suffix.lowercased() && unit.suffix != suffix { add(unit.suffix, d) }
        }
        // "Mb": megabits are a rate unit's prefix, not a size.
        if suffix.count >= 2, suffix.hasSuffix("b"), dimensions.contains(.bytes) || dimensions.contains(.bitRate) {
            let prefix = String(suffix.dropLast())
            if dimensions.contains(.bytes), Dimension.bytes.units.contains(where: { $0.suffix == prefix + "B" }) { add(prefix + "B", .bytes) }
            if dimensions.contains(.bitRate), Dimension.bitRate.units.contains(where: { $0.suffix == prefix + "bps" }) { add(prefix + "bps", .bitRate) }
        }
        guard !candidates.isEmpty else { return nil }
        return "'\(InputError.clipped(suffix, 40))' is not a unit; did you mean " + candidates.joined(separator: " or ") + "?"
    }

    /// The dimension whose units include the suffix of `text`, and the value in its base unit.
    /// A bare number gives `(nil, number)`.
    public static func parseAnyDimension(_ text: String) -> (dimension: Dimension?, value: Double)? {
        guard let (number, suffix) = split(text), number.isFinite else { return nil }
        if suffix.isEmpty { return (nil, number) }
        for dimension in Dimension.allCases {
            if let value = parse(text, as: dimension) { return (dimension, value) }
        }
        return nil
    }

    /// `value` (in the base unit) written with the largest unit that represents it exactly, e.g. `"10Mbps"`.
    public static func format(_ value: Double, as dimension: Dimension) -> String {
        guard value.isFinite, value != 0 else { return "\(shortest(value))\(dimension.baseUnit)" }
        for unit in dimension.displayUnits where abs(value) >= unit.factor {
            let scaled = value / unit.factor
            if scaled * unit.factor == value { return "\(shortest(scaled))\(unit.suffix)" }
        }
        return "\(shortest(value))\(dimension.baseUnit)"
    }

    /// `value` rounded for people, e.g. `"12.3 Mbps"`, with `digits` significant digits.
    public static func humanReadable(_ value: Double, as dimension: Dimension, digits: Int = 3) -> String {
        guard value.isFinite, value != 0, dimension != .dimensionless else { return significant(value, digits) }
        if dimension == .duration {
            if value >= 86400 { return significant(value / 86400, digits) + " d" }
            if value >= 3600 { return significant(value / 3600, digits) + " h" }
            if value >= 60 { return significant(value / 60, digits) + " min" }
        }
        for unit in dimension.displayUnits where abs(value) >= unit.factor {
            return significant(value / unit.factor, digits) + " " + unit.suffix
        }
        let last = dimension.displayUnits.last!
        return significant(value / last.factor, digits) + " " + last.suffix
    }

    /// The shortest decimal that reads back as exactly `value`, without a trailing ".0".
    public static func shortest(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// `value` rounded to `digits` significant digits (for derived values such as exp(log(x))).
    public static func roundedToSignificant(_ value: Double, _ digits: Int) -> Double {
        guard value.isFinite, value != 0 else { return value }
        let text = String(format: "%.\(digits - 1)e", value)
        return Double(text) ?? value
    }

    /// `value` with `digits` significant digits.
    public static func significant(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite, value != 0 else { return shortest(value) }
        let magnitude = Int(floor(log10(abs(value))))
        let decimals = max(0, digits - 1 - magnitude)
        return formatFixed(value, decimals: decimals)
    }

    /// `value` with a fixed number of decimals (no Foundation formatter, so output is locale-free).
    public static func formatFixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (abs(value) * scale).rounded()
        let sign = value < 0 && rounded != 0 ? "-" : ""
        if decimals == 0 { return sign + String(format0: rounded) }
        let whole = (rounded / scale).rounded(.down)
        let frac = rounded - whole * scale
        var fracText = String(format0: frac)
        while fracText.count < decimals { fracText = "0" + fracText }
        return sign + String(format0: whole) + "." + fracText
    }
}

extension String {
    /// A whole-number Double written without exponent or decimals.
    init(format0 value: Double) {
        if value < 9.2e18 { self = String(Int64(value)) } else { self = "\(value)" }
    }

    func trimmingCharactersInWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    func trimmingCharactersInWhitespace() -> String { String(self).trimmingCharactersInWhitespace() }
}
