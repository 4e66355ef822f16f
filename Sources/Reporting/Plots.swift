import Foundation
import Numerics

/// SVG plots rendered by gnuplot (Debian's gnuplot-nox) from the run's data.
enum Plots {
    struct Plot { var name: String; var svg: String }

    static let titles = [
        "accuracy-vs-time.svg": "Accuracy vs simulated wall-clock time",
        "accuracy-vs-round.svg": "Accuracy vs round",
        "bytes-per-round.svg": "Bytes per round (up and down)",
        "client-time-cdf.svg": "CDF of a completed client's round time",
        "phases.svg": "Where a round's time goes (mean per completed client)",
        "round-duration.svg": "Round duration",
    ]
    static func title(_ name: String) -> String { titles[name] ?? name }

    /// The settings every FedSim plot starts with.
    static let preamble = """
        set terminal svg size 760,430 dynamic font "sans,12" background rgb "white"
        set grid lc rgb "#dddddd"
        set key outside right top
        set datafile missing "NaN"

        """

    /// Runs gnuplot on `script` in `dir` and returns the SVG it wrote to `output`.
    static func gnuplot(_ script: String, in dir: URL, output: String) throws -> String {
        guard let gnuplot = ["/usr/bin/gnuplot", "/usr/local/bin/gnuplot"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw InputError(.file(path: "gnuplot", reason: "not found: install Debian's gnuplot-nox (make setup)"), at: "")
        }
        try script.write(to: dir.appendingPathComponent("plot.gp"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gnuplot)
        p.arguments = ["plot.gp"]
        p.currentDirectoryURL = dir
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let svg = try? String(contentsOf: dir.appendingPathComponent(output), encoding: .utf8) else {
            throw InputError(.file(path: "gnuplot", reason: "failed on \(output): \(String(decoding: message, as: UTF8.self))"), at: "")
        }
        return svg
    }

    static func render(_ d: Report.Data) throws -> [Plot] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-plots-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let firstSeed = d.rounds.first?["seed"] ?? ""
        let rounds = d.rounds.filter { $0["seed"] == firstSeed }
        var arms: [String] = []
        for r in rounds where !arms.contains(r["arm"]!) { arms.append(r["arm"]!) }
        let trained = rounds.contains { !($0["accuracy"] ?? "").isEmpty }
        // One data file per arm: round, end time (h), accuracy, MB up, MB down, duration (min).
        for (k, arm) in arms.enumerated() {
            var text = "# round end_h accuracy up_MB down_MB duration_min\n"
            for r in rounds where r["arm"] == arm {
                let end = (Double(r["end_s"] ?? "") ?? 0) / 3600
                text += "\(r["round"]!) \(end) \((r["accuracy"] ?? "").isEmpty ? "NaN" : r["accuracy"]!) \((Double(r["bytes_up"] ?? "") ?? 0) / 1e6) \((Double(r["bytes_down"] ?? "") ?? 0) / 1e6) \((Double(r["duration_s"] ?? "") ?? 0) / 60)\n"
            }
            try text.write(to: dir.appendingPathComponent("arm\(k).dat"), atomically: true, encoding: .utf8)
            // Completed clients' round times (s), sorted, with their empirical CDF.
            let times = d.clients.filter { $0["seed"] == firstSeed && $0["arm"] == arm && $0["outcome"] == "completed" }.compactMap { c -> Double? in
                guard let a = Double(c["download_s"] ?? ""), let b = Double(c["compute_s"] ?? ""), let u = Double(c["upload_s"] ?? "") else { return nil }
                return (a + b + u) / 60
            }.sorted()
            var cdf = ""
            for (i, t) in times.enumerated() { cdf += "\(t) \(Double(i + 1) / Double(times.count))\n" }
            try cdf.write(to: dir.appendingPathComponent("cdf\(k).dat"), atomically: true, encoding: .utf8)
        }
        // Phase means per arm: download, compute, upload, waiting (round duration − client time).
        var phases = "arm download compute upload waiting\n"
        for arm in arms {
            let done = d.clients.filter { $0["seed"] == firstSeed && $0["arm"] == arm && $0["outcome"] == "completed" }
            func mean(_ key: String) -> Double {
                let v = done.compactMap { Double($0[key] ?? "") }
                return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) / 60
            }
            let durations = rounds.filter { $0["arm"] == arm }.compactMap { Double($0["duration_s"] ?? "") }
            let round = durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count) / 60
            let (dl, cp, ul) = (mean("download_s"), mean("compute_s"), mean("upload_s"))
            phases += "\(arm) \(dl) \(cp) \(ul) \(max(0, round - dl - cp - ul))\n"
        }
        try phases.write(to: dir.appendingPathComponent("phases.dat"), atomically: true, encoding: .utf8)

        let head = preamble + """
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
            arms.indices.map { "\"\(file($0))\" using \(using) with lines ls \($0 % 8 + 1) title \"\(arms[$0])\"\(extra)" }.joined(separator: ", \\\n  ")
        }
        var scripts: [(String, String)] = []
        if trained {
            scripts.append(("accuracy-vs-time.svg", "set title \"Test accuracy vs simulated time\"\nset xlabel \"simulated time (h)\"\nset ylabel \"accuracy\"\nplot " + lines({ "arm\($0).dat" }, "2:3") + "\n"))
            scripts.append(("accuracy-vs-round.svg", "set title \"Test accuracy vs round\"\nset xlabel \"round\"\nset ylabel \"accuracy\"\nplot " + lines({ "arm\($0).dat" }, "1:3") + "\n"))
        } else {
            scripts.append(("round-duration.svg", "set title \"Round duration\"\nset xlabel \"round\"\nset ylabel \"minutes\"\nplot " + lines({ "arm\($0).dat" }, "1:6") + "\n"))
        }
        scripts.append(("bytes-per-round.svg", "set title \"Bytes per round (solid: up, dashed: down)\"\nset xlabel \"round\"\nset ylabel \"MB\"\nset logscale y\nplot "
                        + lines({ "arm\($0).dat" }, "1:($4 > 0 ? $4 : NaN)") + ", \\\n  "
                        + arms.indices.map { "\"arm\($0).dat\" using 1:($5 > 0 ? $5 : NaN) with lines ls \($0 % 8 + 1) dt 2 notitle" }.joined(separator: ", \\\n  ") + "\n"))
        scripts.append(("client-time-cdf.svg", "set title \"CDF of a completed client's round time (download + compute + upload)\"\nset xlabel \"minutes\"\nset ylabel \"fraction of clients\"\nset logscale x\nplot "
                        + lines({ "cdf\($0).dat" }, "1:2") + "\n"))
        scripts.append(("phases.svg", """
        set title "Where the time goes: mean per completed client, and waiting for the round to close"
        set ylabel "minutes"
        set style data histograms
        set style histogram rowstacked
        set style fill solid 0.85 border -1
        set boxwidth 0.6
        set key autotitle columnheader
        plot "phases.dat" using 2:xtic(1) lc rgb "#1f77b4", '' using 3 lc rgb "#2ca02c", '' using 4 lc rgb "#d62728", '' using 5 lc rgb "#bbbbbb"

        """))
        var out: [Plot] = []
        for (name, body) in scripts {
            out.append(Plot(name: name, svg: try gnuplot(head + "set output \"\(name)\"\n" + body, in: dir, output: name)))
        }
        return out
    }
}
