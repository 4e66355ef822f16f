import Foundation
import Numerics
import Scenario

/// `summary.json`: per seed and arm the output contract's fields, across seeds the mean and 95 %
/// CI of time to target and of the speedup over `lora`, and the resolved scenario. Encoded with
/// sorted keys; numbers as `JSONValue` writes them (whole numbers below 10^15 without a
/// fraction); a missing value (or a non-finite one) is `null`.
public struct RunSummary: Sendable, Equatable {
    /// Whether the proxy really trained.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        case training
        case timeOnly = "time-only"
    }

    /// One arm in one seed's run.
    public struct Arm: Sendable, Equatable {
        public var name: String
        public var codec: String
        public var targetAccuracy: Double?
        public var timeToTargetSeconds: Double?
        public var roundsToTarget: Int?
        public var finalAccuracy: Double?
        public var bestAccuracy: Double?
        public var initialAccuracy: Double?
        public var rounds: Int
        public var aggregatedRounds: Int
        public var simulatedSeconds: Double
        public var bytesUp: Int
        public var bytesDown: Int
        public var uploadBytesPerClient: Int
        public var downloadBytesInSync: Int
        public var downloadBytesDense: Int
        public var measuredUploadKeptFraction: Double?
        public var measuredDownloadKeptFraction: Double?
        public var completed: Int
        public var dropped: Int
        public var late: Int
        public var meanRoundSeconds: Double
        public var medianRoundSeconds: Double
        /// lora's simulated time / this arm's, when both ran the same number of rounds (absent otherwise).
        public var timeRatioVsLora: Double?
        /// This arm's bytes up / lora's (absent without lora).
        public var bytesUpVsLora: Double?
        /// lora's time to target / this arm's, when both reached it (absent otherwise).
        public var speedupVsLora: Double?
        /// How faithfully the codec carried the updates, over the rounds that aggregated (absent
        /// without training; `rounds.csv` has them per round): the means of the applied update's
        /// cosine and norm ratio against exact FedAvg and of the uploads' kept energy, and the
        /// median over rounds of the updates' median kurtosis.
        public var updateCosineMean: Double?
        public var updateNormRatioMean: Double?
        public var keptEnergyMean: Double?
        public var updateKurtosisMedian: Double?
        /// With a loss or perplexity target only (nil, and absent from summary.json, for accuracy,
        /// whose values are the `*_accuracy` fields): the metric, the absolute target, and the
        /// arm's initial (frozen base), final and best value of it.
        public var targetMetric: Metrics.Metric?
        public var targetValue: Double?
        public var initialValue: Double?
        public var finalValue: Double?
        public var bestValue: Double?
        /// With an external trainer only (absent otherwise): participants whose training failed,
        /// and the trainer's calls for this arm.
        public var failed: Int?
        public var trainer: Trainer?

        enum CodingKeys: String, CodingKey {
            case name, codec, rounds, completed, dropped, late, failed, trainer = "external_trainer"
            case targetAccuracy = "target_accuracy", timeToTargetSeconds = "time_to_target_s", roundsToTarget = "rounds_to_target"
            case finalAccuracy = "final_accuracy", bestAccuracy = "best_accuracy", initialAccuracy = "initial_accuracy"
            case aggregatedRounds = "aggregated_rounds", simulatedSeconds = "simulated_seconds", bytesUp = "bytes_up", bytesDown = "bytes_down"
            case uploadBytesPerClient = "upload_bytes_per_client", downloadBytesInSync = "download_bytes_in_sync"
            case downloadBytesDense = "download_bytes_dense", measuredUploadKeptFraction = "measured_upload_kept_fraction"
            case measuredDownloadKeptFraction = "measured_download_kept_fraction", meanRoundSeconds = "mean_round_seconds"
            case medianRoundSeconds = "median_round_seconds", timeRatioVsLora = "time_ratio_vs_lora", bytesUpVsLora = "bytes_up_vs_lora"
            case speedupVsLora = "speedup_vs_lora"
            case updateCosineMean = "update_cosine_mean", updateNormRatioMean = "update_norm_ratio_mean"
            case keptEnergyMean = "kept_energy_mean", updateKurtosisMedian = "update_kurtosis_median"
            case targetMetric = "target_metric", targetValue = "target_value", initialValue = "initial_value"
            case finalValue = "final_value", bestValue = "best_value"
        }
    }

    /// An external trainer's client calls for one arm: how many, how many failed, by kind, and the
    /// first few failures' messages.
    public struct Trainer: Sendable, Equatable, Codable {
        public var calls: Int
        public var failed: Int
        public var failures: [String: Int]
        public var examples: [String]
        /// The mean training loss the trainer reported over the calls that reported one (absent: none did).
        public var meanTrainLoss: Double?

        enum CodingKeys: String, CodingKey {
            case calls, failed, failures, examples, meanTrainLoss = "mean_train_loss"
        }

        public init(calls: Int, failed: Int, failures: [String: Int], examples: [String], meanTrainLoss: Double? = nil) {
            self.calls = calls
            self.failed = failed
            self.failures = failures
            self.examples = examples
            self.meanTrainLoss = meanTrainLoss
        }
    }

    /// One seed's run.
    public struct Seed: Sendable, Equatable {
        public var seed: UInt64
        /// The absolute target accuracy of this seed (nil when time-only or nothing was evaluated).
        public var targetAccuracy: Double?
        /// With a loss or perplexity target only (absent for accuracy): the metric and this seed's
        /// absolute target of it.
        public var targetMetric: Metrics.Metric?
        public var targetValue: Double?
        public var arms: [Arm]

        enum CodingKeys: String, CodingKey {
            case seed, arms, targetAccuracy = "target_accuracy", targetMetric = "target_metric", targetValue = "target_value"
        }

        public init(seed: UInt64, targetAccuracy: Double?, targetMetric: Metrics.Metric? = nil, targetValue: Double? = nil, arms: [Arm]) {
            self.seed = seed
            self.targetAccuracy = targetAccuracy
            self.targetMetric = targetMetric
            self.targetValue = targetValue
            self.arms = arms
        }
    }

    /// One arm over every seed: means and half-widths of the 95 % CI (nil: no value, or one seed).
    public struct AcrossSeeds: Sendable, Equatable {
        public var name: String
        public var seedsReachingTarget: Int
        public var timeToTargetMean: Double?
        public var timeToTargetCI95: Double?
        public var speedupVsLoraMean: Double?
        public var speedupVsLoraCI95: Double?
        public var finalAccuracyMean: Double?
        public var finalAccuracyCI95: Double?

        enum CodingKeys: String, CodingKey {
            case name, seedsReachingTarget = "seeds_reaching_target"
            case timeToTargetMean = "time_to_target_s_mean", timeToTargetCI95 = "time_to_target_s_ci95"
            case speedupVsLoraMean = "speedup_vs_lora_mean", speedupVsLoraCI95 = "speedup_vs_lora_ci95"
            case finalAccuracyMean = "final_accuracy_mean", finalAccuracyCI95 = "final_accuracy_ci95"
        }
    }

    public var scenario: String
    /// The first seed.
    public var seed: UInt64
    public var seeds: [UInt64]
    public var mode: Mode
    public var clients: Int
    /// What the run really computed, and what it took from models.
    public var measured: [String]
    public var modelled: [String]
    public var runs: [Seed]
    /// The contract's arms: those of the first seed.
    public var arms: [Arm]
    public var acrossSeeds: [AcrossSeeds]
    /// The scenario as the Scenario module resolves it (every default filled in).
    public var resolvedScenario: JSONValue

    /// The target's metric (accuracy unless a loss or perplexity target was set) and the first
    /// seed's absolute target of it (nil: time only, or no target).
    public var target: (metric: Metrics.Metric, value: Double?) {
        guard let first = runs.first else { return (.accuracy, nil) }
        guard let m = first.targetMetric else { return (.accuracy, first.targetAccuracy) }
        return (m, first.targetValue)
    }

    enum CodingKeys: String, CodingKey {
        case scenario, seed, seeds, mode, clients, measured, modelled, runs, arms
        case acrossSeeds = "across_seeds", resolvedScenario = "resolved_scenario"
    }
}
