import LoRA
import Numerics

/// A problem turning a PEFT safetensors file into a `LoRAAdapter`, or comparing two adapters; names the file(s),
/// the module or tensor, and what was expected.
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
        }
    }

    private static func text(_ s: LoRALayerShape) -> String { "r=\(s.rank), d_in=\(s.inFeatures), d_out=\(s.outFeatures)" }
}

/// Conversion between PEFT's safetensors layout (`<module>.lora_A.weight` of shape [r, d_in],
/// `<module>.lora_B.weight` of shape [d_out, r], optionally with `.default` before `.weight`) and `LoRAAdapter`.
public enum PEFTAdapter {
    /// The key suffixes PEFT uses for each factor, plain first.
    static let suffixes: [(matrix: LoRAMatrix, suffix: String)] = [
        (.a, ".lora_A.weight"), (.a, ".lora_A.default.weight"), (.b, ".lora_B.weight"), (.b, ".lora_B.default.weight"),
    ]

    /// The module name and factor of a LoRA weight key, or nil for any other tensor.
    public static func parseKey(_ key: String) -> (module: String, matrix: LoRAMatrix)? {
        for (matrix, suffix) in suffixes where key.hasSuffix(suffix) && key.count > suffix.count {
            return (String(key.dropLast(suffix.count)), matrix)
        }
        return nil
    }

    /// The names of tensors that are not LoRA factors (e.g. saved embeddings), in natural order; `loraAdapter` ignores them.
    public static func ignoredTensorNames(in file: SafeTensorsFile) -> [String] {
        file.tensors.keys.filter { parseKey($0) == nil }.sorted(by: naturalPrecedes)
    }

    /// Pairs every module's A and B into a `LoRAAdapter`, modules in natural order (layers.2 before layers.10);
    /// `fileName` identifies the file in errors.
    public static func loraAdapter(from file: SafeTensorsFile, fileName: String) throws(PEFTError) -> LoRAAdapter {
        var keys: [String: [LoRAMatrix: [String]]] = [:]
        for name in file.sortedNames {
            guard let (module, matrix) = parseKey(name) else { continue }
            keys[module, default: [:]][matrix, default: []].append(name)
        }
        guard !keys.isEmpty else { throw .noLoRATensors(file: fileName, tensorCount: file.tensors.count) }

        var layers: [LoRALayer] = []
        for module in keys.keys.sorted(by: naturalPrecedes) {
            var factors: [LoRAMatrix: (key: String, tensor: SafeTensorsFile.Tensor)] = [:]
            for matrix in LoRAMatrix.allCases {
                let found = (keys[module]![matrix] ?? []).sorted()
                guard let key = found.first else {
                    throw .missingFactor(file: fileName, module: module, missing: matrix, expectedKey: "\(module).lora_\(matrix).weight")
                }
                guard found.count == 1 else { throw .duplicateFactor(file: fileName, module: module, matrix: matrix, keys: found) }
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
        }
        return LoRAAdapter(layers: layers)
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
