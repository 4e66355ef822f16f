import Foundation
import Numerics
import Scenario

/// The summary of a sweep's points: `sweep.csv` (a row per point and arm), `sweep.md` (mean
/// speedup over lora with 95% CIs over seeds, per setting of the other axes) and `plots/speedup.svg`.
public enum SweepSummary {
    struct Row {
        var point: Int
        var values: [String: JSONValue]
        var seed: String
        var arm: [String: JSONValue]
    }

    /// A point of the sweep's current definition: where its results live and what it set.
    public struct PlannedPoint: Sendable {
        public var index: Int
        public var directory: String
        public var values: [(key: String, value: JSONValue)]
        public var seed: UInt64?
        public init(index: Int, directory: String, values: [(key: String, value: JSONValue)], seed: UInt64?) {
            self.index = index
            self.directory = directory
            self.values = values
            self.seed = seed
        }
    }

    /// Reads the finished points of the current definition under `directory/points` (temporary
    /// and stale folders are ignored) and writes the summary files.
    public static func write(directory: String, axes: [String], points: [PlannedPoint]) throws -> (found: Int, stale: Int, files: [String]) {
        let pointsDir = directory + "/points"
        let expected = Set(points.map(\.directory))
        let present = ((try? FileManager.default.contentsOfDirectory(atPath: pointsDir)) ?? []).filter { !$0.hasPrefix(".") }
        let stale = present.filter { !expected.contains($0) }.count
        var rows: [Row] = []
        var found = 0
        for p in points {
            let path = "\(pointsDir)/\(p.directory)/summary.json"
            guard InputFile.problem(path) == nil else { continue }
            guard case let .object(summary) = try JSONValue.parse(try InputFile.read(path), file: path) else {
                throw InputError(.file(path: path, reason: "not a JSON object"), at: "")
            }
            found += 1
            let values = Dictionary(p.values.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            for arm in Report.arms(summary) {
                rows.append(Row(point: p.index, values: values, seed: p.seed.map(String.init) ?? Report.string(summary["seed"]), arm: arm))
            }
        }
        let expectedCount = points.count
        // sweep.csv
        let metrics = ["time_to_target_s", "rounds_to_target", "speedup_vs_lora", "final_accuracy", "bytes_up", "bytes_down", "simulated_seconds"]
        var csv = CSV.row(["point"] + axes + ["seed", "arm"] + metrics)
        for r in rows {
            csv += CSV.row([String(r.point)] + axes.map { plain(r.values[$0]) } + [r.seed, Report.string(r.arm["name"])]
                           + metrics.map { Report.number(r.arm[$0]).map { Quantity.shortest($0) } ?? "" })
        }
        // Group by the non-seed axis values; mean speedup per arm over seeds.
        var groups: [String] = []
        var byGroup: [String: [Row]] = [:]
        for r in rows {
            let key = axes.map { "\($0) = \(plain(r.values[$0]))" }.joined(separator: ", ")
            if byGroup[key] == nil { groups.append(key) }
            byGroup[key, default: []].append(r)
        }
        var armNames: [String] = []
        for r in rows where !armNames.contains(Report.string(r.arm["name"])) { armNames.append(Report.string(r.arm["name"])) }
        var md = "# Sweep\n\n\(found) of \(expectedCount) points done. Mean speedup over lora in time to the target accuracy (lora's time / the arm's), with the 95% confidence interval over seeds; \"–\" when an arm did not reach the target in every seed.\n\n"
        md += "| " + (axes.isEmpty ? "point" : axes.map { Report.text($0) }.joined(separator: " | ")) + " | seeds | " + armNames.map { Report.text($0) }.joined(separator: " | ") + " |\n"
        md += "|" + String(repeating: "---|", count: max(1, axes.count) + 1) + String(repeating: "---:|", count: armNames.count) + "\n"
        var plotData = ""
        var labels: [String] = []
        for (g, key) in groups.enumerated() {
            guard let members = byGroup[key], let values = members.first?.values else { continue }
            var cells: [String] = []
            labels.append(axes.first.map { plain(values[$0]) } ?? String(g))
            var plotRow = "\(g)"
            for name in armNames {
                let arms = members.filter { Report.string($0.arm["name"]) == name }
                let speedups = arms.compactMap { Report.number($0.arm["speedup_vs_lora"]) }
                if speedups.count == arms.count, !speedups.isEmpty {
                    let m = Metrics.meanAndCI(speedups)
                    cells.append(String(format: "%.2f", m.mean) + (m.halfWidth.map { String(format: " ± %.2f", $0) } ?? ""))
                    plotRow += " \(m.mean)"
                } else {
                    cells.append("–")
                    plotRow += " NaN"
                }
            }
            let seeds = Set(members.map(\.seed)).count
            md += "| " + (axes.isEmpty ? [String(g)] : axes.map { Report.text(plain(values[$0])) }).joined(separator: " | ") + " | \(seeds) | " + cells.joined(separator: " | ") + " |\n"
            plotData += plotRow + "\n"
        }
        md += "\nPer point and seed: `sweep.csv`; each point's own results: `points/*/summary.json`, `rounds.csv`.\n"
        var files: [(String, Data)] = [("sweep.csv", Data(csv.utf8)), ("sweep.md", Data(md.utf8))]
        if !groups.isEmpty {
            do {
                let svg = try Plots.speedup(data: plotData, labels: labels, arms: armNames, xLabel: axes.first ?? "point")
                files.append(("plots/speedup.svg", Data(svg.utf8)))
                md += "\n![Speedup over lora](plots/speedup.svg)\n"
            } catch {
                md += "\n- Speedup plot: not drawn (\(Report.text((error as? Plots.Failure)?.reason ?? "\(error)")))\n"
            }
            files[1] = ("sweep.md", Data(md.utf8))
        }
        OutputDirectory.cleanStale(in: directory)
        OutputDirectory.cleanStale(in: directory + "/plots")
        for (name, data) in files { try OutputDirectory.writeFile(data, to: directory + "/" + name) }
        return (found, stale, files.map(\.0))
    }

    static func plain(_ v: JSONValue?) -> String { Report.plain(v) }
}

extension Report {
    /// A JSON value as plain text (strings without quotes).
    public static func plain(_ v: JSONValue?) -> String {
        switch v {
        case let .string(s)?: return s
        case let .number(d)?: return Quantity.shortest(d)
        case let .bool(b)?: return String(b)
        case nil, .null?: return ""
        case let x?: return x.text()
        }
    }
}

extension Plots {
    /// Mean speedup over lora per arm against the first axis, with the 1× line: on a numeric
    /// axis (log when the values are positive and span more than a factor of 10) when every label
    /// is a number, else one tick per label.
    static func speedup(data: String, labels: [String], arms: [String], xLabel: String) throws -> String {
        let dir = try scratch("sweep")
        defer { try? FileManager.default.removeItem(at: dir) }
        let numbers = labels.compactMap { Double($0) }.filter(\.isFinite)
        let numeric = numbers.count == labels.count && !labels.isEmpty
        var rows = data.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        var axis = "set xtics rotate by -30\nset xtics (" + labels.enumerated().map { "\(literal($1)) \($0)" }.joined(separator: ", ") + ")\n"
        if numeric {
            rows = zip(rows, numbers).map { row, x in ([datum(x)] + row.split(separator: " ").dropFirst().map(String.init)).joined(separator: " ") }
            let positive = numbers.allSatisfy { $0 > 0 }
            let span = (numbers.max() ?? 1) / max(numbers.min() ?? 1, .leastNonzeroMagnitude)
            axis = positive && span > 10 ? "set logscale x\n" : ""
        }
        try Data((rows.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("speedup.dat"))
        let lines = arms.enumerated().map { k, name in "\"speedup.dat\" using 1:\(k + 2) with linespoints lw 2 pt 7 title \(literal(name))" }
        let script = preamble + """
        set output "speedup.svg"
        set title "Speedup over lora in time to target (above 1: sooner)"
        set xlabel \(literal(xLabel))
        set ylabel "speedup"
        \(axis)plot 1 with lines dt 2 lc rgb "#888888" notitle, \\
          \(lines.joined(separator: ", \\\n  "))

        """
        return try gnuplot(script, in: dir, output: "speedup.svg")
    }
}
