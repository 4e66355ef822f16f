import Experiment
import Foundation
import Numerics
import Reporting

/// An experiment's progress on the console's standard error: on a terminal, a progress line
/// rewritten every round and a line per finished arm or point; otherwise (a log) only the lines worth
/// keeping: resumed seeds, arms of multi-seed or training runs, and per sweep point the shard's
/// progress with an estimate of the time left.
final class ConsoleProgress: ExperimentObserver {
    let console: Console
    /// In a log, the least time between two round lines.
    let logInterval: TimeInterval
    /// When each arm (by its tag) saw its first round, and when the last round line went to the log.
    private var armStarted: [String: Date] = [:]
    private var lastLogLine = Date()

    init(_ console: Console, logInterval: TimeInterval = 60) {
        self.console = console
        self.logInterval = logInterval
    }

    /// Rounds are wanted on a terminal (the progress line) and in a log (a line a minute).
    var wantsRounds: Bool { true }

    /// The wall time left for an arm at `round` of `rounds`, from its pace so far.
    func timeLeft(_ tag: String, round: Int, rounds: Int?) -> String {
        let now = Date()
        let start = armStarted[tag] ?? now
        if armStarted[tag] == nil { armStarted[tag] = now }
        guard let rounds, round > 1, rounds > round else { return "" }
        let left = now.timeIntervalSince(start) / Double(round - 1) * Double(rounds - round)
        return "  ~\(Quantity.humanReadable(left, as: .duration)) left"
    }

    /// "[point i/N] " for a sweep point, "" for a plain run.
    static func label(_ point: PointPosition?) -> String {
        point.map { "[point \($0.index + 1)/\($0.count)] " } ?? ""
    }

    /// The label and the arm, with the seed when the run has several.
    static func tag(_ c: SeedContext, _ arm: String) -> String {
        label(c.point) + (c.seedCount > 1 ? "[\(arm) seed \(c.seed)]" : "[\(arm)]")
    }

    func experiment(_ event: ExperimentEvent) throws {
        let terminal = console.stderrIsTerminal
        switch event {
        case let .baseModel(c, cached, accuracy):
            if terminal, c.seedIndex == 0 {
                console.error("\(Self.label(c.point))base model: \(cached ? "from the cache" : "pretrained") — test accuracy \(Quantity.significant(accuracy, 3))")
            }
        case let .seedResumed(c):
            console.error("\(Self.label(c.point))seed \(c.seed): finished by an earlier, interrupted run (resumed)")
        case let .round(c, arm, round, rounds, t, accuracy):
            let tag = Self.tag(c, arm)
            let line = "\(tag) round \(round)\(rounds.map { "/\($0)" } ?? "")  sim \(Quantity.humanReadable(t, as: .duration))"
                + (accuracy.map { "  acc \(String(format: "%.3f", $0))" } ?? "") + timeLeft(tag, round: round, rounds: rounds)
            if terminal {
                console.progress(line)
            } else if Date().timeIntervalSince(lastLogLine) >= logInterval {
                lastLogLine = Date()
                console.error(line)
            }
        case .armFailed:
            if terminal { console.progress(nil) }
        case let .armFinished(c, arm, rounds, t, accuracy, trained):
            if terminal { console.progress(nil) }
            if terminal || c.seedCount > 1 || trained {
                console.error("\(Self.tag(c, arm)) \(rounds) rounds, sim \(Quantity.humanReadable(t, as: .duration))"
                              + (accuracy.map { ", accuracy \(Quantity.significant($0, 3))" } ?? ""))
            }
        case let .pointFinished(p):
            let label = Self.label(p.position)
            if terminal {
                console.error(label + p.headline)
            } else {
                console.error("\(label)done (\(p.done) of \(p.inShard) in this shard; about \(Quantity.humanReadable(p.secondsLeft, as: .duration)) left)")
            }
        }
    }
}
