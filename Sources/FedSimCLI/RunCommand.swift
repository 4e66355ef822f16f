import Federation
import Foundation
import Numerics
import Reporting
import Scenario

/// `fedsim run SCENARIO --out DIR`: one scenario, every arm.
struct RunCommand: Command {
    static let name = "run"
    static let abstract = "Run a scenario's arms and write summary.json, rounds.csv, clients.csv."
    static let help = """
    Run every arm of a scenario on the same population and the same random draws, and write the
    results into DIR: summary.json, rounds.csv (one row per arm and round), clients.csv (one row
    per arm, round and selected client: phase times, bytes, outcome). The directory is written
    atomically: nothing is left behind if the run fails.

    This version times the federation (network, compute, dropouts, deadlines, the server link)
    with the payload of the scenario's modelled model; accuracy fields are null until training
    lands.

    USAGE:
      fedsim run SCENARIO.json --out DIR [--seed N] [--arms NAME,NAME] [--force] [--no-clients]

    OPTIONS:
      --out DIR       Output directory (must not exist or be empty, unless --force).
      --seed N        Override the scenario's seed.
      --arms LIST     Run only these arms (by name).
      --force         Replace a non-empty output directory.
      --no-clients    Skip clients.csv rows (large populations, many rounds).
      -h, --help      Show this help.
    """

    let file: String
    let out: String
    let seed: UInt64?
    let armNames: [String]?
    let force: Bool
    let recordClients: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, options: ["out", "seed", "arms"], flags: ["force", "no-clients"])
        guard parsed.positional.count == 1 else {
            throw UsageError(parsed.positional.isEmpty ? "missing the scenario file" : "expected one scenario file")
        }
        file = parsed.positional[0]
        guard let out = parsed.value("out"), !out.isEmpty else { throw UsageError("missing --out DIR") }
        self.out = out
        seed = parsed.value("seed") == nil ? nil : UInt64(try parsed.integer("seed", default: 0, in: 0...Int.max))
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
        let federation = TimeOnlyFederation(scenario: scenario)
        var results: [ArmResult] = []
        let total = scenario.stop.rounds
        for arm in scenario.arms {
            let progress: ((Int, Double) -> Void)? = console.stderrIsTerminal ? { round, t in
                console.progress("[\(arm.name)] round \(round)\(total.map { "/\($0)" } ?? "")  sim \(Quantity.humanReadable(t, as: .duration))")
            } : nil
            results.append(try federation.run(arm: arm, recordClients: recordClients, progress: progress))
            if console.stderrIsTerminal { console.progress(nil) }
        }
        let run = RunResults(scenario: scenario, population: federation.population, arms: results)
        try RunOutput.writeAtomically(RunOutput.files(run), to: out)
        var table = TextTable(["arm", "rounds", "simulated", "median round", "up/client", "down/client", "completed", "dropped", "late"])
        for a in results {
            let d = a.rounds.map { $0.endSeconds - $0.startSeconds }.sorted()
            table.add([a.name, String(a.rounds.count), Quantity.humanReadable(a.simulatedSeconds, as: .duration),
                       Quantity.humanReadable(d.isEmpty ? 0 : d[d.count / 2], as: .duration),
                       Quantity.humanReadable(Double(a.uploadBytesPerClient), as: .bytes), Quantity.humanReadable(Double(a.downloadBytesInSync), as: .bytes),
                       String(a.rounds.reduce(0) { $0 + $1.completed }), String(a.rounds.reduce(0) { $0 + $1.dropped }),
                       String(a.rounds.reduce(0) { $0 + $1.late })])
        }
        console.print(table.rendered())
        if let lora = results.first(where: { $0.codec == "lora" }) {
            let others = results.filter { $0.codec != "lora" && $0.rounds.count == lora.rounds.count && $0.simulatedSeconds > 0 }
            if !others.isEmpty {
                console.print("Time for \(lora.rounds.count) rounds vs lora: " + others.map {
                    "\($0.name) \(Quantity.significant(lora.simulatedSeconds / $0.simulatedSeconds, 3))× sooner"
                }.joined(separator: " · "))
            }
        }
        console.print("Results: \(out)/summary.json, rounds.csv\(recordClients ? ", clients.csv" : "")")
        return 0
    }
}
