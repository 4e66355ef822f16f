import Codec
import EventKernel
import Federation
import Foundation
import Network
import Numerics
import Scenario

/// The time-only federation at scale: 100,000 clients, 100 rounds of 1,000 selected, the tcp model
/// and a shared server link; and sampling a 1,000,000-client population. Each runs in a child
/// process of its own so its peak RSS is its own (`--child NAME` prints one JSON line). (The default
/// scenario's wall time is the transformer benchmark's: it times `fedsim run`.)
enum FederationBenchmark: Benchmark {
    static let name = "federation"
    static let summary = "time-only federation: 100k clients × 100 rounds × 1,000 selected (tcp, shared link); 1M-client population"

    /// The benchmark's federation, built in Swift.
    static func config(clients: Int, rounds: Int) throws -> FederationConfig {
        let payload = try FederationConfig.Payload(model: try ModelCatalog.named("llama-2-7b"), rank: 16, targets: ["q", "v"], valueType: .bf16)
        var options = CodecOptions()
        options.sparsity = 0.9
        options.valueType = .bf16
        return FederationConfig(seed: 1, population: .init(clients: clients), network: .init(profile: .webMix, model: .tcp),
                                server: .init(downlink: 10e9, uplink: 10e9, aggregation: SimDuration(seconds: 2)), availability: .dropout(perRound: 0.08),
                                selection: .init(perRound: 1000, overSelection: 0, deadline: SimDuration(seconds: 3600)), workload: .init(payload: payload),
                                arms: [.init(codec: "fedsrd", options: options)], stop: .init(rounds: rounds))
    }

    /// The child's work; prints {"seconds", "peak_rss", "events", "rows"}.
    static func child(_ what: String, quick: Bool) throws {
        var result: [String: Double] = [:]
        switch what {
        case "run":
            let clients = quick ? 20_000 : 100_000, rounds = quick ? 20 : 100
            let config = try config(clients: clients, rounds: rounds)
            var arm: ArmResult?
            result["seconds"] = measureSeconds {
                guard let f = try? FederationRun(config: config) else { return }
                arm = try? f.run(arm: config.arms[0], recordClients: true)
            }
            result["events"] = Double(arm?.events ?? 0)
            result["rows"] = Double(arm?.clients.count ?? 0)
        case "traced", "traced-fluid", "untraced":
            // Time-varying links at scale: Scenarios/time-varying-lte.json with 10,000 clients, 100
            // selected per round (first arm, lora); "traced-fluid" under the fluid model; "untraced"
            // with each link at its trace's mean, constant.
            var scenario = try ScenarioParser.load(file: "Scenarios/time-varying-lte.json")
            scenario.population.clients = quick ? 2_000 : 10_000
            scenario.selection.perRound = 100
            scenario.selection.minCompletions = 50
            scenario.stop.rounds = quick ? 10 : 30
            if what == "untraced", case var .link(link) = scenario.network.profile.body {
                link.downlinkTrace = nil
                link.uplinkTrace = nil
                scenario.network.profile.body = .link(link)
            }
            if what == "traced-fluid" { scenario.network.model = .fluid }
            let config = scenario.config
            var arm: ArmResult?
            result["seconds"] = measureSeconds {
                guard let f = try? FederationRun(config: config) else { return }
                arm = try? f.run(arm: config.arms[0], recordClients: true)
            }
            result["events"] = Double(arm?.events ?? 0)
            result["rows"] = Double(arm?.clients.count ?? 0)
            result["simulated_seconds"] = arm?.rounds.last?.endSeconds ?? .nan
        case "population":
            let n = quick ? 200_000 : 1_000_000
            let spec = PopulationSpec(clients: n, samples: .lognormal(median: 600, p90: 2000),
                                      deviceSpeed: .lognormal(median: 30e12, p90: 120e12, dimension: .flopRate))
            var count = 0
            result["seconds"] = measureSeconds { count = Population(spec, network: .webMix, seed: 1).count }
            result["rows"] = Double(count)
        default:
            throw CocoaError(.featureUnsupported)
        }
        result["peak_rss"] = peakResidentBytes() ?? .nan
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }

    static func runChild(_ what: String, quick: Bool) -> [String: Double]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["--child", what] + (quick ? ["--quick"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Double]
    }

    static func run(_ context: BenchContext) -> [BenchRow] {
        var rows: [BenchRow] = []
        if let r = runChild("run", quick: context.quick) {
            FileHandle.standardError.write(Data(String(format: "bench: federation: %.2f s wall, %.0f MB peak RSS, %.0f events, %.0f client rows\n",
                                                       r["seconds"] ?? .nan, (r["peak_rss"] ?? .nan) / 1e6, r["events"] ?? .nan, r["rows"] ?? .nan).utf8))
            rows.append(BenchRow(benchmark: "federation 100k×100×1000", metric: "wall seconds", ours: r["seconds"] ?? .nan, peer: nil,
                                 peerName: "–", goal: nil, ceiling: (10, "10 s")))
            rows.append(BenchRow(benchmark: "federation 100k×100×1000", metric: "peak RSS MB", ours: (r["peak_rss"] ?? .nan) / 1e6, peer: nil,
                                 peerName: "–", goal: nil, ceiling: (1000, "1 GB")))
        }
        for what in ["traced", "traced-fluid", "untraced"] {
            guard let r = runChild(what, quick: context.quick) else { continue }
            let label = "time-varying links 10k×30×130 (\(what))"
            FileHandle.standardError.write(Data(String(format: "bench: %@: %.2f s wall, %.0f events, %.0f events/s\n", label,
                                                       r["seconds"] ?? .nan, r["events"] ?? .nan, (r["events"] ?? .nan) / (r["seconds"] ?? .nan)).utf8))
            rows.append(BenchRow(benchmark: label, metric: "wall seconds", ours: r["seconds"] ?? .nan, peer: nil, peerName: "–", goal: nil, ceiling: (10, "10 s")))
        }
        if let r = runChild("population", quick: context.quick) {
            rows.append(BenchRow(benchmark: "population 1M", metric: "wall seconds", ours: r["seconds"] ?? .nan, peer: nil,
                                 peerName: "–", goal: nil, ceiling: (2, "2 s")))
            rows.append(BenchRow(benchmark: "population 1M", metric: "peak RSS MB", ours: (r["peak_rss"] ?? .nan) / 1e6, peer: nil,
                                 peerName: "–", goal: nil, ceiling: (1000, "1 GB")))
        }
        return rows
    }
}
