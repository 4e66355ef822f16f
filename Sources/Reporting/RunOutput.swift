import Federation
import Foundation
import Network
import Numerics
import Scenario

/// One seed's run: the population and every arm.
public struct SeedRun: Sendable {
    public var seed: UInt64
    public var population: Population
    public var arms: [ArmResult]
    public init(seed: UInt64, population: Population, arms: [ArmResult]) {
        self.seed = seed
        self.population = population
        self.arms = arms
    }
}

/// The results of `fedsim run`: one scenario, every arm, one or more seeds.
public struct RunResults: Sendable {
    public var scenario: Scenario
    public var runs: [SeedRun]
    /// Whether the proxy really trained (accuracy fields are filled).
    public var trained: Bool { scenario.workload.training != nil }

    public init(scenario: Scenario, runs: [SeedRun]) {
        self.scenario = scenario
        self.runs = runs
    }

    /// One seed.
    public init(scenario: Scenario, population: Population, arms: [ArmResult]) {
        self.init(scenario: scenario, runs: [SeedRun(seed: scenario.seed, population: population, arms: arms)])
    }

    public var armNames: [String] { runs.first?.arms.map(\.name) ?? [] }
}

/// Writes a run's files (output contract: docs/ARCHITECTURE.md) into a directory, atomically: all
/// files go to a temporary sibling directory that is renamed into place at the end, so a failed or
/// interrupted run leaves nothing half-written.
public enum RunOutput {
    /// Refuses an output directory that may not be replaced, before any work (see `OutputDirectory`).
    public static func checkDestination(_ dir: String, force: Bool) throws {
        _ = try OutputDirectory.prepare(dir, kind: .run, replace: force)
    }

    /// Writes `files` (name → contents) as run directory `dir`, replacing it if it exists.
    public static func writeAtomically(_ files: [(name: String, contents: Data)], to dir: String) throws {
        try OutputDirectory.write(files, to: dir, kind: .run)
    }

    /// The data files of a run: summary.json, rounds.csv, clients.csv (and availability.csv with
    /// sessions, a behaviour trace or a participation window).
    public static func files(_ results: RunResults) -> [(name: String, contents: Data)] { files(RunRecords(results)) }

    /// The data files of a run's records.
    public static func files(_ records: RunRecords) -> [(name: String, contents: Data)] {
        [("summary.json", records.summary.json), ("rounds.csv", Data(RoundRow.table.text(records.rounds).utf8)),
         ("clients.csv", Data(ClientRow.table.text(records.clients).utf8))]
            + (records.availability.isEmpty ? [] : [("availability.csv", Data(AvailabilityRow.table.text(records.availability).utf8))])
    }
}

extension RunOutput {
    /// What the run measured (really computed) …
    public static func measured(_ r: RunResults) -> [String] {
        guard let t = r.scenario.workload.training else { return ["nothing: a time-only run (no training; accuracy fields are null)"] }
        let first: String
        switch t.model {
        case .mlp:
            first = "test accuracy of the proxy model (an MLP \(t.hidden.map(String.init).joined(separator: "-")) with a frozen pretrained base and LoRA r = \(t.rank) on every layer) after every evaluated round, on real data"
        case let .transformer(x):
            first = "held-out next-byte accuracy and loss of the proxy model (a \(x.config.layers)-layer byte-level transformer LM of width \(x.config.width) pretrained on \(x.pretrainDomains.joined(separator: ",")), LoRA r = \(x.lora.rank) on \(x.lora.targets.map(\.rawValue).joined(separator: ","))) after every evaluated round, on the fortunes of \(x.domains.joined(separator: ","))"
        case let .external(x):
            first = "the \(x.accuracyMetric) and \(x.lossMetric) the external trainer's evaluation command reports for the global adapter after every evaluated round (docs/EXTERNAL-TRAINER.md)"
        }
        if case .external = t.model {
            var m = [first,
                     "every client update really trained by the external trainer (\(InputError.clipped(x0(t), 80))), encoded by the codec and decoded by the server; a call that failed makes its client a failed participant",
                     "kept fractions of the real messages"]
            if case .measured = r.scenario.workload.payloadModel { m.append("payload bytes: the real encoded messages of the trainer's adapter") }
            return m
        }
        var m = [first,
                 "every client update really trained, encoded by the codec and decoded by the server; the global adapter is what clients hold after applying the real broadcast bytes",
                 "kept fractions of the real messages"]
        if case .measured = r.scenario.workload.payloadModel { m.append("payload bytes: the real encoded messages") }
        return m
    }

    /// The external trainer's program name.
    private static func x0(_ t: FederationConfig.Training) -> String {
        guard case let .external(x) = t.model else { return "" }
        return ExternalTrainer.programName(x.command)
    }

    /// … and what it modelled.
    public static func modelled(_ r: RunResults) -> [String] {
        var m: [String] = []
        switch r.scenario.workload.payloadModel {
        case let .catalogue(p):
            m.append("payload bytes: the codec's exact size function on \(p.model.displayName)'s LoRA shapes (r = \(p.rank), \(p.targets.joined(separator: ","))) at the kept fractions \(r.trained ? "measured on the proxy's real messages" : "nominal (1 − α)")")
            m.append("compute time: samples × \(r.scenario.workload.tokensPerSample) tokens × (4·N_base + 6·N_lora) FLOPs of \(p.model.displayName) / device speed")
        case .measured:
            if case .external? = r.scenario.workload.training?.model {
                m.append("compute time: samples × the trainer's flops_per_sample / device speed (the trainer's own wall time is not used)")
            } else if case .transformer? = r.scenario.workload.training?.model {
                m.append("compute time: the client's windows × (steps × batch / mean windows per client) × context × (4·N_base + 6·N_lora) FLOPs of the proxy / device speed")
            } else {
                m.append("compute time: samples × (4·N_base + 6·N_lora) FLOPs of the proxy / device speed")
            }
        }
        m.append("network: the \(r.scenario.network.model.rawValue) transfer model on links drawn from the \(r.scenario.network.profile.name) profile, with a max-min fair server link")
        m.append("availability, selection, deadlines and server aggregation time as in the scenario")
        return m
    }
}
