import Codec
import CZlib
import FedSimCLI
import Foundation
import Learning
import LoRA
import Numerics
import Reporting
import Scenario

/// One fuzz input: one or more named files.
struct FuzzCase: Sendable {
    var files: [(name: String, bytes: [UInt8])]

    init(_ files: [(name: String, bytes: [UInt8])]) { self.files = files }
    init(name: String, bytes: [UInt8]) { files = [(name, bytes)] }

    var primary: [UInt8] { files.first?.bytes ?? [] }
    var totalBytes: Int { files.reduce(0) { $0 + $1.bytes.count } }

    func bytes(_ name: String) -> [UInt8] { files.first { $0.name == name }?.bytes ?? [] }
    mutating func set(_ name: String, _ bytes: [UInt8]) {
        if let i = files.firstIndex(where: { $0.name == name }) { files[i].bytes = bytes } else { files.append((name, bytes)) }
    }

    /// Writes the files into `dir` (created, emptied of earlier inputs).
    func write(into dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files { try Data(f.bytes).write(to: URL(fileURLWithPath: dir + "/" + f.name)) }
    }
}

/// The largest file a mutation may produce (256 KiB).
let maxCaseBytes = 256 * 1024

/// Where a target runs: the repository (read only) and a private scratch folder.
struct FuzzEnvironment {
    var root: String
    var work: String
}

/// A fuzz target: a seed corpus, a way to mutate, and the code under test.
protocol FuzzTarget: AnyObject {
    var name: String { get }
    /// What it exercises, for `--list`.
    var summary: String { get }
    /// The seed corpus, the same on every call for the same repository.
    func corpus() throws -> [FuzzCase]
    /// One mutation of `input` (applied one to four times per case).
    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase])
    /// Runs the code under test on `input`; errors are expected, crashes and hangs are findings.
    func run(_ input: FuzzCase) throws
}

extension FuzzTarget {
    /// Case `index` of the seeded sequence: the corpus itself first, then mutants.
    func generate(_ index: Int, seed: UInt64, corpus: [FuzzCase]) -> FuzzCase {
        if index < corpus.count { return corpus[index] }
        var rng = FuzzRandom(seed: seed, target: name, index: UInt64(index))
        var input = rng.pick(corpus)
        for _ in 0..<rng.pick([1, 1, 1, 2, 2, 3, 4]) {
            var next = input
            mutate(&next, &rng, corpus: corpus)
            // Inputs stay below a size the code should read well within the time limit (like libFuzzer's -max_len).
            if next.files.allSatisfy({ $0.bytes.count <= maxCaseBytes }) { input = next }
        }
        return input
    }
}

func readBytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

func listFiles(_ dir: String, suffix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(suffix) }.sorted().map { dir + "/" + $0 }
}

/// Every string literal in JSON texts (keys and values): words of the format, for mutations.
func harvestStrings(_ texts: [[UInt8]], extra: [String]) -> [String] {
    var seen = Set<String>(), out: [String] = []
    for t in texts {
        for s in JSONScanner.spans(t) where s.kind == .string && s.end - s.start >= 2 && s.end - s.start < 60 {
            let word = String(decoding: t[(s.start + 1)..<(s.end - 1)], as: UTF8.self)
            if seen.insert(word).inserted { out.append(word) }
        }
    }
    for w in extra where seen.insert(w).inserted { out.append(w) }
    return out
}

/// Mutates one JSON file: mostly JSON-aware, sometimes raw bytes.
func mutateJSON(_ bytes: inout [UInt8], _ rng: inout FuzzRandom, others: [[UInt8]], dictionary: [String]) {
    if rng.chance(0.85) {
        JSONMutator.mutate(&bytes, &rng, others: others, dictionary: dictionary)
    } else {
        ByteMutator.mutate(&bytes, &rng, others: others)
    }
}

let formatWords = ["constant", "uniform", "normal", "lognormal", "gamma", "weibull", "pareto", "exponential", "empirical",
                   "mixture", "resample", "interpolate", "lora", "fedsrd", "fedsrd-e", "topk", "ffa-lora", "3g", "4g", "5g",
                   "fiber", "wifi", "starlink", "geo-satellite", "home-broadband", "web-mix", "tcp", "fluid", "f16", "bf16", "f32",
                   "Mbps", "MBps", "Mb", "MB", "kB", "KiB", "GB", "s", "ms", "h", "min", "d", "bit/s", "%", "seed", "arms", "arms.0.codec",
                   "network.profile", "stop.time", "selection.deadline", "x.y.z", "", "__proto__"]

// MARK: scenario

/// `JSONValue.parse` + `ScenarioParser.parse` on scenario files.
final class ScenarioTarget: FuzzTarget {
    let name = "scenario"
    let summary = "scenario files: JSONValue.parse + ScenarioParser.parse (module Scenario)"
    let env: FuzzEnvironment
    var dictionary: [String] = []
    var base: String { env.work + "/scenarios" }

    init(env: FuzzEnvironment) { self.env = env }

    /// Scenarios/*.json, the invalid-scenario fixtures, and the defaults-filled form of each valid scenario.
    static func scenarioCorpus(root: String) -> [FuzzCase] {
        var out: [FuzzCase] = []
        for path in listFiles(root + "/Scenarios", suffix: ".json") where !path.hasSuffix("schema.json") {
            guard let bytes = readBytes(path) else { continue }
            out.append(FuzzCase(name: "scenario.json", bytes: bytes))
            // A generated valid file: the scenario with every default filled in, as `fedsim validate` resolves it.
            if let value = try? JSONValue.parse(Data(bytes), file: path),
               let scenario = try? ScenarioParser.parse(value, baseDirectory: root + "/Scenarios") {
                out.append(FuzzCase(name: "scenario.json", bytes: Array(scenario.resolved.text(pretty: true).utf8)))
            }
        }
        for path in listFiles(root + "/Tests/Fixtures/invalid-scenarios", suffix: ".json") {
            if let bytes = readBytes(path) { out.append(FuzzCase(name: "scenario.json", bytes: bytes)) }
        }
        return out
    }

    /// The folder relative paths resolve against: copies of the repository's distributions and traces.
    static func mirror(root: String, into dir: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/traces", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/distributions", withIntermediateDirectories: true)
        for path in listFiles(root + "/Scenarios", suffix: ".json") {
            try? fm.copyItem(atPath: path, toPath: dir + "/" + (path as NSString).lastPathComponent)
        }
        for path in listFiles(root + "/Scenarios/distributions", suffix: ".json") {
            try? fm.copyItem(atPath: path, toPath: dir + "/distributions/" + (path as NSString).lastPathComponent)
        }
        for path in listFiles(root + "/Tests/Fixtures/invalid-scenarios/traces", suffix: ".csv") {
            try? fm.copyItem(atPath: path, toPath: dir + "/traces/" + (path as NSString).lastPathComponent)
        }
        try Data(TraceTarget.validCSV.utf8).write(to: URL(fileURLWithPath: dir + "/traces/valid.csv"))
    }

    func corpus() throws -> [FuzzCase] {
        let out = Self.scenarioCorpus(root: env.root)
        guard !out.isEmpty else { throw FuzzUsage("no scenario files under \(env.root)/Scenarios: is --root the repository?") }
        try Self.mirror(root: env.root, into: base)
        dictionary = harvestStrings(out.map(\.primary), extra: formatWords + ["traces/valid.csv", "traces/empty.csv", "distributions/web-mix-downlink.json"])
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        mutateJSON(&bytes, &rng, others: corpus.map(\.primary), dictionary: dictionary)
        input.set("scenario.json", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let value = try JSONValue.parse(Data(input.primary), file: "scenario.json")
        _ = try ScenarioParser.parse(value, baseDirectory: base)
    }
}

// MARK: sweep

/// Sweep files through the CLI: `fedsim sweep FILE --out DIR --dry-run` (or `fedsim validate FILE`
/// on scenario-shaped inputs while this build has no `--dry-run`).
final class SweepTarget: FuzzTarget {
    let name = "sweep"
    var summary: String {
        dryRun ? "sweep files through the CLI: fedsim sweep FILE --out DIR --dry-run (FedSimCLI, Scenario)"
            : "scenario files through the CLI: fedsim validate FILE (this build's sweep has no --dry-run yet)"
    }
    let env: FuzzEnvironment
    var dictionary: [String] = []
    /// Whether `fedsim sweep` has `--dry-run` (decided from its help text).
    let dryRun: Bool

    init(env: FuzzEnvironment) {
        self.env = env
        let captured = CapturedConsole()
        _ = FedSimMain.run(["sweep", "--help"], console: captured.console)
        dryRun = captured.out.contains("--dry-run")
    }

    var dir: String { env.work + "/sweep" }

    func corpus() throws -> [FuzzCase] {
        try ScenarioTarget.mirror(root: env.root, into: dir)
        var out: [FuzzCase] = []
        if dryRun {
            for path in listFiles(env.root + "/Scenarios/sweeps", suffix: ".json") {
                if let bytes = readBytes(path) { out.append(FuzzCase(name: "sweep.json", bytes: bytes)) }
            }
            // Generated sweeps: the axes of issue 9 (seed, arms with a codec path) on the default scenario.
            let generated = [
                #"{"base": "../default.json", "axes": {"seed": [1, 2], "arms.0.codec": ["lora", "topk"]}}"#,
                #"{"base": "../default.json", "set": {"stop.rounds": 3}, "axes": {"network.profile": ["3g", "fiber"]}}"#,
                #"{"base": "../web-mix-llama7b.json", "axes": {"arms.1.sparsity": [0.5, 0.9], "seed": [7]}}"#,
                #"{"description": "x", "base": "../default-3g.json", "axes": {"selection.deadline": ["1h", "2h"]}}"#,
            ]
            out += generated.map { FuzzCase(name: "sweep.json", bytes: Array($0.utf8)) }
        } else {
            out = ScenarioTarget.scenarioCorpus(root: env.root).map { FuzzCase(name: "sweep.json", bytes: $0.primary) }
        }
        dictionary = harvestStrings(out.map(\.primary), extra: formatWords + ["../default.json", "../no-such.json", "sweep.json", "/"])
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        mutateJSON(&bytes, &rng, others: corpus.map(\.primary), dictionary: dictionary)
        input.set("sweep.json", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let file = dir + "/sweeps/sweep.json"
        try FileManager.default.createDirectory(atPath: dir + "/sweeps", withIntermediateDirectories: true)
        try Data(input.primary).write(to: URL(fileURLWithPath: file))
        let captured = CapturedConsole()
        let arguments = dryRun ? ["sweep", file, "--out", dir + "/out", "--dry-run"] : ["validate", file]
        let status = FedSimMain.run(arguments, console: captured.console)
        if status != 0 { throw FuzzInternalError(status: status, message: String(captured.err.prefix(300))) }
    }
}

/// `fedsim` refused an input (status 2) or failed on it (status 1, "internal error").
struct FuzzInternalError: Error { var status: Int32; var message: String }

// MARK: safetensors + PEFT

/// `SafeTensorsFile.read(data:name:)` then `PEFTAdapter.loraAdapter(from:)` (module Codec).
final class SafeTensorsTarget: FuzzTarget {
    let name = "safetensors"
    let summary = "safetensors reader + PEFT adapter reader: SafeTensorsFile.read, PEFTAdapter.loraAdapter, compatible (module Codec)"
    let dictionary = ["F32", "F16", "BF16", "F64", "I64", "BOOL", "U8", "f32", "F8_E4M3", "", "dtype", "shape", "data_offsets",
                      "__metadata__", "format", "pt", "layers.0.q_proj.lora_A.weight", "layers.0.q_proj.lora_B.weight",
                      "layers.1.v_proj.lora_A.default.weight", "x.lora_A.weight", ".lora_B.weight", "lora_A"]
    var reference: LoRAAdapter?

    static func adapter(seed: UInt64) -> LoRAAdapter {
        let shapes = [LoRALayerShape(name: "layers.0.q_proj", inFeatures: 6, outFeatures: 5, rank: 2),
                      LoRALayerShape(name: "layers.2.v_proj", inFeatures: 4, outFeatures: 3, rank: 2),
                      LoRALayerShape(name: "layers.10.v_proj", inFeatures: 4, outFeatures: 3, rank: 2)]
        return LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(StreamKey(seed: seed, purpose: "fuzz-adapter")))
    }

    func corpus() throws -> [FuzzCase] {
        var adapter = Self.adapter(seed: 1)
        for l in adapter.layers.indices { adapter.layers[l].b = Matrix(rows: adapter.layers[l].b.rows, cols: adapter.layers[l].b.cols) { i, j in Float(i + 2 * j) * 0.01 - 0.02 } }
        reference = adapter
        var files: [SafeTensorsFile] = SafeTensorsDType.allCases.map { PEFTAdapter.safetensors(from: adapter, dtype: $0) }
        var withDefault = SafeTensorsFile(metadata: ["format": "pt", "note": "ß\u{1F600}"])
        for (k, v) in files[0].tensors { withDefault.tensors[k.replacingOccurrences(of: ".weight", with: ".default.weight")] = v }
        files.append(withDefault)
        var extra = files[1]
        extra.tensors["base_model.embed_tokens.weight"] = .init(dtype: .f32, shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        extra.tensors["scalar"] = .init(dtype: .bf16, shape: [], values: [0.5])
        extra.tensors["empty"] = .init(dtype: .f16, shape: [0, 4], values: [])
        files.append(extra)
        files.append(SafeTensorsFile(tensors: ["only.lora_A.weight": .init(dtype: .f32, shape: [1, 2], values: [1, 2])]))
        return try files.map { FuzzCase(name: "adapter.safetensors", bytes: [UInt8](try $0.serialized())) }
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        let headerLength = Binary.u64le(bytes, 0)
        let headerValid = bytes.count >= 8 && headerLength <= UInt64(bytes.count - 8)
        switch rng.below(10) {
        case 0...4 where headerValid:   // the header's JSON: offsets, shapes, dtypes, names; length fixed most times
            let end = 8 + Int(headerLength)
            var header = Array(bytes[8..<end])
            let others = corpus.map { c -> [UInt8] in
                let n = Binary.u64le(c.primary, 0)
                return c.primary.count >= 8 && n <= UInt64(c.primary.count - 8) ? Array(c.primary[8..<(8 + Int(n))]) : []
            }
            JSONMutator.mutate(&header, &rng, others: others, dictionary: dictionary)
            var out = [UInt8](repeating: 0, count: 8)
            Binary.putU64le(rng.chance(0.85) ? UInt64(header.count) : UInt64(header.count) &+ UInt64(rng.int(-8...8) & 0xFFFF), into: &out, at: 0)
            bytes = out + header + Array(bytes[end...])
        case 5 where bytes.count >= 8:   // the header length field
            let n = Binary.u64le(bytes, 0)
            let values: [UInt64] = [0, 1, 2, n &- 1, n &+ 1, UInt64(bytes.count), UInt64(bytes.count - 8), UInt64(bytes.count - 7),
                                    1 << 31, 1 << 32, 1 << 63, UInt64.max, UInt64.max - 7]
            Binary.putU64le(rng.pick(values), into: &bytes, at: 0)
        case 6 where headerValid && bytes.count > 8 + Int(headerLength):   // data bytes: NaN, infinity, subnormals
            let dataStart = 8 + Int(headerLength)
            let at = dataStart + rng.below(bytes.count - dataStart)
            let pattern: [UInt8] = rng.pick([[0x00, 0x00, 0xC0, 0x7F], [0x00, 0x00, 0x80, 0x7F], [0x00, 0x7C], [0x80, 0x7F], [0x01, 0, 0, 0]])
            for (k, b) in pattern.enumerated() where at + k < bytes.count { bytes[at + k] = b }
        default:
            ByteMutator.mutate(&bytes, &rng, others: corpus.map(\.primary))
        }
        input.set("adapter.safetensors", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let file = try SafeTensorsFile.read(data: Data(input.primary), name: "adapter.safetensors")
        _ = PEFTAdapter.ignoredTensorNames(in: file)
        _ = try file.serialized()
        let adapter = try PEFTAdapter.loraAdapter(from: file, fileName: "adapter.safetensors")
        if let reference { try PEFTAdapter.compatible(reference, adapter, beforeName: "reference", afterName: "adapter") }
        _ = PEFTAdapter.safetensors(from: adapter, dtype: .bf16)
    }
}

// MARK: wire

/// `WireMessage.decode` and every codec's `apply(broadcast:)` / `aggregate` on the bytes (module Codec).
final class WireTarget: FuzzTarget {
    let name = "wire"
    let summary = "wire decoder: WireMessage.decode, densify, each codec's apply(broadcast:) and aggregate (module Codec)"
    let shapes = [LoRALayerShape(name: "layers.0.q_proj", inFeatures: 24, outFeatures: 16, rank: 4),
                  LoRALayerShape(name: "layers.1.v_proj", inFeatures: 12, outFeatures: 20, rank: 2)]
    var global = LoRAAdapter(layers: [])
    var codecs: [any Codec] = []

    func corpus() throws -> [FuzzCase] {
        global = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(StreamKey(seed: 3, purpose: "fuzz-global")))
        for l in global.layers.indices {
            global.layers[l].b = Matrix(rows: global.layers[l].b.rows, cols: global.layers[l].b.cols) { i, j in Float((i * 7 + j * 3) % 11) * 0.01 - 0.05 }
        }
        var out: [[UInt8]] = []
        var configurations: [CodecOptions] = []
        for (sparsity, type) in [(0.9, ValueType.f32), (0.5, .f16), (0.99, .bf16)] {
            var o = CodecOptions()
            o.sparsity = sparsity
            o.valueType = type
            o.minSparseEntries = 8
            configurations.append(o)
        }
        codecs = try CodecRegistry.all.map { try CodecRegistry.make($0.name, options: configurations[0]) }
        for (n, type) in CodecRegistry.all.enumerated() {
            for (k, options) in configurations.enumerated() {
                let codec = try CodecRegistry.make(type.name, options: options)
                var updates: [WeightedUpdate] = []
                for client in 0..<2 {
                    let delta = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(StreamKey(seed: UInt64(10 * n + k), purpose: "fuzz-delta", index: UInt64(client))))
                    var state = ClientCodecState()
                    let update = try codec.encode(delta: delta, global: global, round: 1 + k, state: &state)
                    out.append(update.bytes)
                    updates.append(WeightedUpdate(bytes: update.bytes, weight: Double(client + 1)))
                }
                out.append(try codec.aggregate(updates, global: global, round: 1 + k).broadcast)
            }
        }
        // Messages built by hand: sparse tensors (bitmap, Elias–Fano), kinds full and delta, no tensors.
        let a0 = shapes[0].dimensions(.a), b1 = shapes[1].dimensions(.b)
        let sparse = WireTensor(layer: 0, matrix: .a, rows: a0.rows, cols: a0.cols, indices: [0, 5, 17, 95], values: [1, -2, 3.5, 0.25])
        let dense = WireTensor(layer: 1, matrix: .b, rows: b1.rows, cols: b1.cols, indices: nil, values: (0..<(b1.rows * b1.cols)).map { Float($0) * 0.1 })
        let wide = WireTensor(layer: 0, matrix: .a, rows: a0.rows, cols: a0.cols, indices: Array(stride(from: 0, to: 96, by: 3).map(UInt32.init)),
                              values: (0..<32).map { Float($0) })
        for (kind, tensors) in [(WireMessage.Kind.update, [sparse, dense]), (.full, [dense]), (.delta, [wide]), (.update, [])] {
            for type in ValueType.allCases {
                out.append(WireMessage(codecID: 0, kind: kind, round: 7, valueType: type, tensors: tensors).encoded())
            }
        }
        return out.map { FuzzCase(name: "message.fswf", bytes: $0) }
    }

    /// The offsets of a message's header fields (per tensor: layer, matrix, rows, cols, type, encoding, kept).
    func fields(_ b: [UInt8]) -> [(offset: Int, length: Int, varint: Bool)] {
        var out: [(Int, Int, Bool)] = [(4, 1, false), (5, 1, false), (6, 1, false), (7, 4, false)]
        guard let (count, n) = Binary.readVarint(b, 11) else { return out }
        out.append((11, n, true))
        var at = 11 + n
        for _ in 0..<min(count, 64) {
            guard let (_, l1) = Binary.readVarint(b, at) else { return out }
            out.append((at, l1, true)); at += l1
            out.append((at, 1, false)); at += 1
            guard let (rows, l2) = Binary.readVarint(b, at) else { return out }
            out.append((at, l2, true)); at += l2
            guard let (cols, l3) = Binary.readVarint(b, at) else { return out }
            out.append((at, l3, true)); at += l3
            guard at + 2 <= b.count else { return out }
            let width = b[at] == 0 ? 4 : 2
            out.append((at, 1, false)); at += 1
            let encoding = IndexEncoding(rawValue: b[at])
            out.append((at, 1, false)); at += 1
            guard let (kept, l4) = Binary.readVarint(b, at), let encoding, rows < 1 << 20, cols < 1 << 20, kept < 1 << 40 else { return out }
            out.append((at, l4, true)); at += l4
            at += encoding.indexBytes(length: Int(rows * cols), kept: Int(kept)) + Int(kept) * width
        }
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        let fields = fields(bytes)
        if rng.chance(0.6), let field = fields.isEmpty ? nil : rng.pick(fields), field.offset + field.length <= bytes.count {
            let old = field.varint ? Binary.readVarint(bytes, field.offset)?.0 ?? 0 : UInt64(bytes[field.offset])
            let choices: [UInt64] = [0, 1, 2, 3, 7, 8, 127, 128, 255, 256, 0xFFFF, 1 << 31, 1 << 32, 1 << 62, 1 << 63, UInt64.max, old &+ 1, old &- 1, old &* 2]
            let value = rng.pick(choices)
            let replacement: [UInt8]
            if field.varint { replacement = Binary.varint(value) } else if field.length == 4 {
                replacement = (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
            } else { replacement = [UInt8(truncatingIfNeeded: value)] }
            bytes.replaceSubrange(field.offset..<(field.offset + field.length), with: replacement)
        } else {
            ByteMutator.mutate(&bytes, &rng, others: corpus.map(\.primary))
        }
        // Most mutants get a valid CRC, so that the decoder gets past the checksum.
        if bytes.count >= 4, rng.chance(0.9) {
            let n = bytes.count - 4
            let crc = bytes.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: CZlib.crc32(0, $0.baseAddress, uInt(n))) }
            for k in 0..<4 { bytes[n + k] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * k)) }
        }
        input.set("message.fswf", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let bytes = input.primary
        var decodeError: (any Error)?
        do {
            let message = try WireMessage.decode(bytes, shapes: shapes)
            for t in message.tensors { _ = t.densified() }
            _ = message.encodedSize
        } catch { decodeError = error }
        // Every codec's readers (each rejects the other codecs' ids; accepted = the decoder accepted).
        for codec in codecs {
            _ = try? codec.apply(broadcast: bytes, to: global)
            _ = try? codec.aggregate([WeightedUpdate(bytes: bytes, weight: 1)], global: global, round: 2)
        }
        if let decodeError { throw decodeError }
    }
}

// MARK: IDX

/// `IDX.read` on plain and gzip files (module Learning).
final class IDXTarget: FuzzTarget {
    let name = "idx"
    let summary = "IDX reader on plain and gzip files: IDX.read (module Learning)"
    let env: FuzzEnvironment
    init(env: FuzzEnvironment) { self.env = env }
    var dir: String { env.work + "/idx" }

    static func idx(_ dims: [Int], fill: (Int) -> UInt8) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        let count = dims.reduce(1, *)
        out += (0..<count).map(fill)
        return out
    }

    /// gzip of `bytes` through zlib, via a file in `dir`.
    func gzip(_ bytes: [UInt8]) -> [UInt8] {
        let path = dir + "/compress.gz"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard let file = gzopen(path, "wb") else { return bytes }
        bytes.withUnsafeBytes { _ = gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        gzclose(file)
        return readBytes(path) ?? bytes
    }

    func corpus() throws -> [FuzzCase] {
        var out: [FuzzCase] = []
        for path in listFiles(env.root + "/Tests/Fixtures/corrupt-idx", suffix: ".gz") {
            if let bytes = readBytes(path) { out.append(FuzzCase(name: "data.idx.gz", bytes: bytes)) }
        }
        let plain = [Self.idx([50]) { UInt8($0 % 10) }, Self.idx([5, 4, 4]) { UInt8($0 * 37 % 256) },
                     Self.idx([3, 7]) { UInt8($0) }, Self.idx([2, 2, 2, 2]) { UInt8($0 * 9) }, Self.idx([0]) { _ in 0 }]
        for p in plain {
            out.append(FuzzCase(name: "data.idx", bytes: p))
            out.append(FuzzCase(name: "data.idx.gz", bytes: gzip(p)))
        }
        return out
    }

    /// Uncompressed bytes of a corpus file (the corpus' gzip ones are decompressed through a file).
    func plainBytes(_ c: FuzzCase) -> [UInt8] {
        guard c.files.first?.name.hasSuffix(".gz") == true else { return c.primary }
        let path = dir + "/inflate.gz"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard (try? Data(c.primary).write(to: URL(fileURLWithPath: path))) != nil, let f = gzopen(path, "rb") else { return c.primary }
        defer { gzclose(f) }
        var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(f, $0.baseAddress, UInt32($0.count)) }
            if n <= 0 { break }
            out += chunk[0..<Int(n)]
        }
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = plainBytes(input)
        switch rng.below(10) {
        case 0...3 where bytes.count >= 4:   // a dimension size
            let rank = min(Int(bytes[3]), max(0, (bytes.count - 4) / 4))
            if rank > 0 {
                let at = 4 + 4 * rng.below(rank)
                let value: UInt32 = rng.pick([0, 1, 2, 255, 256, 65535, 65536, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 24])
                for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * k)) }
            } else { bytes[3] = UInt8(rng.int(1...4)) }
        case 4 where bytes.count >= 4:   // the rank or type code
            if rng.chance(0.5) { bytes[3] = rng.pick([0, 1, 3, 4, 5, 16, 255]) } else { bytes[2] = rng.pick([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0, 0xFF]) }
        default:
            ByteMutator.mutate(&bytes, &rng, others: corpus.map { plainBytes($0) })
        }
        if rng.chance(0.5) {
            input = FuzzCase(name: "data.idx.gz", bytes: gzip(bytes))
            if rng.chance(0.1) { var z = input.primary; ByteMutator.mutate(&z, &rng, others: []); input = FuzzCase(name: "data.idx.gz", bytes: z) }
        } else {
            input = FuzzCase(name: "data.idx", bytes: bytes)
        }
    }

    func run(_ input: FuzzCase) throws {
        let name = input.files.first?.name.hasSuffix(".gz") == true ? "data.idx.gz" : "data.idx"
        let path = dir + "/case-" + name
        try Data(input.primary).write(to: URL(fileURLWithPath: path))
        _ = try IDX.read(path)
    }
}

// MARK: trace CSVs / empirical tables

/// A distribution with `"trace"` decoded from JSON (reads the CSV into an `EmpiricalTable`), then sampled (module Numerics).
final class TraceTarget: FuzzTarget {
    let name = "trace"
    let summary = "trace CSVs and distribution JSON: Distribution (Codable) with \"trace\" → EmpiricalTable.readColumn, sampler, quantiles (module Numerics)"
    let env: FuzzEnvironment
    init(env: FuzzEnvironment) { self.env = env }
    var dir: String { env.work + "/trace" }
    var dictionary: [String] = []

    static let validCSV = "time,rate_mbps,rtt\n0,12.5,0.05\n1,8.25,0.06\n2,30,0.04\n3,1.5,0.2\n4,95.75,0.03\n"

    func corpus() throws -> [FuzzCase] {
        var csvs: [[UInt8]] = [Array(Self.validCSV.utf8), Array("rate\n1\n2\n3\n".utf8),
                               Array("a, b ,c\r\n1,2,3\r\n\r\n4,5,6\r\n".utf8), Array("x\n1e-3\n2.5e2\n-0\n".utf8)]
        for path in listFiles(env.root + "/Tests/Fixtures/invalid-scenarios/traces", suffix: ".csv") { if let b = readBytes(path) { csvs.append(b) } }
        if let b = readBytes(env.root + "/Validation/ns3/grid.csv") { csvs.append(Array(b.prefix(2000))) }
        let specs = [
            #"{"dist": "empirical", "trace": {"file": "trace.csv", "column": "rate_mbps", "unit": "Mbps"}}"#,
            #"{"dist": "empirical", "trace": {"file": "trace.csv", "column": "1", "unit": "Mbps"}, "method": "interpolate"}"#,
            #"{"dist": "empirical", "trace": {"file": "trace.csv", "column": "rtt", "unit": "s"}, "method": "resample"}"#,
            #"{"dist": "mixture", "components": [{"weight": 0.5, "dist": "empirical", "trace": {"file": "trace.csv", "column": 0, "unit": "ms"}}, {"weight": 0.5, "dist": "constant", "value": "1s"}]}"#,
            #"{"dist": "empirical", "values": ["1Mbps", "2Mbps", 3e6], "weights": [1, 2, 3]}"#,
        ]
        var specsBytes = specs.map { Array($0.utf8) }
        if let b = readBytes(env.root + "/Scenarios/distributions/web-mix-downlink.json") { specsBytes.append(b) }
        var out: [FuzzCase] = []
        for (i, csv) in csvs.enumerated() { out.append(FuzzCase([("dist.json", specsBytes[i % specsBytes.count]), ("trace.csv", csv)])) }
        for (i, spec) in specsBytes.enumerated() { out.append(FuzzCase([("dist.json", spec), ("trace.csv", csvs[i % csvs.count])])) }
        dictionary = harvestStrings(specsBytes, extra: formatWords + ["trace.csv", "time", "rtt", "0", "-1", "99", "rate_mbps "])
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        if rng.chance(0.35) {
            var spec = input.bytes("dist.json")
            mutateJSON(&spec, &rng, others: corpus.map { $0.bytes("dist.json") }, dictionary: dictionary)
            input.set("dist.json", spec)
        } else {
            var csv = input.bytes("trace.csv")
            CSVMutator.mutate(&csv, &rng, others: corpus.map { $0.bytes("trace.csv") })
            input.set("trace.csv", csv)
        }
    }

    func run(_ input: FuzzCase) throws {
        try input.write(into: dir)
        let distribution = try Distribution.parse(Data(input.bytes("dist.json")), file: "dist.json", baseDirectory: dir)
        let sampler = DistributionSampler(distribution)
        _ = sampler.samples(64, RandomStream(StreamKey(seed: 1, purpose: "fuzz-trace")))
        for p in [0.0, 0.1, 0.5, 0.9, 1.0] { _ = distribution.quantile(p) }
        _ = distribution.cdf(distribution.quantile(0.5))
        _ = distribution.mean
        _ = distribution.support
    }
}

/// CSV-aware mutations: extreme cells, cells with commas, quotes or newlines, columns and rows removed or repeated.
enum CSVMutator {
    static let cells = ["", "NaN", "nan", "inf", "-inf", "1e308", "1e309", "-1", "0", "-0", "9223372036854775808", "18446744073709551616",
                        "1e-320", "x", "\"a,b\"", "\"", "a\"b", "12abc", "0x10", " 1 ", String(repeating: "9", count: 400),
                        String(repeating: "a", count: 5000), "null", "true", "-9223372036854775809", "4294967296"]

    static func mutate(_ data: inout [UInt8], _ rng: inout FuzzRandom, others: [[UInt8]]) {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        guard lines.count > 1, rng.chance(0.7) else { ByteMutator.mutate(&data, &rng, others: others); return }
        let row = rng.below(lines.count)
        var cellsOfRow = lines[row].split(separator: 0x2C, omittingEmptySubsequences: false).map(Array.init)
        switch rng.below(6) {
        case 0, 1:   // one cell
            let c = rng.below(max(1, cellsOfRow.count))
            if cellsOfRow.isEmpty { cellsOfRow = [[]] }
            cellsOfRow[c] = Array(rng.pick(cells).utf8)
            lines[row] = Array(cellsOfRow.joined(separator: [0x2C]))
        case 2:      // drop a column everywhere
            let c = rng.below(max(1, cellsOfRow.count))
            lines = lines.map { l in
                var cs = l.split(separator: 0x2C, omittingEmptySubsequences: false).map(Array.init)
                if c < cs.count { cs.remove(at: c) }
                return Array(cs.joined(separator: [0x2C]))
            }
        case 3:      // repeat a row many times
            let copies = min(rng.pick([2, 100, 5000]), max(1, maxCaseBytes / max(1, lines[row].count + 1) - lines.count))
            lines.insert(contentsOf: [[UInt8]](repeating: lines[row], count: copies), at: row)
        case 4:      // delete a row (maybe the header)
            lines.remove(at: row)
        default:     // an extra cell
            lines[row] += Array(("," + rng.pick(cells)).utf8)
        }
        data = Array(lines.joined(separator: [0x0A]))
    }
}

// MARK: report

/// `Report.rerender(directory:)` on a folder of mutated summary.json / rounds.csv / clients.csv (module Reporting).
final class ReportTarget: FuzzTarget {
    let name = "report"
    let summary = "fedsim report inputs: Report.rerender(directory:) on mutated summary.json / rounds.csv / clients.csv (module Reporting)"
    let env: FuzzEnvironment
    init(env: FuzzEnvironment) { self.env = env }
    var dir: String { env.work + "/report" }
    var dictionary: [String] = []

    /// The first `rounds` rounds of every arm (and their clients): small enough to render in well under a second.
    static func truncatedCSV(_ bytes: [UInt8], maxRound: Int) -> [UInt8] {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard let header = lines.first else { return bytes }
        let columns = header.split(separator: 0x2C, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard let roundColumn = columns.firstIndex(of: "round") else { return Array(bytes.prefix(20000)) }
        var out = Array(header)
        for line in lines.dropFirst() {
            let cells = line.split(separator: 0x2C, omittingEmptySubsequences: false)
            guard roundColumn < cells.count, let r = Int(String(decoding: cells[roundColumn], as: UTF8.self)), r <= maxRound else { continue }
            out.append(0x0A)
            out += line
        }
        out.append(0x0A)
        return out
    }

    func corpus() throws -> [FuzzCase] {
        var runs = [env.root + "/Reports/default", env.root + "/Reports/web-mix-llama7b"]
        // One point of each committed sweep.
        for sweep in listFiles(env.root + "/Reports/sweeps", suffix: "") {
            if let point = listFiles(sweep + "/points", suffix: "").first { runs.append(point) }
        }
        var out: [FuzzCase] = []
        for run in runs {
            guard let summary = readBytes(run + "/summary.json"), let rounds = readBytes(run + "/rounds.csv") else { continue }
            let clients = readBytes(run + "/clients.csv") ?? []
            var files: [(name: String, bytes: [UInt8])] = [("summary.json", summary), ("rounds.csv", Self.truncatedCSV(rounds, maxRound: 12)),
                                                          ("clients.csv", Self.truncatedCSV(clients, maxRound: 2))]
            // The marker that makes the folder fedsim's own (fedsim report re-renders only those), and the provenance.
            for extra in [".fedsim-output", "provenance.json"] {
                if let bytes = readBytes(run + "/" + extra) { files.append((extra, bytes)) }
            }
            out.append(FuzzCase(files))
        }
        guard !out.isEmpty else { throw FuzzUsage("no run folders under \(env.root)/Reports: is --root the repository?") }
        dictionary = harvestStrings(out.map { $0.bytes("summary.json") }, extra: formatWords)
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        let which = rng.pick(["summary.json", "summary.json", "rounds.csv", "clients.csv"] + (input.files.contains { $0.name == "provenance.json" } ? ["provenance.json"] : []))
        var bytes = input.bytes(which)
        let others = corpus.map { $0.bytes(which) }
        if which.hasSuffix(".json") { mutateJSON(&bytes, &rng, others: others, dictionary: dictionary) } else { CSVMutator.mutate(&bytes, &rng, others: others) }
        if rng.chance(0.03) { input.files.removeAll { $0.name == which } } else { input.set(which, bytes) }
    }

    func run(_ input: FuzzCase) throws {
        try? FileManager.default.removeItem(atPath: dir)
        try input.write(into: dir)
        _ = try Report.rerender(directory: dir)
    }
}

/// A usage error of fedsim-fuzz itself.
struct FuzzUsage: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}

/// Every target, by name, in the order they run.
func makeTargets(env: FuzzEnvironment) -> [any FuzzTarget] {
    [ScenarioTarget(env: env), SweepTarget(env: env), SafeTensorsTarget(), WireTarget(), IDXTarget(env: env),
     TraceTarget(env: env), ReportTarget(env: env)]
}
