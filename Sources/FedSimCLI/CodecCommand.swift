import Codec
import Foundation
import LoRA
import Numerics

/// `fedsim codec`: what each codec costs in bytes and error, on real PEFT adapters or on a catalogue model.
struct CodecCommand: Command {
    static let name = "codec"
    static let abstract = "Bytes and reconstruction error of each codec on real adapters, or payloads of a catalogue model."
    static let options: [OptionSpec] = [
        OptionSpec("codec", "<name|all>", "One codec or all (default all): \(CodecRegistry.names.joined(separator: ", "))."),
        OptionSpec("sparsity", "<α>", "Target upload sparsity, 0 ≤ α < 1 (default 0.9)."),
        OptionSpec("download-sparsity", "<α>", "Target broadcast sparsity (default: --sparsity)."),
        OptionSpec("values", "<f32|f16|bf16>", "Value type on the wire (default f32)."),
        OptionSpec("iterations", "<J>", "FedSRD decomposition alternations (default 2)."),
        OptionSpec("allocation", "<fixed|kurtosis|threshold>", "How each message's kept entries are shared among its matrices (default \(CodecOptions().allocation.rawValue))."),
        OptionSpec("fixed", nil, "Fixed sparsity ρ = α (--allocation fixed)."),
        OptionSpec("download-rule", "<per-layer|cross-layer>", "Which matrices the download's sparsity rule compares (default \(CodecOptions().downloadScope.rawValue))."),
        OptionSpec("budget", "<exact|mean>", "What the kurtosis rule holds fixed: each kind's kept count (exact) or the mean ρ (mean, the paper's); default \(CodecOptions().budget.rawValue)."),
        OptionSpec("weights", "<w1,w2,…>", "Aggregation weights, one per AFTER file (default equal)."),
        OptionSpec("layers", nil, "Also print a per-layer table."),
        OptionSpec("catalog", "<model>", "Price a catalogue model: \(ModelCatalog.names.joined(separator: ", "))."),
        OptionSpec("rank", "<r>", "LoRA rank (with --catalog)."),
        OptionSpec("targets", "<list>", "LoRA targets, comma-separated (with --catalog), e.g. q,v or q,k,v,o."),
        OptionSpec("json", nil, "One JSON object instead of tables."),
    ]

    static let help = """
    Run every codec (or one) on real LoRA adapters saved by PEFT: BEFORE is the global adapter, each
    AFTER a client's adapter after local training. Prints upload bytes per client, download bytes,
    the ratio to uncompressed LoRA, the relative error of each client's ΔW and the share of its
    energy the upload kept, the aggregate's error with the cosine and norm ratio of the applied
    update against exact FedAvg, the updates' median kurtosis, the decomposition residual and the
    time taken. Tensors that are not LoRA factors (modules_to_save heads, biases, DoRA magnitudes,
    buffers, of any dtype) are sent dense at their own dtype beside each message and counted in
    every codec's bytes (docs/FEDSRD.md, whole adapters); a warning lists them. Two checkpoints of your own adapter (BEFORE, AFTER) place your model on the
    compressibility map of docs/LEARNING.md. With --catalog, prints the exact payload sizes of
    a catalogue model's LoRA adapter instead (no files needed).

    USAGE:
      fedsim codec <before.safetensors> <after.safetensors> [<after2> …] [options]
      fedsim codec --catalog <model> --rank <r> --targets <q,k,v,o> [options]

    \(options.helpText)

    EXAMPLES:
      fedsim codec round3.safetensors client1.safetensors client2.safetensors --codec all --sparsity 0.9
      fedsim codec --catalog llama-2-7b --rank 16 --targets q,k,v,o --values bf16
    """

    let files: [String]
    let codecNames: [String]
    let options: CodecOptions
    let weights: [Double]?
    let layers: Bool
    let json: Bool
    let catalog: (model: String, rank: Int, targets: [String])?

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        var options = CodecOptions()
        options.sparsity = try Self.fraction(parsed.value("sparsity"), "sparsity") ?? 0.9
        options.downloadSparsity = try Self.fraction(parsed.value("download-sparsity"), "download-sparsity")
        if let allocation = parsed.value("allocation") {
            guard let a = SparsityAllocation(rawValue: allocation) else { throw UsageError("--allocation expects fixed, kurtosis or threshold, found '\(allocation)'") }
            guard !parsed.flag("fixed") || a == .fixed else { throw UsageError("--fixed contradicts --allocation \(allocation)") }
            options.allocation = a
        } else if parsed.flag("fixed") {
            options.allocation = .fixed
        }
        options.iterations = try parsed.integer("iterations", default: 2, in: 1...100)
        if let rule = parsed.value("download-rule") {
            guard let scope = RuleScope(rawValue: rule) else { throw UsageError("--download-rule expects per-layer or cross-layer, found '\(rule)'") }
            options.downloadScope = scope
        }
        if let budget = parsed.value("budget") {
            guard let b = SparsityBudget(rawValue: budget) else { throw UsageError("--budget expects exact or mean, found '\(budget)'") }
            options.budget = b
        }
        if let values = parsed.value("values") {
            guard let type = ValueType(rawValue: values) else { throw UsageError("--values expects f32, f16 or bf16, found '\(values)'") }
            options.valueType = type
        }
        options.reportResidual = true
        self.options = options
        let codec = parsed.value("codec") ?? "all"
        if codec == "all" {
            codecNames = CodecRegistry.names
        } else {
            guard CodecRegistry.names.contains(codec) else {
                let hint = Suggestion.nearest(to: codec, in: CodecRegistry.names).map { " (did you mean '\($0)'?)" } ?? ""
                throw UsageError("--codec: unknown codec '\(codec)'\(hint); valid: all, \(CodecRegistry.names.joined(separator: ", "))")
            }
            codecNames = [codec]
        }
        layers = parsed.flag("layers")
        json = parsed.flag("json")
        files = parsed.positional
        if let model = parsed.value("catalog") {
            guard files.isEmpty else { throw UsageError("--catalog takes no adapter files") }
            guard let rankText = parsed.value("rank"), let rank = Int(rankText) else { throw UsageError("--catalog needs --rank <r> (an integer)") }
            guard let targets = parsed.value("targets") else { throw UsageError("--catalog needs --targets, e.g. q,v") }
            catalog = (model, rank, targets.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
            weights = nil
        } else {
            catalog = nil
            guard files.count >= 2 else { throw UsageError("expected a BEFORE adapter and at least one AFTER adapter (or --catalog)") }
            if let text = parsed.value("weights") {
                let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard values.count == files.count - 1, values.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
                    throw UsageError("--weights expects \(files.count - 1) positive numbers (one per AFTER file), found '\(text)'")
                }
                weights = values.map { $0! }
            } else {
                weights = nil
            }
        }
    }

    static func fraction(_ text: String?, _ name: String) throws -> Double? {
        guard let text else { return nil }
        guard let value = Double(text), value >= 0, value < 1 else { throw UsageError("--\(name) expects a number in [0, 1), found '\(text)'") }
        return value
    }

    func run(console: Console) throws -> Int32 {
        if let catalog { return try runCatalog(catalog, console: console) }
        let beforeFile = try Self.load(files[0])
        let before = beforeFile.adapter
        var afters: [LoRAAdapter] = []
        for file in files.dropFirst() {
            let after = try Self.load(file)
            do { try PEFTFile.compatible(beforeFile, after, beforeName: files[0], afterName: file) } catch {
                throw InputError(.file(path: file, reason: "\(error)"), at: "")
            }
            afters.append(after.adapter)
        }
        // Extras go dense, both ways, in one ExtrasMessage beside each codec message.
        let extras = beforeFile.extras, extrasMessage = ExtrasMessage.size(of: extras)
        if !extras.isEmpty { console.error(Self.extrasWarning(extras, file: files[0])) }
        let w = weights ?? [Double](repeating: 1, count: afters.count)
        var reports: [CodecEvaluation] = []
        for (i, name) in codecNames.enumerated() {
            if console.stderrIsTerminal { console.error("[\(i + 1)/\(codecNames.count)] \(name)…") }
            // Single-threaded BLAS, as `fedsim run` trains: the products here are thin (d × a few r),
            // and OpenBLAS's waiting threads would take the second core from the main thread.
            let codec = try CodecRegistry.make(name, options: options)
            var report = try BLASThreads.singleThreaded { try CodecEvaluation.evaluate(codec, before: before, afters: afters, weights: w) }
            report.uploadBytes = report.uploadBytes.map { $0 + extrasMessage }
            report.downloadBytes += extrasMessage
            reports.append(report)
        }
        var lora = LoRACodec(options: options).payloadBytes(shapes: before.shapes)
        lora.upload += extrasMessage
        lora.download += extrasMessage
        let loraTotal = Double(lora.upload + lora.download)
        func ratio(_ r: CodecEvaluation) -> Double {
            (Double(r.uploadBytes.reduce(0, +)) / Double(r.uploadBytes.count) + Double(r.downloadBytes)) / loraTotal
        }
        if json {
            let object = CodecJSON(adapter: .init(files: files, layers: before.layers.count, parameters: before.parameterCount,
                                                  extras: .init(extras, messageBytes: extrasMessage)),
                                   options: options, codecs: reports.map { CodecJSON.Entry($0, ratio: ratio($0), layers: layers) })
            console.print(try jsonText(object))
            return 0
        }
        console.print("adapter: \(before.layers.count) layers, \(before.parameterCount) parameters; \(afters.count) client(s); α = \(options.sparsity), values \(options.valueType.rawValue)")
        if !extras.isEmpty {
            console.print("LoRA pairs through the codec: \(before.layers.count) (\(2 * before.layers.count) tensors, \(before.parameterCount) parameters)")
            console.print("extras dense: \(extras.count) tensors, \(beforeFile.extraBytes) bytes (\(extrasMessage) bytes with framing, in every upload and download below)")
        }
        if let kurtosis = reports.first?.updateKurtosis {
            console.print("update kurtosis (median over the clients' ΔA, ΔB): \(Quantity.significant(kurtosis, 3)) (1.8 flat, 3 Gaussian, higher = more compressible)")
        }
        var table = TextTable(["codec", "upload/client", "download", "vs lora", "client ΔW err", "kept energy", "aggregate err", "cosine", "norm ratio", "residual", "seconds"])
        for r in reports {
            let meanUp = Double(r.uploadBytes.reduce(0, +)) / Double(r.uploadBytes.count)
            let meanError = r.clientRelativeErrors.reduce(0, +) / Double(r.clientRelativeErrors.count)
            let meanKept = r.clientKeptEnergy.reduce(0, +) / Double(r.clientKeptEnergy.count)
            table.add([r.codec, Quantity.humanReadable(meanUp, as: .bytes), Quantity.humanReadable(Double(r.downloadBytes), as: .bytes),
                       Quantity.formatFixed(ratio(r), decimals: 3) + "×", Quantity.significant(meanError, 3), Quantity.formatFixed(meanKept, decimals: 3),
                       Quantity.significant(r.aggregateRelativeError, 3), r.updateCosine.map { Quantity.formatFixed($0, decimals: 3) } ?? "–",
                       r.updateNormRatio.map { Quantity.formatFixed($0, decimals: 3) } ?? "–", r.residual.map { Quantity.significant($0, 3) } ?? "–",
                       Quantity.formatFixed(r.seconds, decimals: 3)])
        }
        console.print(table.rendered())
        console.print("kept energy: 1 − (client ΔW err)², the share of each client update's energy its upload kept; cosine and norm ratio: the applied update against exact FedAvg of the clients' updates (docs/LEARNING.md, placing your model)")
        if layers {
            for r in reports {
                console.print("\n\(r.codec): per layer")
                var t = TextTable(["layer", "shape", "rank", "kept up", "kept down", "aggregate err"])
                for l in r.layers {
                    t.add([l.name, "\(l.outFeatures)×\(l.inFeatures)", String(l.rank), Quantity.formatFixed(l.uploadKeptFraction, decimals: 3),
                           Quantity.formatFixed(l.downloadKeptFraction, decimals: 3), Quantity.significant(l.aggregateRelativeError, 3)])
                }
                console.print(t.rendered())
            }
        }
        return 0
    }

    private func runCatalog(_ catalog: (model: String, rank: Int, targets: [String]), console: Console) throws -> Int32 {
        let model = try ModelCatalog.named(catalog.model, keyPath: "--catalog")
        let shapes = try model.loraShapes(rank: catalog.rank, targets: catalog.targets, keyPath: "")
        let lora = LoRACodec(options: options).payloadBytes(shapes: shapes)
        let loraTotal = Double(lora.upload + lora.download)
        let rows = try codecNames.map { name -> CatalogJSON.Entry in
            let sizes = try CodecRegistry.make(name, options: options).payloadBytes(shapes: shapes)
            return CatalogJSON.Entry(name: name, uploadBytes: sizes.upload, downloadBytes: sizes.download,
                                     ratioToLora: Double(sizes.upload + sizes.download) / loraTotal)
        }
        let parameters = shapes.reduce(0) { $0 + $1.parameterCount }
        if json {
            console.print(try jsonText(CatalogJSON(model: model.name, rank: catalog.rank, targets: catalog.targets, layers: shapes.count,
                                                        loraParameters: parameters, options: options, codecs: rows)))
            return 0
        }
        console.print("\(model.displayName): LoRA r = \(catalog.rank) on \(catalog.targets.joined(separator: ",")): \(shapes.count) adapted layers, \(parameters) parameters")
        console.print("α = \(options.sparsity), values \(options.valueType.rawValue); nominal kept fraction 1 − α, sizes exact for that count")
        var table = TextTable(["codec", "upload MB", "download MB", "vs lora"])
        for r in rows {
            table.add([r.name, Quantity.formatFixed(Double(r.uploadBytes) / 1e6, decimals: 3), Quantity.formatFixed(Double(r.downloadBytes) / 1e6, decimals: 3),
                       Quantity.formatFixed(r.ratioToLora, decimals: 3) + "×"])
        }
        console.print(table.rendered())
        return 0
    }

    static func load(_ path: String) throws -> PEFTFile {
        do { return try PEFTFile.read(contentsOf: path) } catch let error as InputError { throw error } catch {
            throw InputError(.file(path: path, reason: "\(error)"), at: "")
        }
    }

    /// Names shown per kind in the warning before "… and N more".
    static let warningNames = 6

    /// The stderr warning listing the tensors of `file` that are not LoRA factors, by kind, long lists clipped.
    static func extrasWarning(_ extras: [PEFTExtra], file: String) -> String {
        var lines = ["warning: \(file): \(extras.count) tensor(s) are not LoRA factors; sent dense at their own dtype beside every message and counted in the bytes:"]
        for kind in PEFTExtra.Kind.allCases {
            let group = extras.filter { $0.kind == kind }
            guard !group.isEmpty else { continue }
            let bytes = group.reduce(0) { $0 + $1.bytes.count }
            var names = group.prefix(warningNames).map { "\($0.name) (\($0.signature))" }
            if group.count > warningNames { names.append("… and \(group.count - warningNames) more") }
            lines.append("  \(kind.rawValue): \(group.count) tensor(s), \(bytes) bytes: \(names.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }

}

/// The `--json` output for adapters.
struct CodecJSON: Encodable {
    struct Adapter: Encodable {
        let files: [String]; let layers: Int; let parameters: Int
        let extras: Extras?
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(files, forKey: .files)
            try c.encode(layers, forKey: .layers)
            try c.encode(parameters, forKey: .parameters)
            try c.encodeIfPresent(extras, forKey: .extras)
        }
        enum CodingKeys: String, CodingKey { case files, layers, parameters, extras }
    }
    /// The tensors sent dense (absent when there are none, so plain LoRA output is unchanged).
    struct Extras: Encodable {
        let tensors: Int
        let bytes: Int
        let message_bytes: Int
        let names: [String]
        init?(_ extras: [PEFTExtra], messageBytes: Int) {
            guard !extras.isEmpty else { return nil }
            tensors = extras.count
            bytes = extras.reduce(0) { $0 + $1.bytes.count }
            message_bytes = messageBytes
            names = extras.map(\.name)
        }
    }
    struct Entry: Encodable {
        let name: String
        let upload_bytes: [Int]
        let download_bytes: Int
        let ratio_to_lora: Double
        let client_rel_error: [Double]
        let client_kept_energy: [Double]
        let aggregate_rel_error: Double
        let update_cosine: Double?
        let update_norm_ratio: Double?
        let update_kurtosis: Double?
        let residual: Double?
        let guard_events: Int
        let seconds: Double
        let layers: [CodecEvaluation.LayerRow]?
        init(_ r: CodecEvaluation, ratio: Double, layers: Bool) {
            name = r.codec
            upload_bytes = r.uploadBytes
            download_bytes = r.downloadBytes
            ratio_to_lora = ratio
            client_rel_error = r.clientRelativeErrors
            client_kept_energy = r.clientKeptEnergy
            aggregate_rel_error = r.aggregateRelativeError
            update_cosine = r.updateCosine
            update_norm_ratio = r.updateNormRatio
            update_kurtosis = r.updateKurtosis
            residual = r.residual
            guard_events = r.guardEvents
            seconds = r.seconds
            self.layers = layers ? r.layers : nil
        }
    }
    let adapter: Adapter
    let options: CodecOptions
    let codecs: [Entry]
}

/// The `--json` output for `--catalog`.
struct CatalogJSON: Encodable {
    struct Entry: Encodable {
        let name: String
        let uploadBytes: Int
        let downloadBytes: Int
        let ratioToLora: Double
        enum CodingKeys: String, CodingKey { case name, uploadBytes = "upload_bytes", downloadBytes = "download_bytes", ratioToLora = "ratio_to_lora" }
    }
    let model: String
    let rank: Int
    let targets: [String]
    let layers: Int
    let loraParameters: Int
    let options: CodecOptions
    let codecs: [Entry]
    enum CodingKeys: String, CodingKey { case model, rank, targets, layers, loraParameters = "lora_parameters", options, codecs }
}

/// A plain-text table: the first column (and any in `left`) left-aligned, the others right-aligned.
struct TextTable {
    private var rows: [[String]]
    private let left: Set<Int>
    init(_ header: [String], left: Set<Int> = []) {
        rows = [header]
        self.left = left.union([0])
    }
    mutating func add(_ row: [String]) { rows.append(row) }
    func rendered() -> String {
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return left.contains(c) ? (c == row.count - 1 ? cell : cell + pad) : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
