import Foundation
import Numerics

extension Plots {
    /// One line of a sweep plot: per value of the plotted axis, the mean and its 95% CI, or
    /// censored (drawn as an open marker at the plot's edge).
    struct SweepSeries {
        struct Point { var x: Double; var mean: Double?; var halfWidth: Double?; var censored: Bool }
        var name: String
        /// The arm's colour (its index among the sweep's arms).
        var colour: Int
        var points: [Point]
    }

    /// The arms' colours (as the run plots').
    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]
    static func colour(_ k: Int) -> String { colours[((k % colours.count) + colours.count) % colours.count] }

    /// A sweep plot: each series' mean against `axis` (numeric x — log when `axis.isLog` — or one
    /// tick per categorical value, in file order), its 95% CI as a band, censored points as open
    /// markers at the bottom (`censoredAtBottom`) or top edge (`title(true)` is the title then,
    /// else `title(false)`); `one`: a dashed line at 1;
    /// `marks`: vertical dotted lines (crossovers) with their labels. `scale` divides the y values
    /// (seconds to hours); `logY` when the values span a factor of 10.
    static func sweep(_ series: [SweepSeries], axis: SweepAxis, title: (_ censored: Bool) -> String, subtitle: String?, yLabel: String, scale: Double = 1,
                      one: Bool, censoredAtBottom: Bool, marks: [(x: Double, colour: Int, label: String)], output: String) throws -> String {
        let dir = try scratch("sweep")
        defer { try? FileManager.default.removeItem(at: dir) }
        var lows: [Double] = [], highs: [Double] = []
        for s in series {
            for p in s.points {
                guard let m = p.mean, m.isFinite else { continue }
                let h = p.halfWidth.flatMap { $0.isFinite ? $0 : nil } ?? 0
                lows.append((m - h) / scale); highs.append((m + h) / scale)
                lows.append(m / scale); highs.append(m / scale)
            }
        }
        if one { lows.append(1); highs.append(1) }
        let censoredSeries = series.indices.filter { series[$0].points.contains(where: \.censored) }
        let anyCensored = !censoredSeries.isEmpty
        let positives = lows.filter { $0 > 0 }
        let logY = !one && !positives.isEmpty && (highs.max() ?? 1) / (positives.min() ?? 1) >= 10
        var lo = max(0, lows.min() ?? 0), hi = highs.max() ?? 1
        if !one, !logY { lo = 0 }
        if hi <= lo { hi = lo + 1 }
        // Censored markers sit in a margin beyond the data, one row per series that has them.
        let bottom: Double, top: Double
        let rows = Double(max(1, censoredSeries.count))
        var edge: (Int) -> Double
        if logY {
            let l = positives.min() ?? 1
            (bottom, top) = censoredAtBottom ? (l / (anyCensored ? 2.4 : 1.4), hi * 1.4) : (l / 1.4, hi * (anyCensored ? 2.4 : 1.4))
            edge = { k in
                let f = Foundation.pow(1.6, (Double(censoredSeries.firstIndex(of: k) ?? 0) + 0.5) / rows) * 1.15
                return censoredAtBottom ? l / f : hi * f
            }
        } else {
            let pad = 0.1 * (hi - lo)
            if censoredAtBottom {
                (bottom, top) = (anyCensored ? lo - 2 * pad : max(0, lo - pad), hi + pad)
            } else {
                (bottom, top) = (lo == 0 && !one ? 0 : lo - pad, hi + (anyCensored ? 2 * pad : pad))
            }
            edge = { k in
                let d = pad * (0.4 + 1.2 * (Double(censoredSeries.firstIndex(of: k) ?? 0) + 0.5) / rows)
                return censoredAtBottom ? lo - d : hi + d
            }
        }
        var plots: [String] = one ? ["1 with lines dt 2 lc rgb \"#888888\" notitle"] : []
        for (k, s) in series.enumerated() {
            var band = "", line = "", censored = ""
            for p in s.points {
                if let m = p.mean, m.isFinite {
                    line += "\(datum(p.x)) \(datum(m / scale))\n"
                    if let h = p.halfWidth, h.isFinite {
                        band += "\(datum(p.x)) \(datum((m - h) / scale)) \(datum((m + h) / scale))\n"
                    } else {
                        band += "\n"
                    }
                } else {
                    line += "\n"
                    band += "\n"
                    if p.censored { censored += "\(datum(p.x)) \(datum(edge(k)))\n" }
                }
            }
            try Data(band.utf8).write(to: dir.appendingPathComponent("band\(k).dat"))
            try Data(line.utf8).write(to: dir.appendingPathComponent("mean\(k).dat"))
            try Data(censored.utf8).write(to: dir.appendingPathComponent("censored\(k).dat"))
            let c = "lc rgb \"\(colour(s.colour))\""
            if band.contains(where: \.isNumber) { plots.append("\"band\(k).dat\" using 1:2:3 with filledcurves fs transparent solid 0.15 noborder \(c) notitle") }
            if line.contains(where: \.isNumber) {
                plots.append("\"mean\(k).dat\" using 1:2 with linespoints lw 2 pt 7 ps 0.8 \(c) title \(literal(s.name))")
            } else {
                plots.append("NaN with linespoints lw 2 pt 7 ps 0.8 \(c) title \(literal(s.name))")
            }
            if !censored.isEmpty { plots.append("\"censored\(k).dat\" using 1:2 with points pt 6 ps 1.4 lw 1.5 \(c) notitle") }
        }
        var setup = ""
        if let numbers = axis.numbers, let xmin = numbers.min(), let xmax = numbers.max() {
            if axis.isLog {
                setup += "set logscale x\nset xrange [\(xmin / 1.25):\(xmax * 1.25)]\n"
            } else {
                let pad = xmax > xmin ? 0.05 * (xmax - xmin) : max(abs(xmin) * 0.1, 1)
                setup += "set xrange [\(xmin - pad):\(xmax + pad)]\n"
            }
            let tics = zip(axis.values, numbers).map { "\(literal(axis.format($1))) \(datum($1))" }
            setup += (tics.count > 6 ? "set xtics rotate by -30\n" : "") + "set xtics (" + tics.joined(separator: ", ") + ")\n"
        } else {
            let n = axis.values.count
            setup += "set xrange [-0.5:\(Double(n) - 0.5)]\n"
            setup += (n > 5 || axis.labels.contains { $0.count > 10 } ? "set xtics rotate by -30\n" : "")
                + "set xtics (" + axis.labels.enumerated().map { "\(literal($1)) \($0)" }.joined(separator: ", ") + ")\n"
        }
        if logY {
            // Ticks at 1, 2 and 5 times the powers of ten inside the range (gnuplot's own are powers of ten only).
            // Not in the censored markers' margin.
            let (low, high) = censoredAtBottom && anyCensored ? (bottom * 2.4 / 1.4, top) : !censoredAtBottom && anyCensored ? (bottom, top * 1.4 / 2.4) : (bottom, top)
            var tics: [Double] = []
            var e = Foundation.floor(Foundation.log10(bottom))
            while Foundation.pow(10, e) <= high, tics.count < 40 {
                for m in [1.0, 2, 5] where m * Foundation.pow(10, e) >= low && m * Foundation.pow(10, e) <= high { tics.append(m * Foundation.pow(10, e)) }
                e += 1
            }
            setup += "set logscale y\n" + (tics.count >= 2 ? "set ytics (" + tics.map { "\"\(Quantity.shortest(Quantity.roundedToSignificant($0, 1)))\" \(datum($0))" }.joined(separator: ", ") + ")\n" : "")
        }
        setup += "set yrange [\(bottom):\(top)]\n"
        for (k, m) in marks.enumerated() where m.x.isFinite {
            let c = "rgb \"\(colour(m.colour))\""
            setup += "set arrow from first \(datum(m.x)), graph 0 to first \(datum(m.x)), graph 1 nohead dt 3 lw 1.5 lc \(c)\n"
            setup += "set label \(k + 1) \(literal(m.label)) at first \(datum(m.x)), graph \(0.95 - 0.05 * Double(k % 6)) left offset 0.4,0 front tc \(c) font \",10\"\n"
        }
        let titleText = literal(title(anyCensored)) + (subtitle.map { " . \"\\n\" . " + literal($0) } ?? "")
        let script = preamble + """
        set output "\(output)"
        set title \(titleText)
        set xlabel \(literal(axis.key))
        set ylabel \(literal(yLabel))
        \(setup)plot \(plots.joined(separator: ", \\\n  "))

        """
        return try gnuplot(script, in: dir, output: output)
    }

    /// The unit a sweep's times are drawn in: (divisor, name) for the largest time.
    static func timeUnit(_ largest: Double) -> (scale: Double, name: String) {
        if largest >= 2 * 86400 { return (86400, "d") }
        if largest >= 2 * 3600 { return (3600, "h") }
        if largest >= 120 { return (60, "min") }
        return (1, "s")
    }
}
