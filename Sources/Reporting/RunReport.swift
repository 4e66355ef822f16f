import Federation
import Foundation
import Numerics
import Scenario

/// The blocks of a run's report: headline, setup, results, plots, what is measured and modelled.
extension Report {
    typealias Inline = ReportDocument.Inline

    /// The report of a run as a document (`plots`: those drawn, `notes`: why others were not).
    static func document(_ s: RunSummary, plots: [Plots.Plot], notes: [String] = [], computeShares: [String: Double] = [:]) -> ReportDocument {
        var doc = ReportDocument(title: "FedSim — \(s.scenario)")
        doc.blocks.append(.heading(level: 1, [.text(s.scenario)]))
        doc.blocks.append(.paragraph([.strong([.text(headline(s, computeShares: computeShares))])]))
        if case let .object(r) = s.resolvedScenario {
            if case let .string(description)? = r["description"] { doc.blocks.append(.paragraph([.text(description)])) }
            doc.blocks.append(.heading(level: 2, [.text("Setup")]))
            doc.blocks.append(.list(setup(ResolvedScenario(r), seeds: s.seeds.count)))
        }
        doc.blocks.append(.heading(level: 2, [.text("Results")]))
        doc.blocks += results(s)
        doc.blocks += fidelity(s)
        doc.blocks += externalTrainer(s)
        if !computeShares.isEmpty {
            doc.blocks.append(.paragraph([.text("Share of the mean round spent training locally: the mean compute time of the clients whose uploads counted (clients.csv "),
                                          .code("compute_s"), .text(", outcome completed) ÷ the mean round duration (rounds.csv "), .code("duration_s"),
                                          .text(", aggregation included), over every seed. Compute time is modelled from the device speeds (docs/DEVICES.md says what they stand for); the rest of a round is downloads, uploads, waiting for the K-th upload and aggregation.")]))
        }
        doc.blocks.append(.paragraph([.text("Bytes over the whole run (first seed): ")] + s.arms.enumerated().flatMap { i, a -> [Inline] in
            (i > 0 ? [.text("; ")] : []) + [.text(a.name), .text(" \(bytes(Double(a.bytesUp))) up, \(bytes(Double(a.bytesDown))) down")]
        } + [.text(".")]))
        if !plots.isEmpty {
            doc.blocks.append(.heading(level: 2, [.text("Plots")]))
            for p in plots { doc.blocks.append(.figure(.init(path: "plots/\(p.name)", caption: Plots.title(p.name), svg: p.svg))) }
        }
        if !notes.isEmpty {
            if plots.isEmpty { doc.blocks.append(.heading(level: 2, [.text("Plots")])) }
            doc.blocks.append(.list(notes.map { [.text($0)] }))
        }
        doc.blocks += [
            .heading(level: 2, [.text("What is measured and what is modelled")]),
            .paragraph([.strong([.text("Measured")]), .text(" (really computed in this run):")]),
            .list(s.measured.map { [.text($0)] }),
            .paragraph([.strong([.text("Modelled")]), .text(" (computed from models, not observed):")]),
            .list(s.modelled.map { [.text($0)] }),
            .paragraph([.text("Data: "), .code("summary.json"), .text(", "), .code("rounds.csv"), .text(", "), .code("clients.csv"),
                        .text(". Re-render this report with "), .code("fedsim report DIR"), .text(".")]),
        ]
        return doc
    }

    /// The results table and, when training, the note on the target.
    static func results(_ s: RunSummary) -> [ReportDocument.Block] {
        let n = s.seeds.count
        guard s.mode == .training else {
            let header = ["arm", "rounds", "simulated time", "median round", "upload / client", "download / client", "completed", "dropped", "late"]
            let rows: [[[Inline]]] = s.arms.map { a in
                [[.text(a.name)]] + [count(Double(a.rounds)), duration(a.simulatedSeconds), duration(a.medianRoundSeconds),
                                     bytes(Double(a.uploadBytesPerClient)), bytes(Double(a.downloadBytesInSync)), count(Double(a.completed)),
                                     count(Double(a.dropped)), count(Double(a.late))].map { [.text($0)] }
            }
            return [.table(.init(header: header.map { [.text($0)] }, alignments: [.left] + Array(repeating: .right, count: 8), rows: rows))]
        }
        let across = s.acrossSeedsByName
        let (metric, target) = s.target
        let header = ["arm", "time to target", "rounds to target", "speedup vs lora", metric.lowerIsBetter ? "final \(metric.rawValue)" : "final accuracy",
                      metric.lowerIsBetter ? "best \(metric.rawValue)" : "best", "upload / client", "download / client", "bytes up vs lora"]
        let rows: [[[Inline]]] = s.arms.map { a in
            let e = across[a.name]
            var tta = duration(a.timeToTargetSeconds), sp = a.speedupVsLora.map { String(format: "%.2f×", $0) } ?? "–"
            if n > 1 {
                tta = duration(e?.timeToTargetMean) + (e?.timeToTargetCI95.map { " ± " + duration($0) } ?? "")
                sp = e?.speedupVsLoraMean.map { String(format: "%.2f×", $0) + (e?.speedupVsLoraCI95.map { String(format: " ± %.2f", $0) } ?? "") } ?? "–"
            }
            return [[.text(a.name)]] + [tta, a.roundsToTarget.map { count(Double($0)) } ?? "–", a.name == "lora" ? "1×" : sp,
                                        metric.lowerIsBetter ? metricValue(metric, a.finalValue) : pct(a.finalAccuracy),
                                        metric.lowerIsBetter ? metricValue(metric, a.bestValue) : pct(a.bestAccuracy), bytes(Double(a.uploadBytesPerClient)),
                                        bytes(Double(a.downloadBytesInSync)), a.bytesUpVsLora.map { String(format: "%.3f", $0) } ?? "–"].map { [.text($0)] }
        }
        var note = "Target accuracy: \(pct(target)) (the frozen base alone scores \(pct(s.arms.first?.initialAccuracy))). "
        if metric.lowerIsBetter {
            var fraction = ""
            if case let .object(res) = s.resolvedScenario, case let .object(t)? = res["target"], case let .number(f)? = t["fraction_of_best"] {
                fraction = "; the target is \(pct(f)) of the best arm's improvement on the base" + (target == nil ? ", and no arm improved on it" : "")
            }
            note = "Target \(metric.rawValue): \(metricValue(metric, target)) (the frozen base alone scores \(metricValue(metric, s.arms.first?.initialValue))\(fraction)). "
        }
        let seeds: [Inline] = n > 1 ? [.text(note + "Times and speedups are means over \(n) seeds with 95% confidence intervals (Student's t); the rest is the first seed.")]
            : [.text(note + "One seed; run with "), .code("--seeds 5"), .text(" for confidence intervals.")]
        return [.table(.init(header: header.map { [.text($0)] }, alignments: [.left] + Array(repeating: .right, count: 8), rows: rows)),
                .paragraph(seeds)]
    }

    /// How faithfully each codec carried the updates (with training): a table of the means over
    /// aggregated rounds and a sentence naming the most lossy arm against lora.
    static func fidelity(_ s: RunSummary) -> [ReportDocument.Block] {
        let arms = s.arms.filter { $0.updateCosineMean != nil || $0.keptEnergyMean != nil }
        guard s.mode == .training, !arms.isEmpty else { return [] }
        func f(_ x: Double?, _ digits: Int = 2) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "–" }
        let rows: [[[Inline]]] = arms.map { a in
            [[.text(a.name)]] + [pct(a.keptEnergyMean), f(a.updateCosineMean), f(a.updateNormRatioMean) + "×", f(a.updateKurtosisMedian, 1)].map { [.text($0)] }
        }
        var sentence = "How well each codec preserved the update (means over the rounds that aggregated, first seed): "
        sentence += arms.map { a in
            "\(PlainText.printable(a.name)) kept \(pct(a.keptEnergyMean)) of its clients' update energy and applied an update with cosine \(f(a.updateCosineMean)) and \(f(a.updateNormRatioMean))× the norm of exact FedAvg"
        }.joined(separator: "; ") + "."
        if let k = arms.first?.updateKurtosisMedian {
            let shape = k < 2.5 ? "flat, sign-like updates (as Adam-family optimizers give), which top-k sparsification keeps little of"
                : k < 4 ? "near-Gaussian updates" : "heavy-tailed updates, whose few large entries sparsification keeps"
            sentence += " The clients' updates have a median kurtosis of \(f(k, 1)): \(shape)."
        }
        return [.heading(level: 3, [.text("Update fidelity")]),
                .table(.init(header: ["arm", "kept energy", "cosine vs FedAvg", "norm ratio", "update kurtosis"].map { [.text($0)] },
                             alignments: [.left, .right, .right, .right, .right], rows: rows)),
                .paragraph([.text(sentence + " Kept energy is 1 − ‖ΔW − ΔŴ‖²/‖ΔW‖² of each upload; cosine and norm ratio compare the update applied to the global adapter with exact FedAvg of the same clients' true updates (rounds.csv has them per round; docs/LEARNING.md).")])]
    }

    /// With an external trainer: its client calls per arm, the failed participants by kind and the
    /// first failures' messages.
    static func externalTrainer(_ s: RunSummary) -> [ReportDocument.Block] {
        let arms = s.arms.filter { $0.trainer != nil }
        guard !arms.isEmpty else { return [] }
        let kinds = ["start", "exit", "timeout", "malformed", "non_finite", "shape"]
        let rows: [[[Inline]]] = arms.map { a in
            let t = a.trainer ?? RunSummary.Trainer(calls: 0, failed: 0, failures: [:], examples: [])
            return [[.text(a.name)]] + ([count(Double(t.calls)), count(Double(t.failed)), count(Double(a.failed ?? 0))]
                + kinds.map { count(Double(t.failures[$0] ?? 0)) } + [t.meanTrainLoss.map { String(format: "%.4f", $0) } ?? "–"]).map { [.text($0)] }
        }
        let failed = arms.reduce(0) { $0 + ($1.trainer?.failed ?? 0) }
        var blocks: [ReportDocument.Block] = [
            .heading(level: 3, [.text("External trainer")]),
            .table(.init(header: (["arm", "client calls", "failed calls", "failed participants"] + kinds.map { $0.replacingOccurrences(of: "_", with: "-") }
                                  + ["mean train loss"]).map { [.text($0)] },
                         alignments: [.left] + Array(repeating: .right, count: 4 + kinds.count), rows: rows)),
            .paragraph(failed == 0 ? [.text("Every client call of the external trainer succeeded (first seed); the mean train loss is what the trainer reported.")]
                : [.text("A failed call (the trainer exited non-zero or was killed, ran past its timeout, or returned a malformed, non-finite or mis-shaped adapter) makes its client a failed participant: it sends nothing and leaves its round when its modelled training would have ended; the round closes as usual (rounds.csv "),
                   .code("failed"), .text(", clients.csv outcome "), .code("failed"), .text("; docs/EXTERNAL-TRAINER.md).")]),
        ]
        let examples = arms.flatMap { a in (a.trainer?.examples ?? []).map { "\(a.name), \($0)" } }
        if !examples.isEmpty {
            blocks.append(.paragraph([.text("First failures:")]))
            blocks.append(.list(examples.prefix(9).map { [.text($0)] }))
        }
        return blocks
    }

    /// The setup list, from the resolved scenario.
    static func setup(_ r: ResolvedScenario, seeds n: Int) -> [[Inline]] {
        let pop = r.object("population"), net = r.object("network"), sel = r.object("selection"), work = r.object("workload")
        let server = r.object("server"), av = r.object("availability")
        var items: [[Inline]] = []
        let selected = count((sel.number("per_round") ?? 0) * (1 + (sel.number("over_selection") ?? 0)) - 1e-9 + 1)
        var clients: [Inline] = [.text("clients: "), .text(pop.string("clients")), .text(", "), .text(sel.string("per_round")),
                                 .text(" uploads per round of \(selected) selected")]
        if let deadline = sel.value("deadline").map(ResolvedScenario.string) {
            let human = Quantity.parse(deadline, as: .duration).map { Quantity.humanReadable($0, as: .duration) }
            clients += [.text(", deadline "), .text(human ?? deadline)]
        } else {
            clients.append(.text(", no deadline"))
        }
        items.append(clients + [.text("; seeds: \(n)")])
        var network: [Inline] = [.text(net.string("profile"))]
        if case let .array(mix)? = net.value("mix") {
            network = [.text("mix of ")]
            for (i, o) in mix.compactMap(ResolvedScenario.init).enumerated() {
                network += (i > 0 ? [.text(", ")] : []) + [.text(o.string("weight")), .text("×"), .text(o.string("profile"))]
            }
        } else if net.string("profile").isEmpty {
            network = [.text("inline distributions")]
        }
        items.append([.text("network: ")] + network + [.text(" ("), .text(net.string("model")), .text(" model); server link "),
                      .text(server.string("down")), .text(" down / "), .text(server.string("up")), .text(" up; aggregation "),
                      .text(server.string("aggregation"))])
        var availability = "availability: dropout \(pct(av.number("dropout_per_round"))) per round" + (av.value("sessions") != nil ? ", on/off sessions" : "")
        if av.value("fedscale") != nil { availability += ", FedScale behaviour trace " + av.object("fedscale").string("behaviour") }
        if let zones = av.value("time_zones") {
            if case let .array(list) = zones { availability += ", \(list.count) time zone(s)" } else { availability += ", time zones " + ResolvedScenario.string(zones) }
        }
        if av.value("window") != nil {
            let w = av.object("window"), local = w.strings("local")
            availability += ", window " + (local.isEmpty ? "all day" : local.joined(separator: ", ")) + " local time"
            if let p = w.number("conditions") { availability += p < 1 ? ", conditions met with probability \(pct(p))" : "" } else { availability += ", conditions by local hour" }
        }
        items.append([.text(availability)])
        if let p = work.value("payload").flatMap(ResolvedScenario.init) {
            items.append([.text("payload: "), .text(p.string("model")), .text(" LoRA r = "), .text(p.string("rank")), .text(" on "),
                          .text(p.strings("targets").joined(separator: ",")), .text(", "), .text(p.string("values")), .text(" values")])
        } else {
            items.append([.text("payload: the proxy's real messages (measured)")])
        }
        if let t = work.value("train").flatMap(ResolvedScenario.init) {
            let part: String
            if let p = t.value("partition").flatMap(ResolvedScenario.init) {
                part = p.members.keys.sorted().map { "\($0) \(p.string($0))" }.joined()
            } else {
                part = t.string("partition")
            }
            let local = t.object("local")
            let optimizer: [Inline] = local.string("optimizer").isEmpty ? [] : [.text(", local training "), .text(local.string("optimizer")),
                                                                               .text(" lr "), .text(local.string("learning_rate"))]
            let transformer = t.object("model").object("transformer"), external = t.object("external")
            if !external.members.isEmpty {
                let program = ExternalTrainer.programName(external.strings("command"))
                let metrics = external.object("metrics")
                items.append([.text("training: the external trainer "), .code(program), .text(" (docs/EXTERNAL-TRAINER.md), "),
                              .text(external.string("parallel")), .text(" call(s) at once, timeout "), .text(external.string("timeout")),
                              .text("; accuracy is its metric "), .code(metrics.string("accuracy")), .text(", loss its "), .code(metrics.string("loss"))])
            } else if !transformer.members.isEmpty {
                let text = t.object("dataset").object("text")
                items.append([.text("training: a byte-level transformer LM ("), .text(transformer.string("layers")), .text(" layers, width "),
                              .text(transformer.string("width")), .text(", "), .text(transformer.string("heads")), .text(" heads, context "),
                              .text(transformer.string("context")), .text(") pretrained on "), .text(text.strings("pretrain").joined(separator: ",")),
                              .text(", clients holding "), .text(text.strings("domains").joined(separator: ",")), .text(" text, partition "), .text(part),
                              .text(", LoRA r = "), .text(t.object("lora").string("rank")), .text(" on "),
                              .text(t.object("lora").strings("targets").joined(separator: ","))] + optimizer)
            } else {
                let dataset = t.string("dataset")
                items.append([.text("training: "), .text(dataset.isEmpty ? "synthetic" : dataset), .text(", partition "), .text(part),
                              .text(", LoRA r = "), .text(t.object("lora").string("rank")), .text(" on every layer of an MLP with hidden widths "),
                              .text(t.strings("hidden").joined(separator: "-"))] + optimizer)
            }
        }
        return items
    }
}

/// An object of the resolved scenario (a `JSONValue` the Scenario module writes), read leniently
/// for the setup list: a member that is absent or of another type reads as empty.
struct ResolvedScenario {
    var members: [String: JSONValue]

    init(_ members: [String: JSONValue]) { self.members = members }

    init?(_ value: JSONValue) {
        guard case let .object(o) = value else { return nil }
        members = o
    }

    func value(_ key: String) -> JSONValue? { members[key] }
    func object(_ key: String) -> ResolvedScenario { members[key].flatMap(ResolvedScenario.init) ?? ResolvedScenario([:]) }
    func number(_ key: String) -> Double? { if case let .number(d)? = members[key] { return d }; return nil }
    func string(_ key: String) -> String { members[key].map(Self.string) ?? "" }
    func strings(_ key: String) -> [String] { if case let .array(a)? = members[key] { return a.map(Self.string) }; return [] }

    /// A string as it is, a number as its shortest text, anything else as nothing.
    static func string(_ v: JSONValue) -> String {
        switch v {
        case let .string(s): return s
        case let .number(d): return Quantity.shortest(d)
        default: return ""
        }
    }
}
