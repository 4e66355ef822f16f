import Foundation
import Network
import Numerics

/// The answer as a function of compressibility (issue 15): every non-lora arm of every point and
/// seed of a sweep placed at the mean kept energy of its uploads (x) and its speedup over lora in
/// time to target (y), one series per network setting, and per series the kept energy at which the
/// speedup crosses 1, stated in words.
///
/// The series are the values of the sweep's `network.*` axes (the bandwidths the answer depends
/// on); without such an axis, one series. The crossover is where a least-squares line of ln(speedup)
/// on kept energy crosses 0, reported only inside the measured range; otherwise the statement says
/// on which side of 1 every measured arm lies.
struct CompressibilityMap {
    struct Point: Equatable {
        var keptEnergy: Double
        var cosine: Double?
        /// nil: the arm did not reach the target.
        var speedup: Double?
        var arm: String
    }
    struct Series {
        var label: String
        var points: [Point]
        /// The fitted crossover (kept energy where speedup = 1), when inside the measured range.
        var crossover: Double?
        var sentence: String
    }
    var series: [Series]

    /// The map of `rows` (nil when no non-lora arm carries a kept energy).
    init?(_ rows: [SweepRow], axes: [String]) {
        let networkAxes = axes.indices.filter { axes[$0].hasPrefix("network.") }
        var labels: [String] = []
        var byLabel: [String: [Point]] = [:]
        for r in rows where r.arm != "lora" {
            guard let kept = r.keptEnergy, kept.isFinite else { continue }
            let label = networkAxes.isEmpty ? "all points" : networkAxes.map { "\(axes[$0]) = \(r.values[$0])" }.joined(separator: ", ")
            if byLabel[label] == nil { labels.append(label) }
            byLabel[label, default: []].append(Point(keptEnergy: kept, cosine: r.updateCosine, speedup: r.speedupVsLora.flatMap { $0 > 0 && $0.isFinite ? $0 : nil }, arm: r.arm))
        }
        guard !labels.isEmpty else { return nil }
        series = labels.map { label in
            let points = byLabel[label] ?? []
            let uplink = Self.uplinkNote(label)
            let (crossover, sentence) = Self.crossover(points, where: label + uplink)
            return Series(label: label, points: points, crossover: crossover, sentence: sentence)
        }
    }

    /// "(median uplink 0.3 Mbit/s)" for a built-in profile's series.
    static func uplinkNote(_ label: String) -> String {
        let prefix = "network.profile = "
        guard label.hasPrefix(prefix), !label.contains(","), let p = NetworkProfile.builtIn(named: String(label.dropFirst(prefix.count))) else { return "" }
        return " (median uplink \(Quantity.humanReadable(p.marginals.uplink.quantile(0.5), as: .bitRate)))"
    }

    /// The fitted crossover and the sentence that states it.
    static func crossover(_ points: [Point], where label: String) -> (Double?, String) {
        let reached = points.compactMap { p in p.speedup.map { (x: p.keptEnergy, y: log($0)) } }
        let missed = points.count - reached.count
        let missedNote = missed == 0 ? "" : "; \(missed) of \(points.count) arm-points did not reach the target (not in the fit)"
        guard !reached.isEmpty else { return (nil, "On \(label): no FedSRD-family arm reached the target\(missedNote).") }
        let lo = reached.map(\.x).min() ?? 0, hi = reached.map(\.x).max() ?? 0
        let range = "kept energy \(pct(lo))–\(pct(hi))"
        let sooner = reached.filter { $0.y > 0 }.count
        if sooner == reached.count { return (nil, "On \(label): sooner than lora at every measured \(range) (\(reached.count) arm-points\(missedNote)).") }
        if sooner == 0 { return (nil, "On \(label): later than lora at every measured \(range) (\(reached.count) arm-points\(missedNote)).") }
        let n = Double(reached.count)
        let mx = reached.reduce(0) { $0 + $1.x } / n, my = reached.reduce(0) { $0 + $1.y } / n
        let sxx = reached.reduce(0) { $0 + ($1.x - mx) * ($1.x - mx) }, sxy = reached.reduce(0) { $0 + ($1.x - mx) * ($1.y - my) }
        guard sxx > 0, sxy != 0 else {
            return (nil, "On \(label): \(sooner) of \(reached.count) arm-points sooner than lora, with no trend in kept energy (\(range)\(missedNote)).")
        }
        let slope = sxy / sxx, x0 = mx - my / slope
        let split = "\(sooner) of \(reached.count) arm-points sooner"
        guard x0 >= lo, x0 <= hi else {
            return (nil, "On \(label): \(split); the fitted line does not cross 1 inside the measured \(range)\(missedNote).")
        }
        let side = slope > 0 ? "more" : "less"
        return (x0, "On \(label): FedSRD reaches the target sooner than lora when its uploads keep \(side) than \(pct(x0)) of the update's energy (least-squares fit of ln speedup on kept energy; \(split); measured \(range)\(missedNote)).")
    }

    static func pct(_ x: Double) -> String { String(format: "%.0f%%", x * 100) }

    /// The report blocks: the statements, and the table of each series' points summarised.
    var blocks: [ReportDocument.Block] {
        [.heading(level: 2, [.text("The answer as a function of compressibility")]),
         .paragraph([.text("Each non-lora arm of each point and seed at the mean share of its clients' update energy its uploads kept (x; 1 − ‖ΔW − ΔŴ‖²/‖ΔW‖², rounds.csv's kept_energy) and its speedup over lora in time to target (y). Place your own model on this map with "),
                     .code("fedsim codec BEFORE.safetensors AFTER.safetensors"), .text(" (its kept energy column; docs/LEARNING.md).")]),
         .list(series.map { [.text($0.sentence)] })]
    }
}

extension Plots {
    /// The compressibility map: speedup over lora (log y) against kept energy, one colour per series;
    /// arms that did not reach the target are drawn as open circles at the bottom edge.
    /// `cosine`: the x axis is the applied update's cosine with exact FedAvg instead of the kept energy.
    static func compressibility(_ map: CompressibilityMap, cosine: Bool = false) throws -> String {
        func x(_ p: CompressibilityMap.Point) -> Double? { cosine ? p.cosine : p.keptEnergy }
        let dir = try scratch("map")
        defer { try? FileManager.default.removeItem(at: dir) }
        let reachedY = map.series.flatMap { $0.points.compactMap(\.speedup) }
        let bottom = (reachedY.min() ?? 1) / 1.5, top = (reachedY.max() ?? 1) * 1.5
        var plots: [String] = ["1 with lines dt 2 lc rgb \"#888888\" notitle"]
        for (k, s) in map.series.enumerated() {
            let name = s.label.replacingOccurrences(of: "network.profile = ", with: "")
            let reached = s.points.filter { $0.speedup != nil }.compactMap { p in x(p).map { "\($0) \(p.speedup ?? 1)" } }
            let missed = s.points.filter { $0.speedup == nil }.compactMap { p in x(p).map { "\($0) \(min(bottom * 1.15, 1))" } }
            try Data((reached.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("reached\(k).dat"))
            try Data((missed.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("missed\(k).dat"))
            if !reached.isEmpty { plots.append("\"reached\(k).dat\" using 1:2 with points pt 7 ps 1.1 lc \(k + 1) title \(literal(name))") }
            if !missed.isEmpty { plots.append("\"missed\(k).dat\" using 1:2 with points pt 6 ps 1.1 lc \(k + 1) title \(literal(name + ": not reached"))") }
            if !cosine, let x = s.crossover { plots.append("'+' using (\(x)):(\(bottom)):(0):(\(top / bottom)) every ::0::0 with vectors nohead dt 3 lc \(k + 1) notitle") }
        }
        let script = preamble + """
        set output "compressibility.svg"
        set title "Speedup over lora against \(cosine ? "update cosine" : "kept energy") (above 1: sooner; open: target not reached)"
        set xlabel "\(cosine ? "cosine of the applied update with exact FedAvg" : "kept energy of the uploads") (1 = lossless)"
        set ylabel "speedup over lora"
        set logscale y
        set yrange [\(bottom):\(top)]
        set xrange [*:1.02]
        set key below horizontal
        plot \(plots.joined(separator: ", \\\n  "))

        """
        return try gnuplot(script, in: dir, output: "compressibility.svg")
    }
}
