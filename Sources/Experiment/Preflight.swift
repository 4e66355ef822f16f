import Federation
import Learning
import Numerics
import Scenario

/// What is refused before a run starts, and how a diverged training is reported.
public enum Preflight {
    /// Refuses a memory estimate over `memoryLimit` bytes, and availability sessions too short for
    /// the run's length. Errors name `file`.
    public static func check(_ scenario: Scenario, recordClients: Bool, memoryLimit: Double, file: String) throws {
        try MemoryEstimate(scenario.config, recordClients: recordClients).check(limit: memoryLimit, file: file)
        try checkWork(scenario, file: file)
    }

    /// Refuses, before the run, availability sessions too short for the run's length (when the
    /// length is known: a time limit, or rounds × a deadline).
    public static func checkWork(_ scenario: Scenario, file: String) throws {
        guard let sessions = scenario.availability.sessionModel else { return }
        let byRounds = scenario.stop.rounds.flatMap { r in scenario.selection.deadline.map { Double(r) * ($0.seconds + scenario.server.aggregation.seconds) } }
        guard let horizon = [scenario.stop.time?.seconds, byRounds].compactMap({ $0 }).min() else { return }
        do { try sessions.checkWork(clients: scenario.population.clients, horizon: horizon, keyPath: "availability.sessions") } catch let error as InputError {
            throw error.inFile(file)
        }
    }

    /// A diverged training as bad input: the learning rate that caused it, by its scenario key.
    public static func divergence(_ error: TrainingError, file: String, arm: String? = nil) -> InputError {
        guard case let .diverged(phase, _, _, _, _, _, _) = error else {
            return InputError(.invalidValue(expected: "training that converges", found: error.description), at: "workload.train", file: file)
        }
        let key = phase == .pretraining ? "workload.train.pretrain.learning_rate" : "workload.train.local.learning_rate"
        return InputError(.invalidValue(expected: "a learning rate at which training converges", found: (arm.map { "arm \($0): " } ?? "") + error.description), at: key, file: file)
    }
}
