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

    init(_ console: Console) { self.console = console }

    var wantsRounds: Bool { console.stderrIsTerminal }

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
            console.progress("\(Self.tag(c, arm)) round \(round)\(rounds.map { "/\($0)" } ?? "")  sim \(Quantity.humanReadable(t, as: .duration))"
                             + (accuracy.map { "  acc \(String(format: "%.3f", $0))" } ?? ""))
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
