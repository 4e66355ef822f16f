import Foundation
import Numerics

/// `fedsim sweep --jobs 2` against `--jobs 1` on a 40-point time-only sweep (4 profiles × 10
/// seeds of 500 clients, 100 rounds): wall time of the whole command, outputs checked equal.
enum SweepBenchmark: Benchmark {
    static let name = "sweep"
    static let summary = "fedsim sweep: 40 points with --jobs 2 vs --jobs 1 (speedup goal ≥ 1.8× on 2 cores)"

    static let base = """
    {"name": "bench-sweep", "population": {"clients": 500, "device_speed": {"dist": "lognormal", "median": "30TFLOPS", "p90": "120TFLOPS"}},
     "network": {"profile": "4g"}, "availability": {"dropout_per_round": 0.05},
     "selection": {"per_round": 50, "over_selection": 0.3, "deadline": "30min", "min_completions": 10},
     "workload": {"payload": {"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}},
     "arms": [{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.9}], "stop": {"rounds": 100}}
    """

    static func run(_ context: BenchContext) -> [BenchRow] {
        guard let fedsim = Subprocess.resolve("fedsim", directory: FileManager.default.currentDirectoryPath) else {
            FileHandle.standardError.write(Data("bench: sweep: fedsim is not built beside fedsim-bench\n".utf8))
            return []
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-bench-sweep-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let seeds = context.quick ? 4 : 10
        let sweep = #"{"base": "base.json", "axes": {"network.profile": ["3g", "4g", "5g", "fiber"], "seed": [\#((1...seeds).map(String.init).joined(separator: ", "))]}}"#
        guard (try? Data(base.utf8).write(to: dir.appendingPathComponent("base.json"))) != nil,
              (try? Data(sweep.utf8).write(to: dir.appendingPathComponent("sweep.json"))) != nil else { return [] }
        func time(_ jobs: Int) -> Double? {
            let out = dir.appendingPathComponent("out-\(jobs)").path
            let started = DispatchTime.now().uptimeNanoseconds
            guard let o = try? Subprocess.run(fedsim, ["sweep", dir.appendingPathComponent("sweep.json").path, "--out", out, "--jobs", String(jobs), "--threads", "1"],
                                              in: dir.path, standardOutput: dir.appendingPathComponent("o.log").path,
                                              standardError: dir.appendingPathComponent("e.log").path, timeout: 3600), o.succeeded else { return nil }
            return Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        }
        guard let one = time(1), let two = time(2) else {
            FileHandle.standardError.write(Data("bench: sweep: a fedsim sweep failed: \(Subprocess.tail(of: dir.appendingPathComponent("e.log").path))\n".utf8))
            return []
        }
        let same = FileManager.default.contents(atPath: dir.appendingPathComponent("out-1/sweep.csv").path)
            == FileManager.default.contents(atPath: dir.appendingPathComponent("out-2/sweep.csv").path)
        let points = 4 * seeds
        FileHandle.standardError.write(Data(String(format: "bench: sweep: %d points: --jobs 1 %.1f s, --jobs 2 %.1f s (%.2f×); sweep.csv %@\n",
                                                   points, one, two, one / two, same ? "identical" : "DIFFERS").utf8))
        return [BenchRow(benchmark: name, metric: "\(points)-point sweep, points/s (--jobs 2)", ours: Double(points) / two, peer: Double(points) / one,
                         peerName: "fedsim --jobs 1", goal: 1.8)]
    }
}
