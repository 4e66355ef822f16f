import Foundation
import Numerics

/// What a sweep's report says, computed from its rows: per setting of the non-seed axes (a
/// group) and arm, the mean over seeds of the measure — time to target when training, time for
/// the scenario's `stop.rounds` rounds when time only — and of the speedup over lora, each with
/// its 95% confidence interval (Student's t, `Metrics.meanAndCI`); and, along each axis with the
/// other axes held at each of their values (a slice), where each arm's mean speedup crosses 1.
///
/// A speedup is computed per seed only where both the arm and lora have the measure (both
/// reached the target; both ran the N rounds), and a group's mean only when every seed has one;
/// otherwise the arm-point is censored: shown in the tables and plots, counted in the statements,
/// left out of the interpolation.
struct SweepAnalysis {
    /// What is compared.
    enum Measure: Equatable {
        /// Time to the target (of the points' common metric; nil when they differ).
        case timeToTarget(Metrics.Metric?)
        /// Time for the scenario's stop.rounds rounds (nil when the points differ), time only.
        case timeForRounds(Int?)
    }

    /// One arm at one group: per-seed values and their summaries.
    struct Cell {
        var seeds = 0
        /// The measure in each seed that has it.
        var measured: [Double] = []
        /// Mean round time in each seed.
        var roundTimes: [Double] = []
        /// The speedup over lora in each seed where both have the measure.
        var speedups: [Double] = []
        /// Seeds where the arm lacks the measure (did not reach the target / the N rounds).
        var missed = 0
        /// Seeds where lora lacks it.
        var loraMissed = 0

        /// Mean and CI of the measure, when every seed has it.
        var measure: (mean: Double, halfWidth: Double?)? { seeds > 0 && measured.count == seeds ? Metrics.meanAndCI(measured) : nil }
        /// Mean and CI of the speedup, when every seed has one (nil: censored).
        var speedup: (mean: Double, halfWidth: Double?)? { seeds > 0 && speedups.count == seeds ? Metrics.meanAndCI(speedups) : nil }
        var roundTime: (mean: Double, halfWidth: Double?)? { roundTimes.isEmpty ? nil : Metrics.meanAndCI(roundTimes) }
    }

    /// One setting of the non-seed axes.
    struct Group {
        /// The value of each axis (in the order of `axes`).
        var values: [String]
        /// The distinct seeds.
        var seeds: Int
        var cells: [String: Cell]
    }

    /// A crossing of 1 between two neighbouring values with a speedup.
    struct Crossing: Equatable {
        /// Where the interpolated mean speedup is 1.
        var at: Double
        /// The neighbouring values it lies between.
        var low: Double, high: Double
        /// Whether the arm is sooner below it (above: sooner above it).
        var soonerBelow: Bool
    }

    /// One statement: an arm along an axis within a slice.
    struct Statement {
        var axis: String
        /// The other axes' values ("network.profile = 3g"), nil without other axes.
        var slice: String?
        var arm: String
        var text: String
        /// The crossings (numeric axes only), for the plots.
        var crossings: [Crossing]
    }

    var axes: [SweepAxis]
    var measure: Measure
    /// Every arm, in order of first appearance.
    var arms: [String]
    /// The arm speedups are over: the first whose codec is lora (nil: none).
    var reference: String?
    var groups: [Group]
    /// The arms compared with the reference.
    var compared: [String] { arms.filter { $0 != reference } }

    /// The analysis of `rows` for a sweep over `axes` (non-seed axes with their values in file
    /// order). `timeOnly`: every point ran without training; `stopRounds`: each point's
    /// stop.rounds (by point index), the N of "time for N rounds" (a point without one: the most
    /// rounds any of its arms ran).
    init(_ rows: [SweepRow], axes: [SweepAxis], timeOnly: Bool, metric: Metrics.Metric?, stopRounds: [Int: Int] = [:]) {
        self.axes = axes
        let ns = Set(stopRounds.values)
        measure = timeOnly ? .timeForRounds(ns.count == 1 ? ns.first : nil) : .timeToTarget(metric)
        var arms: [String] = []
        for r in rows where !arms.contains(r.arm) { arms.append(r.arm) }
        self.arms = arms
        reference = rows.first { $0.codec == "lora" }?.arm
        // The measure of each row, and lora's at the same point (points are one seed each).
        var byPoint: [Int: [SweepRow]] = [:]
        for r in rows { byPoint[r.point, default: []].append(r) }
        func value(_ r: SweepRow) -> Double? {
            guard timeOnly else { return r.timeToTargetSeconds.flatMap { $0.isFinite ? $0 : nil } }
            let n = stopRounds[r.point] ?? byPoint[r.point]?.map(\.rounds).max() ?? r.rounds
            return r.rounds == n && r.simulatedSeconds.isFinite && r.simulatedSeconds > 0 ? r.simulatedSeconds : nil
        }
        let reference = reference
        var order: [[String]] = []
        var byGroup: [[String]: (seeds: Set<String>, cells: [String: Cell])] = [:]
        for r in rows {
            if byGroup[r.values] == nil { order.append(r.values) }
            var g = byGroup[r.values] ?? ([], [:])
            g.seeds.insert(r.seed)
            var c = g.cells[r.arm] ?? Cell()
            c.seeds += 1
            let mine = value(r)
            if let mine { c.measured.append(mine) } else { c.missed += 1 }
            if r.meanRoundSeconds.isFinite, r.meanRoundSeconds > 0 { c.roundTimes.append(r.meanRoundSeconds) }
            let lora = byPoint[r.point]?.first { $0.arm == reference }.flatMap(value)
            if lora == nil { c.loraMissed += 1 }
            if timeOnly {
                if let mine, let lora { c.speedups.append(lora / mine) }
            } else if let s = r.speedupVsLora, s.isFinite, s > 0 {
                c.speedups.append(s)
            }
            g.cells[r.arm] = c
            byGroup[r.values] = g
        }
        // Groups in the sweep file's order of each axis's values.
        func rank(_ values: [String]) -> [Int] {
            values.enumerated().map { i, v in i < axes.count ? axes[i].values.firstIndex(of: v) ?? Int.max : Int.max }
        }
        order.sort { rank($0).lexicographicallyPrecedes(rank($1)) }
        groups = order.map { v in Group(values: v, seeds: byGroup[v]?.seeds.count ?? 0, cells: byGroup[v]?.cells ?? [:]) }
    }

    // MARK: crossovers

    /// Where the mean speedup crosses 1 along `points` (sorted by x, each with a speedup): between
    /// each pair of neighbours on opposite sides (sooner: above 1), by linear interpolation of the
    /// speedup in x — in ln x when `log`.
    static func crossings(_ points: [(x: Double, speedup: Double)], log: Bool) -> [Crossing] {
        var out: [Crossing] = []
        for (p, q) in zip(points, points.dropFirst()) where (p.speedup > 1) != (q.speedup > 1) {
            let t = (1 - p.speedup) / (q.speedup - p.speedup)
            let at = log ? Foundation.exp(Foundation.log(p.x) + t * (Foundation.log(q.x) - Foundation.log(p.x))) : p.x + t * (q.x - p.x)
            out.append(Crossing(at: at, low: p.x, high: q.x, soonerBelow: p.speedup > 1))
        }
        return out
    }

    /// The slices of axis `a`: for each setting of the other axes (in file order), the label and
    /// the groups in it, ordered along axis `a` (by number on a numeric axis, else file order).
    func slices(along a: Int) -> [(label: String?, groups: [Group])] {
        let others = axes.indices.filter { $0 != a }
        var labels: [[String]] = []
        var members: [[String]: [Group]] = [:]
        for g in groups {
            let key = others.map { g.values[$0] }
            if members[key] == nil { labels.append(key) }
            members[key, default: []].append(g)
        }
        let axis = axes[a]
        return labels.map { key in
            var gs = members[key] ?? []
            if axis.isNumeric {
                gs.sort { (axis.number(of: $0.values[a]) ?? 0) < (axis.number(of: $1.values[a]) ?? 0) }
            } else {
                gs.sort { (axis.values.firstIndex(of: $0.values[a]) ?? 0) < (axis.values.firstIndex(of: $1.values[a]) ?? 0) }
            }
            let label = others.isEmpty ? nil : zip(others, key).map { "\(axes[$0].key) = \(axes[$0].label(of: $1))" }.joined(separator: ", ")
            return (label, gs)
        }
    }

    /// Arms that have no speedup at any group.
    var neverCompared: [String] {
        compared.filter { arm in groups.allSatisfy { $0.cells[arm]?.speedup == nil } }
    }

    /// "reaches the target sooner than lora" / "finishes its 100 rounds sooner than lora".
    var verb: String { verbs.positive }

    /// The verb phrase and its negation ("does not reach the target sooner than lora").
    var verbs: (positive: String, negative: String) {
        let ref = reference ?? "lora"
        switch measure {
        case .timeToTarget: return ("reaches the target sooner than \(ref)", "does not reach the target sooner than \(ref)")
        case let .timeForRounds(n):
            let rounds = n.map { "its \($0) rounds" } ?? "its rounds"
            return ("finishes \(rounds) sooner than \(ref)", "does not finish \(rounds) sooner than \(ref)")
        }
    }

    /// Why an arm-point of `arm` is censored, for the statements.
    func censoredWhy(_ arm: String) -> String {
        switch measure {
        case .timeToTarget: return "\(arm) or \(reference ?? "lora") did not reach the target in every seed"
        case .timeForRounds: return "\(arm) or \(reference ?? "lora") stopped before the last round in some seed"
        }
    }

    /// Every statement: per axis, per slice, per compared arm that has a speedup somewhere.
    var statements: [Statement] {
        guard reference != nil else { return [] }
        var out: [Statement] = []
        let never = Set(neverCompared)
        for a in axes.indices {
            for slice in slices(along: a) {
                for arm in compared where !never.contains(arm) {
                    out.append(statement(arm: arm, axis: a, slice: slice.label, groups: slice.groups))
                }
            }
        }
        return out
    }

    /// The statement for `arm` along axis `a` over `groups` (one slice, ordered along the axis).
    func statement(arm: String, axis a: Int, slice: String?, groups: [Group]) -> Statement {
        let axis = axes[a]
        let prefix = slice.map { "With \($0): " } ?? ""
        let measured = groups.compactMap { g in g.cells[arm]?.speedup.map { (value: g.values[a], speedup: $0) } }
        let censored = groups.count - measured.count
        var notes: [String] = []
        let open = measured.filter { m in m.speedup.halfWidth.map { abs(m.speedup.mean - 1) <= $0 } ?? false }.count
        if measured.contains(where: { $0.speedup.halfWidth != nil }) {
            notes.append(open == 0 ? "the 95% CI of the mean speedup excludes 1 at every value with a speedup"
                                   : "the 95% CI of the mean speedup includes 1 at \(open) of \(measured.count) value\(measured.count == 1 ? "" : "s")")
        } else if !measured.isEmpty {
            notes.append("one seed: no confidence interval")
        }
        if censored > 0 { notes.append("\(censored) of \(groups.count) values censored (\(censoredWhy(arm)))") }
        func sentence(_ core: String, _ extra: [String] = []) -> String {
            let all = extra + notes
            return prefix + core + (all.isEmpty ? "" : " (" + all.joined(separator: "; ") + ")") + "."
        }
        guard !measured.isEmpty else {
            return Statement(axis: axis.key, slice: slice, arm: arm,
                             text: sentence("\(arm): no value of \(axis.key) with a speedup over \(reference ?? "lora")"), crossings: [])
        }
        let sooner = measured.filter { $0.speedup.mean > 1 }
        let numbers = measured.compactMap { axis.number(of: $0.value) }
        if axis.isNumeric, numbers.count == measured.count {
            let points = zip(numbers, measured).map { (x: $0, speedup: $1.speedup.mean) }
            let range = measured.count == 1 ? axis.format(numbers[0]) : "\(axis.format(numbers.first ?? 0))–\(axis.format(numbers.last ?? 0))"
            let only = measured.count == 1 ? "at the one value of \(axis.key) with a speedup" : "at every value of \(axis.key) tried"
            if sooner.count == measured.count {
                return Statement(axis: axis.key, slice: slice, arm: arm, text: sentence("\(arm) \(verb) \(only)", [range]), crossings: [])
            }
            if sooner.isEmpty {
                return Statement(axis: axis.key, slice: slice, arm: arm, text: sentence(notSooner(arm, axis, measured.count), [range]), crossings: [])
            }
            let crossings = Self.crossings(points, log: axis.isLog)
            // The intervals where the arm is sooner: from a crossing (or the lowest value) to the next.
            var intervals: [String] = []
            var start: Double?? = (points.first?.speedup ?? 0) > 1 ? .some(nil) : nil
            for c in crossings {
                if c.soonerBelow, let s = start {
                    intervals.append(s.map { "between \(axis.format($0)) and \(axis.format(c.at))" } ?? "below \(axis.format(c.at))")
                    start = nil
                } else if !c.soonerBelow {
                    start = .some(c.at)
                }
            }
            if let s = start { intervals.append(s.map { "above \(axis.format($0))" } ?? "at every value") }
            let between = crossings.map { "\(axis.format($0.low)) and \(axis.format($0.high))" }
            let where_ = crossings.count == 1 ? "crossover between " + between[0] : "crossovers between " + between.joined(separator: ", ")
            let scale = axis.isLog ? "; interpolated in log \(axis.key)" : ""
            return Statement(axis: axis.key, slice: slice, arm: arm,
                             text: sentence("\(arm) \(verb) " + intervals.joined(separator: " and ") + " of \(axis.key)", [where_ + scale, "tried \(range)"]),
                             crossings: crossings)
        }
        // A categorical axis: where the arm is sooner, in file order.
        let names = measured.map { axis.show($0.value) }
        if sooner.count == measured.count {
            let only = measured.count == 1 ? "at the one value of \(axis.key) with a speedup" : "at every value of \(axis.key) tried"
            return Statement(axis: axis.key, slice: slice, arm: arm, text: sentence("\(arm) \(verb) \(only)", [names.joined(separator: ", ")]), crossings: [])
        }
        if sooner.isEmpty {
            return Statement(axis: axis.key, slice: slice, arm: arm, text: sentence(notSooner(arm, axis, measured.count), [names.joined(separator: ", ")]), crossings: [])
        }
        let later = measured.filter { $0.speedup.mean <= 1 }.map { axis.show($0.value) }
        var extra: [String] = []
        let flips = zip(measured, measured.dropFirst()).filter { ($0.speedup.mean > 1) != ($1.speedup.mean > 1) }
        if flips.count == 1, let f = flips.first {
            extra.append("in the file's order of \(axis.key) the answer changes once, between \(axis.show(f.0.value, uplink: true)) and \(axis.show(f.1.value, uplink: true))")
        }
        return Statement(axis: axis.key, slice: slice, arm: arm,
                         text: sentence("\(arm) \(verb) at " + sooner.map { axis.show($0.value) }.joined(separator: ", ") + "; not at " + later.joined(separator: ", "), extra),
                         crossings: [])
    }

    /// "fedsrd never reaches the target sooner than lora at any value of network.up tried", or with
    /// one value "fedsrd does not reach … at the one value of network.up with a speedup".
    func notSooner(_ arm: String, _ axis: SweepAxis, _ values: Int) -> String {
        guard values == 1 else { return "\(arm) never \(verb) at any value of \(axis.key) tried" }
        return "\(arm) \(verbs.negative) at the one value of \(axis.key) with a speedup"
    }

    /// The sentence for an arm without a speedup at any group.
    func neverComparedSentence(_ arm: String) -> String {
        let cells = groups.compactMap { $0.cells[arm] }
        let seeds = cells.reduce(0) { $0 + $1.seeds }, missed = cells.reduce(0) { $0 + $1.missed }
        let what: String
        switch measure {
        case .timeToTarget: what = "did not reach the target"
        case .timeForRounds: what = "stopped before the last round"
        }
        return "\(arm): no speedup at any point — at each, \(arm) or \(reference ?? "lora") \(what) in some seed (\(arm) in \(missed) of \(seeds) seed-points)."
    }

    /// Arm-points (group × compared arm) without a speedup, and all of them.
    var censoredCount: (censored: Int, of: Int) {
        var censored = 0, all = 0
        for g in groups {
            for arm in compared where g.cells[arm] != nil {
                all += 1
                if g.cells[arm]?.speedup == nil { censored += 1 }
            }
        }
        return (censored, all)
    }
}
