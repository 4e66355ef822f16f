import Codec
import Federation
import Foundation
import Numerics
import Scenario

/// Time to target (accuracy, loss or perplexity) and its statistics.
public enum Metrics {
    public typealias Metric = Scenario.Target.Metric

    /// The default target when training and the scenario names none: 95 % of the best accuracy any arm reaches.
    public static let defaultTarget = Scenario.Target.fractionOfBest(0.95)

    /// The best evaluated accuracy of an arm.
    public static func bestAccuracy(_ arm: ArmResult) -> Double? { arm.rounds.compactMap(\.accuracy).max() }

    /// The last evaluated accuracy of an arm.
    public static func finalAccuracy(_ arm: ArmResult) -> Double? { arm.rounds.last(where: { $0.accuracy != nil })?.accuracy }

    /// `metric` of the global adapter after round `r` (nil: not evaluated); perplexity is exp(loss).
    public static func value(_ metric: Metric, _ r: RoundRecord) -> Double? {
        switch metric {
        case .accuracy: return r.accuracy
        case .loss: return r.loss
        case .perplexity: return r.loss.map(exp)
        }
    }

    /// `metric` of the frozen base, evaluated before the first round.
    public static func initialValue(_ metric: Metric, _ arm: ArmResult) -> Double? {
        switch metric {
        case .accuracy: return arm.initialAccuracy
        case .loss: return arm.initialLoss
        case .perplexity: return arm.initialLoss.map(exp)
        }
    }

    /// The best evaluated value of `metric` over an arm's rounds: the highest accuracy, the lowest
    /// loss or perplexity (NaN values left out).
    public static func bestValue(_ metric: Metric, _ arm: ArmResult) -> Double? {
        guard metric.lowerIsBetter else { return bestAccuracy(arm) }
        return arm.rounds.compactMap { value(metric, $0) }.filter { !$0.isNaN }.min()
    }

    /// The last evaluated value of `metric`.
    public static func finalValue(_ metric: Metric, _ arm: ArmResult) -> Double? {
        arm.rounds.last(where: { value(metric, $0) != nil }).flatMap { value(metric, $0) }
    }

    /// The absolute target for a set of arms (one seed), in the target's metric. A fraction f of
    /// the best: accuracy f × the best accuracy any arm reaches; loss and perplexity
    /// base − f·(base − best), with base the frozen base's value and best the lowest any arm
    /// reaches — nil when no arm improves on the base.
    public static func targetValue(_ target: Scenario.Target, arms: [ArmResult]) -> Double? {
        switch target.level {
        case let .value(v): return v
        case let .fractionOfBest(f):
            guard let best = target.metric.lowerIsBetter ? arms.compactMap({ bestValue(target.metric, $0) }).min()
                                                         : arms.compactMap({ bestValue(target.metric, $0) }).max() else { return nil }
            guard target.metric.lowerIsBetter else { return f * best }
            guard let base = arms.lazy.compactMap({ initialValue(target.metric, $0) }).first(where: \.isFinite), best < base else { return nil }
            // At f = 1 the target is the best value itself (base − (base − best) can round above or
            // below it), and never below it.
            return f >= 1 ? best : max(best, base - f * (base - best))
        }
    }

    /// Simulated seconds (end of the round, aggregation included) and rounds until the global
    /// adapter first reaches `target` of `metric` (accuracy ≥ target, loss or perplexity ≤
    /// target); nil when it never does.
    public static func timeToTarget(_ arm: ArmResult, target: Double, metric: Metric = .accuracy) -> (seconds: Double, rounds: Int)? {
        let reached: (RoundRecord) -> Bool = metric.lowerIsBetter ? { (value(metric, $0) ?? .infinity) <= target }
                                                                  : { ($0.accuracy ?? -1) >= target }
        guard let r = arm.rounds.first(where: reached) else { return nil }
        return (r.endSeconds, r.round)
    }

    /// The share of the mean round that selected clients spend training locally: the mean
    /// `computeSeconds` of the clients whose uploads counted (`completed`) ÷ the mean round duration
    /// (start to the next round's start, aggregation included: `duration_s` of rounds.csv). nil
    /// without a completed client or a round of positive duration.
    public static func computeShare(rounds: [RoundRecord], clients: [ClientRecord]) -> Double? {
        var share = ComputeShare()
        for r in rounds { share.add(r) }
        for c in clients { share.add(c) }
        return share.value
    }

    /// Mean and the half-width of the 95 % confidence interval (Student's t) of `values`.
    public static func meanAndCI(_ values: [Double]) -> (mean: Double, halfWidth: Double?) {
        let n = values.count
        guard n > 0 else { return (.nan, nil) }
        let mean = values.reduce(0, +) / Double(n)
        guard n > 1 else { return (mean, nil) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        return (mean, tQuantile975(n - 1) * (variance / Double(n)).squareRoot())
    }

    /// The 0.975 quantile of Student's t with `df` degrees of freedom (GSL).
    static func tQuantile975(_ df: Int) -> Double { StudentT.quantile(0.975, degreesOfFreedom: df) }

    /// Over the rounds that carry them: the means of the update cosine, norm ratio and kept energy,
    /// and the median of the per-round kurtosis medians (each nil when no round has it).
    public static func fidelity(_ rounds: [RoundRecord]) -> (cosine: Double?, normRatio: Double?, keptEnergy: Double?, kurtosis: Double?) {
        func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
        let median = UpdateFidelity.median(rounds.compactMap(\.updateKurtosis).filter(\.isFinite))
        return (mean(rounds.compactMap(\.updateCosine).filter(\.isFinite)), mean(rounds.compactMap(\.updateNormRatio).filter(\.isFinite)),
                mean(rounds.compactMap(\.keptEnergy).filter(\.isFinite)), median)
    }
}

/// Accumulates `Metrics.computeShare`'s two means, record by record (in-memory results and the
/// rows read back from rounds.csv and clients.csv go through the same sums in the same order, so
/// `fedsim report DIR` renders the same figure).
public struct ComputeShare: Sendable {
    private var computeSum = 0.0, computeCount = 0, durationSum = 0.0, durationCount = 0

    public init() {}

    /// Adds a round's duration.
    public mutating func add(_ round: RoundRecord) {
        guard round.durationSeconds.isFinite else { return }
        durationSum += round.durationSeconds
        durationCount += 1
    }

    /// Adds a selected client's compute time if its upload counted.
    public mutating func add(_ client: ClientRecord) {
        guard client.outcome == .completed, client.computeSeconds.isFinite else { return }
        computeSum += client.computeSeconds
        computeCount += 1
    }

    /// Mean compute time ÷ mean round duration.
    public var value: Double? {
        guard computeCount > 0, durationCount > 0, durationSum > 0 else { return nil }
        return (computeSum / Double(computeCount)) / (durationSum / Double(durationCount))
    }
}
