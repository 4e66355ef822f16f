import Experiment
import Federation
import Foundation
import Numerics
import Reporting

/// `fedsim run SCENARIO --out DIR`: one scenario, every arm.
struct RunCommand: Command {
    static let name = "run"
    static let abstract = "Run a scenario's arms; write the results and a report."
    static let options: [OptionSpec] = [
        OptionSpec("out", "DIR", "Output directory (must not exist or be empty, unless --force)."),
        OptionSpec("seed", "N", "Override the scenario's seed."),
        OptionSpec("seeds", "K", "Run seeds N … N+K−1 and report means with 95% confidence intervals."),
        OptionSpec("arms", "LIST", "Run only these arms (by name)."),
        OptionSpec("force", nil, "Replace a non-empty output directory."),
        OptionSpec("no-clients", nil, "Skip clients.csv rows (large populations, many rounds)."),
        OptionSpec("max-memory", "M", "Refuse a run whose memory estimate exceeds M (e.g. 8GB; default: half of\nthis machine's memory), before anything is allocated."),
        OptionSpec("threads", "N", "Threads for training and evaluation (default: every core; FEDSIM_THREADS=N too).\nOutputs are the same bytes whatever N."),
    ]

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
      fedsim run SCENARIO.json --out DIR [--seed N] [--seeds K] [--arms NAME,NAME] [--force] [--no-clients] [--max-memory M] [--threads N]

    \(options.helpText)
    """

    let file: String
    let out: String
    let seed: UInt64?
    let seeds: Int
    let armNames: [String]?
    let force: Bool
    let recordClients: Bool
    let maxMemory: Double

    /// `--max-memory` as bytes (default: half of physical memory).
    static func memoryLimit(_ text: String?) throws -> Double {
        guard let text else { return MemoryEstimate.defaultLimit }
        guard let v = Quantity.parse(text, as: .bytes), v.isFinite, v > 0 else {
            throw UsageError("--max-memory expects a size such as 8GB, found '\(String(text.prefix(40)))'")
        }
        return v
    }

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        maxMemory = try Self.memoryLimit(parsed.value("max-memory"))
        if parsed.value("threads") != nil { Parallelism.use(threads: try parsed.integer("threads", default: 1, in: 1...1024)) }
        guard parsed.positional.count == 1 else {
            throw UsageError(parsed.positional.isEmpty ? "missing the scenario file" : "expected one scenario file")
        }
        file = parsed.positional[0]
        guard let out = parsed.value("out"), !out.isEmpty else { throw UsageError("missing --out DIR") }
        self.out = out
        seed = parsed.value("seed") == nil ? nil : UInt64(try parsed.integer("seed", default: 0, in: 0...Sweep.maxSeed))
        seeds = try parsed.integer("seeds", default: 1, in: 1...1000)
        armNames = try parsed.value("arms").map { text in
            let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.contains(where: \.isEmpty) else { throw UsageError("--arms expects arm names separated by commas, found '\(String(text.prefix(80)))'") }
            return names
        }
        force = parsed.flag("force")
        recordClients = !parsed.flag("no-clients")
    }

    func run(console: Console) throws -> Int32 {
        let runner = try ExperimentRunner(file: file, seed: seed, arms: armNames, seeds: seeds, recordClients: recordClients)
        let written = try runner.run(writingTo: out, force: force, memoryLimit: maxMemory, observer: ConsoleProgress(console))
        console.print(written.headline)
        for note in written.notes { console.error(note) }
        let availability = FileManager.default.fileExists(atPath: out + "/availability.csv") ? ", availability.csv" : ""
        console.print("Report: \(out)/report.html (report.md, summary.json, rounds.csv\(recordClients ? ", clients.csv" : "")\(availability))")
        return 0
    }
}
