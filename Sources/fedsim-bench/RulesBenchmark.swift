import Codec
import Federation
import Foundation
import Learning
import LoRA
import Numerics
import Scenario

/// The sparsity rules compared (docs/FEDSRD.md, "Which rule"): the kurtosis rule against a fixed ρ
/// on the upload, the download's rule across layers against per layer, and the paper's
/// normalisation against the exact budget — each on the same updates, so every difference is the
/// rule's. Updates: the real ones of a scenario's proxy (its clients trained from the global of a
/// FedAvg trajectory, 3 seeds), and Llama-2-7B-sized synthetic adapters of four structures.
/// Prints one table per update source; the rows it returns carry the per-variant means.
enum RulesBenchmark: Benchmark {
    static let name = "rules"
    static let summary = "sparsity rules (kurtosis vs fixed up, cross-layer vs per-layer down, exact vs mean budget) on real and 7B-sized updates"

    /// One way of setting the rules.
    struct Variant {
        var label: String
        var allocation: SparsityAllocation
        var scope: RuleScope
        var budget: SparsityBudget
        var codec = "fedsrd"

        func options(alpha: Double) -> CodecOptions {
            var o = CodecOptions()
            o.sparsity = alpha
            o.allocation = allocation
            o.downloadScope = scope
            o.budget = budget
            o.reportResidual = true
            return o
        }
    }

    static let variants: [Variant] = [
        Variant(label: "kurtosis up, cross-layer down, mean (paper)", allocation: .kurtosis, scope: .crossLayer, budget: .mean),
        Variant(label: "kurtosis up, cross-layer down, exact", allocation: .kurtosis, scope: .crossLayer, budget: .exact),
        Variant(label: "kurtosis up, per-layer down, exact", allocation: .kurtosis, scope: .perLayer, budget: .exact),
        Variant(label: "fixed up, per-layer down", allocation: .fixed, scope: .perLayer, budget: .exact),
        Variant(label: "threshold up, threshold down", allocation: .threshold, scope: .crossLayer, budget: .exact),
        Variant(label: "threshold up, per-layer down", allocation: .threshold, scope: .perLayer, budget: .exact),
        Variant(label: "fedsrd-e: kurtosis up, cross-layer down", allocation: .kurtosis, scope: .crossLayer, budget: .exact, codec: "fedsrd-e"),
        Variant(label: "fedsrd-e: kurtosis up, per-layer down", allocation: .kurtosis, scope: .perLayer, budget: .exact, codec: "fedsrd-e"),
        Variant(label: "fedsrd-e: fixed up, per-layer down", allocation: .fixed, scope: .perLayer, budget: .exact, codec: "fedsrd-e"),
        Variant(label: "fedsrd-e: threshold up, threshold down", allocation: .threshold, scope: .crossLayer, budget: .exact, codec: "fedsrd-e"),
        Variant(label: "topk (magnitude, fixed)", allocation: .fixed, scope: .perLayer, budget: .exact, codec: "topk"),
    ]

    /// What one variant did to one set of updates.
    struct Outcome {
        var clientError = 0.0, uploadKept = 0.0, uploadBytes = 0.0, downloadBytes = 0.0, aggregateError = 0.0, residual = 0.0, cosine = 0.0
        var cases = 0

        mutating func add(_ e: CodecEvaluation, entries: Int) {
            clientError += e.clientRelativeErrors.reduce(0, +) / Double(max(1, e.clientRelativeErrors.count))
            uploadBytes += Double(e.uploadBytes.reduce(0, +)) / Double(max(1, e.uploadBytes.count))
            uploadKept += Double(e.layers.reduce(0) { $0 + $1.uploadKeptFraction * Double($1.rank * ($1.inFeatures + $1.outFeatures)) }) / Double(entries)
            downloadBytes += Double(e.downloadBytes)
            aggregateError += e.aggregateRelativeError
            residual += e.residual ?? .nan
            cosine += e.updateCosine ?? .nan
            cases += 1
        }

        var mean: Outcome {
            let n = Double(max(1, cases))
            return Outcome(clientError: clientError / n, uploadKept: uploadKept / n, uploadBytes: uploadBytes / n, downloadBytes: downloadBytes / n,
                           aggregateError: aggregateError / n, residual: residual / n, cosine: cosine / n, cases: cases)
        }
    }

    /// One source of updates: a list of (global, trained adapters, weights).
    struct Case {
        var global: LoRAAdapter
        var trained: [LoRAAdapter]
        var weights: [Double]
    }

    static func run(_ context: BenchContext) -> [BenchRow] {
        var rows: [BenchRow] = []
        let alpha = 0.9
        let rounds = context.quick ? 3 : 10, seeds: [UInt64] = context.quick ? [1] : [1, 2, 3]
        for scenario in [context.scenario, "Scenarios/mlp-fashion-mnist.json"] {
            do {
                let cases = try realCases(scenario: scenario, seeds: seeds, rounds: rounds)
                rows += compare(cases, title: "real updates of \(scenario) (\(seeds.count) seeds × \(rounds) rounds of a FedAvg trajectory)", alpha: alpha)
            } catch {
                FileHandle.standardError.write(Data("bench: rules: \(scenario): \(error)\n".utf8))
            }
        }
        for family in Synthetic.allCases where !context.quick || family == .heavyTailed {
            let cases = (0..<(context.quick ? 1 : 2)).map { Synthetic.make(family, seed: UInt64(20 + $0)) }
            rows += compare(cases, title: "Llama-2-7B-sized synthetic, \(family.description)", alpha: alpha)
        }
        return rows
    }

    /// Every variant on every case; prints a table and the per-case wins of the download rules.
    static func compare(_ cases: [Case], title: String, alpha: Double) -> [BenchRow] {
        guard let first = cases.first else { return [] }
        let entries = first.global.layers.reduce(0) { $0 + $1.shape.parameterCount }
        var outcomes = [Outcome](repeating: Outcome(), count: variants.count)
        var perCase = [[Double]](repeating: [], count: variants.count)  // aggregate error per case
        let start = Date()
        for c in cases {
            for (v, variant) in variants.enumerated() {
                do {
                    let codec = try CodecRegistry.make(variant.codec, options: variant.options(alpha: alpha))
                    let e = try BLASThreads.singleThreaded { try CodecEvaluation.evaluate(codec, before: c.global, afters: c.trained, weights: c.weights) }
                    outcomes[v].add(e, entries: entries)
                    perCase[v].append(e.aggregateRelativeError)
                } catch {
                    FileHandle.standardError.write(Data("bench: rules: \(variant.label): \(error)\n".utf8))
                }
            }
        }
        print("#### Rules: \(title)")
        print("\(cases.count) cases, \(first.global.layers.count) LoRA layers, \(first.trained.count) clients each, α = \(alpha), f32 (\(String(format: "%.1f", Date().timeIntervalSince(start))) s)")
        print()
        print("| variant | client error | upload kept | upload B/client | download B | aggregate error | residual | cosine |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for (v, variant) in variants.enumerated() {
            let m = outcomes[v].mean
            print(String(format: "| %@ | %.4f | %.4f | %.0f | %.0f | %.4f | %@ | %.4f |", variant.label, m.clientError, m.uploadKept, m.uploadBytes,
                         m.downloadBytes, m.aggregateError, m.residual.isNaN ? "–" : String(format: "%.4f", m.residual), m.cosine))
        }
        // Per case (fedsrd): the download rules with the kurtosis rule up, and the allocations.
        func wins(_ better: Int, _ than: Int) -> String {
            let n = zip(perCase[better], perCase[than]).filter { $0.0 < $0.1 }.count
            let worst = zip(perCase[better], perCase[than]).map { max($0.0 / max($0.1, 1e-300), $0.1 / max($0.0, 1e-300)) }.max() ?? 1
            return "\(n) of \(perCase[better].count) (largest ratio either way \(String(format: "%.2f", worst))×)"
        }
        print()
        print("fedsrd aggregate error, per case, lower for: per-layer than cross-layer download (kurtosis up) in \(wins(2, 1)); "
              + "fixed than kurtosis (per-layer down) in \(wins(3, 2)); threshold than fixed in \(wins(4, 3)); threshold than kurtosis (paper) in \(wins(4, 0))")
        print()
        return variants.indices.map { v in
            BenchRow(benchmark: name, metric: "\(title): \(variants[v].label): aggregate error", ours: outcomes[v].mean.aggregateError, peer: nil, peerName: "–", goal: nil)
        }
    }

    /// The clients of `scenario`'s proxy trained from the global of a FedAvg (lora) trajectory: each
    /// round `per_round` clients drawn at random train from the same global.
    static func realCases(scenario: String, seeds: [UInt64], rounds: Int) throws -> [Case] {
        let s = try ScenarioParser.load(file: scenario)
        guard let training = s.config.workload.training else { return [] }
        let clients = s.config.population.clients
        let perRound = min(clients, s.config.selection.perRound)
        var cases: [Case] = []
        for seed in seeds {
            let model = try training.makeModel(clients: clients, seed: seed, cacheDirectory: Pretraining.defaultCacheDirectory)
            let lora = try CodecRegistry.make("lora")
            var global = model.initial
            let arm = ArmContext(index: 0, name: "rules", codec: "lora")
            for round in 1...rounds {
                let chosen = RandomStream(seed: seed, purpose: "bench.rules.selection", index: UInt64(round)).choose(perRound, from: clients)
                let results = try model.train(clients: chosen, from: global, round: round, freezingA: false, arm: arm) {
                    trainingStream(seed: seed, round: round, client: $0)
                }
                let trained = results.compactMap { $0.adapter }
                let weights = chosen.map { Double(model.sampleCounts[$0]) }
                guard trained.count == chosen.count else { continue }
                cases.append(Case(global: global, trained: trained, weights: weights))
                var updates: [WeightedUpdate] = []
                for (t, w) in zip(trained, weights) {
                    var state = ClientCodecState()
                    updates.append(WeightedUpdate(bytes: try lora.encode(delta: t.subtracting(global), global: global, round: round, state: &state).bytes, weight: w))
                }
                global = try lora.aggregate(updates, global: global, round: round).global
            }
            FileHandle.standardError.write(Data("bench: rules: \(scenario) seed \(seed): \(rounds) rounds trained\n".utf8))
        }
        return cases
    }

    /// Llama-2-7B-sized adapters (hidden 4096, 32 blocks) mid-training: A ~ U(±1/√d_in),
    /// B ~ N(0, 0.01²); each of two clients' updates = a shared part + its own (half as large), with
    /// a structure per family.
    enum Synthetic: CaseIterable, CustomStringConvertible {
        /// Independent Gaussian entries: no structure (every matrix alike).
        case gaussian
        /// Gaussian scale-mixture entries Z·exp(s·Y) (kurtosis 3·e^{4s²}), s from 0 to 0.8 across layers (kurtosis 3 … 39): concentration differs by layer.
        case heavyTailed
        /// Hot rows of ΔB and columns of ΔA (log-normal row/column scales, σ from 0.25 to 2 across layers).
        case channels
        /// q, k, v, o at r = 16 and gate, up, down at r = 8 (d 4096 / 11008), channel structure, layer scales log-normal.
        case mixed

        var description: String {
            switch self {
            case .gaussian: return "Gaussian updates (r = 16 on q,k,v,o)"
            case .heavyTailed: return "heavy-tailed updates, kurtosis 3–39 by layer (r = 16 on q,k,v,o)"
            case .channels: return "hot channels, σ 0.25–2 by layer (r = 16 on q,k,v,o)"
            case .mixed: return "q,k,v,o r = 16 + gate,up,down r = 8, hot channels, layer scales log-normal"
            }
        }

        static func make(_ family: Synthetic, seed: UInt64) -> Case {
            let stream = RandomStream(seed: seed, purpose: "bench.rules.synthetic")
            var shapes: [LoRALayerShape] = []
            for block in 0..<32 {
                for t in ["q", "k", "v", "o"] {
                    shapes.append(LoRALayerShape(name: "model.layers.\(block).self_attn.\(t)_proj", inFeatures: 4096, outFeatures: 4096, rank: 16))
                }
                if family == .mixed {
                    shapes.append(LoRALayerShape(name: "model.layers.\(block).mlp.gate_proj", inFeatures: 4096, outFeatures: 11008, rank: 8))
                    shapes.append(LoRALayerShape(name: "model.layers.\(block).mlp.up_proj", inFeatures: 4096, outFeatures: 11008, rank: 8))
                    shapes.append(LoRALayerShape(name: "model.layers.\(block).mlp.down_proj", inFeatures: 11008, outFeatures: 4096, rank: 8))
                }
            }
            let global = LoRAAdapter(layers: shapes.map { s in
                let bound = Float(1 / Double(s.inFeatures).squareRoot())
                return LoRALayer(shape: s, a: Matrix(rows: s.rank, cols: s.inFeatures) { _, _ in Float(2 * stream.uniform() - 1) * bound },
                                 b: Matrix(rows: s.outFeatures, cols: s.rank) { _, _ in Float(0.01 * stream.standardNormal()) })
            })
            // Per-layer structure parameters, drawn once and shared by the clients.
            let count = shapes.count
            let position = (0..<count).map { Double($0) / Double(max(1, count - 1)) }
            var order = Array(0..<count)
            stream.shuffle(&order)
            let tail = order.map { 0.8 * position[$0] }
            let sigma = order.map { 0.25 + 1.75 * position[$0] }
            let layerScale = (0..<count).map { _ in family == .mixed ? exp(0.75 * stream.standardNormal()) : 1 }
            let rowScales = shapes.indices.map { l in (0..<shapes[l].outFeatures).map { _ in exp(sigma[l] * stream.standardNormal()) } }
            let colScales = shapes.indices.map { l in (0..<shapes[l].inFeatures).map { _ in exp(sigma[l] * stream.standardNormal()) } }
            func entry(_ l: Int) -> Double {
                switch family {
                case .heavyTailed:
                    // Z·exp(s·Y − s²): unit variance, kurtosis 3·e^{4s²}.
                    return stream.standardNormal() * exp(tail[l] * stream.standardNormal() - tail[l] * tail[l])
                default: return stream.standardNormal()
                }
            }
            func update(_ scale: Double) -> LoRAAdapter {
                LoRAAdapter(layers: shapes.indices.map { l in
                    let s = shapes[l], sd = 0.001 * scale * layerScale[l]
                    let structured = family == .channels || family == .mixed
                    return LoRALayer(shape: s,
                                     a: Matrix(rows: s.rank, cols: s.inFeatures) { _, j in Float(sd * entry(l) * (structured ? colScales[l][j] : 1)) },
                                     b: Matrix(rows: s.outFeatures, cols: s.rank) { i, _ in Float(sd * entry(l) * (structured ? rowScales[l][i] : 1)) })
                })
            }
            let shared = update(1)
            let trained = (0..<2).map { _ in global.adding(shared).adding(update(0.5)) }
            return Case(global: global, trained: trained, weights: [1, 1])
        }
    }
}
