import Federation
import Foundation
import Numerics
import Scenario

extension RunSummary {
    /// summary.json's bytes: sorted keys, pretty, a final newline.
    public var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? encoder.encode(self)) ?? Data()) + Data("\n".utf8)
    }

    /// Decodes summary.json (the contents of `file`): a syntax error names the line and column,
    /// a missing or mistyped field its key path and what was expected (`InputError`).
    public static func read(_ data: Data, file: String) throws -> RunSummary {
        let value = try JSONValue.parse(data, file: file)
        do {
            return try JSONDecoder().decode(RunSummary.self, from: data)
        } catch let error as DecodingError {
            throw InputError(decoding: error, in: value, file: file)
        }
    }

    /// Per seed and arm: the contract's fields; across seeds: mean and 95 % CI of time to target
    /// and of the speedup over `lora`.
    public init(_ r: RunResults) {
        func num(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
        let target = r.scenario.target ?? Metrics.defaultTarget
        var perArm: [String: (tta: [Double], speedup: [Double], reached: Int, final: [Double])] = [:]
        let seeds: [Seed] = r.runs.map { run in
            let targetValue = r.trained ? Metrics.targetValue(target, arms: run.arms) : nil
            // Accuracy targets are reported as `target_accuracy` (as always); others carry their metric.
            let targetAccuracy = target.metric == .accuracy ? targetValue : nil
            let other: Metrics.Metric? = target.metric == .accuracy ? nil : target.metric
            let lora = run.arms.first { $0.codec == "lora" }
            let loraTTA = targetValue.flatMap { t in lora.flatMap { Metrics.timeToTarget($0, target: t, metric: target.metric) } }
            let arms: [Arm] = run.arms.map { a in
                let durations = a.rounds.map(\.durationSeconds).sorted()
                let tta = targetValue.flatMap { Metrics.timeToTarget(a, target: $0, metric: target.metric) }
                var o = Arm(name: a.name, codec: a.codec, targetAccuracy: num(targetAccuracy), timeToTargetSeconds: num(tta?.seconds),
                            roundsToTarget: tta?.rounds, finalAccuracy: num(Metrics.finalAccuracy(a)), bestAccuracy: num(Metrics.bestAccuracy(a)),
                            initialAccuracy: num(a.initialAccuracy), rounds: a.rounds.count, aggregatedRounds: a.rounds.filter(\.aggregated).count,
                            simulatedSeconds: a.simulatedSeconds, bytesUp: a.bytesUp, bytesDown: a.bytesDown,
                            uploadBytesPerClient: a.uploadBytesPerClient, downloadBytesInSync: a.downloadBytesInSync,
                            downloadBytesDense: a.downloadBytesDense, measuredUploadKeptFraction: num(a.measuredUploadKept),
                            measuredDownloadKeptFraction: num(a.measuredDownloadKept),
                            completed: a.rounds.reduce(0) { $0 + $1.completed }, dropped: a.rounds.reduce(0) { $0 + $1.dropped },
                            late: a.rounds.reduce(0) { $0 + $1.late },
                            meanRoundSeconds: durations.isEmpty ? 0 : durations.reduce(0, +) / Double(durations.count),
                            medianRoundSeconds: durations.isEmpty ? 0 : durations[durations.count / 2])
                if let other {
                    o.targetMetric = other
                    o.targetValue = num(targetValue)
                    o.initialValue = num(Metrics.initialValue(other, a))
                    o.finalValue = num(Metrics.finalValue(other, a))
                    o.bestValue = num(Metrics.bestValue(other, a))
                }
                if let lora, lora.rounds.count == a.rounds.count, a.simulatedSeconds > 0 { o.timeRatioVsLora = lora.simulatedSeconds / a.simulatedSeconds }
                if let lora, lora.bytesUp > 0 { o.bytesUpVsLora = Double(a.bytesUp) / Double(lora.bytesUp) }
                (o.updateCosineMean, o.updateNormRatioMean, o.keptEnergyMean, o.updateKurtosisMedian) = Metrics.fidelity(a.rounds)
                if let t = a.trainer {
                    o.failed = a.rounds.reduce(0) { $0 + $1.failed }
                    o.trainer = Trainer(calls: t.calls, failed: t.failed, failures: t.failures, examples: t.examples,
                                        meanTrainLoss: t.lossCount > 0 ? num(t.lossSum / Double(t.lossCount)) : nil)
                }
                var entry = perArm[a.name] ?? ([], [], 0, [])
                if let tta {
                    entry.tta.append(tta.seconds)
                    entry.reached += 1
                    if let loraTTA { o.speedupVsLora = loraTTA.seconds / tta.seconds; entry.speedup.append(loraTTA.seconds / tta.seconds) }
                }
                if let f = Metrics.finalAccuracy(a) { entry.final.append(f) }
                perArm[a.name] = entry
                return o
            }
            return Seed(seed: run.seed, targetAccuracy: num(targetAccuracy), targetMetric: other,
                        targetValue: other == nil ? nil : num(targetValue), arms: arms)
        }
        scenario = r.scenario.name
        seed = r.runs.first?.seed ?? r.scenario.seed
        self.seeds = r.runs.map(\.seed)
        mode = r.trained ? .training : .timeOnly
        clients = r.scenario.population.clients
        measured = RunOutput.measured(r)
        modelled = RunOutput.modelled(r)
        runs = seeds
        resolvedScenario = r.scenario.resolved
        arms = seeds.first?.arms ?? []
        acrossSeeds = r.armNames.map { name in
            let e = perArm[name] ?? ([], [], 0, [])
            let tta = Metrics.meanAndCI(e.tta), speedup = Metrics.meanAndCI(e.speedup), final = Metrics.meanAndCI(e.final)
            return AcrossSeeds(name: name, seedsReachingTarget: e.reached,
                               timeToTargetMean: e.tta.isEmpty ? nil : num(tta.mean), timeToTargetCI95: num(tta.halfWidth),
                               speedupVsLoraMean: e.speedup.isEmpty ? nil : num(speedup.mean), speedupVsLoraCI95: num(speedup.halfWidth),
                               finalAccuracyMean: e.final.isEmpty ? nil : num(final.mean), finalAccuracyCI95: num(final.halfWidth))
        }
    }
}
