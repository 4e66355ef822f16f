import Codec
import Foundation
import Learning
import Network
import Numerics

/// What a run will hold in memory, estimated from the scenario before anything is allocated, so a
/// population, model or record set that cannot fit is refused up front (`--max-memory`).
public struct MemoryEstimate: Sendable {
    /// The parts, largest first: what holds memory and how many bytes.
    public var parts: [(what: String, bytes: Double)]
    public var total: Double { parts.reduce(0) { $0 + $1.bytes } }

    /// The default limit: half of the machine's physical memory.
    public static var defaultLimit: Double { Double(ProcessInfo.processInfo.physicalMemory) / 2 }

    /// The estimate for one seed of `config` (arms run one after another; records of every arm are kept).
    public init(_ config: FederationConfig, recordClients: Bool) {
        var parts: [(String, Double)] = []
        let sessions = config.availability.hasTimeline
        // Population and per-arm client state (version and connection).
        parts.append(("population of \(config.population.clients) clients",
                      Population.estimatedBytes(clients: config.population.clients, sessions: sessions) + Double(config.population.clients) * 5))
        let arms = Double(config.arms.count)
        let selected = Double(config.selection.selected)
        // Rounds: with only a time limit the count is unknown until the run starts (a run that
        // cannot finish is stopped by FederationRun's round estimate); 10,000 are assumed here.
        let rounds = Double(config.stop.rounds ?? 10_000)
        parts.append(("round records", arms * rounds * Double(MemoryLayout<RoundRecord>.stride)))
        if recordClients {
            parts.append(("client records (\(Quantity.significant(rounds * selected, 3)) per arm; --no-clients drops them)",
                          arms * rounds * selected * Double(MemoryLayout<ClientRecord>.stride)))
        }
        if let t = config.workload.training, t.model == .mlp {
            let (inputs, classes, train, test, raw): (Int, Int, Int, Int, Int)
            switch t.data {
            case .fashionMNIST: (inputs, classes, train, test, raw) = (784, 10, 60_000, 10_000, 784)
            case let .synthetic(c, d, n, m): (inputs, classes, train, test, raw) = (d, c, n, m, 0)
            }
            let cores = Parallelism.threads
            let history = config.arms.map { $0.options.historyRounds }.max() ?? 8
            let training = TrainingMemoryEstimate(widths: [inputs] + t.hidden + [classes], rank: t.rank, local: t.local,
                                                  trainSamples: train, testSamples: t.testSamples.map { min($0, test) } ?? test,
                                                  rawBytesPerSample: raw, clientsAtOnce: cores,
                                                  adaptersHeld: history + 2 + config.selection.selected, evaluationThreads: cores)
            parts += training.parts
        }
        self.parts = parts.sorted { $0.1 > $1.1 }
    }

    /// Throws when the estimate exceeds `limit` bytes, naming the parts.
    public func check(limit: Double, file: String) throws {
        guard total > limit else { return }
        let top = parts.prefix(3).map { "\($0.what) \(Quantity.humanReadable($0.bytes, as: .bytes))" }.joined(separator: ", ")
        throw InputError(.invalidValue(expected: "a run that fits in \(Quantity.humanReadable(limit, as: .bytes)) (--max-memory; default half of this machine's memory)",
                                       found: "an estimated \(Quantity.humanReadable(total, as: .bytes)): \(top)"), at: "", file: file)
    }
}
