/// Training that cannot go on.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Which training diverged.
    public enum Phase: String, Sendable, Equatable {
        /// Pretraining of the frozen base (`Pretraining`; its learning rate).
        case pretraining
        /// A client's local training of the adapter (`LocalTraining`; `TrainingSettings.optimizer`'s rate).
        case localTraining = "local training"
    }

    /// The training loss or the trained weights became NaN or infinite at minibatch `step` (counted
    /// from 1 over all epochs) of `epoch` (from 1): the learning rate is too large. `round` and
    /// `client` say where, when the caller gave them; `loss` is the last loss seen.
    case diverged(phase: Phase, learningRate: Float, epoch: Int, step: Int, loss: Double, round: Int?, client: Int?)

    public var description: String {
        switch self {
        case let .diverged(phase, lr, epoch, step, loss, round, client):
            let at = [round.map { "round \($0)" }, client.map { "client \($0)" }].compactMap { $0 }
            let place = at.isEmpty ? "" : " (\(at.joined(separator: ", ")))"
            let what = loss.isFinite ? "the weights became NaN or infinite" : "the training loss became \(loss)"
            return "\(phase.rawValue) diverged at learning rate \(lr)\(place): \(what) at minibatch \(step), epoch \(epoch); use a smaller learning rate"
        }
    }
}
