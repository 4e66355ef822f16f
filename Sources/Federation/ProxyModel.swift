import Codec
import Learning
import LoRA
import Numerics

/// The model that really trains in a run (`workload.train`): the MLP (`LearningWorkload`) or the
/// transformer LM (`TextWorkload`). The arms see only this: they train clients from the global
/// adapter, evaluate adapters and price compute, whatever the model.
public protocol ProxyModel: AnyObject, Sendable {
    /// The scenario's training settings.
    var training: FederationConfig.Training { get }
    /// The adapter every client starts from (B = 0, so it is the base).
    var initial: LoRAAdapter { get }
    /// Training samples of each client (FedAvg weights; compute is priced per sample).
    var sampleCounts: [Int] { get }
    /// Held-out accuracy and loss of the base alone.
    var baseAccuracy: Double { get }
    var baseLoss: Double { get }
    /// Whether the pretrained base came from the cache.
    var baseWasCached: Bool { get }
    /// Local training FLOPs per sample a client holds (all local epochs or steps included).
    var flopsPerSample: Double { get }
    /// Trains each of `clients` from `global` for round `round` of `arm` (batches from
    /// `stream(client)`; with `freezingA`, B only, A kept at the global's: FFA-LoRA); each client's
    /// trained adapter or why its training failed (a failed participant), in order. Throws when
    /// the run cannot go on.
    func train(clients: [Int], from global: LoRAAdapter, round: Int, freezingA: Bool, arm: ArmContext,
               stream: (Int) -> StreamKey) throws -> [ClientTraining]
    /// Held-out accuracy and loss of `adapter` (arm `arm`'s global after round `round`) on the base.
    func evaluate(_ adapter: LoRAAdapter, arm: ArmContext, round: Int) throws -> (accuracy: Double, loss: Double)
    /// The initial adapter's tensors that are not LoRA factors (`PEFTExtra`: heads, biases, DoRA
    /// magnitudes, buffers), which every arm keeps a global set of and sends dense beside the
    /// codec's messages (`ExtrasMessage`). None for the built-in models (the default).
    var initialExtras: [PEFTExtra] { get }
    /// `train(clients:from:round:freezingA:arm:stream:)` from the global extras `extras` too; a
    /// model with extras returns each client's trained ones (`ClientTraining.trained`'s `extras`).
    /// The default (a model without extras) ignores them.
    func train(clients: [Int], from global: LoRAAdapter, extras: [PEFTExtra], round: Int, freezingA: Bool, arm: ArmContext,
               stream: (Int) -> StreamKey) throws -> [ClientTraining]
    /// `evaluate(_:arm:round:)` of `adapter` with the global extras `extras`; the default ignores them.
    func evaluate(_ adapter: LoRAAdapter, extras: [PEFTExtra], arm: ArmContext, round: Int) throws -> (accuracy: Double, loss: Double)
}

extension ProxyModel {
    public var initialExtras: [PEFTExtra] { [] }

    public func train(clients: [Int], from global: LoRAAdapter, extras: [PEFTExtra], round: Int, freezingA: Bool, arm: ArmContext,
                      stream: (Int) -> StreamKey) throws -> [ClientTraining] {
        try train(clients: clients, from: global, round: round, freezingA: freezingA, arm: arm, stream: stream)
    }

    public func evaluate(_ adapter: LoRAAdapter, extras: [PEFTExtra], arm: ArmContext, round: Int) throws -> (accuracy: Double, loss: Double) {
        try evaluate(adapter, arm: arm, round: round)
    }
}

/// Which arm a training or evaluation is for (an external trainer is told; the built-in models
/// do not need it).
public struct ArmContext: Sendable, Equatable {
    /// The arm's position in the scenario's `arms`.
    public var index: Int
    public var name: String
    public var codec: String

    public init(index: Int, name: String, codec: String) {
        self.index = index
        self.name = name
        self.codec = codec
    }

    /// The arm's fields of a trainer request.
    var requestFields: [String: JSONValue] {
        ["arm": .string(name), "arm_index": .number(Double(index)), "codec": .string(codec)]
    }
}

/// One client's local training: the trained adapter (and, from an external trainer, the samples
/// its compute is priced on and the trained extras), or why it failed.
public enum ClientTraining: Sendable {
    /// `samples`: the samples the training reports (nil: the client's sample count); `extras`: the
    /// trained tensors that are not LoRA factors, in the order of `ProxyModel.initialExtras` (none
    /// for a model without extras).
    case trained(LoRAAdapter, samples: Int? = nil, extras: [PEFTExtra] = [])
    case failed(TrainingFailure)

    /// The trained adapter (nil when the training failed).
    public var adapter: LoRAAdapter? {
        if case let .trained(a, _, _) = self { return a }
        return nil
    }

    /// The trained extras (empty when the training failed or the model has none).
    public var extras: [PEFTExtra] {
        if case let .trained(_, _, e) = self { return e }
        return []
    }
}

/// Why a client's training failed (an external trainer's call): the client is a failed
/// participant of its round.
public struct TrainingFailure: Error, Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        /// The program could not be started.
        case start
        /// It exited with a non-zero status or was killed by a signal.
        case exit
        /// It ran past the timeout.
        case timeout
        /// Its result or adapter is not what the protocol says.
        case malformed
        /// Its adapter holds NaN or infinite values.
        case nonFinite = "non_finite"
        /// Its adapter's tensors or shapes are not the global's.
        case shape
    }
    public var kind: Kind
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

extension ProxyModel {
    /// The LoRA shapes of the adapters (those of `initial`).
    public var shapes: [LoRALayerShape] { initial.shapes }
}

/// The random stream of client `client`'s batches in round `round` of a run seeded `seed`: the
/// same in every arm (common random numbers), and what `fedsim-train` uses, so an external run
/// with it trains exactly as the built-in path does.
public func trainingStream(seed: UInt64, round: Int, client: Int) -> StreamKey {
    StreamKey(seed: seed, purpose: "training.batches", index: UInt64(round) << 32 | UInt64(client))
}

extension FederationConfig.Training {
    /// The proxy model of these settings for `clients` clients (its data loaded, its base pretrained or read from the cache).
    /// `needsFLOPs`: compute is priced from the model's own FLOPs (a measured payload).
    public func makeModel(clients: Int, seed: UInt64, cacheDirectory: String?, needsFLOPs: Bool = false) throws -> any ProxyModel {
        switch model {
        case .mlp: return try LearningWorkload(self, clients: clients, seed: seed, cacheDirectory: cacheDirectory)
        case let .transformer(text): return try TextWorkload(self, text: text, clients: clients, seed: seed, cacheDirectory: cacheDirectory)
        case let .external(trainer): return try ExternalWorkload(self, trainer: trainer, clients: clients, seed: seed, needsFLOPs: needsFLOPs)
        }
    }
}
