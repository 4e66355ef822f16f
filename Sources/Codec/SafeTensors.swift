import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Numerics

/// A safetensors file held in memory: named tensors decoded to `Float` (F32, F16, BF16), the tensors
/// of every other dtype as their bytes, and string metadata.
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

    /// A tensor of a dtype that is not decoded (integers, booleans, F64, 8-bit floats): its
    /// elements as the file stores them, little-endian.
    public struct RawTensor: Sendable, Equatable {
        /// The element type.
        public var dtype: SafeTensorsElementType
        /// The dimensions; `[]` is a scalar.
        public var shape: [Int]
        /// shape's product × dtype.byteCount bytes.
        public var bytes: [UInt8]

        /// Creates a raw tensor; `bytes.count` should equal the product of `shape` × the element size (checked on writing).
        public init(dtype: SafeTensorsElementType, shape: [Int], bytes: [UInt8]) {
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    /// The tensors decoded to `Float` (F32, F16, BF16) by name.
    public var tensors: [String: Tensor]
    /// The tensors of every other dtype by name, kept as bytes (a name is in `tensors` or here, not both).
    public var raw: [String: RawTensor]
    /// The header's `__metadata__` (empty when absent).
    public var metadata: [String: String]

    /// Creates a file from tensors and metadata.
    public init(tensors: [String: Tensor] = [:], raw: [String: RawTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.raw = raw
        self.metadata = metadata
    }

    /// The decoded tensors' names sorted by their UTF-8 bytes.
    public var sortedNames: [String] { tensors.keys.sorted(by: Self.byteOrder) }

    /// Every tensor's name, decoded or raw, in the order they are written: sorted by their UTF-8 bytes.
    public var allNames: [String] { (Array(tensors.keys) + raw.keys.filter { tensors[$0] == nil }).sorted(by: Self.byteOrder) }

    /// The number of tensors, decoded and raw.
    public var tensorCount: Int { tensors.count + raw.count }

    /// The element type, shape and size in bytes of the tensor `name`, decoded or raw.
    public func info(_ name: String) -> (dtype: SafeTensorsElementType, shape: [Int], byteCount: Int)? {
        if let t = tensors[name] { return (SafeTensorsElementType(t.dtype), t.shape, t.values.count * t.dtype.byteCount) }
        if let t = raw[name] { return (t.dtype, t.shape, t.bytes.count) }
        return nil
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    // MARK: Reading

    /// Reads and validates the safetensors file at `path` (errors name `path`). The tensors'
    /// bytes are read straight into their values (no copy of the whole file in memory, and no
    /// mapping that a file truncated meanwhile would turn into a crash).
    public static func read(contentsOf path: String) throws(SafeTensorsError) -> SafeTensorsFile {
        // Only regular files: a directory, FIFO or device gets a clear message (a FIFO would block).
        if let reason = InputFile.problem(path, maxBytes: Int.max) { throw .io(file: path, reason: reason) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(file: path, reason: "cannot read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(file: path, reason: "cannot read: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        /// Reads exactly `count` bytes at `offset` into `buffer`: 0, -1 when the file ends first, or errno.
        func readFully(_ buffer: UnsafeMutableRawPointer, _ count: Int, at offset: Int) -> Int32 {
            var done = 0
            while done < count {
                let n = pread(fd, buffer.advanced(by: done), count - done, off_t(offset + done))
                if n < 0, errno == EINTR { continue }
                guard n >= 0 else { return errno }
                if n == 0 { return -1 }
                done += n
            }
            return 0
        }
        func check(_ status: Int32) throws(SafeTensorsError) {
            if status == -1 { throw .truncated(file: path, size: size) }
            if status != 0 { throw .io(file: path, reason: "cannot read: \(String(cString: strerror(status)))") }
        }
        guard size >= 8 else { throw .truncated(file: path, size: size) }
        var length: UInt64 = 0
        try check(readFully(&length, 8, at: 0))
        let headerLength = UInt64(littleEndian: length)
        guard headerLength <= UInt64(size - 8) else { throw .headerPastEnd(file: path, headerLength: headerLength, fileSize: size) }
        let headerEnd = 8 + Int(headerLength)
        var headerBytes = [UInt8](repeating: 0, count: Int(headerLength))
        try check(headerBytes.withUnsafeMutableBytes { b in b.count == 0 ? 0 : readFully(b.baseAddress!, b.count, at: 8) })
        var (result, layout) = try decodeHeader(headerBytes, dataSize: size - headerEnd, file: path)
        var scratch: [UInt8] = []
        for slot in layout {
            if let rawTensor = result.raw[slot.name] {
                var bytes = [UInt8](repeating: 0, count: slot.end - slot.begin)
                try check(bytes.withUnsafeMutableBytes { b in b.count == 0 ? 0 : readFully(b.baseAddress!, b.count, at: headerEnd + slot.begin) })
                try checkFinite(bytes, dtype: rawTensor.dtype, tensor: slot.name, file: path)
                result.raw[slot.name]!.bytes = bytes
                continue
            }
            let dtype = result.tensors[slot.name]!.dtype
            let byteCount = slot.end - slot.begin, count = byteCount / dtype.byteCount
            var status: Int32 = 0
            var values: [Float]
            if dtype == .f32, UInt32(1).littleEndian == 1 {
                values = [Float](unsafeUninitializedCapacity: count) { out, initialized in
                    status = count == 0 ? 0 : readFully(UnsafeMutableRawPointer(out.baseAddress!), byteCount, at: headerEnd + slot.begin)
                    initialized = status == 0 ? count : 0
                }
            } else {
                scratch = [UInt8](repeating: 0, count: byteCount)
                status = scratch.withUnsafeMutableBytes { b in b.count == 0 ? 0 : readFully(b.baseAddress!, b.count, at: headerEnd + slot.begin) }
                values = status == 0 ? scratch.withUnsafeBytes { decodeValues($0, dtype: dtype) } : []
            }
            try check(status)
            try checkFinite(values, tensor: slot.name, file: path)
            result.tensors[slot.name]!.values = values
        }
        layout.removeAll()
        return result
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
        var (result, layout) = try decodeHeader(Array(raw[8..<headerEnd]), dataSize: raw.count - headerEnd, file: file)
        for slot in layout {
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(headerEnd + slot.begin)..<(headerEnd + slot.end)])
            if let rawTensor = result.raw[slot.name] {
                try checkFinite(bytes, dtype: rawTensor.dtype, tensor: slot.name, file: file)
                result.raw[slot.name]!.bytes = Array(bytes)
                continue
            }
            let dtype = result.tensors[slot.name]!.dtype
            let values = decodeValues(bytes, dtype: dtype)
            try checkFinite(values, tensor: slot.name, file: file)
            result.tensors[slot.name]!.values = values
        }
        layout.removeAll()
        return result
    }

    /// Refuses NaN and ±∞, naming the first.
    private static func checkFinite(_ values: [Float], tensor: String, file: String) throws(SafeTensorsError) {
        if !allFinite(values), let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(file: file, tensor: tensor, index: bad, value: Self.name(of: values[bad]))
        }
    }

    /// Refuses NaN and ±∞ in a raw floating-point tensor (F64, 8-bit floats), naming the first: a
    /// non-finite value is refused in every float tensor of a file, encoded or not.
    static func checkFinite(_ bytes: UnsafeRawBufferPointer, dtype: SafeTensorsElementType, tensor: String, file: String) throws(SafeTensorsError) {
        if let bad = dtype.firstNonFinite(in: bytes) { throw .nonFinite(file: file, tensor: tensor, index: bad.index, value: bad.value) }
    }

    /// `checkFinite` on an array of bytes.
    static func checkFinite(_ bytes: [UInt8], dtype: SafeTensorsElementType, tensor: String, file: String) throws(SafeTensorsError) {
        if let bad = bytes.withUnsafeBytes({ dtype.firstNonFinite(in: $0) }) {
            throw .nonFinite(file: file, tensor: tensor, index: bad.index, value: bad.value)
        }
    }

    /// The header's tensors (values still empty) and their data layout, validated against a data
    /// section of `dataSize` bytes: contiguous, in range, every byte used.
    private static func decodeHeader(_ headerBytes: [UInt8], dataSize: Int, file: String) throws(SafeTensorsError)
        -> (SafeTensorsFile, [(name: String, begin: Int, end: Int)]) {
        let headerLength = headerBytes.count
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw .invalidHeader(file: file, reason: "the \(headerLength) header bytes are not valid UTF-8")
        }
        // The project's one strict JSON reader (RFC 8259; a repeated key is an error, where
        // Foundation's JSONSerialization keeps the last one silently).
        let root: JSONValue
        do { root = try JSONReader.parse(Data(headerBytes)) } catch let e as JSONReader.DuplicateKey {
            if e.path.isEmpty { throw .duplicateName(file: file, tensor: e.key) }
            throw .invalidHeader(file: file, reason: "not valid JSON at byte \(e.second) of the header: '\(e.key)' repeated in \(e.path) (first at byte \(e.first))")
        } catch let e as JSONReader.SyntaxError {
            throw .invalidHeader(file: file, reason: "not valid JSON at byte \(e.offset) of the header: \(e.message)")
        } catch {
            throw .invalidHeader(file: file, reason: "not valid JSON: \(error)")
        }
        guard case let .object(entries) = root else {
            throw .invalidHeader(file: file, reason: "expected a JSON object, found \(summary(root))")
        }

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
            if let decoded = info.dtype.decoded {
                result.tensors[name] = Tensor(dtype: decoded, shape: info.shape, values: [])
            } else {
                result.raw[name] = RawTensor(dtype: info.dtype, shape: info.shape, bytes: [])
            }
        }

        var expected = 0
        for slot in layout.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard slot.begin == expected else {
                throw .notContiguous(file: file, tensor: slot.name, begin: slot.begin, expected: expected)
            }
            expected = slot.end
        }
        guard expected == dataSize else { throw .unusedData(file: file, used: expected, dataSize: dataSize) }

        return (result, layout)
    }

    /// A short description of a header value for error messages.
    private static func summary(_ value: JSONValue) -> String {
        switch value {
        case .object: return "an object"
        case let .array(items): return "an array of \(items.count)"
        case let .string(s): return "the string \"\(s.prefix(40))\""
        case let .number(n): return "the number \(Quantity.shortest(n))"
        case let .bool(b): return "\(b)"
        case .null: return "null"
        }
    }

    private static func metadata(_ value: JSONValue, file: String) throws(SafeTensorsError) -> [String: String] {
        guard case let .object(pairs) = value else {
            throw .invalidField(file: file, tensor: "__metadata__", field: "__metadata__",
                                expected: "an object of strings", found: summary(value))
        }
        var out: [String: String] = [:]
        for (key, item) in pairs.sorted(by: { Self.byteOrder($0.key, $1.key) }) {
            guard case let .string(text) = item else {
                throw .invalidField(file: file, tensor: "__metadata__", field: key, expected: "a string", found: summary(item))
            }
            out[key] = text
        }
        return out
    }

    private static func tensorInfo(_ value: JSONValue, name: String, file: String, dataSize: Int)
        throws(SafeTensorsError) -> (dtype: SafeTensorsElementType, shape: [Int], begin: Int, end: Int) {
        guard case let .object(fields) = value else {
            throw .invalidField(file: file, tensor: name, field: name,
                                expected: "an object with \"dtype\", \"shape\" and \"data_offsets\"", found: summary(value))
        }
        func field(_ key: String) throws(SafeTensorsError) -> JSONValue {
            guard let item = fields[key] else { throw .missingField(file: file, tensor: name, field: key) }
            return item
        }
        func integers(_ key: String, expected: String) throws(SafeTensorsError) -> [Int] {
            let item = try field(key)
            guard case let .array(elements) = item else {
                throw .invalidField(file: file, tensor: name, field: key, expected: expected, found: summary(item))
            }
            var out: [Int] = []
            for element in elements {
                // An integral JSON number ("8" or "8.0": RFC 8259 has one number type). Above 2^53 a
                // Double may have been rounded, but such an offset or shape exceeds any real file and
                // is refused by the size and layout checks below.
                guard case let .number(d) = element, let n = Int(exactly: d), n >= 0 else {
                    throw .invalidField(file: file, tensor: name, field: key, expected: expected, found: summary(element))
                }
                out.append(n)
            }
            return out
        }
        let dtypeValue = try field("dtype")
        guard case let .string(dtypeName) = dtypeValue else {
            throw .invalidField(file: file, tensor: name, field: "dtype", expected: "a string", found: summary(dtypeValue))
        }
        let shape = try integers("shape", expected: "an array of non-negative integers")
        let offsets = try integers("data_offsets", expected: "[begin, end] of non-negative integers")
        guard offsets.count == 2 else {
            throw .invalidField(file: file, tensor: name, field: "data_offsets",
                                expected: "[begin, end] of non-negative integers", found: "\(offsets.count) integers")
        }
        guard let dtype = SafeTensorsElementType(rawValue: dtypeName) else {
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

    /// Whether every value is finite: an exponent-bits test without branches, which the compiler
    /// vectorises (the per-element `isFinite` search runs only to name a bad element).
    static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UInt32.self) { bits in
                var bad: UInt32 = 0
                for b in bits { bad |= ((b & 0x7f80_0000) &+ 0x0080_0000) & 0x8000_0000 }
                return bad == 0
            }
        }
    }

    private static func decodeValues(_ bytes: UnsafeRawBufferPointer, dtype: SafeTensorsDType) -> [Float] {
        let count = bytes.count / dtype.byteCount
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .f32 where UInt32(1).littleEndian == 1:
                // Little-endian F32 is the values' own bytes: one copy.
                if count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: 4 * count) }
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
}
