import Foundation

extension SafeTensorsFile {
    // MARK: Writing

    /// Writes the file at `path` atomically (temporary file, then rename); errors name `path`.
    public func write(to path: String) throws(SafeTensorsError) {
        let data = try serialized(name: path)
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw .io(file: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// The file's bytes: tensors in sorted name order with consecutive offsets, header keys sorted, header padded with spaces to a multiple of 8.
    public func serialized(name: String = "<memory>") throws(SafeTensorsError) -> Data {
        let names = sortedNames
        var header = "{"
        var entries: [(String, String)] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted(by: Self.byteOrder).map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
            entries.append(("__metadata__", "{" + pairs.joined(separator: ",") + "}"))
        }
        var offset = 0
        for tensorName in names {
            let tensor = tensors[tensorName]!
            try Self.check(tensor, name: tensorName, file: name)
            let end = offset + tensor.values.count * tensor.dtype.byteCount
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append((tensorName, "{\"data_offsets\":[\(offset),\(end)],\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)]}"))
            offset = end
        }
        entries.sort { Self.byteOrder($0.0, $1.0) }
        header += entries.map { "\(Self.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)

        var out = Data(count: 8 + headerBytes.count + offset)
        out.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: UInt64(headerBytes.count).littleEndian, toByteOffset: 0, as: UInt64.self)
            raw.baseAddress!.advanced(by: 8).copyMemory(from: headerBytes, byteCount: headerBytes.count)
            var at = 8 + headerBytes.count
            for tensorName in names {
                let tensor = tensors[tensorName]!
                for x in tensor.values {
                    switch tensor.dtype {
                    case .f32: raw.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: at, as: UInt32.self)
                    case .f16: raw.storeBytes(of: Float16(x).bitPattern.littleEndian, toByteOffset: at, as: UInt16.self)
                    case .bf16: raw.storeBytes(of: ValueType.floatToBFloat16(x).littleEndian, toByteOffset: at, as: UInt16.self)
                    }
                    at += tensor.dtype.byteCount
                }
            }
        }
        return out
    }

    private static func check(_ tensor: Tensor, name: String, file: String) throws(SafeTensorsError) {
        guard name != "__metadata__" else {
            throw .invalidTensor(file: file, tensor: name, reason: "the name is reserved for the header's metadata")
        }
        var count = 1
        for dim in tensor.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else {
                throw .invalidTensor(file: file, tensor: name, reason: "shape \(tensor.shape): expected non-negative dimensions")
            }
            count = product
        }
        guard tensor.values.count == count else {
            throw .invalidTensor(file: file, tensor: name,
                                 reason: "shape \(tensor.shape) needs \(count) values, found \(tensor.values.count)")
        }
        if let bad = tensor.values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(file: file, tensor: name, index: bad, value: Self.name(of: tensor.values[bad]))
        }
        if tensor.dtype != .f32, let bad = tensor.values.firstIndex(where: { !tensor.dtype.rounded($0).isFinite }) {
            throw .notRepresentable(file: file, tensor: name, index: bad, value: tensor.values[bad], dtype: tensor.dtype)
        }
    }

    static func name(of nonFinite: Float) -> String {
        nonFinite.isNaN ? "NaN" : nonFinite > 0 ? "+infinity" : "-infinity"
    }

    /// `text` as a JSON string literal (non-ASCII kept as UTF-8, control characters escaped).
    private static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
