import Federation
import Foundation
import Numerics

/// SVG plots rendered by gnuplot (Debian's gnuplot-nox) from the run's records.
enum Plots {
    struct Plot { var name: String; var svg: String }

    static let titles = [
        "accuracy-vs-time.svg": "Accuracy vs simulated wall-clock time",
        "accuracy-vs-round.svg": "Accuracy vs round",
        "loss-vs-time.svg": "Loss (the target's metric) vs simulated wall-clock time",
        "perplexity-vs-time.svg": "Perplexity (the target's metric) vs simulated wall-clock time",
        "bytes-per-round.svg": "Bytes per round (up and down)",
        "client-time-cdf.svg": "CDF of a completed client's round time",
        "phases.svg": "Where a round's time goes (mean per completed client)",
        "round-duration.svg": "Round duration",
        "fidelity.svg": "How faithfully each codec carried the updates, per round",
        "availability.svg": "Clients online and selectable vs simulated time (first seed)",
    ]
    static func title(_ name: String) -> String { titles[name] ?? name }

    /// The settings every FedSim plot starts with.
    static let preamble = """
        set terminal svg size 760,430 dynamic font "sans,12" background rgb "white"
        set grid lc rgb "#dddddd"
        set key outside right top
        set datafile missing "NaN"

        """

    /// A gnuplot string literal that is always data: single-quoted (gnuplot expands neither
    /// backquotes, `@` macros nor backslash escapes inside single quotes), quotes doubled, control
    /// characters (a newline would end the command) replaced by spaces, at most 80 characters.
    /// Enhanced text's control characters (`\\ ^ _ @ ~ { }`) are backslash-escaped so they are
    /// drawn as typed; `&` (which gnuplot's SVG text would leave unescaped) becomes a full-width ＆.
    static func literal(_ text: String) -> String {
        var t = PlainText.withoutControlCharacters(text, format: true)
        if t.count > 80 { t = String(t.prefix(79)) + "…" }
        var out = ""
        for c in t {
            switch c {
            case "'": out += "''"
            case "&": out += "＆"
            case "\\", "^", "_", "@", "~", "{", "}": out += "\\" + String(c)
            default: out.append(c)
            }
        }
        return "'" + out + "'"
    }

    /// A plot that could not be drawn, and why (shown as a note in the report instead).
    struct Failure: Error { var reason: String }

    /// The gnuplot executable (Debian's gnuplot-nox), if installed.
    static var executable: String? {
        ["/usr/bin/gnuplot", "/usr/local/bin/gnuplot"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs gnuplot on `script` in `dir` (an argv list, never a shell; killed after `timeout`
    /// seconds) and returns the SVG it wrote to `output`.
    static func gnuplot(_ script: String, in dir: URL, output: String, timeout: Double = 60) throws -> String {
        guard let gnuplot = executable else { throw Failure(reason: "gnuplot is not installed (make setup installs Debian's gnuplot-nox)") }
        let scriptURL = dir.appendingPathComponent("plot.gp")
        do { try Data(script.utf8).write(to: scriptURL) } catch { throw Failure(reason: "cannot write its script (\(InputFile.plain(error)))") }
        try? FileManager.default.removeItem(at: dir.appendingPathComponent(output))
        let errFile = dir.appendingPathComponent("gnuplot.err")
        let outcome: Subprocess.Outcome
        do {
            outcome = try Subprocess.run(gnuplot, ["plot.gp"], in: dir.path, standardOutput: "/dev/null", standardError: errFile.path, timeout: timeout)
        } catch {
            throw Failure(reason: "gnuplot could not be started (\(error))")
        }
        if case .timedOut = outcome.ending { throw Failure(reason: "gnuplot took longer than \(Int(timeout)) s") }
        let message = ((try? String(contentsOf: errFile, encoding: .utf8)) ?? "")
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.suffix(2).joined(separator: " ")
        guard outcome.succeeded, let svg = try? String(contentsOf: dir.appendingPathComponent(output), encoding: .utf8), svg.contains("</svg>") else {
            throw Failure(reason: "gnuplot failed" + (message.isEmpty ? "" : ": " + String(message.prefix(200))))
        }
        return svg
    }

    /// Draws each (name, script) that has data; a plot that cannot be drawn becomes a note.
    static func draw(_ scripts: [(name: String, script: String?)], in dir: URL) -> (plots: [Plot], notes: [String]) {
        var plots: [Plot] = [], notes: [String] = []
        for (name, script) in scripts {
            guard let script else { notes.append("\(title(name)): not drawn, no data"); continue }
            do {
                plots.append(Plot(name: name, svg: try gnuplot(preamble + "set output \"\(name)\"\n" + script, in: dir, output: name)))
            } catch let f as Failure {
                notes.append("\(title(name)): not drawn (\(f.reason))")
            } catch {
                notes.append("\(title(name)): not drawn (\(error))")
            }
        }
        return (plots, notes)
    }

    /// A fresh scratch directory for plot data and scripts (removed by the caller).
    static func scratch(_ tag: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-\(tag)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A number for a data file: finite values as Swift prints them, anything else NaN.
    static func datum(_ x: Double?) -> String { x.map { $0.isFinite ? "\($0)" : "NaN" } ?? "NaN" }

    /// A finite number, or nil (a value a plot leaves out).
    static func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }

    /// The run's plots from its rows (first seed), and a note for each plot that could not be drawn.
    /// With a loss or perplexity `target`, also that metric against time, with the target as a line.
    /// With `availability` rows (sessions, a trace or a window), also the fraction of clients
    /// online and selectable against time.
    static func render(rounds allRounds: [RoundRow], clients: [ClientRow],
                       target: (metric: Metrics.Metric, value: Double?) = (.accuracy, nil),
                       availability allAvailability: [AvailabilityRow] = []) throws -> (plots: [Plot], notes: [String]) {
        let dir = try scratch("plots")
        defer { try? FileManager.default.removeItem(at: dir) }
        let firstSeed = allRounds.first?.seed
        let rounds = allRounds.filter { $0.seed == firstSeed }
        var arms: [String] = []
        for r in rounds where !arms.contains(r.arm) { arms.append(r.arm) }
        let trained = rounds.contains { $0.record.accuracy.map { !$0.isNaN } ?? false }
        func completed(_ arm: String) -> [ClientRow] {
            clients.filter { $0.seed == firstSeed && $0.arm == arm && $0.record.outcome == .completed }
        }
        var haveCDF = false
        // One data file per arm: round, end time (h), accuracy, MB up, MB down, duration (min), the target's metric.
        for (k, arm) in arms.enumerated() {
            var text = "# round end_h accuracy up_MB down_MB duration_min \(target.metric.rawValue) kept_energy cosine norm_ratio\n"
            for r in rounds where r.arm == arm {
                let x = r.record
                let end = finite(x.endSeconds).map { $0 / 3600 }, duration = finite(x.durationSeconds)
                text += [datum(Double(x.round)), datum(end), datum(finite(x.accuracy)), datum(Double(x.bytesUp) / 1e6),
                         datum(Double(x.bytesDown) / 1e6), datum(duration.map { $0 / 60 }),
                         datum(finite(Metrics.value(target.metric, x))), datum(finite(x.keptEnergy)),
                         datum(finite(x.updateCosine)), datum(finite(x.updateNormRatio))].joined(separator: " ") + "\n"
            }
            try Data(text.utf8).write(to: dir.appendingPathComponent("arm\(k).dat"))
            // Completed clients' round times (min), sorted, with their empirical CDF.
            let times = completed(arm).compactMap { c -> Double? in
                guard let a = finite(c.record.downloadSeconds), let b = finite(c.record.computeSeconds), let u = finite(c.record.uploadSeconds) else { return nil }
                return (a + b + u) / 60
            }.sorted()
            haveCDF = haveCDF || times.contains { $0 > 0 }
            var cdf = ""
            for (i, t) in times.enumerated() { cdf += "\(t) \(Double(i + 1) / Double(times.count))\n" }
            try Data(cdf.utf8).write(to: dir.appendingPathComponent("cdf\(k).dat"))
        }
        // Phase means per arm (one row per arm, in order): download, compute, upload, waiting.
        var phases = "download compute upload waiting\n"
        for arm in arms {
            let done = completed(arm)
            func mean(_ key: KeyPath<ClientRecord, Double>) -> Double {
                let v = done.compactMap { finite($0.record[keyPath: key]) }
                return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) / 60
            }
            let durations = rounds.filter { $0.arm == arm }.compactMap { finite($0.record.durationSeconds) }
            let round = durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count) / 60
            let (dl, cp, ul) = (mean(\.downloadSeconds), mean(\.computeSeconds), mean(\.uploadSeconds))
            phases += "\(dl) \(cp) \(ul) \(max(0, round - dl - cp - ul))\n"
        }
        try Data(phases.utf8).write(to: dir.appendingPathComponent("phases.dat"))
        let haveClients = arms.contains { !completed($0).isEmpty }

        let head = """
        set border lc rgb "#555555"
        set style line 1 lw 2 lc rgb "#1f77b4"
        set style line 2 lw 2 lc rgb "#d62728"
        set style line 3 lw 2 lc rgb "#2ca02c"
        set style line 4 lw 2 lc rgb "#9467bd"
        set style line 5 lw 2 lc rgb "#ff7f0e"
        set style line 6 lw 2 lc rgb "#8c564b"
        set style line 7 lw 2 lc rgb "#e377c2"
        set style line 8 lw 2 lc rgb "#7f7f7f"

        """
        func lines(_ file: (Int) -> String, _ using: String, _ extra: String = "") -> String {
            arms.indices.map { "\"\(file($0))\" using \(using) with lines ls \($0 % 8 + 1) title \(literal(arms[$0]))\(extra)" }.joined(separator: ", \\\n  ")
        }
        let any = !arms.isEmpty
        var scripts: [(name: String, script: String?)] = []
        if trained {
            scripts.append(("accuracy-vs-time.svg", head + "set title \"Test accuracy vs simulated time\"\nset xlabel \"simulated time (h)\"\nset ylabel \"accuracy\"\nplot " + lines({ "arm\($0).dat" }, "2:3") + "\n"))
            scripts.append(("accuracy-vs-round.svg", head + "set title \"Test accuracy vs round\"\nset xlabel \"round\"\nset ylabel \"accuracy\"\nplot " + lines({ "arm\($0).dat" }, "1:3") + "\n"))
            if target.metric.lowerIsBetter {
                let m = target.metric.rawValue, unit = target.metric == .loss ? " (nats)" : ""
                let line = finite(target.value).map { ", \\\n  \($0) with lines dt 2 lw 1.5 lc rgb \"#555555\" title \(literal("target " + Report.metricValue(target.metric, $0)))" } ?? ""
                scripts.append(("\(m)-vs-time.svg", head + "set title \"Test \(m) vs simulated time\"\nset xlabel \"simulated time (h)\"\nset ylabel \"\(m)\(unit)\"\nplot "
                                + lines({ "arm\($0).dat" }, "2:7") + line + "\n"))
            }
        } else {
            scripts.append(("round-duration.svg", any ? head + "set title \"Round duration\"\nset xlabel \"round\"\nset ylabel \"minutes\"\nplot " + lines({ "arm\($0).dat" }, "1:6") + "\n" : nil))
        }
        if trained {
            let haveFidelity = rounds.contains { finite($0.record.updateCosine) != nil }
            scripts.append(("fidelity.svg", haveFidelity ? head + """
            set title "Kept energy of the uploads (solid) and cosine of the applied update with exact FedAvg (dashed)"
            set xlabel "round"
            set ylabel "fraction (1 = lossless)"
            set yrange [*:1.05]
            plot \(lines({ "arm\($0).dat" }, "1:8")), \\
              \(arms.indices.map { "\"arm\($0).dat\" using 1:9 with lines ls \($0 % 8 + 1) dt 2 notitle" }.joined(separator: ", \\\n  "))

            """ : nil))
        }
        let haveBytes = rounds.contains { $0.record.bytesUp > 0 || $0.record.bytesDown > 0 }
        scripts.append(("bytes-per-round.svg", haveBytes ? head + "set title \"Bytes per round (solid: up, dashed: down)\"\nset xlabel \"round\"\nset ylabel \"MB\"\nset logscale y\nplot "
                        + lines({ "arm\($0).dat" }, "1:($4 > 0 ? $4 : NaN)") + ", \\\n  "
                        + arms.indices.map { "\"arm\($0).dat\" using 1:($5 > 0 ? $5 : NaN) with lines ls \($0 % 8 + 1) dt 2 notitle" }.joined(separator: ", \\\n  ") + "\n" : nil))
        scripts.append(("client-time-cdf.svg", haveCDF ? head + "set title \"CDF of a completed client's round time (download + compute + upload)\"\nset xlabel \"minutes\"\nset ylabel \"fraction of clients\"\nset logscale x\nplot "
                        + lines({ "cdf\($0).dat" }, "1:2") + "\n" : nil))
        let xtics = "set xtics (" + arms.enumerated().map { "\(literal($1)) \($0)" }.joined(separator: ", ") + ")\n"
        scripts.append(("phases.svg", haveClients ? head + """
        set title "Where the time goes: mean per completed client, and waiting for the round to close"
        set ylabel "minutes"
        set style data histograms
        set style histogram rowstacked
        set style fill solid 0.85 border -1
        set boxwidth 0.6
        set key autotitle columnheader
        \(xtics)plot "phases.dat" using 1 lc rgb "#1f77b4", '' using 2 lc rgb "#2ca02c", '' using 3 lc rgb "#d62728", '' using 4 lc rgb "#bbbbbb"

        """ : nil))
        let availability = allAvailability.filter { $0.seed == (firstSeed ?? allAvailability.first?.seed) }
        if !availability.isEmpty {
            var text = "# time_h online selectable\n"
            for a in availability { text += "\(datum(a.sample.seconds / 3600)) \(datum(a.sample.online)) \(datum(a.sample.selectable))\n" }
            try Data(text.utf8).write(to: dir.appendingPathComponent("availability.dat"))
            let n = availability.first?.sample.clients ?? 0
            scripts.append(("availability.svg", head + """
            set title "Clients online and selectable (\(n) followed, first seed)"
            set xlabel "simulated time (h)"
            set ylabel "fraction of clients"
            set yrange [0:1.05]
            set key below horizontal
            plot "availability.dat" using 1:2 with lines ls 1 title 'online (sessions or trace)', \\
              "availability.dat" using 1:3 with lines ls 2 title 'selectable (online, in window, conditions met)'

            """))
        }
        return draw(scripts, in: dir)
    }
}
