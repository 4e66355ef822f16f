import LoRA
import Numerics

/// A problem turning a PEFT safetensors file into a `LoRAAdapter` (or a `PEFTFile`), or comparing two
/// adapters; names the file(s), the module or tensor, and what was expected.
public enum PEFTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file has no `lora_A` / `lora_B` weights at all (`tensorCount` other tensors).
    case noLoRATensors(file: String, tensorCount: Int)
    /// The module has one factor but not the other; `expectedKey` is a key that would supply it.
    case missingFactor(file: String, module: String, missing: LoRAMatrix, expectedKey: String)
    /// The module's factor is stored under more than one key (e.g. with and without `.default`).
    case duplicateFactor(file: String, module: String, matrix: LoRAMatrix, keys: [String])
    /// The tensor is not 2-D; `expected` names the dimensions it should have.
    case notMatrix(file: String, tensor: String, shape: [Int], expected: String)
    /// The tensor has a zero dimension (rank, d_in and d_out must all be at least 1).
    case emptyDimension(file: String, tensor: String, shape: [Int])
    /// The tensor's values do not fill its shape (only possible for a file built in memory).
    case valueCount(file: String, tensor: String, shape: [Int], count: Int)
    /// A has `rankA` rows but B has `rankB` columns.
    case rankMismatch(file: String, module: String, rankA: Int, rankB: Int)
    /// The module is in one adapter but not the other.
    case moduleMissing(module: String, presentIn: String, missingFrom: String)
    /// Both adapters have the same modules in a different order; `index` is the first difference.
    case moduleOrder(index: Int, beforeModule: String, afterModule: String, beforeFile: String, afterFile: String)
    /// The module's shapes differ between the two adapters.
    case shapeMismatch(module: String, beforeFile: String, before: LoRALayerShape, afterFile: String, after: LoRALayerShape)
    /// A LoRA factor stored in a dtype the codecs do not encode (e.g. F64, I8).
    case factorDType(file: String, tensor: String, dtype: String)
    /// A tensor that is not a LoRA factor (an extra) is in one file but not the other.
    case extraMissing(tensor: String, presentIn: String, missingFrom: String)
    /// An extra has another dtype or shape in the two files.
    case extraMismatch(tensor: String, beforeFile: String, before: String, afterFile: String, after: String)

    /// A readable one-line explanation.
    public var description: String {
        switch self {
        case let .noLoRATensors(file, count):
            return "\(file): no LoRA weights: expected keys ending in .lora_A.weight / .lora_B.weight, found \(count) other tensor(s)"
        case let .missingFactor(file, module, missing, key):
            return "\(file): module '\(module)': lora_\(missing) is missing; expected a tensor '\(key)'"
        case let .duplicateFactor(file, module, matrix, keys):
            return "\(file): module '\(module)': lora_\(matrix) appears under \(keys.count) keys (\(keys.joined(separator: ", "))); expected one"
        case let .notMatrix(file, tensor, shape, expected):
            return "\(file): tensor '\(tensor)': shape \(shape) is \(shape.count)-D; expected a 2-D \(expected)"
        case let .emptyDimension(file, tensor, shape):
            return "\(file): tensor '\(tensor)': shape \(shape) has a zero dimension; expected rank, d_in and d_out ≥ 1"
        case let .valueCount(file, tensor, shape, count):
            return "\(file): tensor '\(tensor)': shape \(shape) needs \(shape.reduce(1, *)) values, found \(count)"
        case let .rankMismatch(file, module, rankA, rankB):
            return "\(file): module '\(module)': lora_A has rank \(rankA) (rows) but lora_B has rank \(rankB) (columns); expected equal ranks"
        case let .moduleMissing(module, present, missing):
            return "module '\(module)' is in \(present) but not in \(missing); expected the same modules in both"
        case let .moduleOrder(index, before, after, beforeFile, afterFile):
            return "module \(index) is '\(before)' in \(beforeFile) but '\(after)' in \(afterFile); expected the same order"
        case let .shapeMismatch(module, beforeFile, before, afterFile, after):
            return "module '\(module)': \(Self.text(before)) in \(beforeFile) but \(Self.text(after)) in \(afterFile); expected equal shapes"
        case let .factorDType(file, tensor, dtype):
            return "\(file): tensor '\(tensor)': a LoRA factor of dtype \(dtype); expected F32, F16 or BF16 (the codecs encode LoRA factors as floats)"
        case let .extraMissing(tensor, present, missing):
            return "tensor '\(tensor)' (not a LoRA factor, sent dense) is in \(present) but not in \(missing); expected the same tensors in both"
        case let .extraMismatch(tensor, beforeFile, before, afterFile, after):
            return "tensor '\(tensor)' (not a LoRA factor, sent dense): \(before) in \(beforeFile) but \(after) in \(afterFile); expected the same dtype and shape"
        }
    }

    private static func text(_ s: LoRALayerShape) -> String { "r=\(s.rank), d_in=\(s.inFeatures), d_out=\(s.outFeatures)" }
}

/// How a module's factors are named in a PEFT file: `nn.Linear`-style LoRA (`<module>.lora_A.weight`) or
/// embedding LoRA (`<module>.lora_embedding_A`, a parameter without `.weight`). Both are [r, d_in] and
/// [d_out, r] with ΔW = B·A (for an embedding d_in = num_embeddings, d_out = embedding_dim, and PEFT adds
/// (B·A)ᵀ to the [num_embeddings, embedding_dim] weight), so both go through the codecs alike.
public enum PEFTFactorStyle: String, Sendable, Equatable {
    /// `<module>.lora_A.weight` / `<module>.lora_B.weight`.
    case linear
    /// `<module>.lora_embedding_A` / `<module>.lora_embedding_B`.
    case embedding

    /// The key PEFT's `get_peft_model_state_dict` gives the factor of `module`.
    public func key(module: String, matrix: LoRAMatrix) -> String {
        self == .linear ? "\(module).lora_\(matrix).weight" : "\(module).lora_embedding_\(matrix)"
    }
}

/// A tensor of a PEFT file that is not a LoRA factor (an "extra": a `modules_to_save` head, a bias, a
/// DoRA magnitude vector, a buffer, a saved embedding): kept as the file stores it, any dtype, and sent
/// dense at that dtype beside the codec's message (`ExtrasMessage`), counted in the bytes.
public struct PEFTExtra: Sendable, Equatable {
    /// What the name says the tensor is, for the report (a hint: PEFT saves a `modules_to_save` head
    /// under its module's own name, e.g. `classifier.weight`, which is `other`).
    public enum Kind: String, Sendable, CaseIterable {
        case doraMagnitude = "DoRA magnitude"
        case loraBias = "LoRA bias"
        case bias = "bias"
        case modulesToSave = "modules_to_save copy"
        case other = "other (heads, embeddings, buffers)"
    }

    /// The tensor's name in the file.
    public var name: String
    /// Its element type.
    public var dtype: SafeTensorsElementType
    /// Its dimensions.
    public var shape: [Int]
    /// Its elements, little-endian in `dtype`, as the file stores them.
    public var bytes: [UInt8]

    /// Creates an extra; `bytes.count` should be shape's product × dtype.byteCount.
    public init(name: String, dtype: SafeTensorsElementType, shape: [Int], bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// What the name says it is.
    public var kind: Kind { PEFTExtra.kind(of: name) }
    /// The number of elements.
    public var elementCount: Int { bytes.count / dtype.byteCount }
    /// "F32 [2, 16]": its dtype and shape, for messages.
    public var signature: String { "\(dtype.rawValue) \(shape)" }

    /// The kind of a tensor named `name`.
    public static func kind(of name: String) -> Kind {
        if name.hasSuffix("lora_magnitude_vector") || name.contains(".lora_magnitude_vector.") { return .doraMagnitude }
        if name.hasSuffix(".bias"), name.contains(".lora_B.") || name.contains(".lora_embedding_B.") { return .loraBias }
        if name.contains(".modules_to_save.") { return .modulesToSave }
        if name.hasSuffix(".bias") || name == "bias" { return .bias }
        return .other
    }
}

/// Everything in a PEFT adapter file: the LoRA pairs (which the codecs encode) and every other tensor
/// (extras, sent dense), so that no tensor of the file is dropped or left out of the bytes.
public struct PEFTFile: Sendable, Equatable {
    /// The LoRA pairs, modules in natural order.
    public var adapter: LoRAAdapter
    /// How each layer's factors are named (one per layer of `adapter`).
    public var styles: [PEFTFactorStyle]
    /// The tensors that are not LoRA factors, in natural order of their names.
    public var extras: [PEFTExtra]
    /// The file's `__metadata__`.
    public var metadata: [String: String]

    /// Creates a file's contents; `styles` defaults to `.linear` for every layer.
    public init(adapter: LoRAAdapter, styles: [PEFTFactorStyle]? = nil, extras: [PEFTExtra] = [], metadata: [String: String] = ["format": "pt"]) {
        self.adapter = adapter
        self.styles = styles ?? Array(repeating: .linear, count: adapter.layers.count)
        self.extras = extras
        self.metadata = metadata
    }

    /// Reads `file` (`fileName` names it in errors): LoRA pairs as `PEFTAdapter.loraAdapter` does, every other tensor an extra.
    public init(from file: SafeTensorsFile, fileName: String) throws(PEFTError) {
        let (adapter, styles) = try PEFTAdapter.pairs(from: file, fileName: fileName)
        var extras: [PEFTExtra] = []
        for name in PEFTAdapter.ignoredTensorNames(in: file) {
            if let t = file.raw[name] {
                extras.append(PEFTExtra(name: name, dtype: t.dtype, shape: t.shape, bytes: t.bytes))
            } else if let t = file.tensors[name] {
                var bytes: [UInt8] = []
                SafeTensorsFile.encode(t, into: &bytes)
                extras.append(PEFTExtra(name: name, dtype: SafeTensorsElementType(t.dtype), shape: t.shape, bytes: bytes))
            }
        }
        self.init(adapter: adapter, styles: styles, extras: extras, metadata: file.metadata)
    }

    /// Reads the PEFT safetensors file at `path` (throws `SafeTensorsError` or `PEFTError`).
    public static func read(contentsOf path: String) throws -> PEFTFile {
        try PEFTFile(from: SafeTensorsFile.read(contentsOf: path), fileName: path)
    }

    /// The bytes of the extras' elements (what sending them dense costs before framing).
    public var extraBytes: Int { extras.reduce(0) { $0 + $1.bytes.count } }

    /// The safetensors file: the factors as `dtype` under PEFT's names for their style, the extras as they were.
    public func safetensors(dtype: SafeTensorsDType) -> SafeTensorsFile {
        var file = SafeTensorsFile(metadata: metadata)
        for (layer, style) in zip(adapter.layers, styles) {
            for matrix in LoRAMatrix.allCases {
                let m = layer[matrix]
                file.tensors[style.key(module: layer.shape.name, matrix: matrix)] =
                    SafeTensorsFile.Tensor(dtype: dtype, shape: [m.rows, m.cols], values: m.storage)
            }
        }
        for extra in extras { file.raw[extra.name] = SafeTensorsFile.RawTensor(dtype: extra.dtype, shape: extra.shape, bytes: extra.bytes) }
        return file
    }

    /// Checks that `after` has `before`'s modules (as `PEFTAdapter.compatible`) and exactly its extras, each with the same dtype and shape.
    public static func compatible(_ before: PEFTFile, _ after: PEFTFile, beforeName: String, afterName: String) throws(PEFTError) {
        try PEFTAdapter.compatible(before.adapter, after.adapter, beforeName: beforeName, afterName: afterName)
        let x = Dictionary(before.extras.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let y = Dictionary(after.extras.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if let e = before.extras.first(where: { y[$0.name] == nil }) { throw .extraMissing(tensor: e.name, presentIn: beforeName, missingFrom: afterName) }
        if let e = after.extras.first(where: { x[$0.name] == nil }) { throw .extraMissing(tensor: e.name, presentIn: afterName, missingFrom: beforeName) }
        for e in before.extras {
            let f = y[e.name]!
            guard e.dtype == f.dtype, e.shape == f.shape else {
                throw .extraMismatch(tensor: e.name, beforeFile: beforeName, before: e.signature, afterFile: afterName, after: f.signature)
            }
        }
    }
}

/// Conversion between PEFT's safetensors layout (`<module>.lora_A.weight` of shape [r, d_in],
/// `<module>.lora_B.weight` of shape [d_out, r], optionally with `.default` before `.weight`; embedding
/// LoRA as `<module>.lora_embedding_A` / `_B`, same shapes) and `LoRAAdapter`.
public enum PEFTAdapter {
    /// The key suffixes PEFT uses for each factor, plain first.
    static let suffixes: [(matrix: LoRAMatrix, suffix: String, style: PEFTFactorStyle)] = [
        (.a, ".lora_A.weight", .linear), (.a, ".lora_A.default.weight", .linear),
        (.b, ".lora_B.weight", .linear), (.b, ".lora_B.default.weight", .linear),
        (.a, ".lora_embedding_A", .embedding), (.a, ".lora_embedding_A.default", .embedding),
        (.b, ".lora_embedding_B", .embedding), (.b, ".lora_embedding_B.default", .embedding),
    ]

    /// The module name and factor of a LoRA weight key, or nil for any other tensor.
    public static func parseKey(_ key: String) -> (module: String, matrix: LoRAMatrix)? {
        parseKeyWithStyle(key).map { ($0.module, $0.matrix) }
    }

    static func parseKeyWithStyle(_ key: String) -> (module: String, matrix: LoRAMatrix, style: PEFTFactorStyle)? {
        for (matrix, suffix, style) in suffixes where key.hasSuffix(suffix) && key.count > suffix.count {
            return (String(key.dropLast(suffix.count)), matrix, style)
        }
        return nil
    }

    /// The names of tensors that are not LoRA factors (of any dtype), in natural order: `loraAdapter` ignores them, `PEFTFile` keeps them as extras.
    public static func ignoredTensorNames(in file: SafeTensorsFile) -> [String] {
        file.allNames.filter { parseKey($0) == nil }.sorted(by: naturalPrecedes)
    }

    /// Pairs every module's A and B into a `LoRAAdapter`, modules in natural order (layers.2 before layers.10);
    /// `fileName` identifies the file in errors. Other tensors are ignored (`PEFTFile` keeps them).
    public static func loraAdapter(from file: SafeTensorsFile, fileName: String) throws(PEFTError) -> LoRAAdapter {
        try pairs(from: file, fileName: fileName).adapter
    }

    /// The LoRA pairs of `file` and how each layer's factors are named.
    static func pairs(from file: SafeTensorsFile, fileName: String) throws(PEFTError) -> (adapter: LoRAAdapter, styles: [PEFTFactorStyle]) {
        var keys: [String: [LoRAMatrix: [String]]] = [:]
        var styles: [String: PEFTFactorStyle] = [:]
        for name in file.allNames {
            guard let (module, matrix, style) = parseKeyWithStyle(name) else { continue }
            if let raw = file.raw[name] { throw .factorDType(file: fileName, tensor: name, dtype: raw.dtype.rawValue) }
            keys[module, default: [:]][matrix, default: []].append(name)
            styles[module] = styles[module] ?? style
        }
        guard !keys.isEmpty else { throw .noLoRATensors(file: fileName, tensorCount: file.tensorCount) }

        var layers: [LoRALayer] = []
        var layerStyles: [PEFTFactorStyle] = []
        for module in keys.keys.sorted(by: naturalPrecedes) {
            let style = styles[module]!
            var factors: [LoRAMatrix: (key: String, tensor: SafeTensorsFile.Tensor)] = [:]
            for matrix in LoRAMatrix.allCases {
                let found = (keys[module]![matrix] ?? []).sorted()
                guard let key = found.first else {
                    throw .missingFactor(file: fileName, module: module, missing: matrix, expectedKey: style.key(module: module, matrix: matrix))
                }
                guard found.count == 1 else { throw .duplicateFactor(file: fileName, module: module, matrix: matrix, keys: found) }
                // Both factors named in one style: lora_A.weight with lora_embedding_B is no pair.
                guard parseKeyWithStyle(key)?.style == style else {
                    throw .missingFactor(file: fileName, module: module, missing: matrix, expectedKey: style.key(module: module, matrix: matrix))
                }
                let tensor = file.tensors[key]!
                let expected = matrix == .a ? "[r, d_in]" : "[d_out, r]"
                guard tensor.shape.count == 2 else {
                    throw .notMatrix(file: fileName, tensor: key, shape: tensor.shape, expected: expected)
                }
                guard tensor.shape.allSatisfy({ $0 >= 1 }) else {
                    throw .emptyDimension(file: fileName, tensor: key, shape: tensor.shape)
                }
                guard tensor.values.count == tensor.shape[0] * tensor.shape[1] else {
                    throw .valueCount(file: fileName, tensor: key, shape: tensor.shape, count: tensor.values.count)
                }
                factors[matrix] = (key, tensor)
            }
            let (a, b) = (factors[.a]!.tensor, factors[.b]!.tensor)
            guard a.shape[0] == b.shape[1] else {
                throw .rankMismatch(file: fileName, module: module, rankA: a.shape[0], rankB: b.shape[1])
            }
            let shape = LoRALayerShape(name: module, inFeatures: a.shape[1], outFeatures: b.shape[0], rank: a.shape[0])
            layers.append(LoRALayer(shape: shape,
                                    a: Matrix(rows: shape.rank, cols: shape.inFeatures, storage: a.values),
                                    b: Matrix(rows: shape.outFeatures, cols: shape.rank, storage: b.values)))
            layerStyles.append(style)
        }
        return (LoRAAdapter(layers: layers), layerStyles)
    }

    /// Reads the PEFT safetensors file at `path` as a `LoRAAdapter` (throws `SafeTensorsError` or `PEFTError`).
    public static func loraAdapter(contentsOf path: String) throws -> LoRAAdapter {
        try loraAdapter(from: SafeTensorsFile.read(contentsOf: path), fileName: path)
    }

    /// A safetensors file with PEFT keys `<module>.lora_A.weight` and `<module>.lora_B.weight`, stored as `dtype`;
    /// the default metadata `{"format": "pt"}` is what PEFT and transformers write and expect.
    public static func safetensors(from adapter: LoRAAdapter, dtype: SafeTensorsDType,
                                   metadata: [String: String] = ["format": "pt"]) -> SafeTensorsFile {
        var file = SafeTensorsFile(metadata: metadata)
        for layer in adapter.layers {
            for matrix in LoRAMatrix.allCases {
                let m = layer[matrix]
                file.tensors["\(layer.shape.name).lora_\(matrix).weight"] =
                    SafeTensorsFile.Tensor(dtype: dtype, shape: [m.rows, m.cols], values: m.storage)
            }
        }
        return file
    }

    /// Checks that `after` has the same modules as `before`, in the same order, with the same shapes.
    public static func compatible(_ before: LoRAAdapter, _ after: LoRAAdapter,
                                  beforeName: String, afterName: String) throws(PEFTError) {
        let (x, y) = (before.shapes, after.shapes)
        let namesX = Set(x.map(\.name)), namesY = Set(y.map(\.name))
        if let name = x.map(\.name).first(where: { !namesY.contains($0) }) {
            throw .moduleMissing(module: name, presentIn: beforeName, missingFrom: afterName)
        }
        if let name = y.map(\.name).first(where: { !namesX.contains($0) }) {
            throw .moduleMissing(module: name, presentIn: afterName, missingFrom: beforeName)
        }
        for (index, (s, t)) in zip(x, y).enumerated() {
            guard s.name == t.name else {
                throw .moduleOrder(index: index, beforeModule: s.name, afterModule: t.name, beforeFile: beforeName, afterFile: afterName)
            }
            guard s == t else { throw .shapeMismatch(module: s.name, beforeFile: beforeName, before: s, afterFile: afterName, after: t) }
        }
        guard x.count == y.count else {
            // Same sets of names but different lengths: one adapter lists a module twice.
            let index = min(x.count, y.count)
            throw .moduleOrder(index: index, beforeModule: index < x.count ? x[index].name : "(end)",
                               afterModule: index < y.count ? y[index].name : "(end)", beforeFile: beforeName, afterFile: afterName)
        }
    }

    /// Natural order: runs of digits compare by numeric value (layers.2 < layers.10), everything else by UTF-8 byte;
    /// names equal in that order fall back to plain byte order, so the order is total.
    public static func naturalPrecedes(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        var i = 0, j = 0
        while i < x.count, j < y.count {
            guard isDigit(x[i]), isDigit(y[j]) else {
                if x[i] != y[j] { return x[i] < y[j] }
                i += 1; j += 1
                continue
            }
            var (endI, endJ) = (i, j)
            while endI < x.count, isDigit(x[endI]) { endI += 1 }
            while endJ < y.count, isDigit(y[endJ]) { endJ += 1 }
            while i < endI - 1, x[i] == 0x30 { i += 1 }   // skip leading zeros
            while j < endJ - 1, y[j] == 0x30 { j += 1 }
            if endI - i != endJ - j { return endI - i < endJ - j }
            if let k = (0..<(endI - i)).first(where: { x[i + $0] != y[j + $0] }) { return x[i + k] < y[j + k] }
            (i, j) = (endI, endJ)
        }
        if i < x.count || j < y.count { return j < y.count }
        return x.lexicographicallyPrecedes(y)
    }
}
