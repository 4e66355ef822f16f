import Foundation
import Numerics
import Scenario

/// report.md, report.html and the SVG plots of a run, rendered from its records (`RunRecords`):
/// in memory at the end of `fedsim run`, decoded from the data files (summary.json, rounds.csv,
/// clients.csv) by `fedsim report DIR`.
public enum Report {
    /// Files by name (relative to the run directory) and contents.
    public typealias Files = [(name: String, contents: Data)]

    /// The report files for in-memory results.
    public static func files(_ results: RunResults) throws -> Files { try files(RunRecords(results)) }

    /// The report files of a run's records: report.md, report.html and plots/*.svg.
    public static func files(_ records: RunRecords) throws -> Files {
        let drawn = try Plots.render(rounds: records.rounds, clients: records.clients, target: records.summary.target,
                                     availability: records.availability)
        let doc = document(records.summary, plots: drawn.plots, notes: drawn.notes, computeShares: records.computeShares)
        return [("report.md", Data(doc.markdown.utf8)), ("report.html", Data(doc.html.utf8))]
            + drawn.plots.map { ("plots/\($0.name)", Data($0.svg.utf8)) }
    }

    /// Re-renders the report of the run in `dir` (in place, atomically per file) from its data
    /// files, decoded typed: a file that does not decode is an `InputError` naming it (and the
    /// line and column of a CSV, the key path of summary.json).
    public static func rerender(directory dir: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError(.file(path: dir, reason: FileManager.default.fileExists(atPath: dir) ? "is not a directory: give the output folder of fedsim run" : "no such directory"), at: "")
        }
        if !OutputDirectory.isMarked(dir, kind: .run) {
            throw InputError(.file(path: dir, reason: "was not written by fedsim run (no \(OutputDirectory.marker) file): fedsim report rewrites only the reports of fedsim's own output directories"), at: "")
        }
        func read(_ name: String, required: Bool = true) throws -> Data? {
            let path = dir + "/" + name
            if !FileManager.default.fileExists(atPath: path) {
                guard !required else { throw InputError(.file(path: path, reason: "not found: is \(dir) the output of fedsim run?"), at: "") }
                return nil
            }
            return try InputFile.read(path)
        }
        func text(_ data: Data?) -> String? { data.map { String(decoding: $0, as: UTF8.self) } }
        let records = try RunRecords.read(summary: try read("summary.json") ?? Data(), rounds: text(try read("rounds.csv")) ?? "",
                                          clients: text(try read("clients.csv", required: false)),
                                          availability: text(try read("availability.csv", required: false)),
                                          names: (dir + "/summary.json", dir + "/rounds.csv", dir + "/clients.csv"),
                                          availabilityName: dir + "/availability.csv")
        let files = try files(records)
        OutputDirectory.cleanStale(in: dir)
        OutputDirectory.cleanStale(in: dir + "/plots")
        for f in files { try OutputDirectory.writeFile(f.contents, to: dir + "/" + f.name) }
        return files.map(\.name)
    }

    /// The one-screen answer printed at the end of `fedsim run`.
    public static func headline(_ results: RunResults) -> String {
        var shares: [String: ComputeShare] = [:]
        for run in results.runs {
            for a in run.arms {
                for r in a.rounds { shares[a.name, default: ComputeShare()].add(r) }
                for c in a.clients { shares[a.name, default: ComputeShare()].add(c) }
            }
        }
        return headline(RunSummary(results), computeShares: shares.compactMapValues(\.value))
    }

    /// The one-screen answer of a summary: time to the target (accuracy, loss or perplexity) per arm (or, time only,
    /// simulated time), with the speedup over lora; then, per arm, the share of the mean round its
    /// selected clients spent training locally (`computeShares`, by arm name; `Metrics.computeShare`).
    public static func headline(_ s: RunSummary, computeShares: [String: Double] = [:]) -> String {
        let shares = s.arms.compactMap { a in computeShares[a.name].map { "\(PlainText.printable(a.name)) \(pct($0))" } }
        let computing = shares.isEmpty ? "" : ". Share of the mean round spent training locally: " + shares.joined(separator: " · ")
        return answer(s) + computing
    }

    /// The headline's first sentence: time to target (or simulated time) per arm.
    private static func answer(_ s: RunSummary) -> String {
        func name(_ a: RunSummary.Arm) -> String { PlainText.printable(a.name) }
        if s.mode != .training {
            guard let lora = s.arms.first(where: { $0.codec == "lora" }) else {
                return "Simulated time: " + s.arms.map { "\(name($0)) \(duration($0.simulatedSeconds))" }.joined(separator: " · ")
            }
            return "Time for \(Quantity.shortest(Double(lora.rounds))) rounds (time only, no training): lora \(duration(lora.simulatedSeconds))"
                + s.arms.filter { $0.codec != "lora" }.map {
                    " · \(name($0)) \(duration($0.simulatedSeconds))" + ($0.timeRatioVsLora.map { " (\(String(format: "%.2f", $0))× sooner)" } ?? "")
                }.joined()
        }
        let (metric, target) = s.target
        let across = s.acrossSeedsByName
        let n = s.seeds.count
        var parts: [String] = []
        for a in s.arms {
            let e = across[a.name]
            var text = "\(name(a)) \(duration(n > 1 ? e?.timeToTargetMean : a.timeToTargetSeconds))"
            if name(a) != "lora", let sp = n > 1 ? e?.speedupVsLoraMean : a.speedupVsLora {
                if n > 1 {
                    // Over seeds: the mean speedup (lora's time / this arm's) with its 95% CI.
                    text += String(format: " (speedup %.2f", sp) + (e?.speedupVsLoraCI95.map { String(format: " ± %.2f", $0) } ?? "") + ")"
                } else {
                    text += sp >= 1 ? " (\(String(format: "%.2f", sp))× sooner)" : " (\(String(format: "%.2f", 1 / sp))× slower)"
                }
            }
            parts.append(text)
        }
        if n > 1, case let .object(res) = s.resolvedScenario, case let .object(t)? = res["target"], case let .number(f)? = t["fraction_of_best"] {
            if metric.lowerIsBetter {
                return "Time to \(pct(f)) of the best arm's \(metric.rawValue) improvement on the base (mean of \(n) seeds; \(targetText(metric, target)) in the first): "
                    + parts.joined(separator: " · ")
            }
            return "Time to \(pct(f)) of the best accuracy (mean of \(n) seeds; \(pct(target)) in the first): " + parts.joined(separator: " · ")
        }
        let seeds = n > 1 ? " (mean of \(n) seeds)" : ""
        return "Time to \(targetText(metric, target))\(seeds): " + parts.joined(separator: " · ")
    }

    /// A target for people: "18.1% accuracy", "loss 2.750 nats", "perplexity 15.64".
    static func targetText(_ metric: Metrics.Metric, _ v: Double?) -> String {
        switch metric {
        case .accuracy: return "\(pct(v)) accuracy"
        case .loss: return "loss \(metricValue(metric, v))"
        case .perplexity: return "perplexity \(metricValue(metric, v))"
        }
    }

    /// A value of `metric` for people: accuracy in percent, loss in nats (3 decimals), perplexity (2 decimals).
    static func metricValue(_ metric: Metrics.Metric, _ v: Double?) -> String {
        guard let v, v.isFinite else { return "–" }
        switch metric {
        case .accuracy: return pct(v)
        case .loss: return String(format: "%.3f nats", v)
        case .perplexity: return String(format: "%.2f", v)
        }
    }

    // MARK: formatting for people

    /// A whole number for people (no trap on huge values).
    static func count(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        return abs(x) < 1e15 ? String(Int64(x.rounded(.down))) : Quantity.shortest(x)
    }

    static func duration(_ s: Double?) -> String { s.map { Quantity.humanReadable($0, as: .duration) } ?? "not reached" }
    static func bytes(_ b: Double?) -> String { b.map { Quantity.humanReadable($0, as: .bytes) } ?? "–" }
    static func pct(_ a: Double?) -> String { a.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }

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

extension RunSummary {
    /// The across-seed statistics by arm name (the last entry of a name wins).
    var acrossSeedsByName: [String: AcrossSeeds] {
        Dictionary(acrossSeeds.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
    }
}
