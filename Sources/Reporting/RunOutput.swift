import Federation
import Foundation
import Network
import Numerics
import Scenario

/// The results of `fedsim run`: one scenario, every arm.
public struct RunResults: Sendable {
    public var scenario: Scenario
    public var population: Population
    public var arms: [ArmResult]
    public var mode: String

    public init(scenario: Scenario, population: Population, arms: [ArmResult], mode: String = "time-only") {
        self.scenario = scenario
        self.population = population
        self.arms = arms
        self.mode = mode
    }
}

/// Writes a run's files (output contract: docs/ARCHITECTURE.md) into a directory, atomically: all
/// files go to a temporary sibling directory that is renamed into place at the end, so a failed or
/// interrupted run leaves nothing half-written.
public enum RunOutput {
    /// Refuses an output directory that exists and is not empty (unless `force`), before any work.
    public static func checkDestination(_ dir: String, force: Bool) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw InputError(.file(path: dir, reason: "exists and is not a directory"), at: "")
        }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        if !contents.isEmpty && !force {
            throw InputError(.file(path: dir, reason: "exists and is not empty (use --force to replace it)"), at: "")
        }
    }

    /// Writes `files` (name → contents) as directory `dir`, replacing it if it exists.
    public static func writeAtomically(_ files: [(name: String, contents: Data)], to dir: String) throws {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: dir).standardizedFileURL
        let parent = target.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let temp = parent.appendingPathComponent(".\(target.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: temp)
        try fm.createDirectory(at: temp, withIntermediateDirectories: false)
        do {
            for file in files {
                let url = temp.appendingPathComponent(file.name)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try file.contents.write(to: url)
            }
            if fm.fileExists(atPath: target.path) {
                let old = parent.appendingPathComponent(".\(target.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
                try fm.moveItem(at: target, to: old)
                try fm.moveItem(at: temp, to: target)
                try? fm.removeItem(at: old)
            } else {
                try fm.moveItem(at: temp, to: target)
            }
        } catch {
            try? fm.removeItem(at: temp)
            throw error
        }
    }

    /// The files of a run: summary.json, rounds.csv, clients.csv.
    public static func files(_ results: RunResults) -> [(name: String, contents: Data)] {
        [("summary.json", Data((summary(results).text(pretty: true) + "\n").utf8)),
         ("rounds.csv", Data(roundsCSV(results).utf8)),
         ("clients.csv", Data(clientsCSV(results).utf8))]
    }

    // MARK: summary.json

    public static func summary(_ r: RunResults) -> JSONValue {
        let lora = r.arms.first { $0.codec == "lora" }
        let arms: [JSONValue] = r.arms.map { a in
            let durations = a.rounds.map { $0.endSeconds - $0.startSeconds }.sorted()
            var o: [String: JSONValue] = [
                "name": .string(a.name), "codec": .string(a.codec),
                "target_accuracy": .null, "time_to_target_s": .null, "rounds_to_target": .null, "final_accuracy": .null,
                "rounds": .number(Double(a.rounds.count)),
                "aggregated_rounds": .number(Double(a.rounds.filter(\.aggregated).count)),
                "simulated_seconds": .number(a.simulatedSeconds),
                "bytes_up": .number(Double(a.bytesUp)), "bytes_down": .number(Double(a.bytesDown)),
                "upload_bytes_per_client": .number(Double(a.uploadBytesPerClient)),
                "download_bytes_in_sync": .number(Double(a.downloadBytesInSync)),
                "download_bytes_dense": .number(Double(a.downloadBytesDense)),
                "completed": .number(Double(a.rounds.reduce(0) { $0 + $1.completed })),
                "dropped": .number(Double(a.rounds.reduce(0) { $0 + $1.dropped })),
                "late": .number(Double(a.rounds.reduce(0) { $0 + $1.late })),
                "mean_round_seconds": .number(durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count)),
                "median_round_seconds": .number(durations.isEmpty ? 0 : durations[durations.count / 2]),
            ]
            if let lora, lora.simulatedSeconds > 0, a.simulatedSeconds > 0, lora.rounds.count == a.rounds.count {
                o["time_ratio_vs_lora"] = .number(lora.simulatedSeconds / a.simulatedSeconds)
            }
            return .object(o)
        }
        return .object([
            "scenario": .string(r.scenario.name), "seed": .number(Double(r.scenario.seed)), "mode": .string(r.mode),
            "clients": .number(Double(r.population.count)),
            "measured": .array([.string("nothing: no training in a time-only run (accuracy fields are null)")]),
            "modelled": .array([.string("payload bytes: the codec's exact size function on \(r.scenario.workload.payload.model.displayName)'s LoRA shapes at the nominal kept fraction"),
                                .string("compute time: samples × tokens × (4·N_base + 6·N_lora) FLOPs / device speed"),
                                .string("network: the \(r.scenario.network.model.rawValue) transfer model with a max-min fair server link")]),
            "arms": .array(arms),
            "resolved_scenario": r.scenario.resolved,
        ])
    }

    // MARK: CSV

    /// Shortest round-trip text for a number; empty for NaN (deterministic on every platform).
    static func cell(_ x: Double) -> String { x.isNaN ? "" : (x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)") }

    public static func roundsCSV(_ r: RunResults) -> String {
        var out = "arm,round,start_s,end_s,close_s,duration_s,available,selected,completed,dropped,late,aggregated,close_reason,bytes_up,bytes_down,version,accuracy\n"
        for a in r.arms {
            for x in a.rounds {
                let fields: [String] = [a.name, String(x.round), cell(x.startSeconds), cell(x.endSeconds), cell(x.closeSeconds),
                                        cell(x.endSeconds - x.startSeconds), String(x.available), String(x.selected), String(x.completed),
                                        String(x.dropped), String(x.late), x.aggregated ? "1" : "0", x.close.rawValue,
                                        String(x.bytesUp), String(x.bytesDown), String(x.version), ""]
                out += fields.joined(separator: ",") + "\n"
            }
        }
        return out
    }

    public static func clientsCSV(_ r: RunResults) -> String {
        var out = "arm,round,client,profile,outcome,stale_rounds,download_bytes,upload_bytes,download_s,compute_s,upload_s,end_s,downlink_bps,uplink_bps,rtt_s,loss\n"
        let p = r.population
        for a in r.arms {
            for c in a.clients {
                let i = Int(c.client)
                let fields: [String] = [a.name, String(c.round), String(c.client), p.profileNames[Int(p.profile[i])], c.outcome.rawValue,
                                        String(c.staleRounds), String(c.downloadBytes), String(c.uploadBytes), cell(c.downloadSeconds),
                                        cell(c.computeSeconds), cell(c.uploadSeconds), cell(c.endSeconds), cell(p.downlink[i]),
                                        cell(p.uplink[i]), cell(p.rtt[i]), cell(p.loss[i])]
                out += fields.joined(separator: ",") + "\n"
            }
        }
        return out
    }
}
