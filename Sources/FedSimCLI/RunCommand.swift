import EventKernel
import Federation
import Foundation
import Learning
import Numerics
import Reporting
import Scenario

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
      fedsim run SCENARIO.json --out DIR [--seed N] [--seeds K] [--arms NAME,NAME] [--force] [--no-clients] [--max-memory M]

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
        guard parsed.positional.count == 1 else {
            throw UsageError(parsed.positional.isEmpty ? "missing the scenario file" : "expected one scenario file")
        }
        file = parsed.positional[0]
        guard let out = parsed.value("out"), !out.isEmpty else { throw UsageError("missing --out DIR") }
        self.out = out
        seed = parsed.value("seed") == nil ? nil : UInt64(try parsed.integer("seed", default: 0, in: 0...SweepCommand.maxSeed))
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
        var scenario = try ScenarioParser.load(file: file)
        if let seed { scenario.seed = seed }
        if let armNames {
            let known = scenario.arms.map(\.name)
            for name in armNames where !known.contains(name) {
                throw InputError(.unknownName(kind: "arm", name: name, suggestion: Suggestion.nearest(to: name, in: known), valid: known), at: "--arms")
            }
            scenario.arms = scenario.arms.filter { armNames.contains($0.name) }
        }
        try ScenarioRunner.preflight(scenario, recordClients: recordClients, memoryLimit: maxMemory, file: file)
        try RunOutput.checkDestination(out, force: force)
        let target = URL(fileURLWithPath: out).standardizedFileURL
        let checkpoints = seeds > 1 ? target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).seeds").path : nil
        let results = try ScenarioRunner.run(scenario, file: file, seeds: seeds, recordClients: recordClients, console: console, checkpoints: checkpoints)
        try RunOutput.writeAtomically(RunOutput.files(results) + (try Report.files(results)) + [ScenarioRunner.provenanceFile], to: out)
        if let checkpoints { try? FileManager.default.removeItem(atPath: checkpoints) }
        console.print(Report.headline(results))
        console.print("Report: \(out)/report.html (report.md, summary.json, rounds.csv\(recordClients ? ", clients.csv" : ""))")
        return 0
    }
}

/// Runs a scenario's arms over one or more seeds, with progress on a terminal (shared by `run` and `sweep`).
enum ScenarioRunner {
    /// A finished seed, saved so an interrupted `run --seeds K` resumes after the seeds it finished.
    struct Checkpoint: Codable {
        var key: String
        var seed: UInt64
        var samples: [Double]
        var arms: [ArmResult]
    }

    /// `checkpoints`: a folder where each finished seed is saved (keyed by a hash of fedsim's
    /// version, the seed's resolved scenario, the arms and whether client rows are kept) and
    /// from which a finished seed is taken instead of run again.
    static func run(_ scenario: Scenario, file: String, seeds: Int, recordClients: Bool, console: Console, label: String = "",
                    checkpoints: String? = nil) throws -> RunResults {
        var runs: [SeedRun] = []
        let total = scenario.stop.rounds
        for k in 0..<seeds {
            var s = scenario
            let (seed, overflow) = scenario.seed.addingReportingOverflow(UInt64(k))
            guard !overflow else { throw InputError(.invalidValue(expected: "a seed that leaves room for --seeds \(seeds)", found: String(scenario.seed)), at: "seed", file: file) }
            s.seed = seed
            let key = contentKey(s, also: s.arms.map(\.name).joined(separator: ",") + "\n\(recordClients)")
            let checkpointFile = checkpoints.map { "\($0)/seed-\(seed)-\(key).json" }
            if let checkpointFile, let saved = try? InputFile.read(checkpointFile), let c = try? decoder.decode(Checkpoint.self, from: saved), c.key == key, c.seed == seed {
                if c.samples.count == s.population.clients {
                    let population = FederationRun.population(of: s.config, samples: c.samples)
                    runs.append(SeedRun(seed: seed, population: population, arms: c.arms))
                    console.error("\(label)seed \(seed): finished by an earlier, interrupted run (resumed)")
                    continue
                }
            }
            let federation: FederationRun
            do { federation = try FederationRun(config: s.config) } catch let error as InputError where !error.keyPath.isEmpty && error.file == nil {
                throw error.inFile(file)
            } catch let error as TrainingError {
                throw divergence(error, file: file)
            }
            if let l = federation.learning, console.stderrIsTerminal, k == 0 {
                console.error("\(label)base model: \(l.baseWasCached ? "from the cache" : "pretrained") — test accuracy \(Quantity.significant(l.baseAccuracy, 3))")
            }
            var results: [ArmResult] = []
            for arm in s.arms {
                let tag = label + (seeds > 1 ? "[\(arm.name) seed \(s.seed)]" : "[\(arm.name)]")
                let progress: ((Int, SimTime, Double?) -> Void)? = console.stderrIsTerminal ? { round, t, accuracy in
                    console.progress("\(tag) round \(round)\(total.map { "/\($0)" } ?? "")  sim \(Quantity.humanReadable(t.seconds, as: .duration))"
                                     + (accuracy.map { "  acc \(String(format: "%.3f", $0))" } ?? ""))
                } : nil
                let result: ArmResult
                do { result = try federation.run(arm: arm, recordClients: recordClients, progress: progress) } catch let error as InputError where error.file == nil {
                    if console.stderrIsTerminal { console.progress(nil) }
                    throw error.inFile(file)
                } catch let error as TrainingError {
                    if console.stderrIsTerminal { console.progress(nil) }
                    throw divergence(error, file: file, arm: arm.name)
                }
                results.append(result)
                let acc = result.rounds.last(where: { $0.accuracy != nil })?.accuracy
                let line = "\(tag) \(result.rounds.count) rounds, sim \(Quantity.humanReadable(result.simulatedSeconds, as: .duration))"
                    + (acc.map { ", accuracy \(Quantity.significant($0, 3))" } ?? "")
                if console.stderrIsTerminal { console.progress(nil) }
                if console.stderrIsTerminal || seeds > 1 || s.workload.training != nil { console.error(line) }
            }
            runs.append(SeedRun(seed: s.seed, population: federation.population, arms: results))
            if let checkpoints, let checkpointFile {
                let c = Checkpoint(key: key, seed: seed, samples: federation.population.samples, arms: results)
                if let data = try? encoder.encode(c) {
                    try? FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
                    try? data.write(to: URL(fileURLWithPath: checkpointFile), options: .atomic)
                }
            }
        }
        return RunResults(scenario: scenario, runs: runs)
    }

    /// The first 16 hex digits of SHA-256 over fedsim's version, the resolved scenario and `also`:
    /// what keys a sweep point's folder and a saved seed, so edited definitions are never reused.
    static func contentKey(_ scenario: Scenario, also: String? = nil) -> String {
        String(SHA256.hex(FedSimMain.version + "\n" + scenario.resolved.text() + (also.map { "\n" + $0 } ?? "")).prefix(16))
    }

    /// What is refused before a run starts: a memory estimate over `memoryLimit`, and sessions too
    /// short for the run's length.
    static func preflight(_ scenario: Scenario, recordClients: Bool, memoryLimit: Double, file: String) throws {
        try MemoryEstimate(scenario.config, recordClients: recordClients).check(limit: memoryLimit, file: file)
        try checkWork(scenario, file: file)
    }

    /// Refuses, before the run, availability sessions too short for the run's length (when the
    /// length is known: a time limit, or rounds × a deadline).
    static func checkWork(_ scenario: Scenario, file: String) throws {
        guard case let .sessions(sessions) = scenario.availability else { return }
        let byRounds = scenario.stop.rounds.flatMap { r in scenario.selection.deadline.map { Double(r) * ($0 + scenario.server.aggregationSeconds) } }
        guard let horizon = [scenario.stop.seconds, byRounds].compactMap({ $0 }).min() else { return }
        do { try sessions.checkWork(clients: scenario.population.clients, horizon: horizon, keyPath: "availability.sessions") } catch let error as InputError {
            throw error.inFile(file)
        }
    }

    /// A diverged training as bad input: the learning rate that caused it, by its scenario key.
    static func divergence(_ error: TrainingError, file: String, arm: String? = nil) -> InputError {
        guard case let .diverged(phase, _, _, _, _, _, _) = error else { return InputError(.invalidValue(expected: "training that converges", found: error.description), at: "workload.train", file: file) }
        let key = phase == .pretraining ? "workload.train.pretrain.learning_rate" : "workload.train.local.learning_rate"
        return InputError(.invalidValue(expected: "a learning rate at which training converges", found: (arm.map { "arm \($0): " } ?? "") + error.description), at: key, file: file)
    }

    /// `provenance.json`: what produced the outputs (fedsim's version and commit, the CPU, the BLAS
    /// kernel). Kept apart from the results, which are byte-identical across machines.
    /// Computed once per process (every sweep point writes the same one).
    static let provenanceFile: (name: String, contents: Data) =
        ("provenance.json", (try? Provenance.current(version: FedSimMain.version).canonicalJSON()) ?? Data("{}\n".utf8))

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
