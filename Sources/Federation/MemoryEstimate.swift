import Codec
import Foundation
import Network
import Numerics
import Scenario

/// What a run will hold in memory, estimated from the scenario before anything is allocated, so a
/// population, model or record set that cannot fit is refused up front (`--max-memory`).
public struct MemoryEstimate: Sendable {
    /// The parts, largest first: what holds memory and how many bytes.
    public var parts: [(what: String, bytes: Double)]
    public var total: Double { parts.reduce(0) { $0 + $1.bytes } }

    /// The default limit: half of the machine's physical memory.
    public static var defaultLimit: Double { Double(ProcessInfo.processInfo.physicalMemory) / 2 }

    /// The estimate for one seed of `scenario` (arms run one after another; records of every arm are kept).
    public init(_ scenario: Scenario, recordClients: Bool) {
        var parts: [(String, Double)] = []
        let clients = Double(scenario.population.clients)
        // Population (struct of arrays: six Doubles and a profile index) and per-arm client state
        // (version, connection, session timeline).
        parts.append(("population of \(scenario.population.clients) clients", clients * (6 * 8 + 2 + 4 + 1 + 8 + 8 + 4)))
        let arms = Double(scenario.arms.count)
        let selected = Double(scenario.selection.selected)
        // Rounds: with only a time limit the count is unknown until the run starts (a run that
        // cannot finish is stopped by FederationRun's round estimate); 10,000 are assumed here.
        let rounds = Double(scenario.stop.rounds ?? 10_000)
        parts.append(("round records", arms * rounds * Double(MemoryLayout<RoundRecord>.stride)))
        if recordClients {
            parts.append(("client records (\(Quantity.significant(rounds * selected, 3)) per arm; --no-clients drops them)",
                          arms * rounds * selected * Double(MemoryLayout<ClientRecord>.stride)))
        }
        if let t = scenario.workload.training {
            let (inputs, classes, train, test): (Double, Double, Double, Double)
            switch t.data {
            case .fashionMNIST: (inputs, classes, train, test) = (784, 10, 60_000, 10_000)
            case let .synthetic(c, d, n, m): (inputs, classes, train, test) = (Double(d), Double(c), Double(n), Double(m))
            }
            let widths = [inputs] + t.hidden.map(Double.init) + [classes]
            let pairs = zip(widths, widths.dropFirst())
            let base = pairs.reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
            let lora = pairs.reduce(0) { $0 + Double(t.rank) * ($1.0 + $1.1) }
            let widest = widths.max() ?? 0
            let sum = widths.reduce(0, +)
            let cores = Double(max(1, ProcessInfo.processInfo.activeProcessorCount))
            // Data: the training set, every client's copy of its share, the test set.
            parts.append(("datasets", 4 * inputs * (2 * train + Double(t.testSamples.map { min(Double($0), test) } ?? test))))
            // Pretraining: weights, gradients and Adam's two moments of the base; activations of a batch of 64.
            parts.append(("frozen base and its pretraining", 4 * (4 * base + 3 * 64 * sum)))
            // Local training, one client per core: adapter, gradients, two moments, activations (and their gradients).
            let batch = Double(t.local.batchSize)
            parts.append(("local training (\(Int(cores)) clients at once)", cores * 4 * (4 * lora + 3 * batch * sum + batch * widest)))
            // Evaluation in chunks on every core; the global adapter, history and messages per arm.
            parts.append(("evaluation", cores * 4 * 3 * 1024 * sum))
            let history = Double(scenario.arms.map { $0.options.historyRounds }.max() ?? 8)
            parts.append(("adapters, broadcast history and messages", 4 * lora * (history + 2 + selected)))
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
