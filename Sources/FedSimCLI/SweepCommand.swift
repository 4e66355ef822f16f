import Foundation
import Numerics
import Reporting
import Scenario

/// `fedsim sweep SWEEP.json --out DIR`: a grid of scenario variants (profiles × codecs × seeds ×
/// any key), resumable and shardable, with a summary of the speedup over lora per point.
struct SweepCommand: Command {
    static let name = "sweep"
    static let abstract = "Run a grid of scenario variants (resumable, shardable) and summarise the speedups."
    static let help = """
    Run every combination of the axes of a sweep file on a base scenario, one point after another,
    and summarise each arm's time to target and speedup over lora per point (sweep.csv, sweep.md,
    plots/speedup.svg). A point whose results exist is skipped, so an interrupted sweep picks up
    where it stopped; --shard i/N runs every N-th point (e.g. one Slurm array task each), and any
    later invocation (all shards done) writes the summary of every point found.

    USAGE:
      fedsim sweep SWEEP.json --out DIR [--shard i/N] [--force]

    SWEEP FILE:
      {"base": "default.json",                       the scenario, relative to the sweep file
       "axes": {"network.profile": ["3g", "4g", "5g"],   dotted key paths (numbers index arrays)
                "seed": [1, 2, 3]},                   "seed": replications, averaged in sweep.md
       "set": {"stop.rounds": 30}}                    fixed changes to the base (optional)

    OPTIONS:
      --out DIR      Output directory (points/, sweep.csv, sweep.md, plots/).
      --shard i/N    Run only points k with k mod N = i − 1.
      --force        Start over: remove DIR's earlier points first.
      -h, --help     Show this help.
    """

    let file: String
    let out: String
    let shard: (index: Int, count: Int)
    let force: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, options: ["out", "shard"], flags: ["force"])
        guard parsed.positional.count == 1 else { throw UsageError(parsed.positional.isEmpty ? "missing the sweep file" : "expected one sweep file") }
        file = parsed.positional[0]
        guard let out = parsed.value("out"), !out.isEmpty else { throw UsageError("missing --out DIR") }
        self.out = out
        force = parsed.flag("force")
        if let text = parsed.value("shard") {
            let parts = text.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else {
                throw UsageError("--shard expects i/N with 1 ≤ i ≤ N, found '\(text)'")
            }
            shard = (parts[0], parts[1])
        } else {
            shard = (1, 1)
        }
    }

    /// One point: its axis values (non-seed axes in key order) and seed.
    struct Point {
        var index: Int
        var values: [(key: String, value: JSONValue)]
        var seed: UInt64?
        var slug: String {
            let parts = values.map { "\($0.key.split(separator: ".").last!)=\(Report.plain($0.value))" } + (seed.map { ["seed=\($0)"] } ?? [])
            let text = parts.joined(separator: ",").map { $0.isLetter || $0.isNumber || "=,.-_".contains($0) ? $0 : "_" }
            return String(format: "%04d-", index) + String(text.prefix(80))
        }
    }

    func run(console: Console) throws -> Int32 {
        let (base, baseFile, points) = try load()
        if force { try? FileManager.default.removeItem(atPath: out) }
        let pointsDir = out + "/points"
        try FileManager.default.createDirectory(atPath: pointsDir, withIntermediateDirectories: true)
        var ran = 0, skipped = 0
        for p in points where p.index % shard.count == shard.index - 1 {
            let dir = pointsDir + "/" + p.slug
            if FileManager.default.fileExists(atPath: dir + "/summary.json") { skipped += 1; continue }
            var doc = base
            for (key, value) in p.values { doc = doc.setting(key.split(separator: ".").map(String.init), to: value)! }
            if let seed = p.seed { doc = doc.setting(["seed"], to: .number(Double(seed)))! }
            let scenario: Scenario
            do {
                scenario = try ScenarioParser.parse(doc, baseDirectory: URL(fileURLWithPath: baseFile).deletingLastPathComponent().path)
            } catch let error as InputError {
                throw InputError(.invalidValue(expected: "a valid scenario at point \(p.index) (\(p.slug))", found: error.description), at: "axes").inFile(file)
            }
            let label = "[point \(p.index + 1)/\(points.count)] "
            let results = try ScenarioRunner.run(scenario, file: baseFile, seeds: 1, recordClients: false, console: console, label: label)
            let pointJSON = JSONValue.object(["index": .number(Double(p.index)), "seed": p.seed.map { .number(Double($0)) } ?? .null,
                                              "values": .object(Dictionary(uniqueKeysWithValues: p.values.map { ($0.key, $0.value) }))])
            let data = RunOutput.files(results).filter { $0.name != "clients.csv" }
            try RunOutput.writeAtomically(data + [("point.json", Data((pointJSON.text(pretty: true) + "\n").utf8))], to: dir)
            ran += 1
            if console.stderrIsTerminal { console.error(label + (try Report.headline(from: data))) }
        }
        let summary = try SweepSummary.write(directory: out, axes: points.first?.values.map(\.key) ?? [], expected: points.count)
        console.print("Sweep: \(ran) point(s) run, \(skipped) already done; \(summary.found) of \(points.count) points in \(out)")
        if summary.found == points.count {
            console.print("Summary: \(out)/sweep.md, sweep.csv, plots/speedup.svg")
        } else {
            console.print("Summary of the points so far: \(out)/sweep.md (run the other shards, then this command again)")
        }
        return 0
    }

    /// The base scenario's JSON, its path, and the points (non-seed axes sorted by key, seeds innermost).
    func load() throws -> (JSONValue, String, [Point]) {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw InputError(.file(path: file, reason: "cannot be read (no such file)"), at: "")
        }
        let root = Node(try JSONValue.parse(data, file: file))
        do {
            _ = try root.object(allowed: ["base", "axes", "set", "name", "description"])
            let baseNode = try root.required("base")
            var basePath = try baseNode.string()
            if !basePath.hasPrefix("/") { basePath = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(basePath).path }
            guard let baseData = FileManager.default.contents(atPath: basePath) else {
                throw InputError(.invalidValue(expected: "a scenario file", found: "'\(try baseNode.string())' (no such file)"), at: "base")
            }
            var base = try JSONValue.parse(baseData, file: basePath)
            _ = try ScenarioParser.load(file: basePath)   // the base itself must be valid
            if let set = root.member("set") {
                guard case let .object(members) = set.value else { throw set.invalid("an object of key paths and values") }
                for key in members.keys.sorted() {
                    guard let changed = base.setting(key.split(separator: ".").map(String.init), to: members[key]!) else {
                        throw InputError(.invalidValue(expected: "a key path into the base scenario", found: "'\(key)'"), at: "set")
                    }
                    base = changed
                }
            }
            let axesNode = try root.required("axes")
            guard case let .object(axes) = axesNode.value, !axes.isEmpty else { throw axesNode.invalid("an object of key paths and value lists") }
            var seeds: [UInt64?] = [nil]
            var grid: [[(key: String, value: JSONValue)]] = [[]]
            for key in axes.keys.sorted() {
                let node = axesNode.member(key)!
                let values = try node.elements()
                guard !values.isEmpty else { throw node.invalid("a non-empty list of values") }
                if key == "seed" {
                    seeds = try values.map { UInt64(try $0.integer(0...Int(Int64.max), "a non-negative integer seed")) }
                    continue
                }
                guard base.setting(key.split(separator: ".").map(String.init), to: values[0].value) != nil else {
                    throw InputError(.invalidValue(expected: "a key path into the base scenario", found: "'\(key)'"), at: "axes")
                }
                grid = grid.flatMap { prefix in values.map { prefix + [(key, $0.value)] } }
            }
            var points: [Point] = []
            for combo in grid { for seed in seeds { points.append(Point(index: points.count, values: combo, seed: seed)) } }
            return (base, basePath, points)
        } catch let error as InputError {
            throw error.file == nil ? error.inFile(file) : error
        }
    }
}
