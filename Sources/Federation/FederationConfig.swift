import Codec
import EventKernel
import Learning
import LoRA
import Network
import Numerics

/// Everything a federation run needs, as plain values: who the clients are, their network, the
/// server, availability, selection, the workload, the arms (codecs) and when to stop.
///
/// `Federation` runs on this type only. Scenario files map onto it (`Scenario.config`, parsed by
/// the `Scenario` module, which adds what only a file has: its name and how it spelled things);
/// tests and benchmarks build one in Swift:
///
/// ```swift
/// var config = FederationConfig(population: .init(clients: 20), workload: .init(payload: payload))
/// config.selection = .init(perRound: 5)
/// config.stop = .init(rounds: 10)
/// ```
public struct FederationConfig: Sendable {
    /// The seed of every random stream of the run (population, selection, dropouts, training).
    public var seed: UInt64
    public var population: Population
    public var network: Network
    public var server: Server
    public var availability: AvailabilityModel
    public var selection: Selection
    public var workload: Workload
    /// The codecs compared, each run on the same population and draws (common random numbers).
    public var arms: [Arm]
    /// What "time to target" measures against (nil: the default when training, 95 % of the best accuracy).
    public var target: Target?
    public var stop: Stop

    /// Creates a configuration; every part but the workload has the scenario format's defaults
    /// (docs/SCENARIOS.md).
    public init(seed: UInt64 = 1, population: Population = .init(), network: Network = .init(), server: Server = .init(),
                availability: AvailabilityModel = .always, selection: Selection = .init(), workload: Workload,
                arms: [Arm] = FederationConfig.defaultArms, target: Target? = nil, stop: Stop = FederationConfig.defaultStop) {
        self.seed = seed
        self.population = population
        self.network = network
        self.server = server
        self.availability = availability
        self.selection = selection
        self.workload = workload
        self.arms = arms
        self.target = target
        self.stop = stop
    }

    /// The arms compared when none are given: plain LoRA against FedSRD.
    public static let defaultArms: [Arm] = [.init(codec: "lora"), .init(codec: "fedsrd")]
    /// When a run stops when nothing else is said.
    public static let defaultStop = Stop(rounds: 100)

    /// What the clients are drawn from (the network profile is `network.profile`).
    public typealias Population = PopulationSpec

    /// The access network clients draw their links from, and how transfers are timed.
    public struct Network: Sendable {
        /// The profile clients draw their links from (built-in, user-defined, a mix or inline).
        public var profile: NetworkProfile
        public var model: TransferModel
        /// Whether a client's connection stays open between rounds (no new handshake, warm window).
        public var keepConnections: Bool
        /// The TCP stack of the `tcp` model.
        public var tcp: TCPParameters

        public init(profile: NetworkProfile = .webMix, model: TransferModel = .tcp, keepConnections: Bool = true, tcp: TCPParameters = TCPParameters()) {
            self.profile = profile
            self.model = model
            self.keepConnections = keepConnections
            self.tcp = tcp
        }
    }

    /// The server's link and aggregation time.
    public struct Server: Sendable {
        /// Egress capacity (all downloads share it), bit/s.
        public var downlink: Double
        /// Ingress capacity (all uploads share it), bit/s.
        public var uplink: Double
        /// Aggregation time per round.
        public var aggregation: SimDuration

        public init(downlink: Double = 10e9, uplink: Double = 10e9, aggregation: SimDuration = .zero) {
            self.downlink = downlink
            self.uplink = uplink
            self.aggregation = aggregation
        }
    }

    /// Who takes part in a round, and when it closes.
    public struct Selection: Sendable {
        /// K: the uploads a round waits for.
        public var perRound: Int
        /// Over-selection fraction o: ceil(K·(1 + o)) clients are selected.
        public var overSelection: Double
        /// Round deadline, after its start (nil: none).
        public var deadline: SimDuration?
        /// Arrivals needed by the deadline for the round to count.
        public var minCompletions: Int

        public init(perRound: Int = 10, overSelection: Double = 0.3, deadline: SimDuration? = nil, minCompletions: Int = 1) {
            self.perRound = perRound
            self.overSelection = overSelection
            self.deadline = deadline
            self.minCompletions = minCompletions
        }

        /// Clients selected per round.
        public var selected: Int { Int((Double(perRound) * (1 + overSelection) - 1e-9).rounded(.up)) }
    }

    /// What travels, what compute costs, and whether the proxy model really trains.
    public struct Workload: Sendable {
        /// What travels and what compute costs: a catalogue LLM's shapes, or the proxy's own messages.
        public var payloadModel: PayloadModel
        public var tokensPerSample: Int
        public var epochs: Int
        /// Real training of the proxy model (nil: a time-only run).
        public var training: Training?

        public init(payloadModel: PayloadModel, tokensPerSample: Int = 512, epochs: Int = 1, training: Training? = nil) {
            self.payloadModel = payloadModel
            self.tokensPerSample = tokensPerSample
            self.epochs = epochs
            self.training = training
        }

        /// A workload priced on a catalogue payload.
        public init(payload: Payload, tokensPerSample: Int = 512, epochs: Int = 1, training: Training? = nil) {
            self.init(payloadModel: .catalogue(payload), tokensPerSample: tokensPerSample, epochs: epochs, training: training)
        }

        /// The catalogue payload (nil when measured).
        public var payload: Payload? {
            if case let .catalogue(p) = payloadModel { return p }
            return nil
        }
    }

    public enum PayloadModel: Sendable {
        /// Bytes from the codec's size function on a catalogue model's LoRA shapes (at the kept
        /// fractions measured on the proxy when training), compute from its FLOPs.
        case catalogue(Payload)
        /// The proxy's real encoded bytes, compute from the proxy's FLOPs.
        case measured
    }

    /// The proxy model and its data (see docs/SCENARIOS.md, "workload.train").
    public struct Training: Sendable {
        public enum Data: Sendable, Equatable {
            case fashionMNIST(directory: String)
            case synthetic(classes: Int, dimension: Int, train: Int, test: Int)
        }
        public var data: Data
        public var partition: Partition
        /// Hidden layer widths of the MLP (input and output widths come from the data).
        public var hidden: [Int]
        /// Pretraining of the frozen base (classes seen, epochs, learning rate, seed).
        public var pretrainClasses: [Int]?
        public var pretrainEpochs: Int
        public var pretrainLearningRate: Float
        public var pretrainSeed: UInt64
        public var rank: Int
        public var alpha: Float
        public var local: TrainingSettings
        /// Evaluate on the test set every this many rounds (and after the last).
        public var evaluateEvery: Int
        /// Test samples used for evaluation (nil: all).
        public var testSamples: Int?
        /// The proxy model: the MLP (default; `data`, `hidden`, `pretrain*`, `rank`, `alpha`, `local`
        /// apply) or a transformer language model on text domains (its own settings; `partition`,
        /// `evaluateEvery` apply to both).
        public var model: Model = .mlp

        /// Which proxy model trains.
        public enum Model: Sendable, Equatable {
            case mlp
            case transformer(TextModel)
            /// The user's own trainer (docs/EXTERNAL-TRAINER.md): `evaluateEvery` applies.
            case external(ExternalTrainer)
        }

        /// A byte-level transformer LM pretrained on some text domains and LoRA-tuned by clients
        /// holding Dirichlet(β) shares of other domains (docs/LEARNING.md).
        public struct TextModel: Sendable, Equatable {
            public var config: TransformerConfig
            public var lora: TransformerLoRAConfig
            /// Local training: steps of batches of windows, the optimiser.
            public var local: TransformerTrainingSettings
            /// Pretraining of every base weight (steps 0: the initial weights).
            public var pretrain: TransformerTrainingSettings
            public var pretrainSeed: UInt64
            /// The fortunes tree (`TextCorpus`), the pretraining domains and the clients' domains.
            public var root: String
            public var pretrainDomains: [String]
            public var domains: [String]
            /// Bytes read per domain (the first this many of its fortunes).
            public var bytesPerDomain: Int
            /// Every this-many-th 4 kB block of a domain is held out for evaluation.
            public var heldOutEvery: Int
            /// Held-out windows per client domain used by an evaluation.
            public var evaluationWindows: Int

            public init(config: TransformerConfig = TransformerConfig(layers: 2, width: 64, heads: 4, context: 32, hidden: 176),
                        lora: TransformerLoRAConfig = TransformerLoRAConfig(targets: [.q, .v], rank: 4, alpha: 8),
                        local: TransformerTrainingSettings = TransformerTrainingSettings(steps: 10, batchSize: 8),
                        pretrain: TransformerTrainingSettings = TransformerTrainingSettings(steps: 200, batchSize: 8, optimizer: .adamW(learningRate: 3e-3)),
                        pretrainSeed: UInt64 = 1, root: String = TextCorpus.defaultDirectory, pretrainDomains: [String] = ["en"],
                        domains: [String] = ["de", "es", "it"], bytesPerDomain: Int = 200_000, heldOutEvery: Int = 20, evaluationWindows: Int = 64) {
                self.config = config
                self.lora = lora
                self.local = local
                self.pretrain = pretrain
                self.pretrainSeed = pretrainSeed
                self.root = root
                self.pretrainDomains = pretrainDomains
                self.domains = domains
                self.bytesPerDomain = bytesPerDomain
                self.heldOutEvery = heldOutEvery
                self.evaluationWindows = evaluationWindows
            }
        }

        /// `pretrainClasses` nil: every class; `alpha` nil: 2·rank.
        public init(data: Data, partition: Partition = .dirichlet(beta: 0.5), hidden: [Int] = [256, 128], pretrainClasses: [Int]? = nil,
                    pretrainEpochs: Int = 3, pretrainLearningRate: Float = 0.05, pretrainSeed: UInt64 = 1, rank: Int = 8, alpha: Float? = nil,
                    local: TrainingSettings = TrainingSettings(), evaluateEvery: Int = 1, testSamples: Int? = nil) {
            self.data = data
            self.partition = partition
            self.hidden = hidden
            self.pretrainClasses = pretrainClasses
            self.pretrainEpochs = pretrainEpochs
            self.pretrainLearningRate = pretrainLearningRate
            self.pretrainSeed = pretrainSeed
            self.rank = rank
            self.alpha = alpha ?? Float(2 * rank)
            self.local = local
            self.evaluateEvery = evaluateEvery
            self.testSamples = testSamples
        }
    }

    /// The modelled model whose adapters travel.
    public struct Payload: Sendable {
        public var model: ModelArchitecture
        public var rank: Int
        public var targets: [String]
        public var valueType: ValueType
        public var shapes: [LoRALayerShape]
        public var loraParameters: Int

        /// The payload of a rank-`rank` adapter on `targets` of `model` (an `InputError` at
        /// `keyPath` for targets the model does not have).
        public init(model: ModelArchitecture, rank: Int, targets: [String], valueType: ValueType = .f32, keyPath: String = "workload.payload") throws {
            self.model = model
            self.rank = rank
            self.targets = targets
            self.valueType = valueType
            shapes = try model.loraShapes(rank: rank, targets: targets, keyPath: keyPath)
            loraParameters = shapes.reduce(0) { $0 + $1.parameterCount }
        }

        /// Training FLOPs for `samples` local samples.
        public func trainingFLOPs(samples: Double, tokensPerSample: Int, epochs: Int) -> Double {
            samples * Double(tokensPerSample) * Double(epochs) * model.trainingFLOPsPerToken(loraParameters: loraParameters)
        }
    }

    /// One codec under comparison.
    public struct Arm: Sendable {
        /// The label in reports (default: the codec's name; unique in a scenario).
        public var name: String
        public var codec: String
        public var options: CodecOptions

        public init(name: String? = nil, codec: String, options: CodecOptions = CodecOptions()) {
            self.name = name ?? codec
            self.codec = codec
            self.options = options
        }
    }

    /// What "time to target" measures against: a metric of the evaluated global adapter and the
    /// level it must reach — an absolute value, or a fraction of what the best arm achieves.
    public struct Target: Sendable, Equatable {
        /// The evaluation metric a target is set on.
        public enum Metric: String, Sendable, CaseIterable {
            /// Test accuracy (higher is better).
            case accuracy
            /// Test loss: mean cross-entropy in nats (lower is better).
            case loss
            /// exp(loss) (lower is better).
            case perplexity

            /// Whether a lower value is better (loss, perplexity).
            public var lowerIsBetter: Bool { self != .accuracy }
        }

        public enum Level: Sendable, Equatable {
            /// Reach this value: accuracy ≥ v, loss or perplexity ≤ v.
            case value(Double)
            /// Accuracy: f × the best accuracy any arm reaches. Loss and perplexity: the base's value
            /// minus f × the best arm's improvement on it (base − f·(base − best)).
            case fractionOfBest(Double)
        }

        public var metric: Metric
        public var level: Level

        public init(metric: Metric, _ level: Level) {
            self.metric = metric
            self.level = level
        }

        /// Accuracy ≥ `a`.
        public static func accuracy(_ a: Double) -> Target { Target(metric: .accuracy, .value(a)) }
        /// A fraction `f` of the best accuracy.
        public static func fractionOfBest(_ f: Double) -> Target { Target(metric: .accuracy, .fractionOfBest(f)) }
    }

    public struct Stop: Sendable {
        public var rounds: Int?
        /// Simulated time after which no new round starts.
        public var time: SimDuration?

        public init(rounds: Int? = nil, time: SimDuration? = nil) {
            self.rounds = rounds
            self.time = time
        }
    }
}
