import Foundation
import Numerics

// Before anything else, as fedsim does: pin OpenBLAS's kernel family, then check its products.
if let failure = BLASKernel.startUp(program: "fedsim-bench") {
    FileHandle.standardError.write(Data((failure + "\n").utf8))
    exit(1)
}

// fedsim-bench [--python PATH] [--peers DIR] [--scenario FILE] [--quick] [NAME…]
// Runs each benchmark, then prints one table: ours, the peer's figure from the same invocation, the ratio.

let benchmarks: [any Benchmark.Type] = [KernelBenchmark.self, CodecBenchmark.self, LearningBenchmark.self, FederationBenchmark.self, TransformerBenchmark.self, ExternalBenchmark.self, SweepBenchmark.self, RulesBenchmark.self]

var context = BenchContext(python: nil, peers: "Tests/Peers", quick: false)
var selected: [String] = []
var arguments = Array(CommandLine.arguments.dropFirst())
while !arguments.isEmpty {
    let argument = arguments.removeFirst()
    switch argument {
    case "--python": context.python = arguments.isEmpty ? nil : arguments.removeFirst()
    case "--peers": context.peers = arguments.isEmpty ? context.peers : arguments.removeFirst()
    case "--scenario": context.scenario = arguments.isEmpty ? context.scenario : arguments.removeFirst()
    case "--quick": context.quick = true
    case "--child":
        // A benchmark body in a process of its own (for its peak RSS): fedsim-bench --child NAME [--quick].
        let what = arguments.isEmpty ? "" : arguments.removeFirst()
        do { try FederationBenchmark.child(what, quick: arguments.contains("--quick")) } catch {
            FileHandle.standardError.write(Data("fedsim-bench: --child \(what): \(error)\n".utf8)); exit(1)
        }
        exit(0)
    case "-h", "--help":
        print("usage: fedsim-bench [--python PATH] [--peers DIR] [--scenario FILE] [--quick] [NAME…]")
        for b in benchmarks { print("  \(b.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(b.summary)") }
        exit(0)
    default:
        guard benchmarks.contains(where: { $0.name == argument }) else {
            FileHandle.standardError.write(Data("fedsim-bench: unknown benchmark or option '\(argument)'\n".utf8))
            exit(2)
        }
        selected.append(argument)
    }
}

let kernel = BLASKernel.selection
print("BLAS kernel: \(BLASKernel.coreName) (\(kernel.choice.rawValue)\(kernel.note.isEmpty ? "" : "; " + kernel.note)) · \(BLASKernel.config)")
print("CPU: \(CPUInfo.current.modelName) (\(CPUInfo.current.identification)), \(ProcessInfo.processInfo.activeProcessorCount) cores")
print()

var rows: [BenchRow] = []
for benchmark in benchmarks where selected.isEmpty || selected.contains(benchmark.name) {
    FileHandle.standardError.write(Data("bench: \(benchmark.name): \(benchmark.summary)\n".utf8))
    rows += benchmark.run(context)
}

print("| benchmark | metric | ours | peer | peer figure | ratio | goal |")
print("|---|---|---:|---|---:|---:|---|")
for row in rows {
    let peer = row.peer.map(formatRate) ?? "n/a"
    let ratio = row.ratio.map { String(format: "%.1f×", $0) } ?? "n/a"
    print("| \(row.benchmark) | \(row.metric) | \(formatRate(row.ours)) | \(row.peerName) | \(peer) | \(ratio) | \(row.verdict) |")
}
