import Federation
import Foundation
import Numerics
import Reporting
import Scenario

/// `fedsim run` as a library call: a scenario file, an optional seed override and arm selection,
/// K seeds; the results and the report written atomically into one directory.
public struct ExperimentRunner {
    /// The scenario file (named in errors).
    public let file: String
    /// The scenario as run: the seed override applied, only the selected arms.
    public let scenario: Scenario
    /// How many seeds.
    public let seeds: Int
    /// Whether per-client rows are recorded (clients.csv).
    public let recordClients: Bool

    /// Loads and validates `file`; `seed` replaces the scenario's seed; `arms` keeps only the arms of
    /// those names (in the scenario's order). Throws `InputError` (exit 2) for a bad file or an
    /// unknown arm name (`at: "--arms"`, with the nearest name).
    public init(file: String, seed: UInt64? = nil, arms: [String]? = nil, seeds: Int = 1, recordClients: Bool = true) throws {
        var scenario = try ScenarioParser.load(file: file)
        if let seed { scenario.seed = seed }
        if let arms {
            let known = scenario.arms.map(\.name)
            for name in arms where !known.contains(name) {
                throw InputError(.unknownName(kind: "arm", name: name, suggestion: Suggestion.nearest(to: name, in: known), valid: known), at: "--arms")
            }
            scenario.arms = scenario.arms.filter { arms.contains($0.name) }
        }
        self.file = file
        self.scenario = scenario
        self.seeds = seeds
        self.recordClients = recordClients
    }

    /// Where the seeds of a run into `out` are saved while it runs (with more than one seed):
    /// `.NAME.seeds` beside `out`. Removed once the run's directory is written.
    public static func checkpointFolder(for out: String) -> String {
        let target = URL(fileURLWithPath: out).standardizedFileURL
        return target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).seeds").path
    }

    /// The checks made before anything runs or is written (see `Preflight.check`).
    public func preflight(memoryLimit: Double) throws {
        try Preflight.check(scenario, recordClients: recordClients, memoryLimit: memoryLimit, file: file)
    }

    /// Checks (`preflight`, then whether `out` may be written or replaced with `force`), runs every
    /// seed (resuming from the checkpoints of an interrupted run), and writes the data files, the
    /// report and `provenance.json` into `out` atomically. Returns the data files written
    /// (summary.json, rounds.csv, clients.csv). Errors: `InputError` (exit 2), `OutputError` (exit 1).
    @discardableResult
    public func run(writingTo out: String, force: Bool = false, memoryLimit: Double = MemoryEstimate.defaultLimit,
                    observer: (any ExperimentObserver)? = nil) throws -> Written {
        try preflight(memoryLimit: memoryLimit)
        try RunOutput.checkDestination(out, force: force)
        let checkpoints = seeds > 1 ? Self.checkpointFolder(for: out) : nil
        let results = try SeedRunner(scenario: scenario, file: file, seeds: seeds, recordClients: recordClients, checkpoints: checkpoints).run(observer: observer)
        let data = RunOutput.files(results)
        try RunOutput.writeAtomically(data + (try Report.files(results)) + [ExperimentFiles.provenance], to: out)
        if let checkpoints { try? FileManager.default.removeItem(atPath: checkpoints) }
        return Written(files: data, headline: Report.headline(results), notes: Written.trainerNotes(results))
    }

    /// What a run wrote: its data files (summary.json, rounds.csv, clients.csv) and its one-screen answer.
    public struct Written: Sendable {
        public var files: [(name: String, contents: Data)]
        public var headline: String
        /// Lines for the terminal that the outputs leave out because they depend on the machine
        /// (an external trainer's wall time).
        public var notes: [String] = []

        /// Per arm, the external trainer's calls, failures and time over every seed.
        static func trainerNotes(_ results: RunResults) -> [String] {
            var order: [String] = [], totals: [String: TrainerStatistics] = [:]
            for run in results.runs {
                for a in run.arms {
                    guard let t = a.trainer else { continue }
                    if totals[a.name] == nil { order.append(a.name) }
                    totals[a.name, default: TrainerStatistics()].add(t)
                }
            }
            guard !order.isEmpty else { return [] }
            return ["External trainer (wall time, not in the outputs): " + order.map { name in
                let t = totals[name] ?? TrainerStatistics()
                let mean = t.calls > 0 ? t.wallSeconds / Double(t.calls) : 0
                return "\(name) \(t.calls) calls\(t.failed > 0 ? " (\(t.failed) failed)" : ""), \(Quantity.humanReadable(t.wallSeconds, as: .duration)) (\(Quantity.humanReadable(mean, as: .duration)) a call)"
            }.joined(separator: " · ")]
        }
    }
}
