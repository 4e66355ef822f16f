import Foundation
import Numerics
import Scenario

/// A row of `sweep.csv`: one arm of one point (and seed) of a sweep.
public struct SweepRow: Sendable, Equatable {
    public var point: Int
    /// The point's value of each axis, as plain text (`Report.plain`), in the order of the axes.
    public var values: [String]
    public var seed: String
    public var arm: String
    public var timeToTargetSeconds: Double?
    public var roundsToTarget: Int?
    public var speedupVsLora: Double?
    public var finalAccuracy: Double?
    /// The arm's mean kept energy of its uploads and cosine of its applied updates (`UpdateFidelity`).
    public var keptEnergy: Double?
    public var updateCosine: Double?
    public var bytesUp: Int
    public var bytesDown: Int
    public var simulatedSeconds: Double

    public init(point: Int, values: [String], seed: String, arm: RunSummary.Arm) {
        self.point = point
        self.values = values
        self.seed = seed
        self.arm = arm.name
        timeToTargetSeconds = arm.timeToTargetSeconds
        roundsToTarget = arm.roundsToTarget
        speedupVsLora = arm.speedupVsLora
        finalAccuracy = arm.finalAccuracy
        keptEnergy = arm.keptEnergyMean
        updateCosine = arm.updateCosineMean
        bytesUp = arm.bytesUp
        bytesDown = arm.bytesDown
        simulatedSeconds = arm.simulatedSeconds
    }

    /// The columns of `sweep.csv` for a sweep over `axes` (one column per axis, named by its key path).
    public static func table(axes: [String]) -> CSVTable<SweepRow> {
        typealias C = CSVTable<SweepRow>.Column
        let axisColumns = axes.indices.map { i in
            C(axes[i], format: { $0.values[i] }, parse: { row, s in row.values[i] = s; return nil })
        }
        let blank = RunSummary.Arm(name: "", codec: "", rounds: 0, aggregatedRounds: 0, simulatedSeconds: 0, bytesUp: 0, bytesDown: 0,
                                   uploadBytesPerClient: 0, downloadBytesInSync: 0, downloadBytesDense: 0, completed: 0, dropped: 0, late: 0,
                                   meanRoundSeconds: 0, medianRoundSeconds: 0)
        return CSVTable(columns: [C.integer("point", \.point)] + axisColumns + [
            C.text("seed", \.seed), C.text("arm", \.arm), C.optionalNumber("time_to_target_s", \.timeToTargetSeconds),
            C.optionalCount("rounds_to_target", \.roundsToTarget), C.optionalNumber("speedup_vs_lora", \.speedupVsLora),
            C.optionalNumber("final_accuracy", \.finalAccuracy), C.optionalNumber("kept_energy", \.keptEnergy),
            C.optionalNumber("update_cosine", \.updateCosine), C.count("bytes_up", \.bytesUp), C.count("bytes_down", \.bytesDown),
            C.number("simulated_seconds", \.simulatedSeconds),
        ], blank: SweepRow(point: 0, values: Array(repeating: "", count: axes.count), seed: "", arm: blank))
    }
}

/// The summary of a sweep's points: `sweep.csv` (a row per point and arm), `sweep.md` (mean
/// speedup over lora with 95% CIs over seeds, per setting of the other axes) and `plots/speedup.svg`.
public enum SweepSummary {
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
    /// and stale folders are ignored; each point's summary.json decoded as a `RunSummary`) and
    /// writes the summary files.
    public static func write(directory: String, axes: [String], points: [PlannedPoint]) throws -> (found: Int, stale: Int, files: [String]) {
        let pointsDir = directory + "/points"
        let expected = Set(points.map(\.directory))
        let present = ((try? FileManager.default.contentsOfDirectory(atPath: pointsDir)) ?? []).filter { !$0.hasPrefix(".") }
        let stale = present.filter { !expected.contains($0) }.count
        var rows: [SweepRow] = []
        var found = 0
        var metrics: [Metrics.Metric] = []
        for p in points {
            let path = "\(pointsDir)/\(p.directory)/summary.json"
            guard InputFile.problem(path) == nil else { continue }
            let summary = try RunSummary.read(try InputFile.read(path), file: path)
            found += 1
            if !metrics.contains(summary.target.metric) { metrics.append(summary.target.metric) }
            let values = Dictionary(p.values.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            for arm in summary.arms {
                rows.append(SweepRow(point: p.index, values: axes.map { Report.plain(values[$0]) },
                                     seed: p.seed.map(String.init) ?? Quantity.shortest(Double(summary.seed)), arm: arm))
            }
        }
        let csv = SweepRow.table(axes: axes).text(rows)
        var doc = document(rows, axes: axes, found: found, of: points.count, metric: metrics.count == 1 ? metrics[0] : metrics.isEmpty ? .accuracy : nil)
        var files: [(String, Data)] = [("sweep.csv", Data(csv.utf8)), ("sweep.md", Data())]
        if let plot = doc.plot {
            do {
                let svg = try Plots.speedup(plot.groups, arms: plot.arms, xLabel: axes.first ?? "point")
                files.append(("plots/speedup.svg", Data(svg.utf8)))
                doc.document.blocks.append(.figure(.init(path: "plots/speedup.svg", caption: "Speedup over lora", svg: svg)))
            } catch {
                doc.document.blocks.append(.list([[.text("Speedup plot: not drawn ("), .text((error as? Plots.Failure)?.reason ?? "\(error)"), .text(")")]]))
            }
        }
        if let map = CompressibilityMap(rows, axes: axes) {
            doc.document.blocks += map.blocks
            do {
                let svg = try Plots.compressibility(map)
                files.append(("plots/compressibility.svg", Data(svg.utf8)))
                doc.document.blocks.append(.figure(.init(path: "plots/compressibility.svg", caption: "Speedup over lora against kept energy", svg: svg)))
                let byCosine = try Plots.compressibility(map, cosine: true)
                files.append(("plots/compressibility-cosine.svg", Data(byCosine.utf8)))
                doc.document.blocks.append(.figure(.init(path: "plots/compressibility-cosine.svg", caption: "Speedup over lora against the update's cosine with exact FedAvg", svg: byCosine)))
            } catch {
                doc.document.blocks.append(.list([[.text("Compressibility plot: not drawn ("), .text((error as? Plots.Failure)?.reason ?? "\(error)"), .text(")")]]))
            }
        }
        files[1] = ("sweep.md", Data(doc.document.markdown.utf8))
        OutputDirectory.cleanStale(in: directory)
        OutputDirectory.cleanStale(in: directory + "/plots")
        for (name, data) in files { try OutputDirectory.writeFile(data, to: directory + "/" + name) }
        return (found, stale, files.map(\.0))
    }

    /// sweep.md's table (points grouped by their axis values; per arm the mean speedup over seeds)
    /// and what the speedup plot draws, when there is a group. `metric`: the target's metric of
    /// every point (nil: the points differ).
    static func document(_ rows: [SweepRow], axes: [String], found: Int, of expected: Int, metric: Metrics.Metric? = .accuracy)
        -> (document: ReportDocument, plot: (groups: [(label: String, means: [Double?])], arms: [String])?) {
        // Group by the non-seed axis values; mean speedup per arm over seeds.
        var groups: [String] = []
        var byGroup: [String: [SweepRow]] = [:]
        for r in rows {
            let key = zip(axes, r.values).map { "\($0) = \($1)" }.joined(separator: ", ")
            if byGroup[key] == nil { groups.append(key) }
            byGroup[key, default: []].append(r)
        }
        var armNames: [String] = []
        for r in rows where !armNames.contains(r.arm) { armNames.append(r.arm) }
        // With no arm, the table still ends in one empty column (as it always has).
        let trailing: [[ReportDocument.Inline]] = armNames.isEmpty ? [[.text("")]] : []
        var table = ReportDocument.Table(
            header: (axes.isEmpty ? ["point"] : axes).map { [.text($0)] } + [[.text("seeds")]] + armNames.map { [.text($0)] } + trailing,
            alignments: Array(repeating: .left, count: max(1, axes.count) + 1) + Array(repeating: .right, count: armNames.count), rows: [])
        var plotted: [(label: String, means: [Double?])] = []
        for (g, key) in groups.enumerated() {
            guard let members = byGroup[key], let values = members.first?.values else { continue }
            var cells: [String] = []
            var means: [Double?] = []
            for name in armNames {
                let arms = members.filter { $0.arm == name }
                let speedups = arms.compactMap(\.speedupVsLora)
                if speedups.count == arms.count, !speedups.isEmpty {
                    let m = Metrics.meanAndCI(speedups)
                    cells.append(String(format: "%.2f", m.mean) + (m.halfWidth.map { String(format: " ± %.2f", $0) } ?? ""))
                    means.append(m.mean)
                } else {
                    cells.append("–")
                    means.append(nil)
                }
            }
            plotted.append((values.first ?? String(g), means))
            let seeds = Set(members.map(\.seed)).count
            table.rows.append((axes.isEmpty ? [String(g)] : values).map { [.text($0)] } + [[.text(String(seeds))]] + cells.map { [.text($0)] } + trailing)
        }
        let doc = ReportDocument(title: "FedSim sweep", blocks: [
            .heading(level: 1, [.text("Sweep")]),
            .paragraph([.text("\(found) of \(expected) points done. Mean speedup over lora in time to the target \(metric?.rawValue ?? "(the points' own target metrics)") (lora's time / the arm's), with the 95% confidence interval over seeds; \"–\" when an arm did not reach the target in every seed.")]),
            .table(table),
            .paragraph([.text("Per point and seed: "), .code("sweep.csv"), .text("; each point's own results: "), .code("points/*/summary.json"),
                        .text(", "), .code("rounds.csv"), .text(".")]),
        ])
        return (doc, groups.isEmpty ? nil : (plotted, armNames))
    }
}

extension Plots {
    /// Mean speedup over lora per arm (nil: not reached in every seed) against the first axis,
    /// with the 1× line: on a numeric axis (log when the values are positive and span more than a
    /// factor of 10) when every label is a number, else one tick per label.
    static func speedup(_ groups: [(label: String, means: [Double?])], arms: [String], xLabel: String) throws -> String {
        let dir = try scratch("sweep")
        defer { try? FileManager.default.removeItem(at: dir) }
        let labels = groups.map(\.label)
        let numbers = labels.compactMap { Double($0) }.filter(\.isFinite)
        let numeric = numbers.count == labels.count && !labels.isEmpty
        let means = groups.map { $0.means.map { m in m.map { "\($0)" } ?? "NaN" } }
        var rows = means.enumerated().map { g, m in ([String(g)] + m).joined(separator: " ") }
        var axis = "set xtics rotate by -30\nset xtics (" + labels.enumerated().map { "\(literal($1)) \($0)" }.joined(separator: ", ") + ")\n"
        if numeric {
            rows = zip(means, numbers).map { m, x in ([datum(x)] + m).joined(separator: " ") }
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
