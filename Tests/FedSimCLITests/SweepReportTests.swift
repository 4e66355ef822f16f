import Foundation
@testable import Reporting
import XCTest

/// The sweep's report (issue 12, item 4): numeric axes and their scale, where each arm's mean
/// speedup over lora crosses 1 (interpolated, stated in words), censored arm-points shown and
/// counted, time-only sweeps compared on the time for N rounds, hostile names inert.
final class SweepReportTests: XCTestCase {
    /// A row of one point (one seed) for `arm`.
    func row(_ point: Int, _ values: [String], seed: Int, arm: String, codec: String? = nil, tta: Double? = nil, speedup: Double? = nil,
             rounds: Int = 20, simulated: Double = 3600, meanRound: Double = 180) -> SweepRow {
        let a = RunSummary.Arm(name: arm, codec: codec ?? (arm == "lora" ? "lora" : "fedsrd"), rounds: rounds, aggregatedRounds: rounds,
                               simulatedSeconds: simulated, bytesUp: 0, bytesDown: 0, uploadBytesPerClient: 0, downloadBytesInSync: 0,
                               downloadBytesDense: 0, completed: 0, dropped: 0, late: 0, meanRoundSeconds: meanRound, medianRoundSeconds: meanRound)
        var r = SweepRow(point: point, values: values, seed: String(seed), arm: a)
        r.timeToTargetSeconds = tta
        r.speedupVsLora = speedup
        return r
    }

    static let uplinks = ["100kbps", "300kbps", "600kbps", "1Mbps", "10Mbps"]

    /// Training rows along network.up, 2 seeds per value: lora takes 1 h; each other arm takes
    /// 1 h / its speedup at that value (nil: it did not reach the target in that seed).
    func rows(_ speedups: [String: [Double?]], seeds: Int = 2, lora: [Double?]? = nil) -> [SweepRow] {
        var rows: [SweepRow] = []
        var point = 0
        for (i, v) in Self.uplinks.enumerated() {
            for seed in 1...seeds {
                let loraTime = lora.map { $0[i] } ?? 3600
                rows.append(row(point, [v], seed: seed, arm: "lora", tta: loraTime, speedup: loraTime.map { _ in 1 }))
                for arm in speedups.keys.sorted() {
                    let s = speedups[arm]?[i] ?? nil
                    let reached = s.map { 3600 / $0 }
                    rows.append(row(point, [v], seed: seed, arm: arm, tta: reached, speedup: loraTime == nil ? nil : s))
                }
                point += 1
            }
        }
        return rows
    }

    // MARK: axes

    func testNumericAxesAndTheirScale() {
        let up = SweepAxis(key: "network.up", values: ["0.3Mbps", "1Mbps", "3Mbps"])
        XCTAssertTrue(up.isNumeric)
        XCTAssertEqual(up.dimension, .bitRate)
        XCTAssertEqual(up.numbers, [3e5, 1e6, 3e6])
        XCTAssertTrue(up.isLog, "positive, and 3 Mbps is 10 × 0.3 Mbps")
        XCTAssertEqual(up.format(424_264.07), "424 kbps")
        XCTAssertEqual(up.format(1e6), "1 Mbps")
        XCTAssertEqual(up.format(2.5e6), "2.5 Mbps")
        XCTAssertFalse(SweepAxis(key: "network.up", values: ["1Mbps", "5Mbps"]).isLog, "a span under 10×")
        let rtt = SweepAxis(key: "network.rtt", values: ["80ms", "1s", "2s"])
        XCTAssertEqual(rtt.dimension, .duration)
        XCTAssertTrue(rtt.isLog)
        XCTAssertEqual(rtt.format(0.08), "80 ms")
        let sparsity = SweepAxis(key: "arms.1.sparsity", values: ["0.5", "0.8", "0.9"])
        XCTAssertTrue(sparsity.isNumeric)
        XCTAssertNil(sparsity.dimension)
        XCTAssertFalse(sparsity.isLog)
        XCTAssertEqual(sparsity.format(0.85), "0.85")
        XCTAssertFalse(SweepAxis(key: "x", values: ["-1", "100"]).isLog, "not all positive")
        XCTAssertEqual(SweepAxis(key: "availability.dropout_per_round", values: ["8%", "20%"]).format(0.08), "8%")
        // Categorical: names, mixed dimensions, objects; their values stay in file order.
        let profiles = SweepAxis(key: "network.profile", values: ["fiber", "3g", "4g"])
        XCTAssertFalse(profiles.isNumeric)
        XCTAssertFalse(profiles.isLog)
        XCTAssertEqual(profiles.labels, ["fiber", "3g", "4g"])
        XCTAssertFalse(SweepAxis(key: "x", values: ["1Mbps", "80ms"]).isNumeric, "two dimensions")
        let local = SweepAxis(key: "workload.train.local", values: [#"{"batch":8,"optimizer":"adamw"}"#, #"{"batch":8,"optimizer":"sgd"}"#])
        XCTAssertFalse(local.isNumeric)
        XCTAssertEqual(local.labels, ["optimizer=adamw", "optimizer=sgd"], "objects are shown by what differs")
    }

    // MARK: crossovers

    func testCrossoverInterpolation() throws {
        // Linear: from 2 at x = 1 to 0.5 at x = 3, the speedup is 1 two thirds of the way.
        let linear = SweepAnalysis.crossings([(x: 1, speedup: 2), (x: 3, speedup: 0.5)], log: false)
        XCTAssertEqual(linear.count, 1)
        XCTAssertEqual(linear[0].at, 1 + 2.0 / 3 * 2, accuracy: 1e-12)
        XCTAssertTrue(linear[0].soonerBelow)
        // In log x: halfway between ln 300k and ln 600k, the geometric mean.
        let log = SweepAnalysis.crossings([(x: 3e5, speedup: 1.5), (x: 6e5, speedup: 0.5)], log: true)
        XCTAssertEqual(log[0].at, (3e5 * 6e5).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual([log[0].low, log[0].high], [3e5, 6e5])
        let rising = SweepAnalysis.crossings([(x: 1, speedup: 0.5), (x: 2, speedup: 0.8), (x: 4, speedup: 1.2)], log: false)
        XCTAssertEqual(rising.map(\.at), [3])
        XCTAssertEqual(rising.map(\.soonerBelow), [false])

        let axes = [SweepAxis(key: "network.up", values: Self.uplinks)]
        XCTAssertTrue(axes[0].isLog)
        let a = SweepAnalysis(rows(["fedsrd": [3, 1.5, 0.5, 0.4, 0.3], "topk": [1.2, 1.1, 1.05, 1.02, 1.01],
                                    "ffa-lora": [0.9, 0.8, 0.5, 0.4, 0.3], "twice": [0.5, 2, 0.5, 0.5, 2]]),
                              axes: axes, timeOnly: false, metric: .accuracy)
        XCTAssertEqual(a.reference, "lora")
        let statements = Dictionary(a.statements.map { ($0.arm, $0) }, uniquingKeysWith: { $1 })
        let fedsrd = try XCTUnwrap(statements["fedsrd"])
        XCTAssertEqual(fedsrd.crossings.count, 1)
        XCTAssertEqual(fedsrd.crossings[0].at, (3e5 * 6e5).squareRoot(), accuracy: 1e-6)
        XCTAssertTrue(fedsrd.text.hasPrefix("fedsrd reaches the target sooner than lora below 424 kbps of network.up (crossover between 300 kbps and 600 kbps; interpolated in log network.up; tried 100 kbps–10 Mbps"), fedsrd.text)
        XCTAssertTrue(try XCTUnwrap(statements["topk"]).text.hasPrefix("topk reaches the target sooner than lora at every value of network.up tried (100 kbps–10 Mbps"),
                      statements["topk"]?.text ?? "")
        XCTAssertTrue(try XCTUnwrap(statements["ffa-lora"]).text.hasPrefix("ffa-lora never reaches the target sooner than lora at any value of network.up tried (100 kbps–10 Mbps"),
                      statements["ffa-lora"]?.text ?? "")
        let twice = try XCTUnwrap(statements["twice"])
        XCTAssertEqual(twice.crossings.count, 3)
        // 0.5 → 2 crosses 1 a third of the way (in log x), 2 → 0.5 two thirds of the way.
        XCTAssertEqual(twice.crossings.map(\.at)[0], 1e5 * Foundation.pow(3, 1.0 / 3), accuracy: 1e-6)
        XCTAssertEqual(twice.crossings.map(\.at)[1], 3e5 * Foundation.pow(2, 2.0 / 3), accuracy: 1e-6)
        XCTAssertEqual(twice.crossings.map(\.at)[2], 1e6 * Foundation.pow(10, 1.0 / 3), accuracy: 1e-6)
        XCTAssertTrue(twice.text.hasPrefix("twice reaches the target sooner than lora between 144 kbps and 476 kbps and above 2.15 Mbps of network.up (crossovers between 100 kbps and 300 kbps, 300 kbps and 600 kbps, 1 Mbps and 10 Mbps;"), twice.text)

        // The report states them, and its speedup plot marks the crossings.
        let report = SweepSummary.report(rows(["fedsrd": [3, 1.5, 0.5, 0.4, 0.3]]), axes: axes, found: 10, of: 10)
        let md = report.document.markdown
        XCTAssertTrue(md.contains("### Along network.up (numeric, log scale)"), md)
        XCTAssertTrue(md.contains("- fedsrd reaches the target sooner than lora below 424 kbps of network.up"), md)
        if Plots.executable != nil {
            let svg = try XCTUnwrap(report.plots.first { $0.name == "speedup.svg" }).svg
            XCTAssertTrue(svg.contains("424 kbps"), "the crossover is labelled on the plot")
            XCTAssertTrue(report.plots.contains { $0.name == "time-to-target.svg" })
        }
    }

    func testACategoricalAxisSaysWhereAndWhereTheAnswerChanges() {
        let axes = [SweepAxis(key: "network.profile", values: ["3g", "geo-satellite", "4g", "fiber"])]
        var rows: [SweepRow] = []
        for (i, (v, s)) in zip(axes[0].values, [1.5, 1.2, 0.7, 0.5]).enumerated() {
            rows.append(row(i, [v], seed: 1, arm: "lora", tta: 3600, speedup: 1))
            rows.append(row(i, [v], seed: 1, arm: "fedsrd", tta: 3600 / s, speedup: s))
        }
        let s = SweepAnalysis(rows, axes: axes, timeOnly: false, metric: .accuracy).statements
        XCTAssertEqual(s.count, 1)
        XCTAssertTrue(s[0].text.hasPrefix("fedsrd reaches the target sooner than lora at 3g, geo-satellite; not at 4g, fiber (in the file's order of network.profile the answer changes once, between geo-satellite (median uplink"), s[0].text)
        XCTAssertTrue(s[0].text.contains("one seed: no confidence interval"), s[0].text)
    }

    // MARK: censored arm-points

    func testCensoredArmPointsAreShownAndCounted() throws {
        let axes = [SweepAxis(key: "network.up", values: Self.uplinks)]
        // fedsrd misses the target in one seed at 600 kbps; topk never reaches it.
        var r = rows(["fedsrd": [3, 1.5, 0.5, 0.4, 0.3], "topk": [nil, nil, nil, nil, nil]])
        for i in r.indices where r[i].arm == "fedsrd" && r[i].values == ["600kbps"] && r[i].seed == "2" {
            r[i].timeToTargetSeconds = nil
            r[i].speedupVsLora = nil
        }
        let a = SweepAnalysis(r, axes: axes, timeOnly: false, metric: .accuracy)
        XCTAssertEqual(a.censoredCount.censored, 1 + 5)
        XCTAssertEqual(a.censoredCount.of, 10)
        XCTAssertEqual(a.neverCompared, ["topk"])
        let fedsrd = try XCTUnwrap(a.statements.first { $0.arm == "fedsrd" })
        // Without 600 kbps, the crossing lies between 300 kbps and 1 Mbps: 1.5 → 0.4 crosses 1 at 0.5/1.1 of the way in log.
        let expected = Foundation.exp(Foundation.log(3e5) + 0.5 / 1.1 * (Foundation.log(1e6) - Foundation.log(3e5)))
        XCTAssertEqual(try XCTUnwrap(fedsrd.crossings.first).at, expected, accuracy: 1e-6)
        XCTAssertTrue(fedsrd.text.contains("crossover between 300 kbps and 1 Mbps"), fedsrd.text)
        XCTAssertTrue(fedsrd.text.contains("1 of 5 values censored (fedsrd or lora did not reach the target in every seed)"), fedsrd.text)
        XCTAssertFalse(a.statements.contains { $0.arm == "topk" })

        let md = SweepSummary.report(r, axes: axes, found: 10, of: 10).document.markdown
        XCTAssertTrue(md.contains("| 600kbps | 2 | 1.00 h ± 0 | not reached (1 of 2 seeds) | not reached (2 of 2 seeds) |"), md)
        XCTAssertTrue(md.contains("6 of 10 arm-points are"), md)
        XCTAssertTrue(md.contains("- topk: no speedup at any point — at each, topk or lora did not reach the target in some seed (topk in 10 of 10 seed-points)."), md)
        // lora missing the target censors every arm there, and the speedup table says so.
        let loraMissed = rows(["fedsrd": [3, 1.5, 0.5, 0.4, 0.3]], lora: [3600, 3600, nil, 3600, 3600])
        let md2 = SweepSummary.report(loraMissed, axes: axes, found: 10, of: 10).document.markdown
        XCTAssertTrue(md2.contains("| 600kbps | 2 | lora not reached (2 of 2 seeds) |"), md2)
    }

    // MARK: time only

    func testATimeOnlySweepReportsRoundTimesAndTheTimeForNRounds() throws {
        let axes = [SweepAxis(key: "network.up", values: ["1Mbps", "5Mbps"])]
        var rows: [SweepRow] = []
        var stop: [Int: Int] = [:]
        var point = 0
        for (v, fedsrdTime) in zip(axes[0].values, [3600.0, 9000]) {
            for seed in 1...2 {
                stop[point] = 20
                rows.append(row(point, [v], seed: seed, arm: "lora", rounds: 20, simulated: 7200, meanRound: 360))
                rows.append(row(point, [v], seed: seed, arm: "fedsrd", rounds: 20, simulated: fedsrdTime, meanRound: fedsrdTime / 20))
                // ffa-lora stops early (stop.time) in seed 2 at 5 Mbps.
                let early = v == "5Mbps" && seed == 2
                rows.append(row(point, [v], seed: seed, arm: "ffa-lora", codec: "ffa-lora", rounds: early ? 15 : 20, simulated: 6000, meanRound: 300))
                point += 1
            }
        }
        let report = SweepSummary.report(rows, axes: axes, found: 4, of: 4, timeOnly: true, metric: .accuracy, stopRounds: stop)
        let md = report.document.markdown
        XCTAssertTrue(md.contains("Compared: time for 20 rounds (time only"), md)
        XCTAssertTrue(md.contains("## Time for 20 rounds\n\n| network.up | seeds | lora | fedsrd | ffa-lora |"), md)
        XCTAssertTrue(md.contains("| 1Mbps | 2 | 2.00 h ± 0 | 1.00 h ± 0 | 1.67 h ± 0 |"), md)
        XCTAssertTrue(md.contains("| 5Mbps | 2 | 2.00 h ± 0 | 2.50 h ± 0 | stopped early (1 of 2 seeds) |"), md)
        XCTAssertTrue(md.contains("## Mean round time"), md)
        XCTAssertTrue(md.contains("| 1Mbps | 2 | 6.00 min ± 0 | 3.00 min ± 0 | 5.00 min ± 0 |"), md)
        XCTAssertTrue(md.contains("| 1Mbps | 2 | 2.00 ± 0.00 | 1.20 ± 0.00 |"), "lora's 2 h over fedsrd's 1 h, over ffa-lora's 6000 s")
        XCTAssertTrue(md.contains("| 5Mbps | 2 | 0.80 ± 0.00 | stopped early (1 of 2 seeds) |"), md)
        // 2 at 1 Mbps, 0.8 at 5 Mbps: linear in speedup and in x (a span under 10×): 1 Mbps + 5/6 of 4 Mbps.
        XCTAssertTrue(md.contains("- fedsrd finishes its 20 rounds sooner than lora below 4.33 Mbps of network.up (crossover between 1 Mbps and 5 Mbps; tried 1 Mbps–5 Mbps"), md)
        XCTAssertTrue(md.contains("ffa-lora finishes its 20 rounds sooner than lora at the one value of network.up with a speedup (1 Mbps"), md)
        XCTAssertTrue(md.contains("1 of 2 values censored (ffa-lora or lora stopped before the last round in some seed)"), md)
        if Plots.executable != nil { XCTAssertTrue(report.plots.contains { $0.name == "time-for-rounds.svg" }) }
    }

    // MARK: hostile names

    static let hostile = "<script>alert(\"x\")</script> & 'q' **b** `c` | [l](u)\n# h"

    func testHostileArmNamesAndAxisValuesAreInert() throws {
        let axes = [SweepAxis(key: "network.profile", values: ["4g", Self.hostile])]
        var rows: [SweepRow] = []
        for (i, v) in axes[0].values.enumerated() {
            rows.append(row(i, [v], seed: 1, arm: "lora", tta: 3600, speedup: 1))
            rows.append(row(i, [v], seed: 1, arm: Self.hostile, tta: i == 0 ? 1800 : 7200, speedup: i == 0 ? 2 : 0.5))
        }
        let report = SweepSummary.report(rows, axes: axes, found: 2, of: 2, scenario: Self.hostile)
        let html = report.document.html
        XCTAssertFalse(html.contains("<script"), "no user text is markup")
        XCTAssertTrue(html.contains("<title>FedSim sweep — &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'q'"), html)
        XCTAssertTrue(html.contains("<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'q' **b** `c` | [l](u) # h</td>"), "the axis value's row")
        XCTAssertTrue(html.contains("<th class=\"r\">&lt;script&gt;"), "the arm's column")
        XCTAssertTrue(html.contains("<li>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'q' **b** `c` | [l](u) # h reaches the target sooner than lora at 4g; not at &lt;script&gt;"), html)
        let md = report.document.markdown
        XCTAssertFalse(md.contains("<script>"), md)
        XCTAssertFalse(md.contains("\n# h"), "a newline cannot start a heading")
        XCTAssertTrue(md.contains("| \\<script\\>alert(\"x\")\\</script\\> & 'q' \\*\\*b\\*\\* \\`c\\` \\| \\[l\\](u) # h |"), md)
        if Plots.executable != nil {
            XCTAssertFalse(report.plots.isEmpty)
            for p in report.plots { XCTAssertFalse(p.svg.contains("<script"), p.name) }
        }
    }
}
