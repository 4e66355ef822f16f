import Foundation
import Network
import Numerics

/// A sweep axis as its report reads it: the key path, the values in the sweep file's order and,
/// when every value is a number or a quantity of one dimension (`"0.4Mbps"`, `"80ms"`, `0.9`,
/// `"8%"`; `Quantity.parseAnyDimension`), their numbers in the dimension's base unit. A numeric
/// axis is plotted on a numeric x scale — logarithmic when its values are all positive and span
/// a factor of 10 or more — and its crossovers are interpolated; any other axis is categorical,
/// in file order.
public struct SweepAxis: Sendable, Equatable {
    /// The axis's dotted key path.
    public var key: String
    /// Its values as plain text (`Report.plain`), in the sweep file's order.
    public var values: [String]
    /// The values' numbers (base unit), in the same order; nil for a categorical axis.
    public var numbers: [Double]?
    /// The values' dimension, when a value carries a unit (nil for plain numbers).
    public var dimension: Quantity.Dimension?
    /// Whether a value was written as a percentage.
    var percent: Bool
    /// Each value as the report shows it: the value itself, or — when every value is a JSON
    /// object — only the members in which the values differ ("learning_rate=0.05 optimizer=sgd").
    public var labels: [String]

    /// The axis `key` with `values` (in file order): numeric when every value parses.
    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
        var numbers: [Double] = []
        var dimension: Quantity.Dimension?
        var percent = false
        var numeric = !values.isEmpty
        for v in values {
            guard let (d, x) = Quantity.parseAnyDimension(v), x.isFinite else { numeric = false; break }
            if let d {
                if let dimension, dimension != d { numeric = false; break }
                dimension = d
                if d == .dimensionless { percent = true }
            }
            numbers.append(x)
        }
        self.numbers = numeric ? numbers : nil
        self.dimension = numeric && dimension != .dimensionless ? dimension : nil
        self.percent = numeric && percent
        labels = Self.shortLabels(values) ?? values
    }

    /// The labels of object values by the members in which they differ (nil unless every value
    /// is a JSON object and the labels are distinct and non-empty).
    static func shortLabels(_ values: [String]) -> [String]? {
        guard values.count >= 2 else { return nil }
        var objects: [[String: JSONValue]] = []
        for v in values {
            guard v.hasPrefix("{"), case let .object(o)? = try? JSONValue.parse(Data(v.utf8), file: nil) else { return nil }
            objects.append(o)
        }
        let keys = Set(objects.flatMap(\.keys)).sorted().filter { k in Set(objects.map { $0[k]?.text() ?? "" }).count > 1 }
        let labels = objects.map { o in keys.compactMap { k in o[k].map { "\(k)=\(Report.plain($0))" } }.joined(separator: " ") }
        return labels.contains(where: \.isEmpty) || Set(labels).count != labels.count ? nil : labels
    }

    /// The label of `value` (the value itself when it is not on the axis).
    public func label(of value: String) -> String {
        values.firstIndex(of: value).map { labels[$0] } ?? value
    }

    /// Whether the axis is plotted on a numeric x scale.
    public var isNumeric: Bool { numbers != nil }

    /// Whether the axis is plotted (and interpolated) on a log scale: numeric, every value
    /// positive, the largest at least 10 times the smallest.
    public var isLog: Bool {
        guard let numbers, let lo = numbers.min(), let hi = numbers.max(), lo > 0 else { return false }
        return hi / lo >= 10
    }

    /// The number of value `value` (nil on a categorical axis or for a value not on the axis).
    func number(of value: String) -> Double? {
        guard let numbers, let i = values.firstIndex(of: value) else { return nil }
        return numbers[i]
    }

    /// A number on this axis for people, with its unit (`Quantity.humanReadable`, 3 significant
    /// digits, trailing zeros dropped): "420 kbps", "1.5 s", "80%", "0.85".
    public func format(_ x: Double) -> String {
        if percent { return Self.trimmed(Quantity.significant(x * 100, 3)) + "%" }
        guard let dimension else { return Self.trimmed(Quantity.significant(x, 3)) }
        return Self.trimmed(Quantity.humanReadable(x, as: dimension))
    }

    /// A value of the axis as the statements show it: a categorical value as written, with the
    /// median uplink of a built-in network profile ("3g (median uplink 300 kbps)") when `uplink`.
    func show(_ value: String, uplink: Bool = false) -> String {
        guard uplink, key == "network.profile", let p = NetworkProfile.builtIn(named: value) else { return label(of: value) }
        return "\(value) (median uplink \(Self.trimmed(Quantity.humanReadable(p.marginals.uplink.quantile(0.5), as: .bitRate))))"
    }

    /// "1.00 Mbps" → "1 Mbps", "2.50 s" → "2.5 s": the number's trailing decimal zeros dropped.
    static func trimmed(_ text: String) -> String {
        let number = text.prefix { $0 != " " }
        guard number.contains("."), !number.contains("e") else { return text }
        var n = String(number)
        while n.hasSuffix("0") { n.removeLast() }
        if n.hasSuffix(".") { n.removeLast() }
        return n + text.dropFirst(number.count)
    }
}
