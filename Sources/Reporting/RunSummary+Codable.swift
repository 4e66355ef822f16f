import Foundation
import Numerics
import Scenario

// summary.json's encoding: numbers as `JSONValue` writes them, `null` for a missing value, keys
// that exist only when they apply (`*_vs_lora`) absent otherwise; decoding checks every integer
// is one exactly.

extension RunSummary: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        scenario = try c.decode(String.self, forKey: .scenario)
        seed = try c.seed(.seed)
        var list = try c.nestedUnkeyedContainer(forKey: .seeds)
        seeds = []
        while !list.isAtEnd {
            let d = try list.decode(Double.self)
            guard let s = UInt64(exactly: d) else {
                throw DecodingError.dataCorruptedError(in: list, debugDescription: "a seed: an integer in 0…9007199254740991")
            }
            seeds.append(s)
        }
        let m = try c.decode(String.self, forKey: .mode)
        guard let mode = Mode(rawValue: m) else {
            throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: Mode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or "))
        }
        self.mode = mode
        clients = try c.wholeNumber(.clients)
        measured = try c.decode([String].self, forKey: .measured)
        modelled = try c.decode([String].self, forKey: .modelled)
        runs = try c.decode([Seed].self, forKey: .runs)
        arms = try c.decode([RunSummary.Arm].self, forKey: .arms)
        acrossSeeds = try c.decode([AcrossSeeds].self, forKey: .acrossSeeds)
        resolvedScenario = try c.decode(JSONValue.self, forKey: .resolvedScenario)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(scenario, forKey: .scenario)
        try c.encode(number: Double(seed), forKey: .seed)
        var list = c.nestedUnkeyedContainer(forKey: .seeds)
        for s in seeds { try list.encode(JSONValue.number(Double(s))) }
        try c.encode(mode.rawValue, forKey: .mode)
        try c.encode(number: Double(clients), forKey: .clients)
        try c.encode(measured, forKey: .measured)
        try c.encode(modelled, forKey: .modelled)
        try c.encode(runs, forKey: .runs)
        try c.encode(arms, forKey: .arms)
        try c.encode(acrossSeeds, forKey: .acrossSeeds)
        try c.encode(resolvedScenario, forKey: .resolvedScenario)
    }
}

extension RunSummary.Arm: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        codec = try c.decode(String.self, forKey: .codec)
        targetAccuracy = try c.decodeIfPresent(Double.self, forKey: .targetAccuracy)
        timeToTargetSeconds = try c.decodeIfPresent(Double.self, forKey: .timeToTargetSeconds)
        roundsToTarget = try c.wholeNumberIfPresent(.roundsToTarget)
        finalAccuracy = try c.decodeIfPresent(Double.self, forKey: .finalAccuracy)
        bestAccuracy = try c.decodeIfPresent(Double.self, forKey: .bestAccuracy)
        initialAccuracy = try c.decodeIfPresent(Double.self, forKey: .initialAccuracy)
        rounds = try c.wholeNumber(.rounds)
        aggregatedRounds = try c.wholeNumber(.aggregatedRounds)
        simulatedSeconds = try c.decode(Double.self, forKey: .simulatedSeconds)
        bytesUp = try c.wholeNumber(.bytesUp)
        bytesDown = try c.wholeNumber(.bytesDown)
        uploadBytesPerClient = try c.wholeNumber(.uploadBytesPerClient)
        downloadBytesInSync = try c.wholeNumber(.downloadBytesInSync)
        downloadBytesDense = try c.wholeNumber(.downloadBytesDense)
        measuredUploadKeptFraction = try c.decodeIfPresent(Double.self, forKey: .measuredUploadKeptFraction)
        measuredDownloadKeptFraction = try c.decodeIfPresent(Double.self, forKey: .measuredDownloadKeptFraction)
        completed = try c.wholeNumber(.completed)
        dropped = try c.wholeNumber(.dropped)
        late = try c.wholeNumber(.late)
        meanRoundSeconds = try c.decode(Double.self, forKey: .meanRoundSeconds)
        medianRoundSeconds = try c.decode(Double.self, forKey: .medianRoundSeconds)
        timeRatioVsLora = try c.decodeIfPresent(Double.self, forKey: .timeRatioVsLora)
        bytesUpVsLora = try c.decodeIfPresent(Double.self, forKey: .bytesUpVsLora)
        speedupVsLora = try c.decodeIfPresent(Double.self, forKey: .speedupVsLora)
        updateCosineMean = try c.decodeIfPresent(Double.self, forKey: .updateCosineMean)
        updateNormRatioMean = try c.decodeIfPresent(Double.self, forKey: .updateNormRatioMean)
        keptEnergyMean = try c.decodeIfPresent(Double.self, forKey: .keptEnergyMean)
        updateKurtosisMedian = try c.decodeIfPresent(Double.self, forKey: .updateKurtosisMedian)
        targetMetric = try c.targetMetric(.targetMetric)
        targetValue = try c.decodeIfPresent(Double.self, forKey: .targetValue)
        initialValue = try c.decodeIfPresent(Double.self, forKey: .initialValue)
        finalValue = try c.decodeIfPresent(Double.self, forKey: .finalValue)
        bestValue = try c.decodeIfPresent(Double.self, forKey: .bestValue)
        failed = try c.wholeNumberIfPresent(.failed)
        trainer = try c.decodeIfPresent(RunSummary.Trainer.self, forKey: .trainer)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(codec, forKey: .codec)
        try c.encode(number: targetAccuracy, forKey: .targetAccuracy)
        try c.encode(number: timeToTargetSeconds, forKey: .timeToTargetSeconds)
        try c.encode(number: roundsToTarget.map(Double.init), forKey: .roundsToTarget)
        try c.encode(number: finalAccuracy, forKey: .finalAccuracy)
        try c.encode(number: bestAccuracy, forKey: .bestAccuracy)
        try c.encode(number: initialAccuracy, forKey: .initialAccuracy)
        try c.encode(number: Double(rounds), forKey: .rounds)
        try c.encode(number: Double(aggregatedRounds), forKey: .aggregatedRounds)
        try c.encode(number: simulatedSeconds, forKey: .simulatedSeconds)
        try c.encode(number: Double(bytesUp), forKey: .bytesUp)
        try c.encode(number: Double(bytesDown), forKey: .bytesDown)
        try c.encode(number: Double(uploadBytesPerClient), forKey: .uploadBytesPerClient)
        try c.encode(number: Double(downloadBytesInSync), forKey: .downloadBytesInSync)
        try c.encode(number: Double(downloadBytesDense), forKey: .downloadBytesDense)
        try c.encode(number: measuredUploadKeptFraction, forKey: .measuredUploadKeptFraction)
        try c.encode(number: measuredDownloadKeptFraction, forKey: .measuredDownloadKeptFraction)
        try c.encode(number: Double(completed), forKey: .completed)
        try c.encode(number: Double(dropped), forKey: .dropped)
        try c.encode(number: Double(late), forKey: .late)
        try c.encode(number: meanRoundSeconds, forKey: .meanRoundSeconds)
        try c.encode(number: medianRoundSeconds, forKey: .medianRoundSeconds)
        if let timeRatioVsLora { try c.encode(number: timeRatioVsLora, forKey: .timeRatioVsLora) }
        if let bytesUpVsLora { try c.encode(number: bytesUpVsLora, forKey: .bytesUpVsLora) }
        if let speedupVsLora { try c.encode(number: speedupVsLora, forKey: .speedupVsLora) }
        if let updateCosineMean { try c.encode(number: updateCosineMean, forKey: .updateCosineMean) }
        if let updateNormRatioMean { try c.encode(number: updateNormRatioMean, forKey: .updateNormRatioMean) }
        if let keptEnergyMean { try c.encode(number: keptEnergyMean, forKey: .keptEnergyMean) }
        if let updateKurtosisMedian { try c.encode(number: updateKurtosisMedian, forKey: .updateKurtosisMedian) }
        if let targetMetric {
            try c.encode(targetMetric.rawValue, forKey: .targetMetric)
            try c.encode(number: targetValue, forKey: .targetValue)
            try c.encode(number: initialValue, forKey: .initialValue)
            try c.encode(number: finalValue, forKey: .finalValue)
            try c.encode(number: bestValue, forKey: .bestValue)
        }
        if let failed { try c.encode(number: Double(failed), forKey: .failed) }
        if let trainer { try c.encode(trainer, forKey: .trainer) }
    }
}

extension RunSummary.Seed: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seed = try c.seed(.seed)
        targetAccuracy = try c.decodeIfPresent(Double.self, forKey: .targetAccuracy)
        targetMetric = try c.targetMetric(.targetMetric)
        targetValue = try c.decodeIfPresent(Double.self, forKey: .targetValue)
        arms = try c.decode([RunSummary.Arm].self, forKey: .arms)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(number: Double(seed), forKey: .seed)
        try c.encode(number: targetAccuracy, forKey: .targetAccuracy)
        if let targetMetric {
            try c.encode(targetMetric.rawValue, forKey: .targetMetric)
            try c.encode(number: targetValue, forKey: .targetValue)
        }
        try c.encode(arms, forKey: .arms)
    }
}

extension RunSummary.AcrossSeeds: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        seedsReachingTarget = try c.wholeNumber(.seedsReachingTarget)
        timeToTargetMean = try c.decodeIfPresent(Double.self, forKey: .timeToTargetMean)
        timeToTargetCI95 = try c.decodeIfPresent(Double.self, forKey: .timeToTargetCI95)
        speedupVsLoraMean = try c.decodeIfPresent(Double.self, forKey: .speedupVsLoraMean)
        speedupVsLoraCI95 = try c.decodeIfPresent(Double.self, forKey: .speedupVsLoraCI95)
        finalAccuracyMean = try c.decodeIfPresent(Double.self, forKey: .finalAccuracyMean)
        finalAccuracyCI95 = try c.decodeIfPresent(Double.self, forKey: .finalAccuracyCI95)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(number: Double(seedsReachingTarget), forKey: .seedsReachingTarget)
        try c.encode(number: timeToTargetMean, forKey: .timeToTargetMean)
        try c.encode(number: timeToTargetCI95, forKey: .timeToTargetCI95)
        try c.encode(number: speedupVsLoraMean, forKey: .speedupVsLoraMean)
        try c.encode(number: speedupVsLoraCI95, forKey: .speedupVsLoraCI95)
        try c.encode(number: finalAccuracyMean, forKey: .finalAccuracyMean)
        try c.encode(number: finalAccuracyCI95, forKey: .finalAccuracyCI95)
    }
}

extension KeyedEncodingContainer {
    /// A number as `JSONValue.number` writes it; nil or non-finite as `null`.
    mutating func encode(number x: Double?, forKey key: Key) throws {
        guard let x, x.isFinite else { try encodeNil(forKey: key); return }
        try encode(JSONValue.number(x), forKey: key)
    }
}

extension KeyedDecodingContainer {
    /// A JSON number that holds an integer exactly.
    func wholeNumber(_ key: Key) throws -> Int {
        guard let v = Int(exactly: try decode(Double.self, forKey: key)) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "a whole number")
        }
        return v
    }

    /// A whole number, or nil when absent or null.
    func wholeNumberIfPresent(_ key: Key) throws -> Int? {
        guard let d = try decodeIfPresent(Double.self, forKey: key) else { return nil }
        guard let v = Int(exactly: d) else { throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "a whole number, or null") }
        return v
    }

    /// A target metric other than accuracy ("loss" or "perplexity"), or nil when absent (accuracy).
    func targetMetric(_ key: Key) throws -> Metrics.Metric? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        let valid = Metrics.Metric.allCases.filter(\.lowerIsBetter)
        guard let m = Metrics.Metric(rawValue: text), m.lowerIsBetter else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: valid.map { "\"\($0.rawValue)\"" }.joined(separator: " or ") + " (absent for accuracy)")
        }
        return m
    }

    func seed(_ key: Key) throws -> UInt64 {
        guard let v = UInt64(exactly: try decode(Double.self, forKey: key)) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "a seed: an integer in 0…9007199254740991")
        }
        return v
    }
}

extension InputError {
    /// A decoding error of a JSON document (`value`, read from `file`) as an input error: the key
    /// path, what was expected and what the document holds there.
    init(decoding error: DecodingError, in value: JSONValue, file: String) {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { p, k in k.intValue.map { "\(p)[\($0)]" } ?? (p.isEmpty ? k.stringValue : p + "." + k.stringValue) }
        }
        func found(_ keys: [any CodingKey]) -> String {
            var v: JSONValue? = value
            for k in keys {
                switch v {
                case let .array(a)?: v = k.intValue.flatMap { a.indices.contains($0) ? a[$0] : nil }
                case let .object(o)?: v = o[k.stringValue]
                default: v = nil
                }
            }
            return v?.described ?? "nothing"
        }
        func expected(_ type: Any.Type) -> String {
            let name = "\(type)"
            if name.contains("Double") || name.contains("Int") { return "a number" }
            if name.contains("String") { return "a string" }
            if name.contains("Array") || name.contains("Unkeyed") { return "an array" }
            return "an object"
        }
        switch error {
        case let .keyNotFound(key, context):
            self.init(.missingKey(key.stringValue), at: path(context.codingPath), file: file)
        case let .typeMismatch(type, context):
            self.init(.invalidValue(expected: expected(type), found: found(context.codingPath)), at: path(context.codingPath), file: file)
        case let .valueNotFound(type, context):
            self.init(.invalidValue(expected: expected(type), found: "null"), at: path(context.codingPath), file: file)
        case let .dataCorrupted(context):
            self.init(.invalidValue(expected: context.debugDescription, found: found(context.codingPath)), at: path(context.codingPath), file: file)
        @unknown default:
            self.init(.file(path: file, reason: "not a FedSim summary: \(error)"), at: "")
        }
    }
}
