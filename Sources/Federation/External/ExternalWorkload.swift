import Codec
import Dispatch
import Foundation
import LoRA
import Numerics

/// A run-time failure of the external trainer that stops the run (exit 1): its `initialize` or
/// an evaluation failed, or too many client calls failed in a row.
public struct ExternalTrainerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "external trainer: " + message }
}

/// The proxy model when the user's own trainer trains (`workload.train.external`,
/// docs/EXTERNAL-TRAINER.md): every client training and every evaluation is a call of the
/// trainer's command on files in an exchange directory; what comes back is checked like any input,
/// and a client call that fails makes that client a failed participant.
public final class ExternalWorkload: ProxyModel, @unchecked Sendable {
    public let training: FederationConfig.Training
    public let trainer: ExternalTrainer
    public let initial: LoRAAdapter
    /// The initial adapter file's layout: how each layer's factors are named and the tensors that are
    /// not LoRA factors (extras), required back, same names, dtypes and shapes, in every update;
    /// every global adapter carries its arm's global extras (docs/EXTERNAL-TRAINER.md, adapters).
    public let layout: PEFTFile
    /// The initial adapter's extras: where every arm's global extras start.
    public var initialExtras: [PEFTExtra] { layout.extras }
    public let sampleCounts: [Int]
    public let baseAccuracy: Double
    public let baseLoss: Double
    public var baseWasCached: Bool { false }
    public let flopsPerSample: Double
    /// The run's seed and client count (sent in every request).
    public let seed: UInt64
    public let clients: Int
    /// The number of data shards the trainer declared (client i trains on shard i mod shards).
    public let shards: Int
    /// The exchange directory of this run.
    public let exchange: URL
    private let executable: (train: String, evaluate: String)
    private let lock = NSLock()
    private var consecutiveFailures = 0
    private var statistics: [Int: TrainerStatistics] = [:]

    /// Calls the trainer's `initialize` (its initial adapter, shard sizes and FLOPs per sample)
    /// and evaluates the initial adapter. `needsFLOPs`: compute is priced from the trainer's
    /// `flops_per_sample` (a measured payload), so the result must give it.
    public init(_ training: FederationConfig.Training, trainer: ExternalTrainer, clients: Int, seed: UInt64, needsFLOPs: Bool) throws {
        self.training = training
        self.trainer = trainer
        self.seed = seed
        self.clients = clients
        let key = "workload.train.external"
        guard let train = Subprocess.resolve(trainer.command.first ?? "", directory: trainer.directory) else {
            throw InputError(.invalidValue(expected: "an executable file", found: "'\(InputError.clipped(trainer.command.first ?? ""))'"), at: key + ".command[0]")
        }
        guard let evaluate = Subprocess.resolve(trainer.evaluate.first ?? "", directory: trainer.directory) else {
            throw InputError(.invalidValue(expected: "an executable file", found: "'\(InputError.clipped(trainer.evaluate.first ?? ""))'"), at: key + ".evaluate[0]")
        }
        executable = (train, evaluate)
        let parent = trainer.exchangeDirectory.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory
        exchange = parent.appendingPathComponent("fedsim-exchange-\(FileSystem.hostName)-\(ProcessInfo.processInfo.processIdentifier)-seed\(seed)-\(UUID().uuidString.prefix(8))")
        do {
            try FileManager.default.createDirectory(at: exchange, withIntermediateDirectories: true)
        } catch {
            throw OutputError(path: exchange.path, reason: InputFile.plain(error))
        }
        let root = exchange
        var ok = false
        defer { if !ok { ExternalWorkload.remove(root, keep: trainer.keepFiles) } }
        let base = ExternalWorkload.requestBase(seed: seed, clients: clients)

        // initialize
        let dir = root.appendingPathComponent("initialize")
        let call = TrainerCall(directory: dir)
        try call.prepare()
        let request: [String: JSONValue] = ["kind": "initialize", "clients": .number(Double(clients)),
                                            "output": .string(call.adapter.path), "result": .string(call.result.path)]
        let outcome = try ExternalWorkload.run(train, trainer.command, trainer, call: call, request: request, base: base)
        guard outcome.succeeded else { throw ExternalTrainerError("its initialize call \(outcome.ending)\(call.messages)") }
        let result: TrainerResult.Initialize
        let file: PEFTFile
        do {
            result = try TrainerResult.initialize(call.resultNode(), clients: clients)
            file = try PEFTFile.read(contentsOf: call.adapter.path)
        } catch {
            throw ExternalTrainerError("its initialize call returned a bad result: \(error)")
        }
        let adapter = file.adapter
        guard adapter.isFinite else { throw ExternalTrainerError("its initial adapter \(call.adapter.path) holds NaN or infinite values") }
        initial = adapter
        layout = file
        shards = result.samples.count
        sampleCounts = (0..<clients).map { result.samples[$0 % result.samples.count] }
        if let f = result.flopsPerSample {
            flopsPerSample = f
        } else if needsFLOPs {
            throw ExternalTrainerError("its initialize result has no \"flops_per_sample\", which a measured payload (workload.payload: \"measured\") prices compute with; give it, or price a catalogue model")
        } else {
            flopsPerSample = 0
        }
        (baseAccuracy, baseLoss) = try ExternalWorkload.evaluate(adapter, layout: file, executable: evaluate, trainer: trainer, base: base,
                                                                 directory: root.appendingPathComponent("evaluate-base"), arm: nil, round: 0)
        ok = true
    }

    deinit { ExternalWorkload.remove(exchange, keep: trainer.keepFiles) }

    /// What every request carries.
    private var requestBase: [String: JSONValue] { ExternalWorkload.requestBase(seed: seed, clients: clients) }

    private static func requestBase(seed: UInt64, clients: Int) -> [String: JSONValue] {
        ["protocol": .string(ExternalTrainer.protocolVersion), "run_seed": .number(Double(seed)), "clients": .number(Double(clients))]
    }

    private static func remove(_ url: URL, keep: Bool) {
        if keep {
            FileHandle.standardError.write(Data("fedsim: the external trainer's exchange files are kept in \(url.path)\n".utf8))
        } else {
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// The seed of client `client`'s round-`round` training: the same in every arm (common random
    /// numbers), below 2^53 so that every JSON reader keeps it exact.
    public static func callSeed(run seed: UInt64, round: Int, client: Int) -> UInt64 {
        let s = RandomStream(StreamKey(seed: seed, purpose: "external.training", index: UInt64(round) << 32 | UInt64(client)), algorithm: .taus2)
        return (UInt64(s.nextUInt32()) << 21 ^ UInt64(s.nextUInt32())) & ((1 << 53) - 1)
    }

    public func train(clients: [Int], from global: LoRAAdapter, round: Int, freezingA: Bool, arm: ArmContext,
                      stream: (Int) -> StreamKey) throws -> [ClientTraining] {
        try train(clients: clients, from: global, extras: layout.extras, round: round, freezingA: freezingA, arm: arm, stream: stream)
    }

    /// Writes the global adapter, with the arm's global `extras`, and runs the clients' train calls.
    public func train(clients: [Int], from global: LoRAAdapter, extras: [PEFTExtra], round: Int, freezingA: Bool, arm: ArmContext,
                      stream: (Int) -> StreamKey) throws -> [ClientTraining] {
        let roundDir = exchange.appendingPathComponent("arm-\(arm.index)").appendingPathComponent("round-\(round)")
        let globalFile = roundDir.appendingPathComponent("global.safetensors")
        do { try FileManager.default.createDirectory(at: roundDir, withIntermediateDirectories: true) } catch {
            throw OutputError(path: roundDir.path, reason: InputFile.plain(error))
        }
        try ExternalWorkload.writeAdapter(global, to: globalFile.path, layout: layout, extras: extras)
        defer { if !trainer.keepFiles { try? FileManager.default.removeItem(at: roundDir) } }
        // One thread per concurrent call: `parallel` calls really run at once.
        let calls = blockingMap(clients.count, threads: trainer.parallel) { [self] k in
            let client = clients[k]
            let call = TrainerCall(directory: roundDir.appendingPathComponent("client-\(client)"))
            var request = arm.requestFields
            request["kind"] = "train"
            request["round"] = .number(Double(round))
            request["client"] = .number(Double(client))
            request["shard"] = .number(Double(client % shards))
            request["seed"] = .number(Double(ExternalWorkload.callSeed(run: seed, round: round, client: client)))
            request["local_steps"] = trainer.localSteps.map { .number(Double($0)) } ?? .null
            request["freeze_a"] = .bool(freezingA)
            request["adapter"] = .string(globalFile.path)
            request["output"] = .string(call.adapter.path)
            request["result"] = .string(call.result.path)
            return trainOne(call: call, request: request, global: global, freezingA: freezingA)
        }
        let outcomes = calls.map(\.0), stats = calls.map(\.1)
        // Failures in a row, in the round's client order (the same whatever `parallel` is).
        lock.lock()
        defer { lock.unlock() }
        var total = statistics[arm.index] ?? TrainerStatistics()
        for (k, outcome) in outcomes.enumerated() {
            total.add(stats[k])
            if case let .failed(failure) = outcome {
                consecutiveFailures += 1
                if consecutiveFailures >= trainer.maxConsecutiveFailures {
                    statistics[arm.index] = total
                    throw ExternalTrainerError("\(consecutiveFailures) client calls failed in a row (workload.train.external.max_consecutive_failures = \(trainer.maxConsecutiveFailures)); "
                                               + "the last: arm '\(arm.name)', round \(round), client \(clients[k]): \(failure.message)")
                }
            } else {
                consecutiveFailures = 0
            }
        }
        statistics[arm.index] = total
        return outcomes
    }

    /// One client call: run, then check what came back.
    private func trainOne(call: TrainerCall, request: [String: JSONValue], global: LoRAAdapter, freezingA: Bool) -> (ClientTraining, TrainerStatistics) {
        var stats = TrainerStatistics()
        stats.calls = 1
        let who = "round \(request["round"]?.described ?? "?"), client \(request["client"]?.described ?? "?")"
        func failed(_ kind: TrainingFailure.Kind, _ message: String) -> (ClientTraining, TrainerStatistics) {
            stats.failures[kind.rawValue, default: 0] += 1
            let shown = message.replacingOccurrences(of: exchange.path, with: "<exchange>")
            stats.examples = ["\(who): \(kind.rawValue): \(InputError.clipped(shown, 400))"]
            return (.failed(TrainingFailure(kind: kind, message: shown)), stats)
        }
        let outcome: Subprocess.Outcome
        do {
            try call.prepare()
            outcome = try ExternalWorkload.run(executable.train, trainer.command, trainer, call: call, request: request, base: requestBase)
        } catch {
            return failed(.start, "\(error)")
        }
        stats.wallSeconds = outcome.seconds
        switch outcome.ending {
        case .timedOut: return failed(.timeout, "the trainer \(outcome.ending)\(call.messages)")
        case .exited(0): break
        default: return failed(.exit, "the trainer \(outcome.ending)\(call.messages)")
        }
        let result: TrainerResult.Train
        do { result = try TrainerResult.train(call.resultNode()) } catch { return failed(.malformed, "\(error)") }
        stats.reportedSeconds = result.seconds ?? outcome.seconds
        if let l = result.loss { stats.lossSum += l; stats.lossCount += 1 }
        switch ExternalWorkload.readUpdate(call.adapter.path, global: global, freezingA: freezingA, layout: layout) {
        case let .failure(f): return failed(f.kind, f.message)
        case let .success(update): return (.trained(update.adapter, samples: result.samples, extras: update.extras), stats)
        }
    }

    /// The trained adapter a call left at `path`, checked against `global` and `layout` (factor names
    /// and extras; nil: `.lora_A.weight` names and no extras): exactly its tensors and shapes, each
    /// extra with its dtype, finite values in every float tensor; with `freezingA`, A is the global's
    /// whatever came back. Its extras come in `layout`'s order.
    public static func readUpdate(_ path: String, global: LoRAAdapter, freezingA: Bool, layout: PEFTFile? = nil) -> Result<ExternalUpdate, TrainingFailure> {
        var trained: LoRAAdapter
        var extras: [PEFTExtra] = []
        do {
            let file = try SafeTensorsFile.read(contentsOf: path)
            let styles = layout?.styles ?? Array(repeating: .linear, count: global.layers.count)
            var expected = Set(zip(global.layers, styles).flatMap { l, style in LoRAMatrix.allCases.map { style.key(module: l.shape.name, matrix: $0) } })
            for extra in layout?.extras ?? [] { expected.insert(extra.name) }
            let names = Set(file.allNames)
            if names != expected {
                let extra = names.subtracting(expected).sorted(by: PEFTAdapter.naturalPrecedes), missing = expected.subtracting(names).sorted(by: PEFTAdapter.naturalPrecedes)
                return .failure(TrainingFailure(kind: .shape, message: "\(path): expected the global adapter's \(expected.count) tensors"
                    + (extra.isEmpty ? "" : "; not in the global: \(InputError.clipped(extra.prefix(3).joined(separator: ", "), 200))")
                    + (missing.isEmpty ? "" : "; missing: \(InputError.clipped(missing.prefix(3).joined(separator: ", "), 200))")))
            }
            let update = try PEFTFile(from: file, fileName: path)
            try PEFTFile.compatible(PEFTFile(adapter: global, styles: styles, extras: layout?.extras ?? []), update,
                                    beforeName: "the global adapter", afterName: path)
            trained = update.adapter
            let byName = Dictionary(update.extras.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            extras = (layout?.extras ?? []).compactMap { byName[$0.name] }
        } catch let e as SafeTensorsError {
            if case .nonFinite = e { return .failure(TrainingFailure(kind: .nonFinite, message: "\(e)")) }
            return .failure(TrainingFailure(kind: .malformed, message: "\(e)"))
        } catch {
            return .failure(TrainingFailure(kind: .shape, message: "\(error)"))
        }
        // Finite: the safetensors reader refuses NaN and ±∞ (SafeTensorsError.nonFinite).
        if freezingA {
            for l in trained.layers.indices { trained.layers[l].a = global.layers[l].a }
        }
        return .success(ExternalUpdate(adapter: trained, extras: extras))
    }

    /// Writes `adapter` as the F32 PEFT safetensors file a trainer reads, with `layout`'s factor names
    /// and `extras` (nil: `layout`'s; no layout: `.lora_A.weight` names, no extras).
    public static func writeAdapter(_ adapter: LoRAAdapter, to path: String, layout: PEFTFile? = nil, extras: [PEFTExtra]? = nil) throws {
        let file = PEFTFile(adapter: adapter, styles: layout?.styles, extras: extras ?? layout?.extras ?? [], metadata: layout?.metadata ?? ["format": "pt"])
        do { try file.safetensors(dtype: .f32).write(to: path) } catch {
            throw OutputError(path: path, reason: "\(error)")
        }
    }

    public func evaluate(_ adapter: LoRAAdapter, arm: ArmContext, round: Int) throws -> (accuracy: Double, loss: Double) {
        try evaluate(adapter, extras: layout.extras, arm: arm, round: round)
    }

    /// Evaluates `adapter` with the arm's global `extras` (the file the trainer reads holds both).
    public func evaluate(_ adapter: LoRAAdapter, extras: [PEFTExtra], arm: ArmContext, round: Int) throws -> (accuracy: Double, loss: Double) {
        let dir = exchange.appendingPathComponent("arm-\(arm.index)").appendingPathComponent("evaluate-\(round)")
        return try ExternalWorkload.evaluate(adapter, layout: layout, extras: extras, executable: executable.evaluate, trainer: trainer, base: requestBase,
                                             directory: dir, arm: arm, round: round)
    }

    private static func evaluate(_ adapter: LoRAAdapter, layout: PEFTFile, extras: [PEFTExtra]? = nil, executable: String, trainer: ExternalTrainer, base: [String: JSONValue],
                                 directory: URL, arm: ArmContext?, round: Int) throws -> (accuracy: Double, loss: Double) {
        let call = TrainerCall(directory: directory)
        try call.prepare()
        defer { if !trainer.keepFiles { try? FileManager.default.removeItem(at: directory) } }
        try writeAdapter(adapter, to: call.adapter.path, layout: layout, extras: extras)
        var request = arm?.requestFields ?? ["arm": .null, "arm_index": .null, "codec": .null]
        request["kind"] = "evaluate"
        request["round"] = .number(Double(round))
        request["adapter"] = .string(call.adapter.path)
        request["result"] = .string(call.result.path)
        let what = arm.map { "its evaluation of arm '\($0.name)' after round \(round)" } ?? "its evaluation of the initial adapter"
        let outcome = try run(executable, trainer.evaluate, trainer, call: call, request: request, base: base)
        guard outcome.succeeded else { throw ExternalTrainerError("\(what) \(outcome.ending)\(call.messages)") }
        do {
            let metrics = try TrainerResult.evaluate(call.resultNode())
            func metric(_ name: String, _ role: String) throws -> Double {
                guard let v = metrics[name] else {
                    throw InputError(.invalidValue(expected: "the metric '\(name)' (workload.train.external.metrics.\(role))",
                                                   found: "only \(metrics.keys.sorted().joined(separator: ", "))"), at: "metrics", file: call.result.path)
                }
                return v
            }
            return (try metric(trainer.accuracyMetric, "accuracy"), try metric(trainer.lossMetric, "loss"))
        } catch {
            throw ExternalTrainerError("\(what) returned a bad result: \(error)")
        }
    }

    /// Writes the request and runs `executable` with `command`'s arguments and the request's path.
    private static func run(_ executable: String, _ command: [String], _ trainer: ExternalTrainer, call: TrainerCall,
                            request: [String: JSONValue], base: [String: JSONValue]) throws -> Subprocess.Outcome {
        var fields = base
        for (k, v) in request { fields[k] = v }
        do { try Data((JSONValue.object(fields).text(pretty: true) + "\n").utf8).write(to: call.request) } catch {
            throw OutputError(path: call.request.path, reason: InputFile.plain(error))
        }
        return try Subprocess.run(executable, Array(command.dropFirst()) + [call.request.path], in: trainer.directory,
                                  environment: ["FEDSIM_REQUEST": call.request.path],
                                  standardOutput: call.stdout.path, standardError: call.stderr.path, timeout: trainer.timeout)
    }

    /// The calls, failures and trainer time of one arm so far.
    public func statistics(arm index: Int) -> TrainerStatistics {
        lock.lock(); defer { lock.unlock() }
        return statistics[index] ?? TrainerStatistics()
    }
}

/// What a train call returned, checked (`ExternalWorkload.readUpdate`): the LoRA pairs and the
/// extras (the tensors that are not LoRA factors, in the initial adapter's order).
public struct ExternalUpdate: Sendable, Equatable {
    public var adapter: LoRAAdapter
    public var extras: [PEFTExtra]

    public init(adapter: LoRAAdapter, extras: [PEFTExtra]) {
        self.adapter = adapter
        self.extras = extras
    }
}

/// The calls of one arm's client trainings: how many, which failed and how, and the trainer's time.
public struct TrainerStatistics: Sendable, Equatable, Codable {
    public var calls = 0
    /// Failed calls by `TrainingFailure.Kind` raw value.
    public var failures: [String: Int] = [:]
    /// The first few failures' messages (exchange paths shown as `<exchange>`).
    public var examples: [String] = []
    /// Seconds the trainer reported (its own wall time; the measured one when it did not say) and
    /// measured wall-clock seconds of the calls: not in the outputs, which must not depend on the machine.
    public var reportedSeconds = 0.0
    public var wallSeconds = 0.0
    public var lossSum = 0.0, lossCount = 0
    /// Messages kept per arm.
    public static let exampleLimit = 3

    public init() {}

    public var failed: Int { failures.values.reduce(0, +) }

    public mutating func add(_ other: TrainerStatistics) {
        calls += other.calls
        for (k, v) in other.failures { failures[k, default: 0] += v }
        examples += other.examples.prefix(max(0, Self.exampleLimit - examples.count))
        reportedSeconds += other.reportedSeconds
        wallSeconds += other.wallSeconds
        lossSum += other.lossSum
        lossCount += other.lossCount
    }
}

/// The files of one call in the exchange directory.
struct TrainerCall {
    let directory: URL
    var request: URL { directory.appendingPathComponent("request.json") }
    var adapter: URL { directory.appendingPathComponent("adapter.safetensors") }
    var result: URL { directory.appendingPathComponent("result.json") }
    var stdout: URL { directory.appendingPathComponent("stdout.log") }
    var stderr: URL { directory.appendingPathComponent("stderr.log") }

    func prepare() throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw OutputError(path: directory.path, reason: InputFile.plain(error))
        }
    }

    /// The program's last messages, for an error.
    var messages: String {
        let err = Subprocess.tail(of: stderr.path)
        return err.isEmpty ? "" : "; its last messages: \(err)"
    }

    /// The result: the `result` file, or (when the trainer did not write one) its standard output.
    func resultNode() throws -> Node {
        let fm = FileManager.default
        let path = fm.fileExists(atPath: result.path) ? result.path : stdout.path
        let data = try InputFile.read(path, maxBytes: 16 << 20)
        guard !data.isEmpty else {
            throw InputError(.file(path: result.path, reason: "the trainer wrote no result (neither this file nor JSON on its standard output)"), at: "")
        }
        do {
            return Node(try JSONValue.parse(data, file: path))
        } catch let e as InputError {
            throw e.file == nil ? e.inFile(path) : e
        }
    }
}

/// A trainer's results, checked: the file and key path of anything wrong.
enum TrainerResult {
    struct Initialize {
        var samples: [Int]
        var flopsPerSample: Double?
    }
    struct Train {
        var samples: Int
        var loss: Double?
        var seconds: Double?
    }

    static func checkProtocol(_ node: Node) throws {
        if let p = node.member("protocol") {
            let text = try p.string()
            guard text == ExternalTrainer.protocolVersion else { throw p.invalid("\"\(ExternalTrainer.protocolVersion)\"") }
        }
    }

    static func initialize(_ node: Node, clients: Int) throws -> Initialize {
        guard case .object = node.value else { throw node.invalid("a JSON object") }
        try checkProtocol(node)
        let list = try node.required("samples").elements()
        guard (1...max(1, clients)).contains(list.count) else {
            throw InputError(.invalidValue(expected: "1 … \(clients) shard sizes (one per data shard)", found: "\(list.count)"), at: "samples")
        }
        let samples = try list.map { try $0.integer(0...1_000_000_000, "a number of samples in 0 … 10^9") }
        guard samples.contains(where: { $0 > 0 }) else { throw InputError(.invalidValue(expected: "at least one shard with samples", found: "only zeros"), at: "samples") }
        let flops = try node.member("flops_per_sample").map { try $0.number(1e-300...1e30, "training FLOPs per sample in (0, 1e30]") }
        return Initialize(samples: samples, flopsPerSample: flops)
    }

    static func train(_ node: Node) throws -> Train {
        guard case .object = node.value else { throw node.invalid("a JSON object") }
        try checkProtocol(node)
        return Train(samples: try node.required("samples").integer(0...1_000_000_000, "the number of samples used, 0 … 10^9"),
                     loss: try node.member("loss").map { try $0.number(-1e30...1e30, "a finite training loss") },
                     seconds: try node.member("seconds").map { try $0.number(0...1e9, "the trainer's own wall time in seconds, ≥ 0") })
    }

    static func evaluate(_ node: Node) throws -> [String: Double] {
        guard case .object = node.value else { throw node.invalid("a JSON object") }
        try checkProtocol(node)
        let m = try node.required("metrics")
        guard case let .object(values) = m.value else { throw m.invalid("an object of named metrics") }
        var out: [String: Double] = [:]
        for k in values.keys.sorted() {
            guard let v = m.member(k) else { continue }
            out[k] = try v.number(-1e300...1e300, "a finite number")
        }
        return out
    }
}
