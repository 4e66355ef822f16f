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
    /// The arm's codec (the speedups are over the point's first arm whose codec is `lora`).
    public var codec: String
    /// Rounds the arm ran, and their mean duration (aggregation included).
    public var rounds: Int
    public var meanRoundSeconds: Double
    /// lora's simulated time / this arm's, when both ran the same number of rounds.
    public var timeRatioVsLora: Double?

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
        codec = arm.codec
        rounds = arm.rounds
        meanRoundSeconds = arm.meanRoundSeconds
        timeRatioVsLora = arm.timeRatioVsLora
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
            C.number("simulated_seconds", \.simulatedSeconds), C.text("codec", \.codec), C.count("rounds", \.rounds),
            C.number("mean_round_s", \.meanRoundSeconds), C.optionalNumber("time_ratio_vs_lora", \.timeRatioVsLora),
        ], blank: SweepRow(point: 0, values: Array(repeating: "", count: axes.count), seed: "", arm: blank))
    }
}

/// The summary of a sweep's points: `sweep.csv` (a row per point and arm) and the report —
/// `report.md`, a self-contained `report.html` and `sweep.md` (the same document as report.md) —
/// with its plots (`plots/*.svg`): where each arm's mean speedup over lora crosses 1 along each
/// axis (`SweepAnalysis`), the tables of time to target (or, time only, of time for the
/// scenario's N rounds and of the mean round) and of speedup over lora with 95% CIs over seeds,
/// and, when the arms carry kept energies, the compressibility map.
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
    /// writes the summary files (plots of an earlier summary that this one does not draw are removed).
    public static func write(directory: String, axes: [String], points: [PlannedPoint]) throws -> (found: Int, stale: Int, files: [String]) {
        let pointsDir = directory + "/points"
        let expected = Set(points.map(\.directory))
        let present = ((try? FileManager.default.contentsOfDirectory(atPath: pointsDir)) ?? []).filter { !$0.hasPrefix(".") }
        let stale = present.filter { !expected.contains($0) }.count
        var rows: [SweepRow] = []
        var found = 0, timeOnly = 0
        var metrics: [Metrics.Metric] = []
        var stopRounds: [Int: Int] = [:]
        var scenario: String?
        for p in points {
            let path = "\(pointsDir)/\(p.directory)/summary.json"
            guard InputFile.problem(path) == nil else { continue }
            let summary = try RunSummary.read(try InputFile.read(path), file: path)
            found += 1
            if summary.mode == .timeOnly { timeOnly += 1 }
            if scenario == nil { scenario = summary.scenario }
            if !metrics.contains(summary.target.metric) { metrics.append(summary.target.metric) }
            if case let .object(r) = summary.resolvedScenario, case let .object(stop)? = r["stop"], case let .number(n)? = stop["rounds"],
               n.isFinite, n >= 0, n < 1e15 { stopRounds[p.index] = Int(n) }
            let values = Dictionary(p.values.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            for arm in summary.arms {
                rows.append(SweepRow(point: p.index, values: axes.map { Report.plain(values[$0]) },
                                     seed: p.seed.map(String.init) ?? Quantity.shortest(Double(summary.seed)), arm: arm))
            }
        }
        // Each axis's values in the sweep file's order (every planned point, done or not).
        let sweepAxes = axes.map { key in
            var values: [String] = []
            for p in points {
                let v = Report.plain(p.values.first { $0.key == key }?.value)
                if !values.contains(v) { values.append(v) }
            }
            return SweepAxis(key: key, values: values)
        }
        let metric = metrics.count == 1 ? metrics[0] : metrics.isEmpty ? .accuracy : nil
        let report = report(rows, axes: sweepAxes, found: found, of: points.count, timeOnly: found > 0 && timeOnly == found,
                            metric: metric, stopRounds: stopRounds, scenario: scenario)
        let markdown = Data(report.document.markdown.utf8)
        let files: [(String, Data)] = [("sweep.csv", Data(SweepRow.table(axes: axes).text(rows).utf8)), ("report.md", markdown),
                                       ("report.html", Data(report.document.html.utf8)), ("sweep.md", markdown)]
            + report.plots.map { ("plots/" + $0.name, Data($0.svg.utf8)) }
        OutputDirectory.cleanStale(in: directory)
        OutputDirectory.cleanStale(in: directory + "/plots")
        for (name, data) in files { try OutputDirectory.writeFile(data, to: directory + "/" + name) }
        let drawn = Set(report.plots.map(\.name))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory + "/plots")) ?? [] where name.hasSuffix(".svg") && !drawn.contains(name) {
            try? FileManager.default.removeItem(atPath: directory + "/plots/" + name)
        }
        return (found, stale, files.map(\.0))
    }

    typealias Inline = ReportDocument.Inline

    /// The report of a sweep's rows (`axes`: the non-seed axes with their values in file order)
    /// and the plots it shows; a plot that cannot be drawn becomes a note. `timeOnly`: every point
    /// ran without training; `metric`: the target's metric of every point (nil: they differ);
    /// `stopRounds`: each point's stop.rounds by point index; `scenario`: the base scenario's name.
    static func report(_ rows: [SweepRow], axes: [SweepAxis], found: Int, of expected: Int, timeOnly: Bool = false,
                       metric: Metrics.Metric? = .accuracy, stopRounds: [Int: Int] = [:], scenario: String? = nil)
        -> (document: ReportDocument, plots: [Plots.Plot]) {
        let a = SweepAnalysis(rows, axes: axes, timeOnly: timeOnly, metric: metric, stopRounds: stopRounds)
        let ref = a.reference ?? "lora"
        var doc = ReportDocument(title: "FedSim sweep" + (scenario.map { " — " + $0 } ?? ""))
        doc.blocks.append(.heading(level: 1, [.text("Sweep" + (scenario.map { " of " + $0 } ?? ""))]))
        let seeds = Set(rows.map(\.seed)).count
        let axisText = axes.map { x -> String in
            let kind = x.isNumeric ? (x.isLog ? "numeric, log scale" : "numeric") : "categorical, in the file's order"
            return "\(x.key) (\(x.values.count) value\(x.values.count == 1 ? "" : "s"), \(kind))"
        }
        let n: String
        switch a.measure {
        case let .timeForRounds(rounds): n = rounds.map { "\($0) rounds" } ?? "the scenario's stop.rounds rounds"
        case .timeToTarget: n = ""
        }
        let compared: String
        switch a.measure {
        case let .timeToTarget(m): compared = "time to the target \(m?.rawValue ?? "(the points' own target metrics)")"
        case .timeForRounds: compared = "time for \(n) (time only: no training, so no time to target)"
        }
        doc.blocks.append(.paragraph([.text("\(found) of \(expected) points done: \(a.groups.count) setting\(a.groups.count == 1 ? "" : "s") of "
            + (axisText.isEmpty ? "no axis" : axisText.joined(separator: ", ")) + " × \(seeds) seed\(seeds == 1 ? "" : "s"). Arms: "
            + a.arms.map { $0 == a.reference ? "\($0) (the reference)" : $0 }.joined(separator: ", ") + ". Compared: \(compared).")]))
        for axis in axes where axis.labels != axis.values {
            doc.blocks.append(.paragraph([.text("Values of \(axis.key), shown by what differs: "
                + zip(axis.labels, axis.values).map { "\($0) is \($1)" }.joined(separator: "; ") + ".")]))
        }

        // Where each arm is sooner.
        doc.blocks.append(.heading(level: 2, [.text("Where each arm is sooner than \(ref)")]))
        let statements = a.statements
        if a.reference == nil {
            doc.blocks.append(.paragraph([.text("No arm has the codec lora: no speedups.")]))
        } else {
            let c = a.censoredCount
            let meaning = timeOnly ? "lora's time for \(n) / the arm's" : "lora's time to the target / the arm's"
            doc.blocks.append(.paragraph([.text("The mean over seeds of each arm's speedup over \(ref) (\(meaning), per seed) against each axis, with the other axes held at each of their values. Along a numeric axis the crossover is where the mean speedup crosses 1, interpolated linearly between neighbouring values that have one (in the logarithm of the axis when its values span a factor of 10 or more, as plotted); along a categorical axis, the values where it is above 1. An arm-point is censored — no speedup, left out of the interpolation — unless both the arm and \(ref) " + (timeOnly ? "ran every round" : "reached the target") + " in every seed: \(c.censored) of \(c.of) arm-points are.")]))
            for axis in axes {
                let mine = statements.filter { $0.axis == axis.key }
                guard !mine.isEmpty else { continue }
                let kind = axis.isNumeric ? (axis.isLog ? "numeric, log scale" : "numeric") : "categorical"
                doc.blocks.append(.heading(level: 3, [.text("Along \(axis.key) (\(kind))")]))
                doc.blocks.append(.list(mine.map { [.text($0.text)] }))
            }
            let never = a.neverCompared
            if !never.isEmpty { doc.blocks.append(.list(never.map { [.text(a.neverComparedSentence($0))] })) }
            if axes.isEmpty, let g = a.groups.first {
                doc.blocks.append(.list(a.compared.map { arm in
                    [.text(g.cells[arm]?.speedup.map { "\(arm): mean speedup " + speedupText($0) } ?? "\(arm): no speedup (censored)")]
                }))
            }
        }

        // Tables.
        func header(_ arms: [String]) -> [[Inline]] {
            (axes.isEmpty ? ["setting"] : axes.map(\.key)).map { [.text($0)] } + [[.text("seeds")]] + arms.map { [.text($0)] }
        }
        func table(_ arms: [String], _ cell: (SweepAnalysis.Cell?) -> String) -> ReportDocument.Block {
            .table(.init(header: header(arms), alignments: Array(repeating: .left, count: max(1, axes.count)) + Array(repeating: .right, count: 1 + arms.count),
                         rows: a.groups.map { g in
                             (axes.isEmpty ? ["all points"] : zip(axes, g.values).map { $0.label(of: $1) }).map { [.text($0)] } + [[.text(String(g.seeds))]] + arms.map { [.text(cell(g.cells[$0]))] }
                         }))
        }
        let missedWord = timeOnly ? "stopped early" : "not reached"
        func missed(_ k: Int, _ n: Int) -> String { "\(missedWord) (\(k) of \(n) seed\(n == 1 ? "" : "s"))" }
        func measureText(_ c: SweepAnalysis.Cell?) -> String {
            guard let c, c.seeds > 0 else { return "–" }
            guard let m = c.measure else { return missed(c.missed, c.seeds) }
            return Report.duration(m.mean) + (m.halfWidth.map { " ± " + Report.duration($0) } ?? "")
        }
        func speedupCell(_ c: SweepAnalysis.Cell?) -> String {
            guard let c, c.seeds > 0 else { return "–" }
            if let s = c.speedup { return speedupText(s) }
            if c.missed > 0 { return missed(c.missed, c.seeds) }
            if c.loraMissed > 0 { return "\(ref) " + missed(c.loraMissed, c.seeds) }
            return "–"
        }
        let ci = seeds > 1 ? "mean over seeds ± the half-width of its 95% confidence interval (Student's t)" : "one seed: no confidence interval"
        if timeOnly {
            doc.blocks.append(.heading(level: 2, [.text("Time for \(n)")]))
            doc.blocks.append(table(a.arms, measureText))
            doc.blocks.append(.paragraph([.text("Simulated time until the last of the \(n) ends (\(ci)); \"stopped early (k of n seeds)\" when the arm stopped before the last round (stop.time) in k of the n seeds.")]))
            doc.blocks.append(.heading(level: 2, [.text("Mean round time")]))
            doc.blocks.append(table(a.arms) { c in c?.roundTime.map { Report.duration($0.mean) + ($0.halfWidth.map { " ± " + Report.duration($0) } ?? "") } ?? "–" })
            doc.blocks.append(.paragraph([.text("A round from its start to the next round's (aggregation included), the mean over its rounds, then over seeds (\(ci)).")]))
        } else {
            doc.blocks.append(.heading(level: 2, [.text("Time to target")]))
            doc.blocks.append(table(a.arms, measureText))
            doc.blocks.append(.paragraph([.text("Simulated time until the global adapter first reaches the target (\(ci)); \"not reached (k of n seeds)\" when it did not within the scenario's rounds in k of the n seeds (no mean is given then: it would leave out the slowest seeds).")]))
        }
        if a.reference != nil, !a.compared.isEmpty {
            doc.blocks.append(.heading(level: 2, [.text("Speedup over \(ref)")]))
            doc.blocks.append(table(a.compared, speedupCell))
            doc.blocks.append(.paragraph([.text((timeOnly ? "\(ref)'s time for \(n) / the arm's" : "\(ref)'s time to the target / the arm's")
                + (seeds > 1 ? ", per seed, then the \(ci)" : " (\(ci))") + "; above 1: sooner. A speedup needs both arms to have the time in every seed; otherwise the cell says which did not.")]))
        }

        // Plots.
        var plots: [Plots.Plot] = []
        var notes: [String] = []
        var figures: [ReportDocument.Block] = []
        if let p = axes.firstIndex(where: \.isNumeric) ?? (axes.isEmpty ? nil : 0) {
            let axis = axes[p]
            let slices = a.slices(along: p)
            let largest = a.groups.flatMap { g in g.cells.values.compactMap { c in c.measure.map { $0.mean + ($0.halfWidth ?? 0) } } }.max() ?? 1
            let unit = Plots.timeUnit(largest)
            func x(_ g: SweepAnalysis.Group) -> Double {
                axis.number(of: g.values[p]) ?? Double(axis.values.firstIndex(of: g.values[p]) ?? 0)
            }
            let measureName = timeOnly ? "time-for-rounds" : "time-to-target"
            for (k, slice) in slices.prefix(8).enumerated() {
                let suffix = k == 0 ? "" : "-\(k + 1)"
                let within = slice.label.map { " (\($0))" } ?? ""
                func series(_ arms: [String], _ value: (SweepAnalysis.Cell) -> (mean: Double, halfWidth: Double?)?) -> [Plots.SweepSeries] {
                    arms.map { arm in
                        Plots.SweepSeries(name: arm, colour: a.arms.firstIndex(of: arm) ?? 0, points: slice.groups.compactMap { g in
                            guard let c = g.cells[arm], c.seeds > 0 else { return nil }
                            let v = value(c)
                            return .init(x: x(g), mean: v?.mean, halfWidth: v?.halfWidth, censored: v == nil)
                        })
                    }
                }
                let open = timeOnly ? "open circles: stopped early" : "open circles: not reached"
                let what = timeOnly ? "Time for \(n)" : "Time to target"
                figures.append(draw(&plots, name: "\(measureName)\(suffix).svg", caption: "\(what) against \(axis.key)\(within): mean over seeds with its 95% confidence band") {
                    try Plots.sweep(series(a.arms, \.measure), axis: axis, title: { "\(what) (mean over seeds, 95% CI\($0 ? "; " + open : ""))" }, subtitle: slice.label,
                                    yLabel: "\(timeOnly ? "time for \(n)" : "time to target") (\(unit.name))", scale: unit.scale, one: false,
                                    censoredAtBottom: false, marks: [], output: "\(measureName)\(suffix).svg")
                })
                guard a.reference != nil, !a.compared.isEmpty else { continue }
                let marks = statements.filter { $0.axis == axis.key && $0.slice == slice.label }.flatMap { s in
                    s.crossings.map { (x: $0.at, colour: a.arms.firstIndex(of: s.arm) ?? 0, label: axis.format($0.at)) }
                }
                figures.append(draw(&plots, name: "speedup\(suffix).svg",
                     caption: "Speedup over \(ref) against \(axis.key)\(within): mean over seeds with its 95% confidence band" + (axis.isNumeric ? "; dotted: where it crosses 1" : "")) {
                    try Plots.sweep(series(a.compared, \.speedup), axis: axis,
                                    title: { "Speedup over \(ref) (above 1: sooner\($0 ? "; open circles: censored" : ""))" },
                                    subtitle: slice.label, yLabel: "speedup", one: true, censoredAtBottom: true, marks: marks, output: "speedup\(suffix).svg")
                })
            }
            if slices.count > 8 { notes.append("Plots: the first 8 of \(slices.count) settings of the other axes are drawn; the tables have every one.") }
        }
        if !figures.isEmpty || !notes.isEmpty {
            doc.blocks.append(.heading(level: 2, [.text("Plots")]))
            doc.blocks += figures
            if !notes.isEmpty { doc.blocks.append(.list(notes.map { [.text($0)] })) }
        }

        // The compressibility map.
        if let map = CompressibilityMap(rows, axes: axes.map(\.key)) {
            doc.blocks += map.blocks
            doc.blocks.append(draw(&plots, name: "compressibility.svg", caption: "Speedup over lora against kept energy") { try Plots.compressibility(map) })
            doc.blocks.append(draw(&plots, name: "compressibility-cosine.svg", caption: "Speedup over lora against the update's cosine with exact FedAvg") {
                try Plots.compressibility(map, cosine: true)
            })
        }
        doc.blocks.append(.paragraph([.text("Per point and seed: "), .code("sweep.csv"), .text("; each point's own results: "), .code("points/*/summary.json"),
                                      .text(", "), .code("rounds.csv"), .text(". This report is "), .code("report.md"), .text(", "), .code("report.html"),
                                      .text(" and "), .code("sweep.md"), .text("; running the sweep again with every point done rewrites it from the points.")]))
        return (doc, plots)
    }

    /// "1.37 ± 0.42" (the half-width when there is one).
    static func speedupText(_ s: (mean: Double, halfWidth: Double?)) -> String {
        String(format: "%.2f", s.mean) + (s.halfWidth.map { String(format: " ± %.2f", $0) } ?? "")
    }

    /// Draws one plot: its figure (and the plot in `plots`), or a note saying why it was not drawn.
    static func draw(_ plots: inout [Plots.Plot], name: String, caption: String, _ make: () throws -> String) -> ReportDocument.Block {
        do {
            let svg = try make()
            plots.append(Plots.Plot(name: name, svg: svg))
            return .figure(.init(path: "plots/" + name, caption: caption, svg: svg))
        } catch {
            return .list([[.text("\(caption): not drawn (\((error as? Plots.Failure)?.reason ?? "\(error)"))")]])
        }
    }
}
