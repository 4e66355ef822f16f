import Federation
import Foundation
import Numerics
import Reporting
import Scenario

/// `fedsim run SCENARIO --out DIR`: one scenario, every arm.
struct RunCommand: Command {
    static let name = "run"
    static let abstract = "Run a scenario's arms; write the results and a report."
    static let help = """
    Run every arm of a scenario on the same population and the same random draws, and write the
    results into DIR: summary.json, rounds.csv (one row per arm and round), clients.csv (one row
    per arm, round and selected client: phase times, bytes, outcome). The directory is written
    atomically: nothing is left behind if the run fails.

    With "workload.train" the proxy model really trains (real data, real codec bytes) and the
    report gives each arm's time to the target accuracy and its speedup over lora; without it,
    the run only times the federation and accuracy fields are null. Also writes report.md,
    report.html and SVG plots (gnuplot).

    USAGE:
      fedsim run SCENARIO.json --out DIR [--seed N] [--seeds K] [--arms NAME,NAME] [--force] [--no-clients]

    OPTIONS:
      --out DIR       Output directory (must not exist or be empty, unless --force).
      --seed N        Override the scenario's seed.
      --seeds K       Run seeds N … N+K−1 and report means with 95% confidence intervals.
      --arms LIST     Run only these arms (by name).
      --force         Replace a non-empty output directory.
      --no-clients    Skip clients.csv rows (large populations, many rounds).
      -h, --help      Show this help.
    """

    let file: String
    let out: String
    let seed: UInt64?
    let seeds: Int
    let armNames: [String]?
    let force: Bool
    let recordClients: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, options: ["out", "seed", "seeds", "arms"], flags: ["force", "no-clients"])
        guard parsed.positional.count == 1 else {
            throw UsageError(parsed.positional.isEmpty ? "missing the scenario file" : "expected one scenario file")
        }
        file = parsed.positional[0]
        guard let out = parsed.value("out"), !out.isEmpty else { throw UsageError("missing --out DIR") }
        self.out = out
        seed = parsed.value("seed") == nil ? nil : UInt64(try parsed.integer("seed", default: 0, in: 0...Int.max))
        seeds = try parsed.integer("seeds", default: 1, in: 1...1000)
        armNames = parsed.value("arms").map { $0.split(separator: ",").map(String.init) }
        force = parsed.flag("force")
        recordClients = !parsed.flag("no-clients")
    }

    func run(console: Console) throws -> Int32 {
        var scenario = try ScenarioParser.load(file: file)
        if let seed { scenario.seed = seed }
        if let armNames {
            let known = scenario.arms.map(\.name)
            for name in armNames where !known.contains(name) {
                throw InputError(.unknownName(kind: "arm", name: name, suggestion: Suggestion.nearest(to: name, in: known), valid: known), at: "--arms")
            }
            scenario.arms = scenario.arms.filter { armNames.contains($0.name) }
        }
        try RunOutput.checkDestination(out, force: force)
        let results = try ScenarioRunner.run(scenario, file: file, seeds: seeds, recordClients: recordClients, console: console)
        let data = RunOutput.files(results)
        try RunOutput.writeAtomically(data + (try Report.files(from: data)), to: out)
        console.print(try Report.headline(from: data))
        console.print("Report: \(out)/report.html (report.md, summary.json, rounds.csv\(recordClients ? ", clients.csv" : ""))")
        return 0
    }
}

/// Runs a scenario's arms over one or more seeds, with progress on a terminal (shared by `run` and `sweep`).
enum ScenarioRunner {
    static func run(_ scenario: Scenario, file: String, seeds: Int, recordClients: Bool, console: Console, label: String = "") throws -> RunResults {
        var runs: [SeedRun] = []
        let total = scenario.stop.rounds
        for k in 0..<seeds {
            var s = scenario
            s.seed = scenario.seed + UInt64(k)
            let federation: FederationRun
            do { federation = try FederationRun(scenario: s) } catch let error as InputError where !error.keyPath.isEmpty && error.file == nil {
                throw error.inFile(file)
            }
            if let l = federation.learning, console.stderrIsTerminal, k == 0 {
                console.error("\(label)base model: \(l.baseWasCached ? "from the cache" : "pretrained") — test accuracy \(Quantity.significant(l.baseAccuracy, 3))")
            }
            var results: [ArmResult] = []
            for arm in s.arms {
                let tag = label + (seeds > 1 ? "[\(arm.name) seed \(s.seed)]" : "[\(arm.name)]")
                let progress: ((Int, Double, Double?) -> Void)? = console.stderrIsTerminal ? { round, t, accuracy in
                    console.progress("\(tag) round \(round)\(total.map { "/\($0)" } ?? "")  sim \(Quantity.humanReadable(t, as: .duration))"
                                     + (accuracy.map { "  acc \(String(format: "%.3f", $0))" } ?? ""))
                } : nil
                results.append(try federation.run(arm: arm, recordClients: recordClients, progress: progress))
                if console.stderrIsTerminal {
                    let acc = results.last!.rounds.last(where: { $0.accuracy != nil })?.accuracy
                    console.progress(nil)
                    console.error("\(tag) \(results.last!.rounds.count) rounds, sim \(Quantity.humanReadable(results.last!.simulatedSeconds, as: .duration))"
                                  + (acc.map { ", accuracy \(Quantity.significant($0, 3))" } ?? ""))
                }
            }
            runs.append(SeedRun(seed: s.seed, population: federation.population, arms: results))
        }
        return RunResults(scenario: scenario, runs: runs)
    }
}
