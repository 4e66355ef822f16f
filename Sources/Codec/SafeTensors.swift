import Foundation

/// Element types that this codec reads and writes in safetensors files (decoded to, encoded from, `Float`).
public enum SafeTensorsDType: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var byteCount: Int { self == .f32 ? 4 : 2 }
    /// The dtype's name as written in the header.
    public var description: String { rawValue }

    /// The wire value type with the same encoding (F16/BF16 rounding is shared with it).
    public var valueType: ValueType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }

    /// `x` after a round trip through this dtype: F16 and BF16 round to nearest, ties to even.
    public func rounded(_ x: Float) -> Float { valueType.rounded(x) }

    /// Every dtype name the format defines; all but F32, F16 and BF16 are recognised only to be rejected.
    static let formatDTypes: Set<String> = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16",
                                            "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
}

/// A problem reading or writing a safetensors file, naming the file, the tensor and what was expected.
public enum SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read or written (`reason` is the system's explanation).
    case io(file: String, reason: String)
    /// The file is shorter than the 8-byte header length.
    case truncated(file: String, size: Int)
    /// The header length runs past the end of the file.
    case headerPastEnd(file: String, headerLength: UInt64, fileSize: Int)
    /// The header is not UTF-8 JSON describing an object (`reason` says where and why).
    case invalidHeader(file: String, reason: String)
    /// A tensor's entry lacks `field` (`dtype`, `shape` or `data_offsets`).
    case missingField(file: String, tensor: String, field: String)
    /// A field of a tensor's entry (or of `__metadata__`) has the wrong form.
    case invalidField(file: String, tensor: String, field: String, expected: String, found: String)
    /// The tensor's dtype is not F32, F16 or BF16.
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// The tensor's name occurs more than once in the header.
    case duplicateName(file: String, tensor: String)
    /// The tensor's data_offsets reach outside the data buffer of `dataSize` bytes.
    case offsetsOutOfRange(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// The tensor's data_offsets span `actualBytes`, not shape × element size = `expectedBytes`.
    case sizeMismatch(file: String, tensor: String, shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)
    /// The tensor overlaps the previous one or leaves a gap: it begins at `begin`, not at `expected`.
    case notContiguous(file: String, tensor: String, begin: Int, expected: Int)
    /// The tensors cover only `used` of the `dataSize` bytes after the header.
    case unusedData(file: String, used: Int, dataSize: Int)
    /// The tensor holds NaN or ±infinity; `index` is the first such element in row-major order.
    case nonFinite(file: String, tensor: String, index: Int, value: String)
    /// Writing: element `index` of the tensor is finite but overflows `dtype` (e.g. 70000 in F16).
    case notRepresentable(file: String, tensor: String, index: Int, value: Float, dtype: SafeTensorsDType)
    /// Writing: the tensor's name or shape is unusable, or its values do not fill its shape.
    case invalidTensor(file: String, tensor: String, reason: String)

    /// A readable one-line explanation.
    public var description: String {
        switch self {
        case let .io(file, reason):
            return "\(file): \(reason)"
        case let .truncated(file, size):
            return "\(file): truncated safetensors file: \(size) byte(s), expected at least 8 (the header length)"
        case let .headerPastEnd(file, length, size):
            return "\(file): header length \(length) runs past the end of the file: expected at most \(max(size - 8, 0)) "
                + "(file of \(size) bytes minus the 8-byte length)"
        case let .invalidHeader(file, reason):
            return "\(file): invalid safetensors header: \(reason)"
        case let .missingField(file, tensor, field):
            return "\(file): tensor '\(tensor)': missing \"\(field)\" (expected \"dtype\", \"shape\" and \"data_offsets\")"
        case let .invalidField(file, tensor, field, expected, found):
            return "\(file): tensor '\(tensor)': \"\(field)\": expected \(expected), found \(found)"
        case let .unsupportedDType(file, tensor, dtype):
            let known = SafeTensorsDType.formatDTypes.contains(dtype) ? "is not supported" : "is not a safetensors dtype"
            let supported = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(file): tensor '\(tensor)': dtype '\(dtype)' \(known); supported: \(supported)"
        case let .duplicateName(file, tensor):
            return "\(file): tensor '\(tensor)' appears more than once in the header; expected unique names"
        case let .offsetsOutOfRange(file, tensor, begin, end, size):
            return "\(file): tensor '\(tensor)': data_offsets [\(begin), \(end)] out of range: "
                + "expected 0 ≤ begin ≤ end ≤ \(size) (the data buffer's size)"
        case let .sizeMismatch(file, tensor, shape, dtype, expected, actual):
            return "\(file): tensor '\(tensor)': data_offsets span \(actual) bytes, expected \(expected) "
                + "for shape \(shape) of \(dtype)"
        case let .notContiguous(file, tensor, begin, expected):
            return "\(file): tensor '\(tensor)': data begins at byte \(begin), expected \(expected) "
                + "(tensors must not overlap or leave gaps)"
        case let .unusedData(file, used, size):
            return "\(file): tensors cover \(used) of the \(size) data bytes; expected the whole buffer"
        case let .nonFinite(file, tensor, index, value):
            return "\(file): tensor '\(tensor)': element \(index) is \(value); expected finite values"
        case let .notRepresentable(file, tensor, index, value, dtype):
            return "\(file): tensor '\(tensor)': element \(index) = \(value) overflows \(dtype); expected a finite \(dtype) value"
        case let .invalidTensor(file, tensor, reason):
            return "\(file): tensor '\(tensor)': \(reason)"
        }
    }
}

/// A safetensors file held in memory: named tensors decoded to `Float`, and string metadata.
public struct SafeTensorsFile: Sendable, Equatable {
    /// One tensor: its stored dtype, its shape and its values in row-major order.
    public struct Tensor: Sendable, Equatable {
        /// The dtype it was read as, or will be written as.
        public var dtype: SafeTensorsDType
        /// The dimensions; `[]` is a scalar.
        public var shape: [Int]
        /// The elements in row-major order; there are `shape`'s product of them.
        public var values: [Float]

        /// Creates a tensor; `values.count` should equal the product of `shape` (checked on writing).
        public init(dtype: SafeTensorsDType, shape: [Int], values: [Float]) {
            self.dtype = dtype
            self.shape = shape
            self.values = values
        }
    }

    /// The tensors by name.
    public var tensors: [String: Tensor]
    /// The header's `__metadata__` (empty when absent).
    public var metadata: [String: String]

    /// Creates a file from tensors and metadata.
    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor names in the order they are written: sorted by their UTF-8 bytes.
    public var sortedNames: [String] { tensors.keys.sorted(by: Self.byteOrder) }

    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    // MARK: Reading

    /// Reads and validates the safetensors file at `path` (errors name `path`).
    public static func read(contentsOf path: String) throws(SafeTensorsError) -> SafeTensorsFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw .io(file: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try read(data: data, name: path)
    }

    /// Decodes and validates safetensors bytes; `name` identifies them in errors.
    public static func read(data: Data, name: String) throws(SafeTensorsError) -> SafeTensorsFile {
        let result: Result<SafeTensorsFile, SafeTensorsError> = data.withUnsafeBytes { raw in
            do throws(SafeTensorsError) { return .success(try decode(raw, file: name)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func decode(_ raw: UnsafeRawBufferPointer, file: String) throws(SafeTensorsError) -> SafeTensorsFile {
        guard raw.count >= 8 else { throw .truncated(file: file, size: raw.count) }
        let headerLength = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(raw.count - 8) else {
            throw .headerPastEnd(file: file, headerLength: headerLength, fileSize: raw.count)
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = Array(raw[8..<headerEnd])
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw .invalidHeader(file: file, reason: "the \(headerLength) header bytes are not valid UTF-8")
        }
        var parser = HeaderJSON(bytes: headerBytes)
        let root: HeaderJSON.Value
        do { root = try parser.document() } catch {
            if let name = error.duplicateTopLevelKey { throw .duplicateName(file: file, tensor: name) }
            throw .invalidHeader(file: file, reason: error.message)
        }
        guard case let .object(entries) = root else {
            throw .invalidHeader(file: file, reason: "expected a JSON object, found \(root.summary)")
        }

        let dataSize = raw.count - headerEnd
        var result = SafeTensorsFile()
        var layout: [(name: String, begin: Int, end: Int)] = []
        // In name order, so that the first error reported is the same on every run.
        for (name, value) in entries.sorted(by: { Self.byteOrder($0.key, $1.key) }) {
            if name == "__metadata__" {
                result.metadata = try metadata(value, file: file)
                continue
            }
            let info = try tensorInfo(value, name: name, file: file, dataSize: dataSize)
            layout.append((name, info.begin, info.end))
            result.tensors[name] = Tensor(dtype: info.dtype, shape: info.shape, values: [])
        }

        var expected = 0
        for slot in layout.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard slot.begin == expected else {
                throw .notContiguous(file: file, tensor: slot.name, begin: slot.begin, expected: expected)
            }
            expected = slot.end
        }
        guard expected == dataSize else { throw .unusedData(file: file, used: expected, dataSize: dataSize) }

        for slot in layout {
            let dtype = result.tensors[slot.name]!.dtype
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(headerEnd + slot.begin)..<(headerEnd + slot.end)])
            let values = decodeValues(bytes, dtype: dtype)
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw .nonFinite(file: file, tensor: slot.name, index: bad, value: Self.name(of: values[bad]))
            }
            result.tensors[slot.name]!.values = values
        }
        return result
    }

    private static func metadata(_ value: HeaderJSON.Value, file: String) throws(SafeTensorsError) -> [String: String] {
        guard case let .object(pairs) = value else {
            throw .invalidField(file: file, tensor: "__metadata__", field: "__metadata__",
                                expected: "an object of strings", found: value.summary)
        }
        var out: [String: String] = [:]
        for (key, item) in pairs.sorted(by: { Self.byteOrder($0.key, $1.key) }) {
            guard case let .string(text) = item else {
                throw .invalidField(file: file, tensor: "__metadata__", field: key, expected: "a string", found: item.summary)
            }
            out[key] = text
        }
        return out
    }

    private static func tensorInfo(_ value: HeaderJSON.Value, name: String, file: String, dataSize: Int)
        throws(SafeTensorsError) -> (dtype: SafeTensorsDType, shape: [Int], begin: Int, end: Int) {
        guard case let .object(fields) = value else {
            throw .invalidField(file: file, tensor: name, field: name,
                                expected: "an object with \"dtype\", \"shape\" and \"data_offsets\"", found: value.summary)
        }
        func field(_ key: String) throws(SafeTensorsError) -> HeaderJSON.Value {
            guard let item = fields[key] else { throw .missingField(file: file, tensor: name, field: key) }
            return item
        }
        func integers(_ key: String, expected: String) throws(SafeTensorsError) -> [Int] {
            let item = try field(key)
            guard case let .array(elements) = item else {
                throw .invalidField(file: file, tensor: name, field: key, expected: expected, found: item.summary)
            }
            var out: [Int] = []
            for element in elements {
                guard case let .number(text) = element, let n = Int(text), n >= 0 else {
                    throw .invalidField(file: file, tensor: name, field: key, expected: expected, found: element.summary)
                }
                out.append(n)
            }
            return out
        }
        let dtypeValue = try field("dtype")
        guard case let .string(dtypeName) = dtypeValue else {
            throw .invalidField(file: file, tensor: name, field: "dtype", expected: "a string", found: dtypeValue.summary)
        }
        let shape = try integers("shape", expected: "an array of non-negative integers")
        let offsets = try integers("data_offsets", expected: "[begin, end] of non-negative integers")
        guard offsets.count == 2 else {
            throw .invalidField(file: file, tensor: name, field: "data_offsets",
                                expected: "[begin, end] of non-negative integers", found: "\(offsets.count) integers")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw .unsupportedDType(file: file, tensor: name, dtype: dtypeName)
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end, end <= dataSize else {
            throw .offsetsOutOfRange(file: file, tensor: name, begin: begin, end: end, dataSize: dataSize)
        }
        var expectedBytes = dtype.byteCount
        for dim in shape {
            let (product, overflow) = expectedBytes.multipliedReportingOverflow(by: dim)
            expectedBytes = overflow ? Int.max : product
        }
        guard end - begin == expectedBytes else {
            throw .sizeMismatch(file: file, tensor: name, shape: shape, dtype: dtype.rawValue,
                                expectedBytes: expectedBytes, actualBytes: end - begin)
        }
        return (dtype, shape, begin, end)
    }

    private static func decodeValues(_ bytes: UnsafeRawBufferPointer, dtype: SafeTensorsDType) -> [Float] {
        let count = bytes.count / dtype.byteCount
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .f32:
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case .f16:
                for i in 0..<count {
                    out[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                }
            case .bf16:
                for i in 0..<count {
                    out[i] = ValueType.bfloat16ToFloat(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            }
            initialized = count
        }
    }

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

    private static func name(of nonFinite: Float) -> String {
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

/// A strict JSON parser for safetensors headers: rejects duplicate keys (Foundation's keeps the last) and keeps
/// numbers as text (so offsets stay exact).
fileprivate struct HeaderJSON {
    indirect enum Value {
        case object([String: Value]), array([Value]), string(String), number(String), bool(Bool), null

        /// A short description for error messages.
        var summary: String {
            switch self {
            case .object: return "an object"
            case .array(let items): return "an array of \(items.count)"
            case .string(let s): return "the string \"\(s.prefix(40))\""
            case .number(let n): return "the number \(n)"
            case .bool(let b): return "\(b)"
            case .null: return "null"
            }
        }
    }

    struct Failure: Error {
        let message: String
        /// Set when the failure is a key repeated in the top-level object, i.e. a duplicate tensor name.
        var duplicateTopLevelKey: String? = nil
    }

    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(Failure) -> Value {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard pos == bytes.count else { throw fail("expected the end of the header after the top-level value") }
        return value
    }

    private func fail(_ what: String) -> Failure {
        let found = pos >= bytes.count ? "the end" : bytes[pos] < 0x80 ? "'\(Character(Unicode.Scalar(bytes[pos])))'" : "a non-ASCII byte"
        return Failure(message: "not valid JSON at byte \(pos) of the header: \(what), found \(found)")
    }

    private mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == byte else { return false }
        pos += 1
        return true
    }

    private mutating func parseValue(depth: Int) throws(Failure) -> Value {
        guard depth < 64 else { throw fail("expected at most 64 levels of nesting") }
        skipSpace()
        guard pos < bytes.count else { throw fail("expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var pairs: [String: Value] = [:]
            if consume(UInt8(ascii: "}")) { return .object(pairs) }
            repeat {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                guard pairs[key] == nil else {
                    throw Failure(message: "key \"\(key)\" appears twice in one object; expected unique keys",
                                  duplicateTopLevelKey: depth == 0 ? key : nil)
                }
                guard consume(UInt8(ascii: ":")) else { throw fail("expected ':'") }
                pairs[key] = try parseValue(depth: depth + 1)
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { throw fail("expected ',' or '}'") }
            return .object(pairs)
        case UInt8(ascii: "["):
            pos += 1
            var items: [Value] = []
            if consume(UInt8(ascii: "]")) { return .array(items) }
            repeat { items.append(try parseValue(depth: depth + 1)) } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "]")) else { throw fail("expected ',' or ']'") }
            return .array(items)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            for (word, value) in [("true", Value.bool(true)), ("false", .bool(false)), ("null", .null)]
            where bytes[pos...].starts(with: word.utf8) {
                pos += word.utf8.count
                return value
            }
            throw fail("expected a value")
        }
    }

    /// A JSON number, kept as its text (integers are read from it exactly).
    private mutating func parseNumber() throws(Failure) -> String {
        let start = pos
        func digits(_ p: inout Int, _ b: [UInt8]) -> Int {
            let first = p
            while p < b.count, b[p] >= 0x30, b[p] <= 0x39 { p += 1 }
            return p - first
        }
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let integer = pos, count = digits(&pos, bytes)
        var valid = count == 1 || (count > 1 && bytes[integer] != UInt8(ascii: "0"))
        if valid, pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            valid = digits(&pos, bytes) > 0
        }
        if valid, pos < bytes.count, bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            valid = digits(&pos, bytes) > 0
        }
        guard valid else { throw fail("expected a JSON number") }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    /// A JSON string; escapes are decoded by Foundation's parser once the literal's extent is known.
    private mutating func parseString() throws(Failure) -> String {
        let start = pos
        pos += 1
        var escaped = false
        while pos < bytes.count, bytes[pos] != UInt8(ascii: "\"") {
            guard bytes[pos] >= 0x20 else { throw fail("expected control characters to be escaped in strings") }
            if bytes[pos] == UInt8(ascii: "\\") { escaped = true; pos += 1 }
            pos += 1
        }
        guard pos < bytes.count else { pos = start; throw fail("expected a closing '\"'") }
        pos += 1
        guard escaped else { return String(decoding: bytes[(start + 1)..<(pos - 1)], as: UTF8.self) }
        let literal = Data(bytes[start..<pos])
        guard let text = try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed) as? String else {
            pos = start
            throw fail("expected a string with valid escapes")
        }
        return text
    }
}
