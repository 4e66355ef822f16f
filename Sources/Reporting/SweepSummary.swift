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

    /// Reads every finished point under `directory/points` and writes the summary files.
    public static func write(directory: String, axes: [String], expected: Int) throws -> (found: Int, files: [String]) {
        let pointsDir = directory + "/points"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: pointsDir)) ?? []).sorted()
        var rows: [Row] = []
        var found = 0
        for name in names {
            guard let s = FileManager.default.contents(atPath: "\(pointsDir)/\(name)/summary.json"),
                  let p = FileManager.default.contents(atPath: "\(pointsDir)/\(name)/point.json"),
                  case let .object(summary) = try JSONValue.parse(s, file: name), case let .object(point) = try JSONValue.parse(p, file: name) else { continue }
            found += 1
            let values: [String: JSONValue] = { if case let .object(v)? = point["values"] { return v }; return [:] }()
            for arm in Report.arms(summary) {
                rows.append(Row(point: Int(Report.number(point["index"]) ?? -1), values: values, seed: Report.string(point["seed"]), arm: arm))
            }
        }
        // sweep.csv
        let metrics = ["time_to_target_s", "rounds_to_target", "speedup_vs_lora", "final_accuracy", "bytes_up", "bytes_down", "simulated_seconds"]
        var csv = (["point"] + axes + ["seed", "arm"] + metrics).joined(separator: ",") + "\n"
        for r in rows {
            csv += ([String(r.point)] + axes.map { plain(r.values[$0]) } + [r.seed, Report.string(r.arm["name"])]
                    + metrics.map { Report.number(r.arm[$0]).map { Quantity.shortest($0) } ?? "" }).joined(separator: ",") + "\n"
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
        var md = "# Sweep\n\n\(found) of \(expected) points done. Mean speedup over lora in time to the target accuracy (lora's time / the arm's), with the 95% confidence interval over seeds; \"–\" when an arm did not reach the target in every seed.\n\n"
        md += "| " + (axes.isEmpty ? "point" : axes.joined(separator: " | ")) + " | seeds | " + armNames.joined(separator: " | ") + " |\n"
        md += "|" + String(repeating: "---|", count: max(1, axes.count) + 1) + String(repeating: "---:|", count: armNames.count) + "\n"
        var plotData = ""
        for (g, key) in groups.enumerated() {
            let members = byGroup[key]!
            let values = members[0].values
            var cells: [String] = []
            var plotRow = "\(g) \"\(axes.first.map { plain(values[$0]) } ?? String(g))\""
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
            md += "| " + (axes.isEmpty ? [String(g)] : axes.map { plain(values[$0]) }).joined(separator: " | ") + " | \(seeds) | " + cells.joined(separator: " | ") + " |\n"
            plotData += plotRow + "\n"
        }
        md += "\nPer point and seed: `sweep.csv`; each point's own results: `points/*/summary.json`, `rounds.csv`.\n"
        var files: [(String, Data)] = [("sweep.csv", Data(csv.utf8)), ("sweep.md", Data(md.utf8))]
        if !groups.isEmpty, let svg = try? Plots.speedup(data: plotData, arms: armNames, xLabel: axes.first ?? "point") {
            files.append(("plots/speedup.svg", Data(svg.utf8)))
            md += "\n![Speedup over lora](plots/speedup.svg)\n"
            files[1] = ("sweep.md", Data(md.utf8))
        }
        for (name, data) in files {
            let url = URL(fileURLWithPath: directory + "/" + name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        }
        return (found, files.map(\.0))
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
    /// Mean speedup over lora per arm against the first axis (categorical), with the 1× line.
    static func speedup(data: String, arms: [String], xLabel: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-sweep-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try data.write(to: dir.appendingPathComponent("speedup.dat"), atomically: true, encoding: .utf8)
        let lines = arms.enumerated().map { k, name in "\"speedup.dat\" using 1:\(k + 3):xtic(2) with linespoints lw 2 pt 7 title \"\(name)\"" }
        let script = preamble + """
        set output "speedup.svg"
        set title "Speedup over lora in time to target (above 1: sooner)"
        set xlabel "\(xLabel)"
        set ylabel "speedup"
        set xtics rotate by -30
        plot 1 with lines dt 2 lc rgb "#888888" notitle, \\
          \(lines.joined(separator: ", \\\n  "))

        """
        return try gnuplot(script, in: dir, output: "speedup.svg")
    }
}
