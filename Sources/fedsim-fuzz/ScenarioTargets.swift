import FedSimCLI
import Foundation
import Numerics
import Scenario

/// `JSONValue.parse` + `ScenarioParser.parse` on scenario files.
final class ScenarioTarget: FuzzTarget {
    let name = "scenario"
    let summary = "scenario files: JSONValue.parse + ScenarioParser.parse (module Scenario)"
    let env: FuzzEnvironment
    var dictionary: [String] = []
    var base: String { env.work + "/scenarios" }

    init(env: FuzzEnvironment) { self.env = env }

    /// Scenarios/*.json, the invalid-scenario fixtures, and the defaults-filled form of each valid scenario.
    static func scenarioCorpus(root: String) -> [FuzzCase] {
        var out: [FuzzCase] = []
        for path in listFiles(root + "/Scenarios", suffix: ".json") where !path.hasSuffix("schema.json") {
            guard let bytes = readBytes(path) else { continue }
            out.append(FuzzCase(name: "scenario.json", bytes: bytes))
            // A generated valid file: the scenario with every default filled in, as `fedsim validate` resolves it.
            if let value = try? JSONValue.parse(Data(bytes), file: path),
               let scenario = try? ScenarioParser.parse(value, baseDirectory: root + "/Scenarios") {
                out.append(FuzzCase(name: "scenario.json", bytes: Array(scenario.resolved.text(pretty: true).utf8)))
            }
        }
        for path in listFiles(root + "/Tests/Fixtures/invalid-scenarios", suffix: ".json") {
            if let bytes = readBytes(path) { out.append(FuzzCase(name: "scenario.json", bytes: bytes)) }
        }
        return out
    }

    /// The folder relative paths resolve against: copies of the repository's distributions and traces.
    static func mirror(root: String, into dir: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/traces", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/time-traces", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/distributions", withIntermediateDirectories: true)
        for path in listFiles(root + "/Scenarios", suffix: ".json") {
            try? fm.copyItem(atPath: path, toPath: dir + "/" + (path as NSString).lastPathComponent)
        }
        for path in listFiles(root + "/Scenarios/distributions", suffix: ".json") {
            try? fm.copyItem(atPath: path, toPath: dir + "/distributions/" + (path as NSString).lastPathComponent)
        }
        for path in listFiles(root + "/Tests/Fixtures/invalid-scenarios/traces", suffix: ".csv") + listFiles(root + "/Scenarios/traces", suffix: ".csv") {
            try? fm.copyItem(atPath: path, toPath: dir + "/traces/" + (path as NSString).lastPathComponent)
        }
        // The time-varying link fixtures' traces (kept apart: the trace target's corpus is traces/ only).
        for path in listFiles(root + "/Tests/Fixtures/invalid-scenarios/time-traces", suffix: ".csv") {
            try? fm.copyItem(atPath: path, toPath: dir + "/time-traces/" + (path as NSString).lastPathComponent)
        }
        try Data(TraceTarget.validCSV.utf8).write(to: URL(fileURLWithPath: dir + "/traces/valid.csv"))
    }

    func corpus() throws -> [FuzzCase] {
        let out = Self.scenarioCorpus(root: env.root)
        guard !out.isEmpty else { throw FuzzUsage("no scenario files under \(env.root)/Scenarios: is --root the repository?") }
        try Self.mirror(root: env.root, into: base)
        dictionary = harvestStrings(out.map(\.primary), extra: formatWords + ["traces/valid.csv", "traces/empty.csv", "distributions/web-mix-downlink.json"])
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        mutateJSON(&bytes, &rng, others: corpus.map(\.primary), dictionary: dictionary)
        input.set("scenario.json", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let value = try JSONValue.parse(Data(input.primary), file: "scenario.json")
        _ = try ScenarioParser.parse(value, baseDirectory: base)
    }
}

// MARK: sweep

/// Sweep files through the CLI: `fedsim sweep FILE --out DIR --dry-run` (or `fedsim validate FILE`
/// on scenario-shaped inputs while this build has no `--dry-run`).
final class SweepTarget: FuzzTarget {
    let name = "sweep"
    var summary: String {
        dryRun ? "sweep files through the CLI: fedsim sweep FILE --out DIR --dry-run (FedSimCLI, Scenario)"
            : "scenario files through the CLI: fedsim validate FILE (this build's sweep has no --dry-run yet)"
    }
    let env: FuzzEnvironment
    var dictionary: [String] = []
    /// Whether `fedsim sweep` has `--dry-run` (decided from its help text).
    let dryRun: Bool

    init(env: FuzzEnvironment) {
        self.env = env
        let captured = CapturedConsole()
        _ = FedSimMain.run(["sweep", "--help"], console: captured.console)
        dryRun = captured.out.contains("--dry-run")
    }

    var dir: String { env.work + "/sweep" }

    func corpus() throws -> [FuzzCase] {
        try ScenarioTarget.mirror(root: env.root, into: dir)
        var out: [FuzzCase] = []
        if dryRun {
            for path in listFiles(env.root + "/Scenarios/sweeps", suffix: ".json") {
                if let bytes = readBytes(path) { out.append(FuzzCase(name: "sweep.json", bytes: bytes)) }
            }
            // Generated sweeps: the axes of issue 9 (seed, arms with a codec path) on the default scenario.
            let generated = [
                #"{"base": "../default.json", "axes": {"seed": [1, 2], "arms.0.codec": ["lora", "topk"]}}"#,
                #"{"base": "../default.json", "set": {"stop.rounds": 3}, "axes": {"network.profile": ["3g", "fiber"]}}"#,
                #"{"base": "../web-mix-llama7b.json", "axes": {"arms.1.sparsity": [0.5, 0.9], "seed": [7]}}"#,
                #"{"description": "x", "base": "../default-3g.json", "axes": {"selection.deadline": ["1h", "2h"]}}"#,
            ]
            out += generated.map { FuzzCase(name: "sweep.json", bytes: Array($0.utf8)) }
        } else {
            out = ScenarioTarget.scenarioCorpus(root: env.root).map { FuzzCase(name: "sweep.json", bytes: $0.primary) }
        }
        dictionary = harvestStrings(out.map(\.primary), extra: formatWords + ["../default.json", "../no-such.json", "sweep.json", "/"])
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        mutateJSON(&bytes, &rng, others: corpus.map(\.primary), dictionary: dictionary)
        input.set("sweep.json", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let file = dir + "/sweeps/sweep.json"
        try FileManager.default.createDirectory(atPath: dir + "/sweeps", withIntermediateDirectories: true)
        try Data(input.primary).write(to: URL(fileURLWithPath: file))
        let captured = CapturedConsole()
        let arguments = dryRun ? ["sweep", file, "--out", dir + "/out", "--dry-run"] : ["validate", file]
        let status = FedSimMain.run(arguments, console: captured.console)
        if status != 0 { throw FuzzInternalError(status: status, message: String(captured.err.prefix(300))) }
    }
}

/// `fedsim` refused an input (status 2) or failed on it (status 1, "internal error").
struct FuzzInternalError: Error { var status: Int32; var message: String }
