import Foundation
import Numerics
import Scenario

/// report.md, report.html and the SVG plots of a run, rendered from its data files (summary.json,
/// rounds.csv, clients.csv) — so `fedsim report DIR` can re-render them at any time.
public enum Report {
    /// What the renderer reads.
    struct Data {
        var summary: [String: JSONValue]
        var rounds: [[String: String]]
        var clients: [[String: String]]
    }

    /// A run's data files (`RunOutput.files`), by name.
    public typealias DataFiles = [(name: String, contents: Foundation.Data)]

    /// The report files rendered from a run's data files (`RunOutput.files`), as `fedsim report`
    /// renders them from disk.
    public static func files(from data: DataFiles) throws -> DataFiles {
        func text(_ name: String) -> String { data.first { $0.name == name }.map { String(decoding: $0.contents, as: UTF8.self) } ?? "" }
        return try render(summary: text("summary.json"), rounds: text("rounds.csv"), clients: text("clients.csv"))
    }

    /// The report files for in-memory results.
    public static func files(_ results: RunResults) throws -> DataFiles { try files(from: RunOutput.files(results)) }

    /// Re-renders the report of the run in `dir` (in place, atomically per file).
    public static func rerender(directory dir: String) throws -> [String] {
        func read(_ name: String, required: Bool = true) throws -> String {
            let path = dir + "/" + name
            guard let d = FileManager.default.contents(atPath: path) else {
                if !required { return "" }
                throw InputError(.file(path: path, reason: "not found: is \(dir) the output of fedsim run?"), at: "")
            }
            return String(decoding: d, as: UTF8.self)
        }
        let files = try render(summary: try read("summary.json"), rounds: try read("rounds.csv"), clients: try read("clients.csv", required: false))
        for f in files {
            let url = URL(fileURLWithPath: dir + "/" + f.name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try f.contents.write(to: url, options: .atomic)
        }
        return files.map(\.name)
    }

    /// The one-screen answer printed at the end of `fedsim run`, from the run's data files.
    public static func headline(from data: DataFiles) throws -> String {
        guard let summary = data.first(where: { $0.name == "summary.json" }),
              case let .object(s) = try JSONValue.parse(summary.contents, file: "summary.json") else { return "" }
        return headline(s)
    }

    // MARK: rendering

    static func parseCSV(_ text: String) -> [[String: String]] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard !lines.isEmpty else { return [] }
        let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return lines.map { line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            var row: [String: String] = [:]
            for (k, h) in header.enumerated() where k < cells.count { row[h] = cells[k] }
            return row
        }
    }

    static func render(summary: String, rounds: String, clients: String) throws -> [(name: String, contents: Foundation.Data)] {
        guard case let .object(s) = try JSONValue.parse(Foundation.Data(summary.utf8), file: "summary.json") else {
            throw InputError(.file(path: "summary.json", reason: "not a JSON object"), at: "")
        }
        let data = Data(summary: s, rounds: parseCSV(rounds), clients: parseCSV(clients))
        let plots = try Plots.render(data)
        let md = markdown(data, plots: plots.map(\.name))
        let html = HTMLReport.render(markdown: md, title: "FedSim — \(string(s["scenario"]))", plots: plots)
        return [("report.md", Foundation.Data(md.utf8)), ("report.html", Foundation.Data(html.utf8))]
            + plots.map { ("plots/\($0.name)", Foundation.Data($0.svg.utf8)) }
    }

    static func string(_ v: JSONValue?) -> String {
        switch v {
        case let .string(s)?: return s
        case let .number(d)?: return Quantity.shortest(d)
        default: return ""
        }
    }

    static func number(_ v: JSONValue?) -> Double? { if case let .number(d)? = v { return d }; return nil }

    static func duration(_ s: Double?) -> String { s.map { Quantity.humanReadable($0, as: .duration) } ?? "not reached" }
    static func bytes(_ b: Double?) -> String { b.map { Quantity.humanReadable($0, as: .bytes) } ?? "–" }
    static func pct(_ a: Double?) -> String { a.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }

    static func arms(_ s: [String: JSONValue]) -> [[String: JSONValue]] {
        guard case let .array(a)? = s["arms"] else { return [] }
        return a.compactMap { if case let .object(o) = $0 { return o }; return nil }
    }

    static func acrossSeeds(_ s: [String: JSONValue]) -> [String: [String: JSONValue]] {
        guard case let .array(a)? = s["across_seeds"] else { return [:] }
        var out: [String: [String: JSONValue]] = [:]
        for case let .object(o) in a { out[string(o["name"])] = o }
        return out
    }

    /// The target accuracy of the first seed's run.
    static func firstTarget(_ s: [String: JSONValue]) -> Double? {
        guard case let .array(runs)? = s["runs"], case let .object(first)? = runs.first else { return nil }
        return number(first["target_accuracy"])
    }

    static func seedCount(_ s: [String: JSONValue]) -> Int { if case let .array(a)? = s["seeds"] { return a.count }; return 1 }

    static func headline(_ s: [String: JSONValue]) -> String {
        let arms = arms(s)
        if string(s["mode"]) != "training" {
            guard let lora = arms.first(where: { string($0["codec"]) == "lora" }), let loraT = number(lora["simulated_seconds"]) else {
                return "Simulated time: " + arms.map { "\(string($0["name"])) \(duration(number($0["simulated_seconds"])))" }.joined(separator: " · ")
            }
            return "Time for \(string(lora["rounds"])) rounds (time only, no training): lora \(duration(loraT))" + arms.filter { string($0["codec"]) != "lora" }.map {
                " · \(string($0["name"])) \(duration(number($0["simulated_seconds"])))" + (number($0["time_ratio_vs_lora"]).map { " (\(String(format: "%.2f", $0))× sooner)" } ?? "")
            }.joined()
        }
        let target = firstTarget(s)
        let across = acrossSeeds(s)
        let n = seedCount(s)
        var parts: [String] = []
        for a in arms {
            let name = string(a["name"])
            let e = across[name] ?? [:]
            var text = "\(name) \(duration(n > 1 ? number(e["time_to_target_s_mean"]) : number(a["time_to_target_s"])))"
            if name != "lora", let sp = n > 1 ? number(e["speedup_vs_lora_mean"]) : number(a["speedup_vs_lora"]) {
                if n > 1 {
                    // Over seeds: the mean speedup (lora's time / this arm's) with its 95% CI.
                    text += String(format: " (speedup %.2f", sp) + (number(e["speedup_vs_lora_ci95"]).map { String(format: " ± %.2f", $0) } ?? "") + ")"
                } else {
                    text += sp >= 1 ? " (\(String(format: "%.2f", sp))× sooner)" : " (\(String(format: "%.2f", 1 / sp))× slower)"
                }
            }
            parts.append(text)
        }
        if n > 1, case let .object(res)? = s["resolved_scenario"], case let .object(t)? = res["target"], let f = number(t["fraction_of_best"]) {
            return "Time to \(pct(f)) of the best accuracy (mean of \(n) seeds; \(pct(target)) in the first): " + parts.joined(separator: " · ")
        }
        let seeds = n > 1 ? " (mean of \(n) seeds)" : ""
        return "Time to \(pct(target)) accuracy\(seeds): " + parts.joined(separator: " · ")
    }

    static func markdown(_ d: Data, plots: [String]) -> String {
        let s = d.summary
        let arms = arms(s)
        let trained = string(s["mode"]) == "training"
        let n = seedCount(s)
        var md = "# \(string(s["scenario"]))\n\n"
        md += "**\(headline(s))**\n\n"
        if case let .object(res)? = s["resolved_scenario"], case let .string(desc)? = res["description"] { md += desc + "\n\n" }
        // Setup.
        if case let .object(r)? = s["resolved_scenario"] {
            md += "## Setup\n\n"
            func obj(_ k: String) -> [String: JSONValue] { if case let .object(o)? = r[k] { return o }; return [:] }
            let pop = obj("population"), net = obj("network"), sel = obj("selection"), work = obj("workload"), server = obj("server"), av = obj("availability")
            md += "- clients: \(string(pop["clients"])), \(string(sel["per_round"])) uploads per round of \(Int((number(sel["per_round"]) ?? 0) * (1 + (number(sel["over_selection"]) ?? 0)) - 1e-9 + 1)) selected"
            md += sel["deadline"].map { ", deadline \(Quantity.parse(string($0), as: .duration).map { Quantity.humanReadable($0, as: .duration) } ?? string($0))" } ?? ", no deadline"
            md += "; seeds: \(n)\n"
            var network = string(net["profile"])
            if case let .array(mix)? = net["mix"] { network = "mix of " + mix.compactMap { if case let .object(o) = $0 { return "\(string(o["weight"]))×\(string(o["profile"]))" }; return nil }.joined(separator: ", ") }
            if network.isEmpty { network = "inline distributions" }
            md += "- network: \(network) (\(string(net["model"])) model); server link \(string(server["down"])) down / \(string(server["up"])) up; aggregation \(string(server["aggregation"]))\n"
            md += "- availability: dropout \(pct(number(av["dropout_per_round"]))) per round" + (av["sessions"] != nil ? ", on/off sessions" : "") + "\n"
            if case let .object(p)? = work["payload"] {
                md += "- payload: \(string(p["model"])) LoRA r = \(string(p["rank"])) on \(p["targets"].map { if case let .array(t) = $0 { return t.map { string($0) }.joined(separator: ",") }; return "" } ?? ""), \(string(p["values"])) values\n"
            } else {
                md += "- payload: the proxy's real messages (measured)\n"
            }
            if case let .object(t)? = work["train"] {
                var part = ""
                if case let .object(p)? = t["partition"] { part = p.map { "\($0.key) \(string($0.value))" }.joined() } else { part = string(t["partition"]) }
                let lora: [String: JSONValue] = { if case let .object(o)? = t["lora"] { return o }; return [:] }()
                md += "- training: \(string(t["dataset"]) == "" ? "synthetic" : string(t["dataset"])), partition \(part), LoRA r = \(string(lora["rank"])) on every layer of an MLP with hidden widths \(t["hidden"].map { if case let .array(h) = $0 { return h.map { string($0) }.joined(separator: "-") }; return "" } ?? "")\n"
            }
            md += "\n"
        }
        // Results.
        md += "## Results\n\n"
        if trained {
            let across = acrossSeeds(s)
            md += "| arm | time to target | rounds to target | speedup vs lora | final accuracy | best | upload / client | download / client | bytes up vs lora |\n"
            md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            for a in arms {
                let name = string(a["name"]), e = across[name] ?? [:]
                var tta = duration(number(a["time_to_target_s"])), sp = number(a["speedup_vs_lora"]).map { String(format: "%.2f×", $0) } ?? "–"
                if n > 1 {
                    tta = duration(number(e["time_to_target_s_mean"])) + (number(e["time_to_target_s_ci95"]).map { " ± " + duration($0) } ?? "")
                    sp = number(e["speedup_vs_lora_mean"]).map { String(format: "%.2f×", $0) + (number(e["speedup_vs_lora_ci95"]).map { String(format: " ± %.2f", $0) } ?? "") } ?? "–"
                }
                md += "| \(name) | \(tta) | \(string(a["rounds_to_target"]).isEmpty ? "–" : string(a["rounds_to_target"])) | \(name == "lora" ? "1×" : sp) | \(pct(number(a["final_accuracy"]))) | \(pct(number(a["best_accuracy"]))) | \(bytes(number(a["upload_bytes_per_client"]))) | \(bytes(number(a["download_bytes_in_sync"]))) | \(number(a["bytes_up_vs_lora"]).map { String(format: "%.3f", $0) } ?? "–") |\n"
            }
            md += "\nTarget accuracy: \(pct(firstTarget(s)))"
            md += " (the frozen base alone scores \(pct(number(arms.first?["initial_accuracy"])))). "
            md += n > 1 ? "Times and speedups are means over \(n) seeds with 95% confidence intervals (Student's t); the rest is the first seed.\n\n" : "One seed; run with `--seeds 5` for confidence intervals.\n\n"
        } else {
            md += "| arm | rounds | simulated time | median round | upload / client | download / client | completed | dropped | late |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            for a in arms {
                md += "| \(string(a["name"])) | \(string(a["rounds"])) | \(duration(number(a["simulated_seconds"]))) | \(duration(number(a["median_round_seconds"]))) | \(bytes(number(a["upload_bytes_per_client"]))) | \(bytes(number(a["download_bytes_in_sync"]))) | \(string(a["completed"])) | \(string(a["dropped"])) | \(string(a["late"])) |\n"
            }
            md += "\n"
        }
        md += "Bytes over the whole run (first seed): " + arms.map { "\(string($0["name"])) \(bytes(number($0["bytes_up"]))) up, \(bytes(number($0["bytes_down"]))) down" }.joined(separator: "; ") + ".\n\n"
        // Plots.
        if !plots.isEmpty {
            md += "## Plots\n\n"
            for p in plots { md += "![\(Plots.title(p))](plots/\(p))\n\n" }
        }
        // Measured vs modelled.
        md += "## What is measured and what is modelled\n\n**Measured** (really computed in this run):\n\n"
        if case let .array(m)? = s["measured"] { for x in m { md += "- \(string(x))\n" } }
        md += "\n**Modelled** (computed from models, not observed):\n\n"
        if case let .array(m)? = s["modelled"] { for x in m { md += "- \(string(x))\n" } }
        md += "\nData: `summary.json`, `rounds.csv`, `clients.csv`. Re-render this report with `fedsim report DIR`.\n"
        return md
    }
}
