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
    /// Trains each of `clients` from `global` for round `round` (batches from `stream(client)`;
    /// with `freezingA`, B only, A kept at the global's: FFA-LoRA); the trained adapters, in order.
    func train(clients: [Int], from global: LoRAAdapter, round: Int, freezingA: Bool, stream: (Int) -> StreamKey) throws -> [LoRAAdapter]
    /// Held-out accuracy and loss of `adapter` on the base.
    func evaluate(_ adapter: LoRAAdapter) -> (accuracy: Double, loss: Double)
}

extension ProxyModel {
    /// The LoRA shapes of the adapters (those of `initial`).
    public var shapes: [LoRALayerShape] { initial.shapes }
}

extension FederationConfig.Training {
    /// The proxy model of these settings for `clients` clients (its data loaded, its base pretrained or read from the cache).
    public func makeModel(clients: Int, seed: UInt64, cacheDirectory: String?) throws -> any ProxyModel {
        switch model {
        case .mlp: return try LearningWorkload(self, clients: clients, seed: seed, cacheDirectory: cacheDirectory)
        case let .transformer(text): return try TextWorkload(self, text: text, clients: clients, seed: seed, cacheDirectory: cacheDirectory)
        }
    }
}
