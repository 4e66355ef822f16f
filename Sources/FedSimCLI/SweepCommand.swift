import Federation
import Foundation
import Numerics
import Reporting
import Scenario

/// `fedsim sweep SWEEP.json --out DIR`: a grid of scenario variants (profiles × codecs × seeds ×
/// any key), resumable and shardable, with a summary of the speedup over lora per point.
struct SweepCommand: Command {
    static let name = "sweep"
    static let abstract = "Run a grid of scenario variants (resumable, shardable) and summarise the speedups."
    static let options: [OptionSpec] = [
        OptionSpec("out", "DIR", "Output directory (points/, sweep.csv, sweep.md, plots/)."),
        OptionSpec("shard", "i/N", "Run only points k with k mod N = i − 1."),
        OptionSpec("force", nil, "Start over: remove the points and summaries fedsim wrote in DIR first\n(only those: DIR must carry fedsim's marker and hold nothing else)."),
        OptionSpec("dry-run", nil, "Check the sweep and list its points (done or to run); write nothing."),
        OptionSpec("max-memory", "M", "Refuse points whose memory estimate exceeds M (default: half of memory)."),
    ]

    static let help = """
    Run every combination of the axes of a sweep file on a base scenario, one point after another,
    and summarise each arm's time to target and speedup over lora per point (sweep.csv, sweep.md,
    plots/speedup.svg). A point whose results exist is skipped, so an interrupted sweep picks up
    where it stopped; --shard i/N runs every N-th point (e.g. one Slurm array task each), and any
    later invocation (all shards done) writes the summary of every point found.

    USAGE:
      fedsim sweep SWEEP.json --out DIR [--shard i/N] [--force] [--dry-run] [--max-memory M]

    SWEEP FILE:
      {"base": "default.json",                       the scenario, relative to the sweep file
       "axes": {"network.profile": ["3g", "4g", "5g"],   dotted key paths (numbers index arrays)
                "seed": [1, 2, 3]},                   "seed": replications, averaged in sweep.md
       "set": {"stop.rounds": 30}}                    fixed changes to the base (optional)

    Each point is kept in points/<values>-<key>/, where <key> is a hash of the point's resolved
    scenario: editing the sweep's "set", its base scenario or an axis value makes new points
    (results of the old definition are not reused, and are reported as stale).

    \(options.helpText)
    """

    let file: String
    let out: String
    let shard: (index: Int, count: Int)
    let force: Bool
    let dryRun: Bool
    let maxMemory: Double

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        maxMemory = try RunCommand.memoryLimit(parsed.value("max-memory"))
        guard parsed.positional.count == 1 else { throw UsageError(parsed.positional.isEmpty ? "missing the sweep file" : "expected one sweep file") }
        file = parsed.positional[0]
        dryRun = parsed.flag("dry-run")
        let out = parsed.value("out") ?? ""
        guard !out.isEmpty || dryRun else { throw UsageError("missing --out DIR") }
        self.out = out
        force = parsed.flag("force")
        if let text = parsed.value("shard") {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
            guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, n <= 1_000_000, (1...n).contains(i) else {
                throw UsageError("--shard expects i/N with 1 ≤ i ≤ N ≤ 1000000, found '\(String(text.prefix(40)))'")
            }
            shard = (i, n)
        } else {
            shard = (1, 1)
        }
    }

    /// One point: its axis values (non-seed axes in key order), seed, scenario and content key.
    struct Point {
        var index: Int
        var values: [(key: String, value: JSONValue)]
        var seed: UInt64?
        var scenario: Scenario
        /// The first 16 hex digits of SHA-256 over fedsim's version and the resolved scenario.
        var key: String
        /// The point's folder under points/: readable values, then the key.
        var directory: String {
            let parts = values.map { "\($0.key.split(separator: ".").last.map(String.init) ?? $0.key)=\(Report.plain($0.value))" } + (seed.map { ["seed=\($0)"] } ?? [])
            let text = parts.joined(separator: ",").map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || "=,.-_".contains($0) ? $0 : "_" }
            let slug = String(String(text).prefix(80))
            return (slug.isEmpty || slug.hasPrefix(".") ? "point" + slug : slug) + "-" + key
        }
    }

    func run(console: Console) throws -> Int32 {
        let (baseFile, points) = try load()
        func inShard(_ p: Point) -> Bool { p.index % shard.count == shard.index - 1 }
        let mine = points.filter(inShard)
        for p in mine {
            do {
                try ScenarioRunner.preflight(p.scenario, recordClients: false, memoryLimit: maxMemory, file: file)
            } catch var error as InputError {
                error.keyPath = "axes (point \(p.index + 1))"
                throw error
            }
        }
        let pointsDir = out + "/points"
        if dryRun {
            for p in points {
                let done = !out.isEmpty && FileManager.default.fileExists(atPath: pointsDir + "/" + p.directory + "/summary.json")
                console.print("\(p.index + 1)\t\(done ? "done" : inShard(p) ? "to run" : "other shard")\t\(p.directory)")
            }
            console.print("\(points.count) point(s); \(mine.count) in this shard")
            return 0
        }
        _ = try OutputDirectory.prepare(out, kind: .sweep, replace: force, resume: true)
        if force { try OutputDirectory.clean(out, kind: .sweep) }
        try OutputDirectory.create(out, kind: .sweep)
        do { try FileManager.default.createDirectory(atPath: pointsDir, withIntermediateDirectories: true) } catch {
            throw OutputError(path: pointsDir, reason: InputFile.plain(error))
        }
        OutputDirectory.cleanStale(in: pointsDir)
        var ran = 0, skipped = 0
        let started = Date()
        for (k, p) in mine.enumerated() {
            let dir = pointsDir + "/" + p.directory
            if FileManager.default.fileExists(atPath: dir + "/summary.json") { skipped += 1; continue }
            let label = "[point \(p.index + 1)/\(points.count)] "
            let results = try ScenarioRunner.run(p.scenario, file: baseFile, seeds: 1, recordClients: false, console: console, label: label)
            let pointJSON = JSONValue.object(["index": .number(Double(p.index)), "seed": p.seed.map { .number(Double($0)) } ?? .null, "key": .string(p.key),
                                              "values": .object(Dictionary(p.values.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }))])
            let data = RunOutput.files(results).filter { $0.name != "clients.csv" }
            try OutputDirectory.write(data + [("point.json", Data((pointJSON.text(pretty: true) + "\n").utf8)), ScenarioRunner.provenanceFile], to: dir, kind: .run)
            ran += 1
            if console.stderrIsTerminal {
                console.error(label + Report.headline(results))
            } else {
                let elapsed = Date().timeIntervalSince(started)
                let left = Double(mine.count - k - 1) * elapsed / Double(max(1, ran))
                console.error("\(label)done (\(ran + skipped) of \(mine.count) in this shard; about \(Quantity.humanReadable(left, as: .duration)) left)")
            }
        }
        let summary = try SweepSummary.write(directory: out, axes: points.first?.values.map(\.key) ?? [],
                                             points: points.map { .init(index: $0.index, directory: $0.directory, values: $0.values, seed: $0.seed) })
        console.print("Sweep: \(ran) point(s) run, \(skipped) already done; \(summary.found) of \(points.count) points in \(out)"
                      + (summary.stale > 0 ? " (\(summary.stale) stale point folder(s) of an earlier definition ignored)" : ""))
        if summary.found == points.count {
            console.print("Summary: \(out)/sweep.md, sweep.csv" + (summary.files.contains("plots/speedup.svg") ? ", plots/speedup.svg" : ""))
        } else {
            console.print("Summary of the points so far: \(out)/sweep.md (run the other shards, then this command again)")
        }
        return 0
    }

    /// The largest seed a JSON number holds exactly.
    static let maxSeed = (1 << 53) - 1

    /// The base scenario's path and every point, parsed and keyed (non-seed axes sorted by key,
    /// seeds innermost): every error is found before anything runs.
    func load() throws -> (String, [Point]) {
        let data = try InputFile.read(file, maxBytes: 16 << 20)
        let root = Node(try JSONValue.parse(data, file: file))
        let basePath: String
        var base: JSONValue
        var combos: [[(key: String, value: JSONValue)]] = [[]]
        var seeds: [UInt64?] = [nil]
        do {
            _ = try root.object(allowed: ["base", "axes", "set", "name", "description"])
            for key in ["name", "description"] { if let n = root.member(key) { _ = try n.string() } }
            let baseNode = try root.required("base")
            let baseText = try baseNode.string()
            basePath = baseText.hasPrefix("/") ? baseText : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(baseText).path
            if let reason = InputFile.problem(basePath, maxBytes: 16 << 20) {
                throw InputError(.invalidValue(expected: "a scenario file", found: "'\(String(baseText.prefix(200)))' (\(reason))"), at: "base")
            }
            base = try JSONValue.parse(try InputFile.read(basePath, maxBytes: 16 << 20), file: basePath)
            _ = try ScenarioParser.load(file: basePath)   // the base itself must be valid
            if let set = root.member("set") {
                guard case let .object(members) = set.value else { throw set.invalid("an object of key paths and values") }
                for key in members.keys.sorted() {
                    guard let value = members[key], let changed = base.setting(key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), to: value) else {
                        throw InputError(.invalidValue(expected: "a key path into the base scenario", found: "'\(String(key.prefix(200)))'"), at: "set")
                    }
                    base = changed
                }
            }
            let axesNode = try root.required("axes")
            guard case let .object(axes) = axesNode.value, !axes.isEmpty else { throw axesNode.invalid("an object of key paths and value lists") }
            let keys = axes.keys.sorted()
            for (a, b) in zip(keys, keys.dropFirst()) where b.hasPrefix(a + ".") {
                throw InputError(.invalidValue(expected: "axes that set different parts of the scenario",
                                               found: "'\(String(a.prefix(100)))' and '\(String(b.prefix(100)))' (the second sets a part of the first)"), at: "axes")
            }
            var total = 1
            for key in keys {
                guard let node = axesNode.member(key) else { throw InputError(.invalidValue(expected: "a non-empty list of values", found: "null"), at: "axes.\(key)") }
                let values = try node.elements()
                guard !values.isEmpty else { throw node.invalid("a non-empty list of values") }
                let (product, overflow) = total.multipliedReportingOverflow(by: values.count)
                guard !overflow, product <= 1_000_000 else { throw axesNode.invalid("at most 1000000 points in all (the axes multiply)") }
                total = product
                if key == "seed" {
                    seeds = try values.map { UInt64(try $0.integer(0...Self.maxSeed, "a seed in 0…\(Self.maxSeed) (what a JSON number holds exactly)")) }
                    continue
                }
                guard base.setting(key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), to: values[0].value) != nil else {
                    throw InputError(.invalidValue(expected: "a key path into the base scenario", found: "'\(String(key.prefix(200)))'"), at: "axes")
                }
                combos = combos.flatMap { prefix in values.map { prefix + [(key, $0.value)] } }
            }
        } catch let error as InputError {
            throw error.file == nil ? error.inFile(file) : error
        }
        var points: [Point] = []
        var keys: [String: Int] = [:]
        let baseDirectory = URL(fileURLWithPath: basePath).deletingLastPathComponent().path
        for combo in combos {
            for seed in seeds {
                let index = points.count
                var doc = base
                for (key, value) in combo + (seed.map { [("seed", JSONValue.number(Double($0)))] } ?? []) {
                    guard let changed = doc.setting(key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), to: value) else {
                        throw InputError(.invalidValue(expected: "a key path that exists at every point", found: "'\(String(key.prefix(200)))' cannot be set at point \(index + 1)"), at: "axes", file: file)
                    }
                    doc = changed
                }
                let scenario: Scenario
                do {
                    scenario = try ScenarioParser.parse(doc, baseDirectory: baseDirectory)
                } catch let error as InputError {
                    let values = combo.map { "\($0.key) = \(String(Report.plain($0.value).prefix(60)))" } + (seed.map { ["seed = \($0)"] } ?? [])
                    throw InputError(.invalidValue(expected: "a valid scenario at point \(index + 1) (\(values.joined(separator: ", ")))", found: error.description), at: "axes", file: file)
                }
                let key = ScenarioRunner.contentKey(scenario)
                if let other = keys[key] {
                    throw InputError(.invalidValue(expected: "points that differ", found: "points \(other + 1) and \(index + 1) resolve to the same scenario"), at: "axes", file: file)
                }
                keys[key] = index
                points.append(Point(index: index, values: combo, seed: seed, scenario: scenario, key: key))
            }
        }
        return (basePath, points)
    }
}
