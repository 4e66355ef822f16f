import Codec
import Federation
import Foundation
import Learning
import LoRA
import Numerics
import Scenario

// fedsim-train: the reference external trainer (docs/EXTERNAL-TRAINER.md). It answers the
// protocol's requests with a scenario's built-in workload (the MLP or the transformer LM), so an
// external run with it gives what the built-in path gives, with no Python. `--fail` injects the
// failures a real federation sees, to test how a run handles them.

let usage = """
    usage: fedsim-train --scenario SCENARIO.json [--fail KIND:CLIENT[:ROUND]]... [--cache DIR] [--extras] REQUEST.json

    Answers one request of fedsim's external-trainer protocol (docs/EXTERNAL-TRAINER.md) with the
    built-in workload of SCENARIO.json (workload.train: the MLP or the transformer LM).
      --fail KIND:CLIENT[:ROUND]  fail the train call of CLIENT (a number or *) in ROUND (default: every
                                  round) as KIND: exit, hang, nan, shape, extra, garbage, silent, no-samples,
                                  extras-nan (a NaN in an F32 extra), extras-dtype (an F32 extra returned as BF16)
      --cache DIR                 the pretrained bases' cache (default: fedsim's)
      --samples-factor F          report F × the shard's samples in train results (what compute is priced on)
      --extras                    give the adapter tensors that are not LoRA factors (extras: an F32 head, F16
                                  norm weights, a BF16 DoRA magnitude, an F64 bias, an I64 step counter, a BOOL
                                  mask); a train call returns each float extra plus (client + 1) / 8 + element / 64,
                                  the counter plus client + 1 and the mask [client odd, 1, 0]
    Exit status: 0 answered; 1 could not train; 2 bad usage or request; 3 an injected failure.
    """

struct Failure: Error, CustomStringConvertible {
    var description: String
    var status: Int32
}

struct Injection {
    enum Kind: String, CaseIterable {
        case exit, hang, nan, shape, extra, garbage, silent, noSamples = "no-samples", extrasNaN = "extras-nan", extrasDType = "extras-dtype"
    }
    var kind: Kind
    var client: Int?
    var round: Int?

    init(_ text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), let kind = Kind(rawValue: parts[0]) else {
            throw Failure(description: "--fail \(text): expected KIND:CLIENT[:ROUND] with KIND one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))", status: 2)
        }
        self.kind = kind
        if parts[1] == "*" { client = nil } else if let c = Int(parts[1]), c >= 0 { client = c } else {
            throw Failure(description: "--fail \(text): CLIENT must be a client number or *", status: 2)
        }
        if parts.count == 3 {
            guard let r = Int(parts[2]), r >= 1 else { throw Failure(description: "--fail \(text): ROUND must be a round number ≥ 1", status: 2) }
            round = r
        }
    }

    func applies(client c: Int, round r: Int) -> Bool { (client == nil || client == c) && (round == nil || round == r) }
}

/// The request's fields, checked.
struct Request {
    let node: Node
    let file: String
    var kind: String
    var seed: UInt64
    var clients: Int

    init(path: String) throws {
        let data = try InputFile.read(path, maxBytes: 1 << 20)
        node = Node(try JSONValue.parse(data, file: path))
        file = path
        do {
            _ = try node.object(allowed: ["protocol", "kind", "run_seed", "clients", "arm", "arm_index", "codec", "round", "client", "shard", "seed",
                                          "local_steps", "freeze_a", "adapter", "output", "result"])
            let p = try node.required("protocol")
            guard try p.string() == ExternalTrainer.protocolVersion else { throw p.invalid("\"\(ExternalTrainer.protocolVersion)\"") }
            kind = try node.required("kind").string()
            seed = try node.required("run_seed").seed()
            clients = try node.required("clients").integer(1...10_000_000, "a number of clients")
        } catch let e as InputError { throw e.inFile(path) }
    }

    func string(_ key: String) throws -> String {
        do { return try node.required(key).string() } catch let e as InputError { throw e.inFile(file) }
    }

    func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
        do { return try node.required(key).integer(range, "an integer in \(range.lowerBound)…\(range.upperBound)") } catch let e as InputError { throw e.inFile(file) }
    }

    func optionalInteger(_ key: String) throws -> Int? {
        do { return try node.member(key)?.integer(1...10_000_000, "a positive integer") } catch let e as InputError { throw e.inFile(file) }
    }

    func flag(_ key: String) throws -> Bool {
        do { return try node.member(key)?.bool() ?? false } catch let e as InputError { throw e.inFile(file) }
    }
}

/// `adapter` (read from `file`, modules in natural order) with its layers in the workload's
/// order `order`: the same modules with the same shapes, or an error naming the first difference.
func ordered(_ adapter: LoRAAdapter, like order: LoRAAdapter, file: String) throws -> LoRAAdapter {
    let byName = Dictionary(adapter.layers.map { ($0.shape.name, $0) }, uniquingKeysWith: { a, _ in a })
    guard byName.count == adapter.layers.count, adapter.layers.count == order.layers.count else {
        throw Failure(description: "\(file): \(adapter.layers.count) modules; the workload's adapter has \(order.layers.count)", status: 2)
    }
    return LoRAAdapter(layers: try order.layers.map { l in
        guard let found = byName[l.shape.name] else { throw Failure(description: "\(file): module '\(l.shape.name)' is missing", status: 2) }
        guard found.shape == l.shape else {
            throw Failure(description: "\(file): module '\(l.shape.name)' has r=\(found.shape.rank), d_in=\(found.shape.inFeatures), d_out=\(found.shape.outFeatures); the workload's has r=\(l.shape.rank), d_in=\(l.shape.inFeatures), d_out=\(l.shape.outFeatures)", status: 2)
        }
        return found
    })
}

func write(_ value: JSONValue, to path: String) throws {
    do { try Data((value.text(pretty: true) + "\n").utf8).write(to: URL(fileURLWithPath: path)) } catch {
        throw Failure(description: "cannot write \(path): \(InputFile.plain(error))", status: 1)
    }
}

/// A value the `nan` injection writes and then turns into a NaN in the file's bytes (the
/// safetensors writer refuses non-finite values, as a careful trainer's would not).
let nanSentinel: Float = 1.2345678e-33

/// The extras `--extras` gives the initial adapter (natural order of names).
let initialExtras: [PEFTExtra] = {
    func extra(_ name: String, _ dtype: SafeTensorsElementType, _ shape: [Int], _ values: [Double]) -> PEFTExtra {
        PEFTExtra(name: name, dtype: dtype, shape: shape, bytes: [UInt8](repeating: 0, count: values.count * dtype.byteCount)).replacingNumbers(values)
    }
    return [extra("base_model.model.head.bias", .f64, [2], [0, -0.5]),
            PEFTExtra(name: "base_model.model.mask", dtype: .bool, shape: [3], bytes: [1, 1, 0]),
            extra("base_model.model.mlp.0.lora_magnitude_vector", .bf16, [4], [1, 1, 0.5, 2]),
            PEFTExtra(name: "base_model.model.norm.num_batches_tracked", dtype: .i64, shape: [], bytes: [UInt8](repeating: 0, count: 8)),
            extra("base_model.model.norm.weight", .f16, [3], [1, 0.5, -0.25]),
            extra("base_model.model.score.weight", .f32, [2, 3], [0.5, -1, 0.25, 2, 0, 1.5])]
}()

/// Client `client`'s trained extras from the global ones: each float element plus (client + 1) / 8 +
/// element / 64 (exact in every float dtype for the values `initialExtras` starts from and a few
/// rounds), the step counter plus client + 1, the mask [client odd, 1, 0].
func trainedExtras(_ global: [PEFTExtra], client: Int) throws -> [PEFTExtra] {
    try global.map { e in
        if let values = e.numbers() {
            return e.replacingNumbers(values.enumerated().map { $1 + Double(client + 1) / 8 + Double($0) / 64 })
        }
        switch e.dtype {
        case .i64:
            guard e.bytes.count == 8 else { throw Failure(description: "\(e.name): expected one I64", status: 2) }
            let n = e.bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
            return PEFTExtra(name: e.name, dtype: e.dtype, shape: e.shape, bytes: withUnsafeBytes(of: (n + Int64(client + 1)).littleEndian) { Array($0) })
        case .bool: return PEFTExtra(name: e.name, dtype: e.dtype, shape: e.shape, bytes: [UInt8(client % 2), 1, 0].prefix(e.bytes.count) + [])
        default: return e
        }
    }
}

func writeAdapter(_ adapter: LoRAAdapter, to path: String, extras: [PEFTExtra] = [], extra: Bool = false, nan: Bool = false) throws {
    var file = PEFTAdapter.safetensors(from: adapter, dtype: .f32)
    for e in extras { file.raw[e.name] = SafeTensorsFile.RawTensor(dtype: e.dtype, shape: e.shape, bytes: e.bytes) }
    if extra { file.tensors["base_model.model.extra.weight"] = SafeTensorsFile.Tensor(dtype: .f32, shape: [1, 1], values: [0]) }
    do {
        var data = try file.serialized(name: path)
        if nan {
            let sentinel = withUnsafeBytes(of: nanSentinel.bitPattern.littleEndian) { Data($0) }
            let quiet = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { Data($0) }
            if let r = data.range(of: sentinel) { data.replaceSubrange(r, with: quiet) }
        }
        try data.write(to: URL(fileURLWithPath: path))
    } catch { throw Failure(description: "cannot write \(path): \(error)", status: 1) }
}

func main(_ arguments: [String]) throws {
    var scenarioPath: String?, requestPath: String?, cache: String? = Pretraining.defaultCacheDirectory
    var injections: [Injection] = []
    var samplesFactor = 1
    var withExtras = false
    var i = 0
    while i < arguments.count {
        let a = arguments[i]
        func value() throws -> String {
            i += 1
            guard i < arguments.count else { throw Failure(description: "\(a) needs a value\n\n" + usage, status: 2) }
            return arguments[i]
        }
        switch a {
        case "--scenario": scenarioPath = try value()
        case "--fail": injections.append(try Injection(try value()))
        case "--cache": cache = try value()
        case "--extras": withExtras = true
        case "--samples-factor":
            guard let f = Int(try value()), (1...1000).contains(f) else { throw Failure(description: "--samples-factor: expected an integer in 1…1000", status: 2) }
            samplesFactor = f
        case "--help", "-h":
            print(usage)
            return
        default:
            guard !a.hasPrefix("--"), requestPath == nil else { throw Failure(description: "unexpected argument '\(a)'\n\n" + usage, status: 2) }
            requestPath = a
        }
        i += 1
    }
    guard let scenarioPath, let requestPath else { throw Failure(description: usage, status: 2) }
    let request = try Request(path: requestPath)
    let scenario = try ScenarioParser.load(file: scenarioPath)
    guard var training = scenario.config.workload.training else {
        throw Failure(description: "\(scenarioPath): workload.train is missing; fedsim-train trains a built-in workload", status: 2)
    }
    if case .external = training.model {
        throw Failure(description: "\(scenarioPath): workload.train is itself external; fedsim-train trains a built-in workload (the MLP or the transformer)", status: 2)
    }
    let kind = request.kind
    let steps = try kind == "train" ? request.optionalInteger("local_steps") : nil
    if let steps {
        guard case var .transformer(x) = training.model else {
            throw Failure(description: "\(requestPath): local_steps: the MLP trains whole epochs (workload.train.local.epochs); send null", status: 2)
        }
        x.local.steps = steps
        training.model = .transformer(x)
    }
    let model = try training.makeModel(clients: request.clients, seed: request.seed, cacheDirectory: cache)
    let started = DispatchTime.now().uptimeNanoseconds
    switch kind {
    case "initialize":
        try writeAdapter(model.initial, to: try request.string("output"), extras: withExtras ? initialExtras : [])
        try write(["protocol": .string(ExternalTrainer.protocolVersion), "samples": .array(model.sampleCounts.map { .number(Double($0)) }),
                   "flops_per_sample": .number(model.flopsPerSample)], to: try request.string("result"))
    case "train":
        let round = try request.integer("round", 1...Int(Int32.max)), client = try request.integer("client", 0...(request.clients - 1))
        let shard = try request.integer("shard", 0...(request.clients - 1))
        let adapterPath = try request.string("adapter")
        let globalFile = try PEFTFile.read(contentsOf: adapterPath)
        let global = try ordered(globalFile.adapter, like: model.initial, file: adapterPath)
        var extras = try trainedExtras(globalFile.extras, client: client)
        let injected = injections.first { $0.applies(client: client, round: round) }
        if injected?.kind == .exit { throw Failure(description: "injected failure: client \(client), round \(round)", status: 3) }
        if injected?.kind == .hang { while true { sleep(60) } }
        let arm = ArmContext(index: try request.integer("arm_index", 0...1_000_000), name: try request.string("arm"), codec: try request.string("codec"))
        let outcome = try BLASThreads.singleThreaded {
            try model.train(clients: [shard], from: global, round: round, freezingA: try request.flag("freeze_a"), arm: arm) { _ in
                trainingStream(seed: request.seed, round: round, client: client)
            }
        }
        guard var trained = outcome.first?.adapter else { throw Failure(description: "training failed", status: 1) }
        switch injected?.kind {
        case .nan?: trained.layers[0].b.storage[0] = nanSentinel
        case .shape?:
            let s = trained.layers[0].shape
            let bigger = LoRALayerShape(name: s.name, inFeatures: s.inFeatures, outFeatures: s.outFeatures, rank: s.rank + 1)
            trained.layers[0] = LoRALayer.zeros(bigger)
        case .extrasNaN?:
            if let k = extras.firstIndex(where: { $0.dtype == .f32 }), var values = extras[k].numbers() {
                values[0] = Double(nanSentinel)
                extras[k] = extras[k].replacingNumbers(values)
            }
        case .extrasDType?:
            if let k = extras.firstIndex(where: { $0.dtype == .f32 }), let values = extras[k].numbers() {
                extras[k] = PEFTExtra(name: extras[k].name, dtype: .bf16, shape: extras[k].shape,
                                      bytes: [UInt8](repeating: 0, count: 2 * values.count)).replacingNumbers(values)
            }
        default: break
        }
        try writeAdapter(trained, to: try request.string("output"), extras: extras, extra: injected?.kind == .extra,
                         nan: injected?.kind == .nan || injected?.kind == .extrasNaN)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let resultPath = try request.string("result")
        switch injected?.kind {
        case .garbage?:
            do { try Data("{\"samples\": ".utf8).write(to: URL(fileURLWithPath: resultPath)) } catch { throw Failure(description: "\(error)", status: 1) }
        case .silent?: break
        case .noSamples?: try write(["protocol": .string(ExternalTrainer.protocolVersion), "seconds": .number(seconds)], to: resultPath)
        default:
            try write(["protocol": .string(ExternalTrainer.protocolVersion), "samples": .number(Double(samplesFactor * model.sampleCounts[shard])),
                       "seconds": .number(seconds)],
                      to: resultPath)
        }
    case "evaluate":
        let adapterPath = try request.string("adapter")
        let adapter = try ordered(try PEFTAdapter.loraAdapter(contentsOf: adapterPath), like: model.initial, file: adapterPath)
        let arm = ArmContext(index: 0, name: "", codec: "")
        let (accuracy, loss) = try BLASThreads.singleThreaded { try model.evaluate(adapter, arm: arm, round: 0) }
        try write(["protocol": .string(ExternalTrainer.protocolVersion), "metrics": ["accuracy": .number(accuracy), "loss": .number(loss)]],
                  to: try request.string("result"))
    default:
        throw Failure(description: "\(requestPath): kind: expected \"initialize\", \"train\" or \"evaluate\", found \"\(InputError.clipped(kind))\"", status: 2)
    }
}

if let failure = BLASKernel.startUp(program: "fedsim-train") {
    FileHandle.standardError.write(Data((failure + "\n").utf8))
    exit(1)
}
do {
    try main(Array(CommandLine.arguments.dropFirst()))
    exit(0)
} catch let f as Failure {
    FileHandle.standardError.write(Data("fedsim-train: \(f)\n".utf8))
    exit(f.status)
} catch let e as InputError {
    FileHandle.standardError.write(Data("fedsim-train: \(e)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("fedsim-train: \(error)\n".utf8))
    exit(1)
}
