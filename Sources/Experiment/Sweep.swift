import Foundation
import Numerics
import Reporting
import Scenario

/// A sweep file loaded into its planned points: a grid of variants of a base scenario.
///
/// The file: `{"base": "scenario.json", "set": {"key.path": value, …}, "axes": {"key.path": [values…]}}`
/// (`base` relative to the sweep file; `set` fixed changes to the base; each axis a dotted key path
/// into the base scenario with its values; the axis `"seed"` gives replications). Every point is
/// parsed and keyed when the file is loaded: every error is found before anything runs.
public struct Sweep {
    /// One point: its axis values (non-seed axes in key order), seed, scenario and content key.
    public struct Point {
        /// The point's index (0-based; non-seed axes sorted by key, seeds innermost).
        public var index: Int
        /// The non-seed axes' values at this point, in key order.
        public var values: [(key: String, value: JSONValue)]
        /// The seed, when the sweep has a seed axis.
        public var seed: UInt64?
        /// The point's scenario, parsed.
        public var scenario: Scenario
        /// The first 16 hex digits of SHA-256 over fedsim's version and the resolved scenario.
        public var key: String
        /// The point's folder under points/: readable values, then the key.
        public var directory: String {
            let parts = values.map { "\($0.key.split(separator: ".").last.map(String.init) ?? $0.key)=\(Report.plain($0.value))" } + (seed.map { ["seed=\($0)"] } ?? [])
            let text = parts.joined(separator: ",").map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || "=,.-_".contains($0) ? $0 : "_" }
            let slug = String(String(text).prefix(80))
            return (slug.isEmpty || slug.hasPrefix(".") ? "point" + slug : slug) + "-" + key
        }
    }

    /// The largest seed a JSON number holds exactly.
    public static let maxSeed = (1 << 53) - 1

    /// The sweep file (named in errors).
    public let file: String
    /// The base scenario's path.
    public let baseFile: String
    /// Every point, in order.
    public let points: [Point]
    /// The non-seed axes' key paths, sorted.
    public var axes: [String] { points.first?.values.map(\.key) ?? [] }

    /// Loads `file`: the base scenario, `set` and the axes, every point parsed and keyed.
    /// Throws `InputError` naming the file and key (`base`, `set`, `axes`, `axes.KEY`) for any error,
    /// including a point that is not a valid scenario and two points with the same scenario.
    public init(file: String) throws {
        self.file = file
        let data = try InputFile.read(file, maxBytes: 16 << 20)
        let root = Node(try JSONValue.parse(data, file: file))
        let basePath: String
        var base: JSONValue
        var combos: [[(key: String, value: JSONValue)]] = [[]]
        var seeds: [UInt64?] = [nil]
        do {
            _ = try root.object(allowed: ["base", "axes", "set", "name", "description"])
            for key in ["name", "description"] { if let n = root.member(key) { _ = try n.string() } }
            let baseNode = try root.required("base")
            let baseText = try baseNode.string()
            basePath = baseText.hasPrefix("/") ? baseText : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(baseText).path
            if let reason = InputFile.problem(basePath, maxBytes: 16 << 20) {
                throw InputError(.invalidValue(expected: "a scenario file", found: "'\(String(baseText.prefix(200)))' (\(reason))"), at: "base")
            }
            base = try JSONValue.parse(try InputFile.read(basePath, maxBytes: 16 << 20), file: basePath)
            _ = try ScenarioParser.load(file: basePath)   // the base itself must be valid
            if let set = root.member("set") {
                guard case let .object(members) = set.value else { throw set.invalid("an object of key paths and values") }
                for key in members.keys.sorted() {
                    guard let value = members[key], let changed = base.setting(Self.path(key), to: value) else {
                        throw InputError(.invalidValue(expected: "a key path into the base scenario", found: "'\(String(key.prefix(200)))'"), at: "set")
                    }
                    base = changed
                }
            }
            let axesNode = try root.required("axes")
            guard case let .object(axes) = axesNode.value, !axes.isEmpty else { throw axesNode.invalid("an object of key paths and value lists") }
            let keys = axes.keys.sorted()
            for (a, b) in zip(keys, keys.dropFirst()) where b.hasPrefix(a + ".") {
                throw InputError(.invalidValue(expected: "axes that set different parts of the scenario",
                                               found: "'\(String(a.prefix(100)))' and '\(String(b.prefix(100)))' (the second sets a part of the first)"), at: "axes")
            }
            var total = 1
            for key in keys {
                guard let node = axesNode.member(key) else { throw InputError(.invalidValue(expected: "a non-empty list of values", found: "null"), at: "axes.\(key)") }
                let values = try node.elements()
                guard !values.isEmpty else { throw node.invalid("a non-empty list of values") }
                let (product, overflow) = total.multipliedReportingOverflow(by: values.count)
                guard !overflow, product <= 1_000_000 else { throw axesNode.invalid("at most 1000000 points in all (the axes multiply)") }
                total = product
                if key == "seed" {
                    seeds = try values.map { UInt64(try $0.integer(0...Self.maxSeed, "a seed in 0…\(Self.maxSeed) (what a JSON number holds exactly)")) }
                    continue
                }
                guard base.setting(Self.path(key), to: values[0].value) != nil else {
                    throw InputError(.invalidValue(expected: "a key path into the base scenario", found: "'\(String(key.prefix(200)))'"), at: "axes")
                }
                combos = combos.flatMap { prefix in values.map { prefix + [(key, $0.value)] } }
            }
        } catch let error as InputError {
            throw error.file == nil ? error.inFile(file) : error
        }
        baseFile = basePath
        points = try Self.points(base: base, baseDirectory: URL(fileURLWithPath: basePath).deletingLastPathComponent().path,
                                 combos: combos, seeds: seeds, file: file)
    }

    /// Every combination (seeds innermost) set into the base, parsed and keyed; distinct keys.
    static func points(base: JSONValue, baseDirectory: String, combos: [[(key: String, value: JSONValue)]], seeds: [UInt64?], file: String) throws -> [Point] {
        var points: [Point] = []
        var keys: [String: Int] = [:]
        for combo in combos {
            for seed in seeds {
                let index = points.count
                var doc = base
                for (key, value) in combo + (seed.map { [("seed", JSONValue.number(Double($0)))] } ?? []) {
                    guard let changed = doc.setting(path(key), to: value) else {
                        throw InputError(.invalidValue(expected: "a key path that exists at every point", found: "'\(String(key.prefix(200)))' cannot be set at point \(index + 1)"), at: "axes", file: file)
                    }
                    doc = changed
                }
                let scenario: Scenario
                do {
                    scenario = try ScenarioParser.parse(doc, baseDirectory: baseDirectory)
                } catch let error as InputError {
                    let values = combo.map { "\($0.key) = \(String(Report.plain($0.value).prefix(60)))" } + (seed.map { ["seed = \($0)"] } ?? [])
                    throw InputError(.invalidValue(expected: "a valid scenario at point \(index + 1) (\(values.joined(separator: ", ")))", found: error.description), at: "axes", file: file)
                }
                let key = ContentKey.of(scenario)
                if let other = keys[key] {
                    throw InputError(.invalidValue(expected: "points that differ", found: "points \(other + 1) and \(index + 1) resolve to the same scenario"), at: "axes", file: file)
                }
                keys[key] = index
                points.append(Point(index: index, values: combo, seed: seed, scenario: scenario, key: key))
            }
        }
        return points
    }

    /// A dotted key path as its parts (empty parts kept: they match no key).
    static func path(_ key: String) -> [String] {
        key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }
}
