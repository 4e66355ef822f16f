import Codec
import Learning
import LoRA
import Network
import Numerics

/// A whole experiment, validated and with every default filled in (see docs/SCENARIOS.md).
public struct Scenario: Sendable {
    public var name: String
    public var seed: UInt64
    public var population: Population
    public var network: Network
    public var server: Server
    public var availability: AvailabilityModel
    public var selection: Selection
    public var workload: Workload
    public var arms: [Arm]
    public var target: Target?
    public var stop: Stop

    public struct Population: Sendable {
        public var clients: Int
        public var samples: Distribution
        public var deviceSpeed: Distribution
    }

    public struct Network: Sendable {
        /// The profile clients draw their links from (built-in, user-defined, a mix or inline).
        public var profile: NetworkProfile
        /// How the scenario named it (a profile name, "mix" or "inline"), for the resolved form.
        public var form: Form
        public var model: TransferModel
        public var keepConnections: Bool
        /// User-defined profiles, by name.
        public var userProfiles: [NetworkProfile]

        public enum Form: Sendable, Equatable {
            case named(String)
            case mix([(weight: Double, profile: String)])
            case inline

            public static func == (a: Form, b: Form) -> Bool {
                switch (a, b) {
                case let (.named(x), .named(y)): return x == y
                case let (.mix(x), .mix(y)): return x.map(\.weight) == y.map(\.weight) && x.map(\.profile) == y.map(\.profile)
                case (.inline, .inline): return true
                default: return false
                }
            }
        }
    }

    public struct Server: Sendable {
        /// Egress capacity (all downloads share it), bit/s.
        public var downlink: Double
        /// Ingress capacity (all uploads share it), bit/s.
        public var uplink: Double
        /// Aggregation time per round, seconds.
        public var aggregationSeconds: Double
    }

    public struct Selection: Sendable {
        /// K: the uploads a round waits for.
        public var perRound: Int
        /// Over-selection fraction o: ceil(K·(1 + o)) clients are selected.
        public var overSelection: Double
        /// Round deadline, seconds after its start (nil: none).
        public var deadline: Double?
        /// Arrivals needed by the deadline for the round to count.
        public var minCompletions: Int

        /// Clients selected per round.
        public var selected: Int { Int((Double(perRound) * (1 + overSelection) - 1e-9).rounded(.up)) }
    }

    public struct Workload: Sendable {
        /// What travels and what compute costs: a catalogue LLM's shapes, or the proxy's own messages.
        public var payloadModel: PayloadModel
        public var tokensPerSample: Int
        public var epochs: Int
        /// Real training of the proxy model (nil: a time-only run).
        public var training: Training?

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
    }

    /// The modelled model whose adapters travel.
    public struct Payload: Sendable {
        public var model: ModelArchitecture
        public var rank: Int
        public var targets: [String]
        public var valueType: ValueType
        public var shapes: [LoRALayerShape]
        public var loraParameters: Int

        /// Training FLOPs for `samples` local samples.
        public func trainingFLOPs(samples: Double, tokensPerSample: Int, epochs: Int) -> Double {
            samples * Double(tokensPerSample) * Double(epochs) * model.trainingFLOPsPerToken(loraParameters: loraParameters)
        }
    }

    public struct Arm: Sendable {
        /// The label in reports (default: the codec's name; unique in a scenario).
        public var name: String
        public var codec: String
        public var options: CodecOptions
        /// The options the scenario set explicitly (for the resolved form).
        public var explicitOptions: [String]
    }

    public enum Target: Sendable, Equatable {
        case accuracy(Double)
        case fractionOfBest(Double)
    }

    public struct Stop: Sendable {
        public var rounds: Int?
        public var seconds: Double?
    }
}
