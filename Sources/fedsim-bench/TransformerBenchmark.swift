import Federation
import Foundation
import Learning
import Numerics
import Scenario

/// One LoRA training step of the default scenario's transformer (its layers, width, heads, context,
/// hidden size, LoRA rank/alpha/targets, local batch and optimiser, read from the scenario) against the
/// same step in PyTorch on the same weights and batch, both on 2 threads; evaluation tokens/s against
/// PyTorch's forward under `no_grad`; and the wall time of `fedsim run` on the default scenario.
enum TransformerBenchmark: Benchmark {
    static let name = "transformer"
    static let summary = "the default scenario's transformer: LoRA step and evaluation vs PyTorch (2 threads each); fedsim run wall time"

    /// The transformer workload the benchmark measures, and the scenario file it came from.
    struct Workload {
        var file: String
        var model: FederationConfig.Training.TextModel
    }

    /// The transformer of `scenario` when it has one, else that of `transformer-fortunes.json` beside it.
    static func workload(_ scenario: String) -> Workload? {
        let fallback = URL(fileURLWithPath: scenario).deletingLastPathComponent().appendingPathComponent("transformer-fortunes.json").path
        for file in [scenario, fallback] {
            do {
                let s = try ScenarioParser.load(file: file)
                if case let .transformer(model)? = s.config.workload.training?.model { return Workload(file: file, model: model) }
                FileHandle.standardError.write(Data("bench: transformer: \(file) has no transformer workload\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("bench: transformer: \(file): \(error)\n".utf8))
            }
        }
        return nil
    }

    static func run(_ context: BenchContext) -> [BenchRow] {
        guard let w = workload(context.scenario) else { return [] }
        let config = w.model.config, lora = w.model.lora, local = w.model.local
        let batch = local.batchSize, threads = 2
        let repeatSeconds = context.quick ? 0.15 : 0.5, repeats = context.quick ? 3 : 7, warmup = 3
        let evaluationWindows = w.model.evaluationWindows * w.model.domains.count
        let base = TransformerWeights(config: config, seed: 1)
        let adapter = TransformerAdapter(config: config, lora: lora, seed: 1)
        // Bytes of a fixed pseudo-random text (the cost of a step does not depend on the text).
        let tokens = (0..<max(20_000, 2 * evaluationWindows * (config.context + 1))).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        guard let batcher = try? WindowBatcher(tokens: tokens, context: config.context) else { return [] }
        let windows = batcher.batch(batch, stream: RandomStream(seed: 1, purpose: "bench"))
        let held = batcher.sequentialWindows(limit: evaluationWindows)
        let shape = "\(config.layers)×\(config.width), \(config.heads) heads, ctx \(config.context), hidden \(config.hidden), batch \(batch), "
            + "r \(lora.rank) \(lora.targets.map(\.rawValue).joined(separator: ","))"
        FileHandle.standardError.write(Data("bench: transformer: \(shape), \(describe(local.optimizer)) (from \(w.file))\n".utf8))

        // Ours: the trainer fedsim's local training uses (the batch's shards on `threads` workers, single-threaded BLAS each).
        // Each repeat runs enough steps to last about `repeatSeconds` (timed from the warm-up steps).
        var firstLosses: [Double] = []
        func timed(atLeast minimum: Int = 3, _ body: (Int) -> Void) -> Double {
            let perStep = measureSeconds { body(warmup) } / Double(warmup)
            let n = max(minimum, min(10_000, Int((repeatSeconds / max(perStep, 1e-9)).rounded(.up))))
            return median((0..<repeats).map { _ in Double(n) / measureSeconds { body(n) } })
        }
        func ours(threads: Int) -> Double {
            let trainer = TransformerTrainer(base: base, adapter: adapter, settings: local, threads: threads)
            let losses = (0..<warmup).map { _ in trainer.step(windows, sequences: batch) }
            if firstLosses.isEmpty { firstLosses = losses }
            return timed { n in for _ in 0..<n { trainer.step(windows, sequences: batch) } }
        }
        // `clients` clients training at once, each on one thread (a throughput: steps/s of all together).
        func oursConcurrent(clients: Int) -> Double {
            let trainers = (0..<clients).map { _ in TransformerTrainer(base: base, adapter: adapter, settings: local, threads: 1) }
            let box = TrainerBox(trainers)
            return Double(clients) * timed { n in
                BLASThreads.singleThreaded {
                    DispatchQueue.concurrentPerform(iterations: clients) { c in for _ in 0..<n { box.trainers[c].step(windows, sequences: batch) } }
                }
            }
        }
        let pretrainSettings = TransformerTrainingSettings(steps: 1, batchSize: batch, optimizer: w.model.pretrain.optimizer,
                                                           maxGradientNorm: w.model.pretrain.maxGradientNorm, shardSize: w.model.pretrain.shardSize)
        func pretraining() -> Double {
            let trainer = TransformerTrainer(base: base, adapter: nil, settings: pretrainSettings, threads: threads)
            return timed { n in for _ in 0..<n { trainer.step(windows, sequences: batch) } }
        }
        func evaluation(threads: Int) -> (rate: Double, loss: Double) {
            var loss = Double.nan
            let evaluations = timed(atLeast: 1) { n in
                for _ in 0..<n { loss = TransformerEvaluation.evaluate(base: base, adapter: adapter, windows: held.windows, count: held.count, threads: threads).loss }
            }
            return (evaluations * Double(held.count * config.context), loss)
        }

        let exchange = writeExchange(base: base, adapter: adapter, windows: windows, held: held.windows)
        defer { if let exchange { try? FileManager.default.removeItem(atPath: exchange.directory) } }
        func peer(threads: Int, waitPolicy: String? = nil) -> [String: Any]? {
            guard let exchange else { return nil }
            var spec: [String: Any] = ["layers": config.layers, "width": config.width, "heads": config.heads, "context": config.context,
                                       "vocabulary": config.vocabulary, "hidden": config.hidden, "norm_epsilon": Double(config.normEpsilon),
                                       "rope_theta": config.ropeTheta, "rank": lora.rank, "alpha": Double(lora.alpha),
                                       "targets": lora.targets.map(\.rawValue), "batch": batch, "optimizer": optimizerSpec(local.optimizer),
                                       "repeat_seconds": repeatSeconds, "repeats": repeats, "warmup": warmup, "threads": threads,
                                       "eval_windows": held.count, "eval_chunk": 8, "data": exchange.data]
            spec["max_grad_norm"] = local.maxGradientNorm.map { Double($0) } ?? NSNull()
            spec["omp_wait_policy"] = waitPolicy ?? NSNull()
            let path = exchange.directory + "/spec-\(threads)-\(waitPolicy ?? "default").json"
            guard let data = try? JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]),
                  FileManager.default.createFile(atPath: path, contents: data) else { return nil }
            return context.runPeer("transformer_lora_torch.py", [path])
        }

        // Ours and the peer alternate, so that a change in the machine's load hits both.
        let two = ours(threads: threads)
        let peerTwo = peer(threads: threads)
        let one = ours(threads: 1)
        let peerOne = peer(threads: 1)
        let peerPassive = peer(threads: threads, waitPolicy: "PASSIVE")
        let concurrent = oursConcurrent(clients: threads)
        let pretrain = pretraining()
        let eval = evaluation(threads: threads)

        let peerRate = peerTwo?["steps_per_second"] as? Double, peerOneRate = peerOne?["steps_per_second"] as? Double
        let peerPassiveRate = peerPassive?["steps_per_second"] as? Double
        // PyTorch's best within the same 2 threads: 2 threads (OpenMP's default or passive waiting) or 1.
        let peerBest = [peerRate, peerPassiveRate, peerOneRate].compactMap { $0 }.max()
        let peerEval = [peerTwo, peerPassive, peerOne].compactMap { $0?["eval_tokens_per_second"] as? Double }.max()
        let peerKernel = (peerTwo?["kernel"] as? String) ?? "n/a", torchVersion = (peerTwo?["torch"] as? String) ?? "n/a"
        let peerLosses = (peerTwo?["losses"] as? [Double]) ?? []
        let agreement = zip(firstLosses, peerLosses).map { abs($0 - $1) / max(abs($1), 1e-30) }.max()
        let evalAgreement = (peerTwo?["eval_loss"] as? Double).map { abs(eval.loss - $0) / max(abs($0), 1e-30) }
        func ms(_ rate: Double?) -> String { rate.map { String(format: "%.1f ms", 1000 / $0) } ?? "n/a" }
        var line = String(format: "bench: transformer: ours %@/step on %d threads, %@ on 1, %d clients at once %.1f steps/s; ", ms(two), threads, ms(one), threads, concurrent)
        line += "PyTorch \(torchVersion) \(ms(peerRate)) on \(threads) (\(ms(peerPassiveRate)) with OMP_WAIT_POLICY=PASSIVE), \(ms(peerOneRate)) on 1 (its OpenBLAS: \(peerKernel)); "
        line += String(format: "pretraining %@/step; evaluation %.0f tokens/s (PyTorch's best %@)", ms(pretrain), eval.rate, peerEval.map { String(format: "%.0f", $0) } ?? "n/a")
        if let agreement { line += String(format: "; first %d losses agree to %.1e relative", min(firstLosses.count, peerLosses.count), agreement) }
        if let evalAgreement { line += String(format: ", evaluation loss to %.1e", evalAgreement) }
        FileHandle.standardError.write(Data((line + "\n").utf8))

        let peerName = "PyTorch \(torchVersion) (OpenBLAS \(peerKernel))"
        var rows = [
            BenchRow(benchmark: "Transformer LoRA step (\(shape), \(describe(local.optimizer))), ≤ \(threads) threads each", metric: "steps/s",
                     ours: two, peer: peerBest, peerName: peerName + ", best of 2 threads, 2 passive, 1", goal: 1.5),
            BenchRow(benchmark: "Transformer LoRA step, \(threads) threads each", metric: "steps/s", ours: two, peer: peerRate,
                     peerName: peerName + ", \(threads) threads", goal: nil),
            BenchRow(benchmark: "Transformer LoRA step, \(threads) threads each, OMP_WAIT_POLICY=PASSIVE", metric: "steps/s", ours: two,
                     peer: peerPassiveRate, peerName: peerName + ", \(threads) threads, passive", goal: nil),
            BenchRow(benchmark: "Transformer LoRA step, 1 thread each", metric: "steps/s", ours: one, peer: peerOneRate,
                     peerName: peerName + ", 1 thread", goal: nil),
            BenchRow(benchmark: "Transformer LoRA, \(threads) clients at once, 1 thread each (throughput)", metric: "steps/s", ours: concurrent,
                     peer: peerBest, peerName: peerName + ", one client, best within \(threads) threads", goal: nil),
            BenchRow(benchmark: "Transformer pretraining step (every weight, the local batch), \(threads) threads", metric: "steps/s", ours: pretrain,
                     peer: nil, peerName: "", goal: nil),
            BenchRow(benchmark: "Transformer evaluation (\(held.count) windows, chunks of 8), \(threads) threads each", metric: "tokens/s",
                     ours: eval.rate, peer: peerEval, peerName: peerName + ", no_grad, best within \(threads) threads", goal: nil),
        ]
        if context.quick {
            FileHandle.standardError.write(Data("bench: transformer: --quick: fedsim run \(context.scenario) skipped\n".utf8))
        } else if let run = defaultScenarioWall(context.scenario) {
            rows.append(BenchRow(benchmark: "fedsim run \(context.scenario) (every arm, pretraining cache \(run.cache))", metric: "wall seconds",
                                 ours: run.seconds, peer: nil, peerName: "–", goal: nil, ceiling: (300, "300 s")))
        }
        return rows
    }

    /// The weights, the batch and the evaluation windows as the peer reads them (see its docstring).
    static func writeExchange(base: TransformerWeights, adapter: TransformerAdapter, windows: [Int32], held: [Int32]) -> (directory: String, data: String)? {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-bench-transformer-\(getpid())").path
        guard (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil else { return nil }
        var floats: [Float] = base.embedding.storage
        for layer in base.layers {
            for m in TransformerModule.allCases { floats += layer[m].storage }
            floats += layer.attentionNorm + layer.mlpNorm
        }
        floats += base.finalNorm + base.head.storage
        for l in adapter.adapter.layers { floats += l.a.storage + l.b.storage }
        var data = Data()
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        for t in windows + held { withUnsafeBytes(of: t.littleEndian) { data.append(contentsOf: $0) } }
        let path = directory + "/data.bin"
        return FileManager.default.createFile(atPath: path, contents: data) ? (directory, path) : nil
    }

    static func optimizerSpec(_ o: TransformerOptimizer) -> [String: Any] {
        switch o {
        case let .adamW(lr, b1, b2, eps, wd): return ["name": "adamw", "lr": Double(lr), "beta1": Double(b1), "beta2": Double(b2), "eps": Double(eps), "weight_decay": Double(wd)]
        case let .adam(lr, b1, b2, eps, wd): return ["name": "adam", "lr": Double(lr), "beta1": Double(b1), "beta2": Double(b2), "eps": Double(eps), "weight_decay": Double(wd)]
        case let .sgd(lr, mu): return ["name": "sgd", "lr": Double(lr), "momentum": Double(mu)]
        }
    }

    static func describe(_ o: TransformerOptimizer) -> String {
        switch o {
        case let .adamW(lr, _, _, _, wd): return "AdamW lr \(lr) wd \(wd)"
        case let .adam(lr, _, _, _, wd): return "Adam lr \(lr) wd \(wd)"
        case let .sgd(lr, mu): return "SGD lr \(lr) momentum \(mu)"
        }
    }

    /// `fedsim run SCENARIO --out <temporary> --force` with the release `fedsim` next to this
    /// program: wall seconds, and whether the pretrained base came from the cache ("warm") or was
    /// pretrained and written there ("cold", seen as a new or rewritten file in the cache directory).
    static func defaultScenarioWall(_ scenario: String) -> (seconds: Double, cache: String)? {
        let fedsim = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("fedsim").path
        guard FileManager.default.isExecutableFile(atPath: fedsim) else {
            FileHandle.standardError.write(Data("bench: transformer: no \(fedsim) (swift build -c release --product fedsim): fedsim run skipped\n".utf8))
            return nil
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-bench-run-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fedsim)
        process.arguments = ["run", scenario, "--out", out, "--force"]
        process.environment = BLASKernel.userEnvironment()  // fedsim pins its kernel itself, as when a user starts it
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        FileHandle.standardError.write(Data("bench: transformer: fedsim run \(scenario) …\n".utf8))
        var text = ""
        let cacheDirectory = Pretraining.defaultCacheDirectory
        func cacheFiles() -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? []).map { name in
                let date = (try? FileManager.default.attributesOfItem(atPath: cacheDirectory + "/" + name))?[.modificationDate] as? Date
                return name + "@" + String(date?.timeIntervalSince1970 ?? 0)
            })
        }
        let before = cacheFiles()
        let seconds = measureSeconds {
            guard (try? process.run()) != nil else { return }
            text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
        }
        guard process.terminationStatus == 0 else {
            FileHandle.standardError.write(Data("bench: transformer: fedsim run failed (status \(process.terminationStatus)):\n\(text.suffix(2000))\n".utf8))
            return nil
        }
        // Cold when the run wrote a pretrained base into the cache, warm when it found every base there.
        let cache = cacheFiles().isSubset(of: before) ? "warm" : "cold"
        FileHandle.standardError.write(Data(String(format: "bench: transformer: fedsim run %@: %.1f s wall, pretraining cache %@\n", scenario, seconds, cache).utf8))
        return (seconds, cache)
    }
}

/// Trainers stepped by concurrent workers, each worker its own trainer.
private final class TrainerBox: @unchecked Sendable {
    let trainers: [TransformerTrainer]
    init(_ trainers: [TransformerTrainer]) { self.trainers = trainers }
}
