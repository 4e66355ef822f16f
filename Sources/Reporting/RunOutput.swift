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
    public static func files(_ results: RunResults) -> [(name: String, contents: Data)] {
        [("summary.json", Data((summary(results).text(pretty: true) + "\n").utf8)),
         ("rounds.csv", Data(roundsCSV(results).utf8)),
         ("clients.csv", Data(clientsCSV(results).utf8))]
    }

    // MARK: summary.json

    static func num(_ x: Double?) -> JSONValue { x.map { $0.isFinite ? .number($0) : .null } ?? .null }

    /// Per seed and arm: the contract's fields; across seeds: mean and 95 % CI of time to target
    /// and of the speedup over `lora`.
    public static func summary(_ r: RunResults) -> JSONValue {
        let target = r.scenario.target ?? Metrics.defaultTarget
        var perArm: [String: (tta: [Double], speedup: [Double], reached: Int, final: [Double])] = [:]
        let seeds: [JSONValue] = r.runs.map { run in
            let targetAccuracy = r.trained ? Metrics.targetAccuracy(target, arms: run.arms) : nil
            let lora = run.arms.first { $0.codec == "lora" }
            let loraTTA = targetAccuracy.flatMap { t in lora.flatMap { Metrics.timeToTarget($0, target: t) } }
            let arms: [JSONValue] = run.arms.map { a in
                let durations = a.rounds.map { $0.endSeconds - $0.startSeconds }.sorted()
                let tta = targetAccuracy.flatMap { Metrics.timeToTarget(a, target: $0) }
                var o: [String: JSONValue] = [
                    "name": .string(a.name), "codec": .string(a.codec),
                    "target_accuracy": num(targetAccuracy), "time_to_target_s": num(tta?.seconds),
                    "rounds_to_target": tta.map { .number(Double($0.rounds)) } ?? .null,
                    "final_accuracy": num(Metrics.finalAccuracy(a)), "best_accuracy": num(Metrics.bestAccuracy(a)),
                    "initial_accuracy": num(a.initialAccuracy),
                    "rounds": .number(Double(a.rounds.count)),
                    "aggregated_rounds": .number(Double(a.rounds.filter(\.aggregated).count)),
                    "simulated_seconds": .number(a.simulatedSeconds),
                    "bytes_up": .number(Double(a.bytesUp)), "bytes_down": .number(Double(a.bytesDown)),
                    "upload_bytes_per_client": .number(Double(a.uploadBytesPerClient)),
                    "download_bytes_in_sync": .number(Double(a.downloadBytesInSync)),
                    "download_bytes_dense": .number(Double(a.downloadBytesDense)),
                    "measured_upload_kept_fraction": num(a.measuredUploadKept),
                    "measured_download_kept_fraction": num(a.measuredDownloadKept),
                    "completed": .number(Double(a.rounds.reduce(0) { $0 + $1.completed })),
                    "dropped": .number(Double(a.rounds.reduce(0) { $0 + $1.dropped })),
                    "late": .number(Double(a.rounds.reduce(0) { $0 + $1.late })),
                    "mean_round_seconds": .number(durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count)),
                    "median_round_seconds": .number(durations.isEmpty ? 0 : durations[durations.count / 2]),
                ]
                if let lora, lora.rounds.count == a.rounds.count, a.simulatedSeconds > 0 {
                    o["time_ratio_vs_lora"] = .number(lora.simulatedSeconds / a.simulatedSeconds)
                }
                if let lora, lora.bytesUp > 0 { o["bytes_up_vs_lora"] = .number(Double(a.bytesUp) / Double(lora.bytesUp)) }
                var entry = perArm[a.name] ?? ([], [], 0, [])
                if let tta {
                    entry.tta.append(tta.seconds)
                    entry.reached += 1
                    if let loraTTA { o["speedup_vs_lora"] = .number(loraTTA.seconds / tta.seconds); entry.speedup.append(loraTTA.seconds / tta.seconds) }
                }
                if let f = Metrics.finalAccuracy(a) { entry.final.append(f) }
                perArm[a.name] = entry
                return .object(o)
            }
            return .object(["seed": .number(Double(run.seed)), "target_accuracy": num(targetAccuracy), "arms": .array(arms)])
        }
        var root: [String: JSONValue] = [
            "scenario": .string(r.scenario.name), "seed": .number(Double(r.runs.first?.seed ?? r.scenario.seed)),
            "seeds": .array(r.runs.map { .number(Double($0.seed)) }),
            "mode": .string(r.trained ? "training" : "time-only"),
            "clients": .number(Double(r.scenario.population.clients)),
            "measured": .array(measured(r).map { .string($0) }),
            "modelled": .array(modelled(r).map { .string($0) }),
            "runs": .array(seeds),
            "resolved_scenario": r.scenario.resolved,
        ]
        // The contract's "arms" (first seed), plus across-seed statistics.
        if case let .object(first)? = seeds.first, case let .array(arms)? = first["arms"] { root["arms"] = .array(arms) }
        root["across_seeds"] = .array(r.armNames.map { name in
            let e = perArm[name] ?? ([], [], 0, [])
            let tta = Metrics.meanAndCI(e.tta), speedup = Metrics.meanAndCI(e.speedup), final = Metrics.meanAndCI(e.final)
            return .object(["name": .string(name), "seeds_reaching_target": .number(Double(e.reached)),
                            "time_to_target_s_mean": e.tta.isEmpty ? .null : num(tta.mean), "time_to_target_s_ci95": num(tta.halfWidth),
                            "speedup_vs_lora_mean": e.speedup.isEmpty ? .null : num(speedup.mean), "speedup_vs_lora_ci95": num(speedup.halfWidth),
                            "final_accuracy_mean": e.final.isEmpty ? .null : num(final.mean), "final_accuracy_ci95": num(final.halfWidth)])
        })
        return .object(root)
    }

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

    // MARK: CSV

    /// Shortest round-trip text for a number; empty for NaN or nil (deterministic on every platform).
    static func cell(_ x: Double?) -> String {
        guard let x, !x.isNaN else { return "" }
        return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
    }

    public static func roundsCSV(_ r: RunResults) -> String {
        var out = "seed,arm,round,start_s,end_s,close_s,duration_s,available,selected,completed,dropped,late,aggregated,close_reason,bytes_up,bytes_down,version,accuracy,loss\n"
        for run in r.runs {
            for a in run.arms {
                for x in a.rounds {
                    let fields: [String] = [String(run.seed), a.name, String(x.round), cell(x.startSeconds), cell(x.endSeconds), cell(x.closeSeconds),
                                            cell(x.endSeconds - x.startSeconds), String(x.available), String(x.selected), String(x.completed),
                                            String(x.dropped), String(x.late), x.aggregated ? "1" : "0", x.close.rawValue,
                                            String(x.bytesUp), String(x.bytesDown), String(x.version), cell(x.accuracy), cell(x.loss)]
                    out += CSV.row(fields)
                }
            }
        }
        return out
    }

    public static func clientsCSV(_ r: RunResults) -> String {
        var out = "seed,arm,round,client,profile,outcome,stale_rounds,download_bytes,upload_bytes,download_s,compute_s,upload_s,end_s,downlink_bps,uplink_bps,rtt_s,loss,samples\n"
        for run in r.runs {
            let p = run.population
            for a in run.arms {
                for c in a.clients {
                    let i = Int(c.client)
                    let fields: [String] = [String(run.seed), a.name, String(c.round), String(c.client), p.profileNames[Int(p.profile[i])], c.outcome.rawValue,
                                            String(c.staleRounds), String(c.downloadBytes), String(c.uploadBytes), cell(c.downloadSeconds),
                                            cell(c.computeSeconds), cell(c.uploadSeconds), cell(c.endSeconds), cell(p.downlink[i]),
                                            cell(p.uplink[i]), cell(p.rtt[i]), cell(p.loss[i]), cell(p.samples[i])]
                    out += CSV.row(fields)
                }
            }
        }
        return out
    }
}
