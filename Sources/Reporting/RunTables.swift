import Federation
import Foundation
import Network
import Numerics

/// A row of `rounds.csv`: one round of one arm in one seed's run.
public struct RoundRow: Sendable, Equatable {
    public var seed: UInt64
    public var arm: String
    public var record: RoundRecord

    public init(seed: UInt64, arm: String, record: RoundRecord) {
        self.seed = seed
        self.arm = arm
        self.record = record
    }

    /// The columns of `rounds.csv`.
    public static var table: CSVTable<RoundRow> {
        typealias C = CSVTable<RoundRow>.Column
        return CSVTable(columns: [
            C.integer("seed", \.seed), C.text("arm", \.arm), C.integer("round", \.record.round),
            C.number("start_s", \.record.startSeconds), C.number("end_s", \.record.endSeconds), C.number("close_s", \.record.closeSeconds),
            C.derived("duration_s", \.record.durationSeconds),
            C.integer("available", \.record.available), C.integer("selected", \.record.selected), C.integer("completed", \.record.completed),
            C.integer("dropped", \.record.dropped), C.integer("late", \.record.late),
            C.integer("failed", \.record.failed).mayBeAbsent(), C.flag("aggregated", \.record.aggregated),
            C.choice("close_reason", \.record.close), C.integer("bytes_up", \.record.bytesUp), C.integer("bytes_down", \.record.bytesDown),
            C.integer("version", \.record.version), C.optionalNumber("accuracy", \.record.accuracy), C.optionalNumber("loss", \.record.loss),
            C.optionalNumber("update_cosine", \.record.updateCosine), C.optionalNumber("update_norm_ratio", \.record.updateNormRatio),
            C.optionalNumber("kept_energy", \.record.keptEnergy), C.optionalNumber("update_kurtosis", \.record.updateKurtosis),
        ], blank: RoundRow(seed: 0, arm: "", record: RoundRecord(round: 0, startSeconds: 0, closeSeconds: 0, endSeconds: 0, available: 0, selected: 0,
                                                                  completed: 0, dropped: 0, late: 0, aggregated: false, close: .quota,
                                                                  bytesUp: 0, bytesDown: 0, version: 0)))
    }
}

/// A row of `clients.csv`: one selected client in one round of one arm, with the client's draws
/// from the population.
public struct ClientRow: Sendable, Equatable {
    public var seed: UInt64
    public var arm: String
    public var record: ClientRecord
    /// The network profile the client's links were drawn from.
    public var profile: String
    public var downlinkBitsPerSecond: Double
    public var uplinkBitsPerSecond: Double
    public var rttSeconds: Double
    public var loss: Double
    public var samples: Double

    public init(seed: UInt64, arm: String, record: ClientRecord, profile: String, downlinkBitsPerSecond: Double,
                uplinkBitsPerSecond: Double, rttSeconds: Double, loss: Double, samples: Double) {
        self.seed = seed
        self.arm = arm
        self.record = record
        self.profile = profile
        self.downlinkBitsPerSecond = downlinkBitsPerSecond
        self.uplinkBitsPerSecond = uplinkBitsPerSecond
        self.rttSeconds = rttSeconds
        self.loss = loss
        self.samples = samples
    }

    /// The columns of `clients.csv`.
    public static var table: CSVTable<ClientRow> {
        typealias C = CSVTable<ClientRow>.Column
        return CSVTable(columns: [
            C.integer("seed", \.seed), C.text("arm", \.arm), C.integer("round", \.record.round), C.integer("client", \.record.client),
            C.text("profile", \.profile), C.choice("outcome", \.record.outcome), C.integer("stale_rounds", \.record.staleRounds),
            C.integer("download_bytes", \.record.downloadBytes), C.integer("upload_bytes", \.record.uploadBytes),
            C.number("download_s", \.record.downloadSeconds), C.number("compute_s", \.record.computeSeconds),
            C.number("upload_s", \.record.uploadSeconds), C.number("end_s", \.record.endSeconds),
            C.number("downlink_bps", \.downlinkBitsPerSecond), C.number("uplink_bps", \.uplinkBitsPerSecond),
            C.number("rtt_s", \.rttSeconds), C.number("loss", \.loss), C.number("samples", \.samples),
        ], blank: ClientRow(seed: 0, arm: "", record: ClientRecord(round: 0, client: 0, outcome: .completed, staleRounds: 0, downloadBytes: 0,
                                                                    uploadBytes: 0, downloadSeconds: 0, computeSeconds: 0, uploadSeconds: 0, endSeconds: 0),
                            profile: "", downlinkBitsPerSecond: 0, uplinkBitsPerSecond: 0, rttSeconds: 0, loss: 0, samples: 0))
    }
}

/// A row of `availability.csv`: one instant of one seed's availability (written only when the
/// scenario has sessions, a behaviour trace or a participation window; `AvailabilityOverTime`).
public struct AvailabilityRow: Sendable, Equatable {
    public var seed: UInt64
    public var sample: AvailabilityOverTime.Sample

    public init(seed: UInt64, sample: AvailabilityOverTime.Sample) {
        self.seed = seed
        self.sample = sample
    }

    /// The columns of `availability.csv`.
    public static var table: CSVTable<AvailabilityRow> {
        typealias C = CSVTable<AvailabilityRow>.Column
        return CSVTable(columns: [
            C.integer("seed", \.seed), C.number("time_s", \.sample.seconds), C.number("online", \.sample.online),
            C.number("selectable", \.sample.selectable), C.count("clients", \.sample.clients),
        ], blank: AvailabilityRow(seed: 0, sample: .init(seconds: 0, online: 0, selectable: 0, clients: 0)))
    }

    /// The rows of every seed's run: sampled over [0, the end of the seed's longest arm].
    public static func rows(_ results: RunResults) -> [AvailabilityRow] {
        results.runs.flatMap { run -> [AvailabilityRow] in
            let horizon = run.arms.compactMap { $0.rounds.last?.endSeconds }.filter(\.isFinite).max() ?? 0
            let samples = AvailabilityOverTime.sample(results.scenario.availability, clients: results.scenario.population.clients,
                                                      seed: run.seed, horizon: horizon) ?? []
            return samples.map { AvailabilityRow(seed: run.seed, sample: $0) }
        }
    }
}

/// Everything a run's report is rendered from: the summary and the rows of the two tables. Built
/// from in-memory results by `fedsim run`, decoded from the data files by `fedsim report`.
public struct RunRecords: Sendable {
    public var summary: RunSummary
    public var rounds: [RoundRow]
    public var clients: [ClientRow]
    /// availability.csv's rows (empty without sessions, a trace or a window).
    public var availability: [AvailabilityRow]

    public init(summary: RunSummary, rounds: [RoundRow], clients: [ClientRow], availability: [AvailabilityRow] = []) {
        self.summary = summary
        self.rounds = rounds
        self.clients = clients
        self.availability = availability
    }

    /// The records of in-memory results (seeds, then arms, then rounds or clients, in order).
    public init(_ results: RunResults) {
        summary = RunSummary(results)
        rounds = results.runs.flatMap { run in run.arms.flatMap { a in a.rounds.map { RoundRow(seed: run.seed, arm: a.name, record: $0) } } }
        clients = results.runs.flatMap { run in
            let p = run.population
            return run.arms.flatMap { a in
                a.clients.map { c in
                    let i = Int(c.client)
                    return ClientRow(seed: run.seed, arm: a.name, record: c, profile: p.profileNames[Int(p.profile[i])],
                                     downlinkBitsPerSecond: p.downlink[i], uplinkBitsPerSecond: p.uplink[i], rttSeconds: p.rtt[i],
                                     loss: p.loss[i], samples: p.samples[i])
                }
            }
        }
        availability = AvailabilityRow.rows(results)
    }

    /// Per arm name, the share of the mean round its selected clients spent training locally
    /// (`Metrics.computeShare`), over every seed's rounds and clients.
    public var computeShares: [String: Double] {
        var shares: [String: ComputeShare] = [:]
        for r in rounds { shares[r.arm, default: ComputeShare()].add(r.record) }
        for c in clients { shares[c.arm, default: ComputeShare()].add(c.record) }
        return shares.compactMapValues(\.value)
    }

    /// Decodes a run's data files (`clients` nil: no clients.csv; `availability` nil: no
    /// availability.csv). `names` are where they came from, for messages.
    public static func read(summary: Data, rounds: String, clients: String?, availability: String? = nil,
                            names: (summary: String, rounds: String, clients: String) = ("summary.json", "rounds.csv", "clients.csv"),
                            availabilityName: String = "availability.csv") throws -> RunRecords {
        RunRecords(summary: try RunSummary.read(summary, file: names.summary),
                   rounds: try RoundRow.table.read(rounds, file: names.rounds),
                   clients: try clients.map { try ClientRow.table.read($0, file: names.clients) } ?? [],
                   availability: try availability.map { try AvailabilityRow.table.read($0, file: availabilityName) } ?? [])
    }
}
