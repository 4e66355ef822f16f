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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError(.file(path: dir, reason: FileManager.default.fileExists(atPath: dir) ? "is not a directory: give the output folder of fedsim run" : "no such directory"), at: "")
        }
        if !OutputDirectory.isMarked(dir, kind: .run) {
            throw InputError(.file(path: dir, reason: "was not written by fedsim run (no \(OutputDirectory.marker) file): fedsim report rewrites only the reports of fedsim's own output directories"), at: "")
        }
        func read(_ name: String, required: Bool = true) throws -> String {
            let path = dir + "/" + name
            if !FileManager.default.fileExists(atPath: path) {
                guard !required else { throw InputError(.file(path: path, reason: "not found: is \(dir) the output of fedsim run?"), at: "") }
                return ""
            }
            return String(decoding: try InputFile.read(path), as: UTF8.self)
        }
        let files = try render(summary: try read("summary.json"), rounds: try read("rounds.csv"), clients: try read("clients.csv", required: false),
                               names: (dir + "/summary.json", dir + "/rounds.csv", dir + "/clients.csv"))
        OutputDirectory.cleanStale(in: dir)
        OutputDirectory.cleanStale(in: dir + "/plots")
        for f in files { try OutputDirectory.writeFile(f.contents, to: dir + "/" + f.name) }
        return files.map(\.name)
    }

    /// The one-screen answer printed at the end of `fedsim run`, from the run's data files.
    public static func headline(from data: DataFiles) throws -> String {
        guard let summary = data.first(where: { $0.name == "summary.json" }),
              case let .object(s) = try JSONValue.parse(summary.contents, file: "summary.json") else { return "" }
        return headline(s)
    }

    // MARK: rendering

    /// The report files from the text of a run's data files (`names`: where they came from, for messages).
    static func render(summary: String, rounds: String, clients: String,
                       names: (String, String, String) = ("summary.json", "rounds.csv", "clients.csv")) throws -> [(name: String, contents: Foundation.Data)] {
        guard case let .object(s) = try JSONValue.parse(Foundation.Data(summary.utf8), file: names.0) else {
            throw InputError(.file(path: names.0, reason: "not a JSON object"), at: "")
        }
        let data = Data(summary: s, rounds: try CSV.parse(rounds, file: names.1).rows, clients: try CSV.parse(clients, file: names.2).rows)
        let drawn = try Plots.render(data)
        let md = markdown(data, plots: drawn.plots.map(\.name), notes: drawn.notes)
        let html = HTMLReport.render(markdown: md, title: "FedSim — \(string(s["scenario"]))", plots: drawn.plots)
        return [("report.md", Foundation.Data(md.utf8)), ("report.html", Foundation.Data(html.utf8))]
            + drawn.plots.map { ("plots/\($0.name)", Foundation.Data($0.svg.utf8)) }
    }

    /// User text (names, descriptions) as inert Markdown on one line: control characters become
    /// spaces, Markdown's active characters are backslash-escaped, at most `limit` characters.
    static func text(_ s: String, limit: Int = 2000) -> String {
        var out = ""
        for c in withoutControlCharacters(String(s.prefix(limit))) {
            if "\\`*[]<>|".contains(c) { out.append("\\") }
            out.append(c)
        }
        if let first = out.first, "#-+!=~".contains(first) { out = "\\" + out }
        return s.count > limit ? out + "…" : out
    }

    /// A whole number for people, from a JSON number that may be anything (no trap on huge values).
    static func count(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        return abs(x) < 1e15 ? String(Int64(x.rounded(.down))) : Quantity.shortest(x)
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

    /// Text safe to print on a terminal: control characters (escape sequences) become spaces.
    static func printable(_ s: String) -> String { String(withoutControlCharacters(s).prefix(200)) }

    /// `s` with each character that holds a control character (and, with `format`, an invisible
    /// format character such as a bidirectional override) replaced by a space: user text that
    /// cannot end a line, start a terminal escape or reorder what is shown.
    static func withoutControlCharacters(_ s: String, format: Bool = false) -> String {
        String(s.map { c in
            c.unicodeScalars.contains { $0.properties.generalCategory == .control || (format && $0.properties.generalCategory == .format) } ? " " : c
        })
    }

    static func headline(_ s: [String: JSONValue]) -> String {
        let arms = arms(s).map { a in a.merging(["name": .string(printable(string(a["name"])))]) { $1 } }
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

    static func markdown(_ d: Data, plots: [String], notes: [String] = []) -> String {
        let s = d.summary
        let arms = arms(s)
        let trained = string(s["mode"]) == "training"
        let n = seedCount(s)
        var md = "# \(text(string(s["scenario"])))\n\n"
        md += "**\(text(headline(s)))**\n\n"
        if case let .object(res)? = s["resolved_scenario"], case let .string(desc)? = res["description"] { md += text(desc) + "\n\n" }
        // Setup.
        if case let .object(r)? = s["resolved_scenario"] {
            md += "## Setup\n\n"
            func obj(_ k: String) -> [String: JSONValue] { if case let .object(o)? = r[k] { return o }; return [:] }
            let pop = obj("population"), net = obj("network"), sel = obj("selection"), work = obj("workload"), server = obj("server"), av = obj("availability")
            md += "- clients: \(text(string(pop["clients"]))), \(text(string(sel["per_round"]))) uploads per round of \(count((number(sel["per_round"]) ?? 0) * (1 + (number(sel["over_selection"]) ?? 0)) - 1e-9 + 1)) selected"
            md += sel["deadline"].map { ", deadline \(Quantity.parse(string($0), as: .duration).map { Quantity.humanReadable($0, as: .duration) } ?? text(string($0)))" } ?? ", no deadline"
            md += "; seeds: \(n)\n"
            var network = text(string(net["profile"]))
            if case let .array(mix)? = net["mix"] { network = "mix of " + mix.compactMap { if case let .object(o) = $0 { return "\(text(string(o["weight"])))×\(text(string(o["profile"])))" }; return nil }.joined(separator: ", ") }
            if network.isEmpty { network = "inline distributions" }
            md += "- network: \(network) (\(text(string(net["model"]))) model); server link \(text(string(server["down"]))) down / \(text(string(server["up"]))) up; aggregation \(text(string(server["aggregation"])))\n"
            md += "- availability: dropout \(pct(number(av["dropout_per_round"]))) per round" + (av["sessions"] != nil ? ", on/off sessions" : "") + "\n"
            if case let .object(p)? = work["payload"] {
                md += "- payload: \(text(string(p["model"]))) LoRA r = \(text(string(p["rank"]))) on \(text(p["targets"].map { if case let .array(t) = $0 { return t.map { string($0) }.joined(separator: ",") }; return "" } ?? "")), \(text(string(p["values"]))) values\n"
            } else {
                md += "- payload: the proxy's real messages (measured)\n"
            }
            if case let .object(t)? = work["train"] {
                var part = ""
                if case let .object(p)? = t["partition"] { part = p.map { "\($0.key) \(string($0.value))" }.joined() } else { part = string(t["partition"]) }
                let lora: [String: JSONValue] = { if case let .object(o)? = t["lora"] { return o }; return [:] }()
                md += "- training: \(string(t["dataset"]) == "" ? "synthetic" : text(string(t["dataset"]))), partition \(text(part)), LoRA r = \(text(string(lora["rank"]))) on every layer of an MLP with hidden widths \(text(t["hidden"].map { if case let .array(h) = $0 { return h.map { string($0) }.joined(separator: "-") }; return "" } ?? ""))\n"
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
                md += "| \(text(name)) | \(tta) | \(string(a["rounds_to_target"]).isEmpty ? "–" : count(number(a["rounds_to_target"]))) | \(name == "lora" ? "1×" : sp) | \(pct(number(a["final_accuracy"]))) | \(pct(number(a["best_accuracy"]))) | \(bytes(number(a["upload_bytes_per_client"]))) | \(bytes(number(a["download_bytes_in_sync"]))) | \(number(a["bytes_up_vs_lora"]).map { String(format: "%.3f", $0) } ?? "–") |\n"
            }
            md += "\nTarget accuracy: \(pct(firstTarget(s)))"
            md += " (the frozen base alone scores \(pct(number(arms.first?["initial_accuracy"])))). "
            md += n > 1 ? "Times and speedups are means over \(n) seeds with 95% confidence intervals (Student's t); the rest is the first seed.\n\n" : "One seed; run with `--seeds 5` for confidence intervals.\n\n"
        } else {
            md += "| arm | rounds | simulated time | median round | upload / client | download / client | completed | dropped | late |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
            for a in arms {
                md += "| \(text(string(a["name"]))) | \(count(number(a["rounds"]))) | \(duration(number(a["simulated_seconds"]))) | \(duration(number(a["median_round_seconds"]))) | \(bytes(number(a["upload_bytes_per_client"]))) | \(bytes(number(a["download_bytes_in_sync"]))) | \(count(number(a["completed"]))) | \(count(number(a["dropped"]))) | \(count(number(a["late"]))) |\n"
            }
            md += "\n"
        }
        md += "Bytes over the whole run (first seed): " + arms.map { "\(text(string($0["name"]))) \(bytes(number($0["bytes_up"]))) up, \(bytes(number($0["bytes_down"]))) down" }.joined(separator: "; ") + ".\n\n"
        // Plots.
        if !plots.isEmpty {
            md += "## Plots\n\n"
            for p in plots { md += "![\(Plots.title(p))](plots/\(p))\n\n" }
        }
        if !notes.isEmpty {
            if plots.isEmpty { md += "## Plots\n\n" }
            for n in notes { md += "- \(text(n))\n" }
            md += "\n"
        }
        // Measured vs modelled.
        md += "## What is measured and what is modelled\n\n**Measured** (really computed in this run):\n\n"
        if case let .array(m)? = s["measured"] { for x in m { md += "- \(text(string(x)))\n" } }
        md += "\n**Modelled** (computed from models, not observed):\n\n"
        if case let .array(m)? = s["modelled"] { for x in m { md += "- \(text(string(x)))\n" } }
        md += "\nData: `summary.json`, `rounds.csv`, `clients.csv`. Re-render this report with `fedsim report DIR`.\n"
        return md
    }
}
