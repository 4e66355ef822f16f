import Federation
import Foundation
import Numerics
import Reporting
import Scenario
import XCTest

/// Issue 15: loss and perplexity as the target (`"target": {"metric": …, "value" | "fraction_of_best": …}`):
/// time to target on the loss column (lower is better), perplexity = exp(loss), fraction of the
/// best arm's improvement on the base, what summary.json and the report say, the parsed forms.
final class TargetMetricTests: XCTestCase {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-test-cache").path

    /// One small trained run of lora and fedsrd with `target`.
    func run(target: String, rounds: Int = 5) throws -> RunResults {
        let s = try scenario(learningScenario(clients: 6, perRound: 3, rounds: rounds, arms: #"[{"codec": "lora"}, {"codec": "fedsrd"}]"#,
                                              extra: #", "target": \#(target)"#))
        let f = try FederationRun(config: s.config, cacheDirectory: cache)
        return RunResults(scenario: s, population: f.population, arms: try s.arms.map { try f.run(arm: $0) })
    }

    /// The first round whose `value` is at most `target`, found independently.
    func firstAtMost(_ arm: ArmResult, _ target: Double, _ value: (RoundRecord) -> Double?) -> RoundRecord? {
        arm.rounds.first { r in value(r).map { $0 <= target } ?? false }
    }

    func testLossTargetIsReachedOnTheLossColumnLowerIsBetter() throws {
        // A loss value between the base's and the best reached: met when the loss falls to it.
        let probe = try run(target: #"{"metric": "loss", "fraction_of_best": 0.5}"#)
        let lora = try XCTUnwrap(probe.runs.first?.arms.first)
        let base = try XCTUnwrap(lora.initialLoss)
        let losses = lora.rounds.compactMap(\.loss)
        XCTAssertEqual(losses.count, lora.rounds.count, "every round evaluated")
        let best = try XCTUnwrap(losses.min())
        XCTAssertLessThan(best, base, "training lowers the held-out loss")
        let v = (base + best) / 2
        let r = try run(target: #"{"metric": "loss", "value": \#(v)}"#)
        let s = RunSummary(r)
        XCTAssertEqual(s.target.metric, .loss)
        XCTAssertEqual(s.target.value, v)
        XCTAssertNil(s.runs[0].targetAccuracy, "target_accuracy is the accuracy target only")
        for (a, o) in zip(r.runs[0].arms, s.arms) {
            let expected = firstAtMost(a, v, \.loss)
            XCTAssertNotNil(expected, a.name)
            XCTAssertEqual(o.roundsToTarget, expected?.round, a.name)
            XCTAssertEqual(o.timeToTargetSeconds, expected?.endSeconds, a.name)
            XCTAssertEqual(o.targetMetric, .loss)
            XCTAssertEqual(o.targetValue, v)
            XCTAssertEqual(o.initialValue, a.initialLoss)
            XCTAssertEqual(o.finalValue, a.rounds.last?.loss)
            XCTAssertEqual(o.bestValue, a.rounds.compactMap(\.loss).min())
        }
        // Above the base's loss, the target is met at once (lower is better, not higher).
        let easy = RunSummary(try run(target: #"{"metric": "loss", "value": \#(base + 1)}"#))
        XCTAssertEqual(easy.arms.map(\.roundsToTarget), [1, 1])
        // Below anything reached: never.
        let hard = RunSummary(try run(target: #"{"metric": "loss", "value": \#(best / 2)}"#))
        XCTAssertEqual(hard.arms.map(\.roundsToTarget), [nil, nil])
        XCTAssertEqual(hard.acrossSeeds.map(\.seedsReachingTarget), [0, 0])
    }

    func testPerplexityIsExpOfTheLoss() throws {
        let probe = try run(target: #"{"metric": "perplexity", "fraction_of_best": 0.5}"#)
        let lora = try XCTUnwrap(probe.runs.first?.arms.first)
        // The perplexity after round 3 as the target: reached in the first round whose exp(loss) is at most it.
        let v = exp(try XCTUnwrap(lora.rounds[2].loss))
        let r = try run(target: #"{"metric": "perplexity", "value": \#(v)}"#)
        let s = RunSummary(r)
        XCTAssertEqual(s.target.metric, .perplexity)
        for (a, o) in zip(r.runs[0].arms, s.arms) {
            XCTAssertEqual(o.roundsToTarget, firstAtMost(a, v, { $0.loss.map(exp) })?.round, a.name)
            XCTAssertEqual(o.initialValue, a.initialLoss.map(exp))
            XCTAssertEqual(o.bestValue, a.rounds.compactMap(\.loss).min().map(exp))
        }
        XCTAssertEqual(s.arms[0].roundsToTarget, firstAtMost(lora, lora.rounds[2].loss ?? 0, \.loss)?.round)
        // Fraction of best on perplexity values: base − f·(base − best), on exp(loss).
        let arms = probe.runs[0].arms
        let base = exp(try XCTUnwrap(arms[0].initialLoss))
        let best = exp(try XCTUnwrap(arms.flatMap(\.rounds).compactMap(\.loss).min()))
        let t = try XCTUnwrap(RunSummary(probe).target.value)
        XCTAssertEqual(t, base - 0.5 * (base - best), accuracy: 1e-9 * base)
    }

    func testFractionOfBestForLossIsAFractionOfTheBestImprovementOnTheBase() throws {
        let r = try run(target: #"{"metric": "loss", "fraction_of_best": 0.8}"#)
        let arms = r.runs[0].arms
        let base = try XCTUnwrap(arms[0].initialLoss)
        let best = try XCTUnwrap(arms.flatMap(\.rounds).compactMap(\.loss).min(), "best: the lowest loss any arm reaches in any round")
        let s = RunSummary(r)
        let t = try XCTUnwrap(s.target.value)
        XCTAssertEqual(t, base - 0.8 * (base - best), accuracy: 1e-12)
        for (a, o) in zip(arms, s.arms) { XCTAssertEqual(o.roundsToTarget, firstAtMost(a, t, \.loss)?.round, a.name) }
        // f = 1: the best value itself, reached by the arm that has it (no rounding below it).
        let one = try XCTUnwrap(Metrics.targetValue(.init(metric: .loss, .fractionOfBest(1)), arms: arms))
        XCTAssertEqual(one, best)
        XCTAssertTrue(arms.contains { Metrics.timeToTarget($0, target: one, metric: .loss) != nil })
        // No arm improves on the base: no target, nothing reached.
        var flat = arms
        for i in flat.indices { for k in flat[i].rounds.indices { flat[i].rounds[k].loss = base + 0.1 } }
        XCTAssertNil(Metrics.targetValue(.init(metric: .loss, .fractionOfBest(0.5)), arms: flat))
        XCTAssertNil(Metrics.targetValue(.init(metric: .perplexity, .fractionOfBest(0.5)), arms: flat))
        // Accuracy keeps its definition: f × the best accuracy any arm reaches.
        let bestAccuracy = try XCTUnwrap(arms.flatMap(\.rounds).compactMap(\.accuracy).max())
        XCTAssertEqual(Metrics.targetValue(.fractionOfBest(0.8), arms: arms), 0.8 * bestAccuracy)
    }

    func testSummaryReportAndPlotNameTheMetric() throws {
        let r = try run(target: #"{"metric": "loss", "fraction_of_best": 0.5}"#)
        let s = RunSummary(r)
        // summary.json carries the metric and the target; accuracy fields keep their meaning.
        func object(_ v: JSONValue?) -> [String: JSONValue]? { if case let .object(o)? = v { return o }; return nil }
        func first(_ v: JSONValue?) -> JSONValue? { if case let .array(a)? = v { return a.first }; return nil }
        let json = try XCTUnwrap(object(try JSONValue.parse(s.json, file: "summary.json")))
        let seed0 = try XCTUnwrap(object(first(json["runs"])))
        XCTAssertEqual(seed0["target_metric"], "loss")
        XCTAssertEqual(seed0["target_value"], .number(try XCTUnwrap(s.target.value)))
        XCTAssertEqual(seed0["target_accuracy"], .null)
        let arm0 = try XCTUnwrap(object(first(json["arms"])))
        for key in ["target_metric", "target_value", "initial_value", "final_value", "best_value", "final_accuracy"] { XCTAssertNotNil(arm0[key], key) }
        XCTAssertEqual(try RunSummary.read(s.json, file: "summary.json"), s, "decodes to the same summary")
        XCTAssertEqual(try RunSummary.read(s.json, file: "summary.json").json, s.json, "and encodes to the same bytes")
        // An accuracy target adds no key.
        let acc = RunSummary(try run(target: #"{"metric": "accuracy", "fraction_of_best": 0.5}"#))
        XCTAssertFalse(String(decoding: acc.json, as: UTF8.self).contains("target_metric"))
        XCTAssertFalse(String(decoding: acc.json, as: UTF8.self).contains("final_value"))
        XCTAssertTrue(Report.headline(acc).hasPrefix("Time to "))
        XCTAssertTrue(Report.headline(acc).contains("% accuracy: "), Report.headline(acc))

        let headline = Report.headline(s)
        XCTAssertTrue(headline.hasPrefix("Time to loss "), headline)
        XCTAssertTrue(headline.contains(" nats: lora "), headline)
        let files = try Report.files(r)
        XCTAssertTrue(files.contains { $0.name == "plots/loss-vs-time.svg" })
        let md = String(decoding: try XCTUnwrap(files.first { $0.name == "report.md" }).contents, as: UTF8.self)
        XCTAssertTrue(md.contains("| final loss | best loss |"), md)
        XCTAssertTrue(md.contains("Target loss: "), md)
        XCTAssertTrue(md.contains("50.0% of the best arm's improvement on the base"), md)
        XCTAssertFalse(md.contains("Target accuracy"), md)
        // Re-rendered from the data files: the same bytes (the metric comes back from summary.json).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-target-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try RunOutput.writeAtomically(RunOutput.files(r), to: dir.path)
        _ = try Report.rerender(directory: dir.path)
        for f in files { XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent(f.name)), f.contents, f.name) }
        // A summary.json naming an unknown metric is refused with its key path.
        let bad = String(decoding: s.json, as: UTF8.self).replacingOccurrences(of: #""target_metric" : "loss""#, with: #""target_metric" : "lost""#)
        XCTAssertThrowsError(try RunSummary.read(Data(bad.utf8), file: "summary.json")) { e in
            XCTAssertTrue((e as? InputError)?.keyPath.hasSuffix("target_metric") ?? false, "\(e)")
        }
    }

    func testTargetFormsParseAndResolveToAFixedPoint() throws {
        func target(_ t: String) throws -> (Scenario.Target?, JSONValue?) {
            let s = try scenario(learningScenario(extra: #", "target": \#(t)"#))
            guard case let .object(o) = s.resolved else { return (nil, nil) }
            // Resolving is a fixed point: the resolved scenario parses to the same target.
            let again = try ScenarioParser.parse(s.resolved)
            XCTAssertEqual(again.config.target, s.config.target, t)
            return (s.config.target, o["target"])
        }
        let cases: [(String, Scenario.Target, JSONValue)] = [
            (#"{"accuracy": 0.5}"#, .accuracy(0.5), ["accuracy": 0.5]),
            (#"{"fraction_of_best": 0.9}"#, .fractionOfBest(0.9), ["fraction_of_best": 0.9]),
            (#"{"metric": "accuracy", "value": 0.5}"#, .accuracy(0.5), ["accuracy": 0.5]),
            (#"{"value": 0.5}"#, .accuracy(0.5), ["accuracy": 0.5]),
            (#"{"metric": "accuracy", "fraction_of_best": 0.9}"#, .fractionOfBest(0.9), ["fraction_of_best": 0.9]),
            (#"{"metric": "loss", "value": 2.75}"#, .init(metric: .loss, .value(2.75)), ["metric": "loss", "value": 2.75]),
            (#"{"metric": "loss", "fraction_of_best": 0.9}"#, .init(metric: .loss, .fractionOfBest(0.9)), ["metric": "loss", "fraction_of_best": 0.9]),
            (#"{"metric": "perplexity", "value": 1}"#, .init(metric: .perplexity, .value(1)), ["metric": "perplexity", "value": 1]),
            (#"{"metric": "perplexity", "fraction_of_best": 1}"#, .init(metric: .perplexity, .fractionOfBest(1)), ["metric": "perplexity", "fraction_of_best": 1]),
        ]
        for (text, expected, resolved) in cases {
            let (t, r) = try target(text)
            XCTAssertEqual(t, expected, text)
            XCTAssertEqual(r, resolved, text)
        }
        XCTAssertNil(try scenario(learningScenario()).config.target, "no target: the default (95% of the best accuracy) applies")
        // A time-only scenario takes a loss target as it takes an accuracy target.
        let timeOnly = try scenario(#"{"name": "t", "workload": {"payload": {"model": "llama-2-7b", "rank": 8, "targets": ["q", "v"]}}, "target": {"metric": "loss", "value": 2}, "stop": {"rounds": 2}}"#)
        XCTAssertEqual(timeOnly.config.target, .init(metric: .loss, .value(2)))
    }
}
