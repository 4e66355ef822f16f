import Foundation
import Numerics

/// What every benchmark gets: where the peers' Python lives, and whether to run the short version.
struct BenchContext {
    /// The virtualenv's Python, or nil to skip peers.
    var python: String?
    /// The folder holding the peers' scripts.
    var peers: String
    /// Fewer events, for a quick look (the goals are judged on the full run).
    var quick: Bool
    /// The scenario whose transformer the transformer benchmark measures and whose `fedsim run` it times.
    var scenario = "Scenarios/default.json"

    /// Runs `script args…` with the peer Python and decodes its one-line JSON output.
    func runPeer(_ script: String, _ arguments: [String]) -> [String: Any]? {
        guard let python else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [peers + "/" + script] + arguments
        // The peer's own OpenBLAS picks its own kernel, as if the user had started it: without the
        // OPENBLAS_CORETYPE that fedsim-bench set for itself (one the user set is kept).
        process.environment = BLASKernel.userEnvironment()
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch {
            FileHandle.standardError.write(Data("bench: cannot start \(python): \(error)\n".utf8))
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            FileHandle.standardError.write(Data("bench: peer \(script) failed with status \(process.terminationStatus)\n".utf8))
            return nil
        }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}

/// One benchmark: a name for selection on the command line, and a run that prints its rows.
protocol Benchmark {
    static var name: String { get }
    static var summary: String { get }
    static func run(_ context: BenchContext) -> [BenchRow]
}

/// One line of the results table: our figure, the peer's, the ratio, the goal.
struct BenchRow {
    var benchmark: String
    var metric: String
    var ours: Double
    var peer: Double?
    var peerName: String
    var goal: Double?
    /// An absolute ceiling for `ours` instead of a ratio goal (seconds, bytes), with its text.
    var ceiling: (value: Double, text: String)? = nil

    var ratio: Double? { peer.map { ours / $0 } }
    var verdict: String {
        if let ceiling { return ours < ceiling.value ? "meets < \(ceiling.text)" : "above \(ceiling.text)" }
        guard let ratio, let goal else { return "" }
        let g = goal == goal.rounded() ? String(Int(goal)) : String(goal)
        return ratio >= goal ? "meets ≥\(g)×" : "below ≥\(g)×"
    }
}

/// Wall-clock seconds of `body`.
func measureSeconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted(), n = sorted.count
    guard n > 0 else { return .nan }
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

/// This process's peak resident set size in bytes (VmHWM from /proc/self/status), or nil.
func peakResidentBytes() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) }
        return kb.map { $0 * 1024 }
    }
    return nil
}

func formatRate(_ value: Double) -> String {
    if value >= 1e6 { return String(format: "%.2f M", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1f k", value / 1e3) }
    return String(format: value < 10 ? "%.2f" : "%.1f", value)
}
