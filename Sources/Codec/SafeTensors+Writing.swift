import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension SafeTensorsFile {
    // MARK: Writing

    /// Writes the file at `path` atomically (a temporary file beside it, then rename), tensor by
    /// tensor from the values (no copy of the whole file in memory); errors name `path`.
    public func write(to path: String) throws(SafeTensorsError) {
        let (header, names, _) = try layout(name: path)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(file: path, reason: "cannot write: \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        // The first write error (errno), if any; later writes are skipped.
        var failure: Int32 = 0
        func put(_ buffer: UnsafeRawBufferPointer) {
            var at = 0
            while failure == 0, at < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress!.advanced(by: at), buffer.count - at)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { failure = n == 0 ? EIO : errno; return }
                at += n
            }
        }
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { put($0) }
        header.withUnsafeBytes { put($0) }
        var chunk: [UInt8] = []
        for tensorName in names where failure == 0 {
            guard let tensor = tensors[tensorName] else {
                raw[tensorName]!.bytes.withUnsafeBytes { put($0) }
                continue
            }
            if tensor.dtype == .f32, UInt32(1).littleEndian == 1 {
                tensor.values.withUnsafeBytes { put($0) }
            } else {
                chunk.removeAll(keepingCapacity: true)
                Self.encode(tensor, into: &chunk)
                chunk.withUnsafeBytes { put($0) }
            }
        }
        guard failure == 0 else { throw .io(file: path, reason: "cannot write: \(String(cString: strerror(failure)))") }
        guard rename(temporary, path) == 0 else { throw .io(file: path, reason: "cannot write: \(String(cString: strerror(errno)))") }
        ok = true
    }

    /// The file's bytes: tensors in sorted name order with consecutive offsets, header keys sorted, header padded with spaces to a multiple of 8.
    public func serialized(name: String = "<memory>") throws(SafeTensorsError) -> Data {
        let (headerBytes, names, size) = try layout(name: name)
        var out = Data(capacity: 8 + headerBytes.count + size)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        var chunk: [UInt8] = []
        for tensorName in names {
            guard let tensor = tensors[tensorName] else {
                out.append(contentsOf: raw[tensorName]!.bytes)
                continue
            }
            if tensor.dtype == .f32, UInt32(1).littleEndian == 1 {
                tensor.values.withUnsafeBytes { out.append(contentsOf: $0) }
            } else {
                chunk.removeAll(keepingCapacity: true)
                Self.encode(tensor, into: &chunk)
                out.append(contentsOf: chunk)
            }
        }
        return out
    }

    /// The header (padded with spaces to a multiple of 8), the tensors in data order (sorted
    /// names) and the data's size; every tensor checked.
    private func layout(name: String) throws(SafeTensorsError) -> (header: [UInt8], names: [String], dataSize: Int) {
        let names = allNames
        var header = "{"
        var entries: [(String, String)] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted(by: Self.byteOrder).map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0]!))" }
            entries.append(("__metadata__", "{" + pairs.joined(separator: ",") + "}"))
        }
        var offset = 0
        for tensorName in names {
            let dtype: String, shape: [Int], byteCount: Int
            if let tensor = tensors[tensorName] {
                guard raw[tensorName] == nil else {
                    throw .invalidTensor(file: name, tensor: tensorName, reason: "the name is both a decoded and a raw tensor; expected unique names")
                }
                try Self.check(tensor, name: tensorName, file: name)
                (dtype, shape, byteCount) = (tensor.dtype.rawValue, tensor.shape, tensor.values.count * tensor.dtype.byteCount)
            } else {
                let tensor = raw[tensorName]!
                try Self.check(tensor, name: tensorName, file: name)
                (dtype, shape, byteCount) = (tensor.dtype.rawValue, tensor.shape, tensor.bytes.count)
            }
            let end = offset + byteCount
            entries.append((tensorName, "{\"data_offsets\":[\(offset),\(end)],\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))]}"))
            offset = end
        }
        entries.sort { Self.byteOrder($0.0, $1.0) }
        header += entries.map { "\(Self.quoted($0.0)):\($0.1)" }.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)
        return (headerBytes, names, offset)
    }

    /// A tensor's values as little-endian bytes of its dtype, appended to `out`.
    static func encode(_ tensor: Tensor, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + tensor.values.count * tensor.dtype.byteCount)
        for x in tensor.values {
            switch tensor.dtype {
            case .f32: withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            case .f16: withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { out.append(contentsOf: $0) }
            case .bf16: withUnsafeBytes(of: ValueType.floatToBFloat16(x).littleEndian) { out.append(contentsOf: $0) }
            }
        }
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
        if !SafeTensorsFile.allFinite(tensor.values), let bad = tensor.values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(file: file, tensor: name, index: bad, value: Self.name(of: tensor.values[bad]))
        }
        if tensor.dtype != .f32, let bad = tensor.values.firstIndex(where: { !tensor.dtype.rounded($0).isFinite }) {
            throw .notRepresentable(file: file, tensor: name, index: bad, value: tensor.values[bad], dtype: tensor.dtype)
        }
    }

    /// Checks a raw tensor: a usable name and shape, bytes that fill it, finite values if floating-point.
    private static func check(_ tensor: RawTensor, name: String, file: String) throws(SafeTensorsError) {
        guard name != "__metadata__" else {
            throw .invalidTensor(file: file, tensor: name, reason: "the name is reserved for the header's metadata")
        }
        var count = tensor.dtype.byteCount
        for dim in tensor.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else {
                throw .invalidTensor(file: file, tensor: name, reason: "shape \(tensor.shape): expected non-negative dimensions")
            }
            count = product
        }
        guard tensor.bytes.count == count else {
            throw .invalidTensor(file: file, tensor: name,
                                 reason: "shape \(tensor.shape) of \(tensor.dtype) needs \(count) bytes, found \(tensor.bytes.count)")
        }
        try checkFinite(tensor.bytes, dtype: tensor.dtype, tensor: name, file: file)
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
