import EventKernel
import Federation
import Foundation
import Learning
import Numerics
import Reporting
import Scenario

/// Runs a scenario's arms for K seeds (the scenario's seed, seed + 1, …): every arm of a seed on the
/// same population and random draws. Shared by `fedsim run` and each point of `fedsim sweep`.
///
/// With `checkpoints`, each finished seed is saved there as `seed-N-KEY.json` (KEY: a hash of
/// fedsim's version, the seed's resolved scenario, the arms and whether client rows are kept), and a
/// seed whose checkpoint matches is taken from it instead of run again: an interrupted run resumes
/// after the seeds it finished.
public struct SeedRunner {
    /// A finished seed, as saved in a checkpoint file.
    public struct Checkpoint: Codable, Sendable {
        /// The content key of the seed's scenario, arms and client-row setting.
        public var key: String
        /// The seed.
        public var seed: UInt64
        /// The population's sample counts (the rest of the population is drawn again from the seed).
        public var samples: [Double]
        /// Every arm's result.
        public var arms: [ArmResult]
    }

    /// The scenario; its `seed` is the first seed.
    public var scenario: Scenario
    /// The file named in errors.
    public var file: String
    /// How many seeds (at least 1).
    public var seeds: Int
    /// Whether per-client rows are recorded (clients.csv).
    public var recordClients: Bool
    /// The folder of checkpoint files, or nil to keep none.
    public var checkpoints: String?
    /// The sweep point this run is, if any (reported in events).
    public var point: PointPosition?

    /// A runner; nothing runs until `run(observer:)`.
    public init(scenario: Scenario, file: String, seeds: Int = 1, recordClients: Bool = true, checkpoints: String? = nil, point: PointPosition? = nil) {
        self.scenario = scenario
        self.file = file
        self.seeds = seeds
        self.recordClients = recordClients
        self.checkpoints = checkpoints
        self.point = point
    }

    /// The scenario of seed number `k` (0-based); throws when the seed overflows.
    public func scenario(ofSeed k: Int) throws -> Scenario {
        var s = scenario
        let (seed, overflow) = scenario.seed.addingReportingOverflow(UInt64(k))
        guard !overflow else { throw InputError(.invalidValue(expected: "a seed that leaves room for --seeds \(seeds)", found: String(scenario.seed)), at: "seed", file: file) }
        s.seed = seed
        return s
    }

    /// The content key of a seed's checkpoint.
    public func checkpointKey(_ seedScenario: Scenario) -> String {
        ContentKey.of(seedScenario, also: seedScenario.arms.map(\.name).joined(separator: ",") + "\n\(recordClients)")
    }

    /// The checkpoint file of a seed: `CHECKPOINTS/seed-N-KEY.json` (nil without checkpoints).
    public func checkpointFile(_ seedScenario: Scenario) -> String? {
        checkpoints.map { "\($0)/seed-\(seedScenario.seed)-\(checkpointKey(seedScenario)).json" }
    }

    /// Runs every seed (or takes it from its checkpoint) and returns the results of all seeds.
    /// Errors: `InputError` naming `file` (bad values found while running, a diverged training by
    /// its learning-rate key); an error thrown by the observer.
    public func run(observer: (any ExperimentObserver)? = nil) throws -> RunResults {
        guard seeds >= 1 else { throw InputError(.invalidValue(expected: "at least one seed", found: String(seeds)), at: "--seeds") }
        var runs: [SeedRun] = []
        for k in 0..<seeds {
            let s = try scenario(ofSeed: k)
            let context = SeedContext(point: point, seed: s.seed, seedIndex: k, seedCount: seeds)
            let key = checkpointKey(s)
            let checkpointFile = checkpointFile(s)
            if let saved = checkpointFile.flatMap(Self.resume(from:)), saved.key == key, saved.seed == s.seed {
                if saved.samples.count == s.population.clients {
                    let population = FederationRun.population(of: s.config, samples: saved.samples)
                    runs.append(SeedRun(seed: s.seed, population: population, arms: saved.arms))
                    try observer?.experiment(.seedResumed(context))
                    continue
                }
            }
            let seedRun = try run(s, context: context, observer: observer)
            runs.append(seedRun)
            if let checkpoints, let checkpointFile {
                let c = Checkpoint(key: key, seed: s.seed, samples: seedRun.population.samples, arms: seedRun.arms)
                if let data = try? Self.encoder.encode(c) {
                    try? FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
                    try? data.write(to: URL(fileURLWithPath: checkpointFile), options: .atomic)
                }
            }
        }
        return RunResults(scenario: scenario, runs: runs)
    }

    /// One seed: sample the population, run every arm.
    func run(_ s: Scenario, context: SeedContext, observer: (any ExperimentObserver)?) throws -> SeedRun {
        let federation: FederationRun
        do { federation = try FederationRun(config: s.config) } catch let error as InputError where !error.keyPath.isEmpty && error.file == nil {
            throw error.inFile(file)
        } catch let error as TrainingError {
            throw Preflight.divergence(error, file: file)
        }
        if let l = federation.model {
            try observer?.experiment(.baseModel(context, cached: l.baseWasCached, testAccuracy: l.baseAccuracy))
        }
        let total = scenario.stop.rounds
        var results: [ArmResult] = []
        for arm in s.arms {
            var observerError: (any Error)?
            let progress: ((Int, SimTime, Double?) -> Void)? = observer?.wantsRounds == true ? { round, t, accuracy in
                guard observerError == nil else { return }
                do {
                    try observer?.experiment(.round(context, arm: arm.name, round: round, rounds: total, simulatedSeconds: t.seconds, accuracy: accuracy))
                } catch { observerError = error }
            } : nil
            let result: ArmResult
            do { result = try federation.run(arm: arm, recordClients: recordClients, progress: progress) } catch let error as InputError where error.file == nil {
                try observer?.experiment(.armFailed(context, arm: arm.name))
                throw error.inFile(file)
            } catch let error as TrainingError {
                try observer?.experiment(.armFailed(context, arm: arm.name))
                throw Preflight.divergence(error, file: file, arm: arm.name)
            }
            if let observerError { throw observerError }
            results.append(result)
            let accuracy = result.rounds.last(where: { $0.accuracy != nil })?.accuracy
            try observer?.experiment(.armFinished(context, arm: arm.name, rounds: result.rounds.count, simulatedSeconds: result.simulatedSeconds,
                                                  accuracy: accuracy, trained: s.workload.training != nil))
        }
        return SeedRun(seed: s.seed, population: federation.population, arms: results)
    }

    /// A checkpoint file's contents, or nil when it is absent or unreadable.
    static func resume(from file: String) -> Checkpoint? {
        guard let saved = try? InputFile.read(file) else { return nil }
        return try? decoder.decode(Checkpoint.self, from: saved)
    }

    /// JSON for checkpoints (non-finite numbers as strings).
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
