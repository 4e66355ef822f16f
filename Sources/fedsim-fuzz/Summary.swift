import Foundation

/// A finding of one target.
struct Finding {
    var kind: String          // "crash" or "hang"
    var caseLabel: String     // "case 123 (seed 1)" or the fixture path
    var signature: String
    var detail: String
    var saved: String?
}

struct TargetSummary {
    var name: String
    var cases = 0
    /// Cases the code under test accepted (no error thrown).
    var accepted = 0
    var seconds = 0.0
    var slowestMicros: UInt64 = 0
    var slowestLabel = ""
    var findings: [Finding] = []
    var stoppedByTime = false
    var error: String?
    var started = Date()
    var ended = Date()

    /// The shards of one target as one summary (time from the first start to the last end).
    static func merged(_ parts: [TargetSummary]) -> TargetSummary {
        var out = parts[0]
        for p in parts.dropFirst() {
            out.cases += p.cases
            out.accepted += p.accepted
            out.findings += p.findings
            out.stoppedByTime = out.stoppedByTime || p.stoppedByTime
            out.error = out.error ?? p.error
            out.started = min(out.started, p.started)
            out.ended = max(out.ended, p.ended)
            if p.slowestMicros > out.slowestMicros { out.slowestMicros = p.slowestMicros; out.slowestLabel = p.slowestLabel }
        }
        out.seconds = out.ended.timeIntervalSince(out.started)
        return out
    }
}

func format(_ s: TargetSummary) -> String {
    let rate = s.seconds > 0 ? Double(s.cases) / s.seconds : 0
    let crashes = s.findings.filter { $0.kind == "crash" }.count, hangs = s.findings.filter { $0.kind == "hang" }.count
    let slowest = String(format: "%.1f ms", Double(s.slowestMicros) / 1000) + (s.slowestLabel.isEmpty ? "" : " (\(s.slowestLabel))")
    let accepted = s.cases > 0 ? 100 * Double(s.accepted) / Double(s.cases) : 0
    return s.name.padding(toLength: 12, withPad: " ", startingAt: 0)
        + String(format: "%7d %9.1f %8.1f%% %7d %6d %7.1f s  ", s.cases, rate, accepted, crashes, hangs, s.seconds)
        + slowest + (s.stoppedByTime ? "  [time limit]" : "") + (s.error.map { "  ERROR: \($0)" } ?? "")
}

final class SignatureRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var seen = Set<String>()
    /// True the first time `signature` is inserted.
    func insert(_ signature: String) -> Bool { lock.lock(); defer { lock.unlock() }; return seen.insert(signature).inserted }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [TargetSummary?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ s: TargetSummary) { lock.lock(); values[i] = s; lock.unlock() }
}
