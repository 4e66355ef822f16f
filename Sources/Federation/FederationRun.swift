import Codec
import EventKernel
import Foundation
import Learning
import LoRA
import Network
import Numerics

/// A federation run: every round's selection, downloads, local training, uploads, dropouts,
/// deadline and aggregation are timed events on one `Simulator`, with the payload sizes of each
/// arm's codec on the scenario's modelled model; with `workload.train`, the proxy model really
/// trains and every update passes through the codec (`LearningWorkload`, `ArmLearner`). Each arm
/// runs as an `ArmRun` (the round policy) over `ClientTransfers` (the network), `ArmPayloads`
/// (sizes and learning) and `ArmRecords`.
///
/// All arms share the population and every per-(round, client) draw (common random numbers): the
/// dropout draws are counter-based (`availability.dropout`, client, round), the on/off timelines
/// are per client, selection is drawn from a per-round stream. Arms can still select different
/// clients when their rounds start at different times (sessions) or have different availability.
public final class FederationRun {
    /// Rounds a run with only a time limit (`stop.time`, no `stop.rounds`) may take: beyond
    /// these, estimated from the first ten rounds, the run stops with an error naming `stop.time`.
    public static let maxRoundsByTime = 1_000_000
    /// The same with real training (each round trains clients for real).
    public static let maxTrainedRoundsByTime = 20_000

    public let config: FederationConfig
    public private(set) var population: Population

    /// The clients `config` draws under its seed, each with `samples` local samples when given
    /// (with real training, the partition's), else drawn.
    public static func population(of config: FederationConfig, samples: [Double]? = nil) -> Population {
        Population(config.population, network: config.network.profile, seed: config.seed, samples: samples)
    }
    /// The real training shared by every arm (nil: a time-only run).
    public let model: (any ProxyModel)?
    /// The MLP proxy's workload (nil without training or with the transformer).
    public var learning: LearningWorkload? { model as? LearningWorkload }

    /// Samples the population of `config` (or takes `population` if given); with
    /// `workload.train`, loads the data, partitions it among the clients (their sample counts then
    /// follow the partition) and pretrains (or reads from the cache) the frozen base.
    public init(config: FederationConfig, population: Population? = nil, cacheDirectory: String? = Pretraining.defaultCacheDirectory) throws {
        self.config = config
        if let training = config.workload.training {
            let measured: Bool
            if case .measured = config.workload.payloadModel { measured = true } else { measured = false }
            let workload = try training.makeModel(clients: config.population.clients, seed: config.seed, cacheDirectory: cacheDirectory, needsFLOPs: measured)
            let samples = workload.sampleCounts.map(Double.init)
            if var given = population {
                given.samples = samples
                self.population = given
            } else {
                self.population = FederationRun.population(of: config, samples: samples)
            }
            model = workload
        } else {
            model = nil
            self.population = population ?? FederationRun.population(of: config)
        }
    }

    /// Runs one arm. `recordClients` keeps a row per selected client and round; `progress` is
    /// called after each round with (round, when the round ended, current test accuracy when training).
    public func run(arm: FederationConfig.Arm, recordClients: Bool = true, progress: ((Int, SimTime, Double?) -> Void)? = nil) throws -> ArmResult {
        let codec = try CodecRegistry.make(arm.codec, options: arm.options)
        let shapes = config.workload.payload?.shapes ?? model!.shapes
        let nominal = PayloadSizes(codec: codec, shapes: shapes)
        let index = config.arms.firstIndex { $0.name == arm.name } ?? 0
        let learner = model.map { ArmLearner(workload: $0, codec: codec, seed: config.seed, arm: ArmContext(index: index, name: arm.name, codec: arm.codec)) }
        let measured: Bool
        if case .measured = config.workload.payloadModel { measured = true } else { measured = false }
        let payloads = ArmPayloads(nominal: nominal, codec: codec, shapes: shapes, learner: learner, measured: measured)
        let run = ArmRun(config: config, population: population, payloads: payloads, recordClients: recordClients, progress: progress)
        // With training, every BLAS call of the run is single-threaded (training and evaluation
        // spread over the cores themselves): OpenBLAS's threaded products can round differently,
        // and a run must give the same bytes whatever the number of cores.
        if learner != nil { try BLASThreads.singleThreaded { try run.start() } } else { try run.start() }
        let records = run.records
        // Every message carries the adapter's extras (if any) beside the LoRA factors.
        let extras = run.payloads.extrasBytes
        var result = ArmResult(name: arm.name, codec: arm.codec, uploadBytesPerClient: records.meanUploadBytes(nominal: nominal.upload + extras),
                               downloadBytesInSync: run.payloads.latest.inSync + extras, downloadBytesDense: nominal.dense + extras,
                               rounds: records.rounds, clients: records.clients, events: run.simulator.firedCount)
        if let learning = model {
            result.initialAccuracy = learning.baseAccuracy
            result.initialLoss = learning.baseLoss
            result.measuredUploadKept = run.payloads.uploadKeptMean
            result.measuredDownloadKept = run.payloads.downloadKeptMean
            result.learningSeconds = run.payloads.learningSeconds
            result.finalGlobal = learner?.global
            result.finalGlobalExtras = learner?.globalExtras ?? []
            result.trainer = (learning as? ExternalWorkload)?.statistics(arm: index)
        }
        return result
    }
}
