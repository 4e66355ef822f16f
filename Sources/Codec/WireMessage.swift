import LoRA

/// An error decoding a message: never a crash.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(at: Int)
    case badMagic
    case unsupportedVersion(UInt8)
    case checksumMismatch(expected: UInt32, found: UInt32)
    case wrongCodec(expected: UInt8, found: UInt8)
    case wrongKind(expected: String, found: UInt8)
    case wrongShape(tensor: String, expected: String, found: String)
    case unknownLayer(Int, layers: Int)
    case malformed(String)

    public var description: String {
        switch self {
        case let .truncated(at): return "message truncated at byte \(at)"
        case .badMagic: return "not a FedSim message (bad magic)"
        case let .unsupportedVersion(v): return "wire format version \(v) is not supported (this build reads \(WireMessage.version))"
        case let .checksumMismatch(expected, found): return "CRC-32 mismatch: message says \(expected), content gives \(found)"
        case let .wrongCodec(expected, found): return "message from codec id \(found), expected \(expected)"
        case let .wrongKind(expected, found): return "message kind \(found), expected \(expected)"
        case let .wrongShape(tensor, expected, found): return "tensor \(tensor): expected shape \(expected), found \(found)"
        case let .unknownLayer(layer, layers): return "layer id \(layer) past the adapter's \(layers) layers"
        case let .malformed(what): return "malformed message: \(what)"
        }
    }
}

/// One tensor of a message: all values (dense) or the kept ones with their flat row-major indices.
public struct WireTensor: Sendable, Equatable {
    /// Layer id: the index of the layer in the adapter.
    public var layer: Int
    /// Which factor.
    public var matrix: LoRAMatrix
    /// Rows and columns of the full tensor.
    public var rows: Int
    public var cols: Int
    /// Sorted flat indices of `values`, or nil when the tensor is dense.
    public var indices: [UInt32]?
    /// The values (all rows·cols of them when dense).
    public var values: [Float]

    /// Creates a tensor.
    public init(layer: Int, matrix: LoRAMatrix, rows: Int, cols: Int, indices: [UInt32]?, values: [Float]) {
        self.layer = layer
        self.matrix = matrix
        self.rows = rows
        self.cols = cols
        self.indices = indices
        self.values = values
    }

    /// rows · cols.
    public var length: Int { rows * cols }
    /// Values carried.
    public var kept: Int { values.count }

    /// The full tensor, zeros where nothing was sent.
    public func densified() -> [Float] {
        guard let indices else { return values }
        var out = [Float](repeating: 0, count: length)
        for (i, index) in indices.enumerated() { out[Int(index)] = values[i] }
        return out
    }
}

/// A message on the wire: header, tensors, CRC-32.
///
/// ```
/// "FSWF" | version u8 | codec id u8 | kind u8 | round u32le | tensor count varint
/// per tensor: layer varint | matrix u8 | rows varint | cols varint | value type u8 |
///             index encoding u8 | kept count varint | index bytes | kept·width value bytes
/// CRC-32 (zlib) of everything before it, u32le
/// ```
public struct WireMessage: Sendable, Equatable {
    /// What a message carries.
    public enum Kind: UInt8, Sendable {
        /// A client's update (deltas of A and B).
        case update = 0
        /// A broadcast delta, added to the global adapter.
        case delta = 1
        /// A broadcast of the full adapter, replacing it.
        case full = 2
    }

    static let magic: [UInt8] = Array("FSWF".utf8)
    /// The format version written and read.
    public static let version: UInt8 = 1

    public var codecID: UInt8
    public var kind: Kind
    public var round: UInt32
    public var valueType: ValueType
    public var tensors: [WireTensor]

    /// Creates a message.
    public init(codecID: UInt8, kind: Kind, round: UInt32, valueType: ValueType, tensors: [WireTensor]) {
        self.codecID = codecID
        self.kind = kind
        self.round = round
        self.valueType = valueType
        self.tensors = tensors
    }

    /// Bytes of a message header with `tensorCount` tensors.
    static func headerBytes(tensorCount: Int) -> Int { 4 + 1 + 1 + 1 + 4 + ByteWriter.varintSize(UInt64(tensorCount)) }

    /// Bytes of one tensor with `kept` of rows·cols values.
    public static func tensorBytes(layer: Int, rows: Int, cols: Int, kept: Int, valueType: ValueType) -> Int {
        let n = rows * cols
        let encoding = IndexEncoding.best(length: n, kept: kept, valueWidth: valueType.byteWidth)
        let values = encoding == .dense ? n : kept
        return ByteWriter.varintSize(UInt64(layer)) + 1 + ByteWriter.varintSize(UInt64(rows)) + ByteWriter.varintSize(UInt64(cols))
            + 1 + 1 + ByteWriter.varintSize(UInt64(values)) + encoding.indexBytes(length: n, kept: kept) + values * valueType.byteWidth
    }

    /// The encoded size, computed without encoding.
    public var encodedSize: Int {
        WireMessage.headerBytes(tensorCount: tensors.count)
            + tensors.reduce(0) { $0 + WireMessage.tensorBytes(layer: $1.layer, rows: $1.rows, cols: $1.cols, kept: $1.kept, valueType: valueType) } + 4
    }

    /// The bytes on the wire. Values are rounded to `valueType`; a sparse tensor whose sparse form
    /// would not be smaller is sent dense.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: encodedSize)
        w.append(WireMessage.magic)
        w.u8(WireMessage.version)
        w.u8(codecID)
        w.u8(kind.rawValue)
        w.u32(round)
        w.varint(UInt64(tensors.count))
        for t in tensors {
            let encoding = IndexEncoding.best(length: t.length, kept: t.kept, valueWidth: valueType.byteWidth)
            let values = encoding == .dense && t.indices != nil ? t.densified() : t.values
            w.varint(UInt64(t.layer))
            w.u8(t.matrix.rawValue)
            w.varint(UInt64(t.rows))
            w.varint(UInt64(t.cols))
            w.u8(valueType.wireTag)
            w.u8(encoding.rawValue)
            w.varint(UInt64(values.count))
            encoding.write(t.indices ?? [], length: t.length, into: &w)
            WireMessage.writeValues(values, as: valueType, into: &w)
        }
        let crc = crc32(w.bytes, count: w.bytes.count)
        w.u32(crc)
        return w.bytes
    }

    /// Appends `values` little-endian in `type`, in bulk.
    static func writeValues(_ values: [Float], as type: ValueType, into w: inout ByteWriter) {
        switch type {
        case .f32:
            let bits = values.map { $0.bitPattern.littleEndian }
            bits.withUnsafeBytes { w.bytes.append(contentsOf: $0) }
        case .f16:
            let bits = values.map { Float16($0).bitPattern.littleEndian }
            bits.withUnsafeBytes { w.bytes.append(contentsOf: $0) }
        case .bf16:
            let bits = values.map { ValueType.floatToBFloat16($0).littleEndian }
            bits.withUnsafeBytes { w.bytes.append(contentsOf: $0) }
        }
    }

    static func readValues(_ count: Int, as type: ValueType, from r: inout ByteReader) throws(WireError) -> [Float] {
        let start = try r.take(count * type.byteWidth)
        return r.bytes.withUnsafeBufferPointer { b in
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                switch type {
                case .f32:
                    // Little-endian binary32 on the wire: on a little-endian host, a copy.
                    if UInt32(1).littleEndian == 1, count > 0, let source = b.baseAddress, let destination = out.baseAddress {
                        UnsafeMutableRawPointer(destination).copyMemory(from: source + start, byteCount: 4 * count)
                    } else {
                        for i in 0..<count {
                            let o = start + 4 * i
                            out[i] = Float(bitPattern: UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24)
                        }
                    }
                case .f16:
                    for i in 0..<count {
                        let o = start + 2 * i
                        out[i] = Float(Float16(bitPattern: UInt16(b[o]) | UInt16(b[o + 1]) << 8))
                    }
                case .bf16:
                    for i in 0..<count {
                        let o = start + 2 * i
                        out[i] = ValueType.bfloat16ToFloat(UInt16(b[o]) | UInt16(b[o + 1]) << 8)
                    }
                }
                initialized = count
            }
        }
    }

    /// Decodes `bytes`, checking magic, version, CRC, lengths, and every tensor against `shapes`
    /// (the adapter the receiver holds). Never crashes on bad input.
    public static func decode(_ bytes: [UInt8], shapes: [LoRALayerShape]) throws(WireError) -> WireMessage {
        guard bytes.count >= headerBytes(tensorCount: 0) + 4 else { throw .truncated(at: bytes.count) }
        let bodyEnd = try checkFrame(bytes, magic: magic, version: version)
        var r = ByteReader(bytes, from: 5, end: bodyEnd)
        let codecID = try r.u8()
        guard let kind = Kind(rawValue: try r.u8()) else { throw .malformed("unknown message kind") }
        let round = try r.u32()
        let count = try r.varint()
        guard count <= UInt64(2 * shapes.count) else { throw .malformed("\(count) tensors for an adapter of \(shapes.count) layers") }
        var tensors: [WireTensor] = []
        var messageType: ValueType?
        var seen = Set<Int>()
        for _ in 0..<Int(count) {
            let layer = Int(clamping: try r.varint())
            guard let matrix = LoRAMatrix(rawValue: try r.u8()) else { throw .malformed("unknown matrix tag") }
            guard layer < shapes.count else { throw .unknownLayer(layer, layers: shapes.count) }
            guard seen.insert(layer * 2 + Int(matrix.rawValue)).inserted else { throw .malformed("tensor \(shapes[layer].name).\(matrix) sent twice") }
            let rows = Int(clamping: try r.varint()), cols = Int(clamping: try r.varint())
            let expected = shapes[layer].dimensions(matrix)
            guard rows == expected.rows, cols == expected.cols else {
                throw .wrongShape(tensor: "\(shapes[layer].name).\(matrix)", expected: "\(expected.rows)×\(expected.cols)", found: "\(rows)×\(cols)")
            }
            guard let type = ValueType(wireTag: try r.u8()) else { throw .malformed("unknown value type") }
            guard messageType == nil || messageType == type else { throw .malformed("mixed value types") }
            messageType = type
            guard let encoding = IndexEncoding(rawValue: try r.u8()) else { throw .malformed("unknown index encoding") }
            let kept = Int(clamping: try r.varint())
            let n = rows * cols
            guard kept <= n, encoding != .dense || kept == n else { throw .malformed("\(kept) values for a tensor of \(n)") }
            let indices: [UInt32]? = encoding == .dense ? nil : try encoding.read(count: kept, length: n, from: &r)
            let values = try readValues(kept, as: type, from: &r)
            tensors.append(WireTensor(layer: layer, matrix: matrix, rows: rows, cols: cols, indices: indices, values: values))
        }
        guard r.remaining == 0 else { throw .malformed("\(r.remaining) bytes after the last tensor") }
        return WireMessage(codecID: codecID, kind: kind, round: round, valueType: messageType ?? .f32, tensors: tensors)
    }
}
