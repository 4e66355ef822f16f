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

    /// Every dtype name the format defines (`SafeTensorsElementType`'s raw values).
    static let formatDTypes: Set<String> = Set(SafeTensorsElementType.allCases.map(\.rawValue))
}

/// Every element type of the safetensors format (sub-byte types excepted). F32, F16 and BF16 are
/// decoded to `Float` (`SafeTensorsFile.tensors`); the others are kept as their little-endian bytes
/// (`SafeTensorsFile.raw`): read, checked and written back, never computed with.
public enum SafeTensorsElementType: String, Sendable, CaseIterable, CustomStringConvertible {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3", f8e8m0 = "F8_E8M0"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16", i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// The dtype's name as written in the header.
    public var description: String { rawValue }

    /// The `Float`-decoded dtype of the same name (F32, F16, BF16), or nil for one kept as bytes.
    public var decoded: SafeTensorsDType? { SafeTensorsDType(rawValue: rawValue) }

    /// Whether the elements are floating-point numbers (and so may be NaN or infinite).
    public var isFloatingPoint: Bool {
        switch self {
        case .f8e5m2, .f8e4m3, .f8e8m0, .f16, .bf16, .f32, .f64: return true
        default: return false
        }
    }

    /// The element type of a decoded dtype.
    public init(_ dtype: SafeTensorsDType) { self = SafeTensorsElementType(rawValue: dtype.rawValue)! }

    /// The first element of `bytes` (little-endian elements of this type) that is NaN or ±∞, as
    /// (index, "NaN" / "+infinity" / "-infinity"); nil when all are finite or the type is not floating-point.
    /// F8_E4M3 (the "fn" variant) has NaN but no infinities; F8_E8M0 (an exponent only) has NaN = 0xFF.
    public func firstNonFinite(in bytes: UnsafeRawBufferPointer) -> (index: Int, value: String)? {
        let n = bytes.count / byteCount
        func sign(_ negative: Bool) -> String { negative ? "-infinity" : "+infinity" }
        switch self {
        case .f64:
            for i in 0..<n {
                let x = Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                if !x.isFinite { return (i, x.isNaN ? "NaN" : sign(x < 0)) }
            }
        case .f32, .f16, .bf16:
            for i in 0..<n {
                let x: Float
                switch self {
                case .f32: x = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case .f16: x = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                default: x = ValueType.bfloat16ToFloat(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
                if !x.isFinite { return (i, x.isNaN ? "NaN" : sign(x < 0)) }
            }
        case .f8e5m2:
            for i in 0..<n where bytes[i] & 0x7C == 0x7C {
                return (i, bytes[i] & 0x03 != 0 ? "NaN" : sign(bytes[i] & 0x80 != 0))
            }
        case .f8e4m3:
            for i in 0..<n where bytes[i] & 0x7F == 0x7F { return (i, "NaN") }
        case .f8e8m0:
            for i in 0..<n where bytes[i] == 0xFF { return (i, "NaN") }
        default:
            break
        }
        return nil
    }
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
    /// The tensor's dtype is not one of the format's (`SafeTensorsElementType`).
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
            let supported = SafeTensorsElementType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(file): tensor '\(tensor)': dtype '\(dtype)' is not a safetensors dtype this reader knows; supported: \(supported)"
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
