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

    /// The data files of a run: summary.json, rounds.csv, clients.csv.
    public static func files(_ results: RunResults) -> [(name: String, contents: Data)] { files(RunRecords(results)) }

    /// The data files of a run's records.
    public static func files(_ records: RunRecords) -> [(name: String, contents: Data)] {
        [("summary.json", records.summary.json), ("rounds.csv", Data(RoundRow.table.text(records.rounds).utf8)),
         ("clients.csv", Data(ClientRow.table.text(records.clients).utf8))]
    }
}

extension RunSummary {
    /// summary.json's bytes: sorted keys, pretty, a final newline.
    public var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? encoder.encode(self)) ?? Data()) + Data("\n".utf8)
    }

    /// Decodes summary.json (the contents of `file`): a syntax error names the line and column,
    /// a missing or mistyped field its key path and what was expected (`InputError`).
    public static func read(_ data: Data, file: String) throws -> RunSummary {
        let value = try JSONValue.parse(data, file: file)
        do {
            return try JSONDecoder().decode(RunSummary.self, from: data)
        } catch let error as DecodingError {
            throw InputError(decoding: error, in: value, file: file)
        }
    }

    /// Per seed and arm: the contract's fields; across seeds: mean and 95 % CI of time to target
    /// and of the speedup over `lora`.
    public init(_ r: RunResults) {
        func num(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
        let target = r.scenario.target ?? Metrics.defaultTarget
        var perArm: [String: (tta: [Double], speedup: [Double], reached: Int, final: [Double])] = [:]
        let seeds: [Seed] = r.runs.map { run in
            let targetAccuracy = r.trained ? Metrics.targetAccuracy(target, arms: run.arms) : nil
            let lora = run.arms.first { $0.codec == "lora" }
            let loraTTA = targetAccuracy.flatMap { t in lora.flatMap { Metrics.timeToTarget($0, target: t) } }
            let arms: [Arm] = run.arms.map { a in
                let durations = a.rounds.map(\.durationSeconds).sorted()
                let tta = targetAccuracy.flatMap { Metrics.timeToTarget(a, target: $0) }
                var o = Arm(name: a.name, codec: a.codec, targetAccuracy: num(targetAccuracy), timeToTargetSeconds: num(tta?.seconds),
                            roundsToTarget: tta?.rounds, finalAccuracy: num(Metrics.finalAccuracy(a)), bestAccuracy: num(Metrics.bestAccuracy(a)),
                            initialAccuracy: num(a.initialAccuracy), rounds: a.rounds.count, aggregatedRounds: a.rounds.filter(\.aggregated).count,
                            simulatedSeconds: a.simulatedSeconds, bytesUp: a.bytesUp, bytesDown: a.bytesDown,
                            uploadBytesPerClient: a.uploadBytesPerClient, downloadBytesInSync: a.downloadBytesInSync,
                            downloadBytesDense: a.downloadBytesDense, measuredUploadKeptFraction: num(a.measuredUploadKept),
                            measuredDownloadKeptFraction: num(a.measuredDownloadKept),
                            completed: a.rounds.reduce(0) { $0 + $1.completed }, dropped: a.rounds.reduce(0) { $0 + $1.dropped },
                            late: a.rounds.reduce(0) { $0 + $1.late },
                            meanRoundSeconds: durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count),
                            medianRoundSeconds: durations.isEmpty ? 0 : durations[durations.count / 2])
                if let lora, lora.rounds.count == a.rounds.count, a.simulatedSeconds > 0 { o.timeRatioVsLora = lora.simulatedSeconds / a.simulatedSeconds }
                if let lora, lora.bytesUp > 0 { o.bytesUpVsLora = Double(a.bytesUp) / Double(lora.bytesUp) }
                var entry = perArm[a.name] ?? ([], [], 0, [])
                if let tta {
                    entry.tta.append(tta.seconds)
                    entry.reached += 1
                    if let loraTTA { o.speedupVsLora = loraTTA.seconds / tta.seconds; entry.speedup.append(loraTTA.seconds / tta.seconds) }
                }
                if let f = Metrics.finalAccuracy(a) { entry.final.append(f) }
                perArm[a.name] = entry
                return o
            }
            return Seed(seed: run.seed, targetAccuracy: num(targetAccuracy), arms: arms)
        }
        scenario = r.scenario.name
        seed = r.runs.first?.seed ?? r.scenario.seed
        self.seeds = r.runs.map(\.seed)
        mode = r.trained ? .training : .timeOnly
        clients = r.scenario.population.clients
        measured = RunOutput.measured(r)
        modelled = RunOutput.modelled(r)
        runs = seeds
        resolvedScenario = r.scenario.resolved
        arms = seeds.first?.arms ?? []
        acrossSeeds = r.armNames.map { name in
            let e = perArm[name] ?? ([], [], 0, [])
            let tta = Metrics.meanAndCI(e.tta), speedup = Metrics.meanAndCI(e.speedup), final = Metrics.meanAndCI(e.final)
            return AcrossSeeds(name: name, seedsReachingTarget: e.reached,
                               timeToTargetMean: e.tta.isEmpty ? nil : num(tta.mean), timeToTargetCI95: num(tta.halfWidth),
                               speedupVsLoraMean: e.speedup.isEmpty ? nil : num(speedup.mean), speedupVsLoraCI95: num(speedup.halfWidth),
                               finalAccuracyMean: e.final.isEmpty ? nil : num(final.mean), finalAccuracyCI95: num(final.halfWidth))
        }
    }
}

extension RunOutput {
    /// What the run measured (really computed) …
    public static func measured(_ r: RunResults) -> [String] {
        guard let t = r.scenario.workload.training else { return ["nothing: a time-only run (no training; accuracy fields are null)"] }
        var m = ["test accuracy of the proxy model (an MLP \(t.hidden.map(String.init).joined(separator: "-")) with a frozen pretrained base and LoRA r = \(t.rank) on every layer) after every evaluated round, on real data",
                 "every client update really trained, encoded by the codec and decoded by the server; the global adapter is what clients hold after applying the real broadcast bytes",
                 "kept fractions of the real messages"]
        if case .measured = r.scenario.workload.payloadModel { m.append("payload bytes: the real encoded messages") }
        return m
    }

    /// … and what it modelled.
    public static func modelled(_ r: RunResults) -> [String] {
        var m: [String] = []
        switch r.scenario.workload.payloadModel {
        case let .catalogue(p):
            m.append("payload bytes: the codec's exact size function on \(p.model.displayName)'s LoRA shapes (r = \(p.rank), \(p.targets.joined(separator: ","))) at the kept fractions \(r.trained ? "measured on the proxy's real messages" : "nominal (1 − α)")")
            m.append("compute time: samples × \(r.scenario.workload.tokensPerSample) tokens × (4·N_base + 6·N_lora) FLOPs of \(p.model.displayName) / device speed")
        case .measured:
            m.append("compute time: samples × (4·N_base + 6·N_lora) FLOPs of the proxy / device speed")
        }
        m.append("network: the \(r.scenario.network.model.rawValue) transfer model on links drawn from the \(r.scenario.network.profile.name) profile, with a max-min fair server link")
        m.append("availability, selection, deadlines and server aggregation time as in the scenario")
        return m
    }
}
