/// How values travel on the wire.
public enum ValueType: String, Sendable, Codable, CaseIterable {
    /// IEEE-754 binary32, exact.
    case f32
    /// IEEE-754 binary16 (round to nearest, ties to even; overflow to ±inf; subnormals kept).
    case f16
    /// bfloat16: the top 16 bits of a binary32, rounded to nearest, ties to even.
    case bf16

    /// Bytes per value.
    public var byteWidth: Int { self == .f32 ? 4 : 2 }
    /// The tag on the wire.
    var wireTag: UInt8 { self == .f32 ? 0 : self == .f16 ? 1 : 2 }
    init?(wireTag: UInt8) {
        switch wireTag {
        case 0: self = .f32
        case 1: self = .f16
        case 2: self = .bf16
        default: return nil
        }
    }

    /// `value` as it arrives after a trip through this type.
    @inlinable
    public func rounded(_ value: Float) -> Float {
        switch self {
        case .f32: return value
        case .f16: return Float(Float16(value))
        case .bf16: return ValueType.bfloat16ToFloat(ValueType.floatToBFloat16(value))
        }
    }

    /// The bfloat16 bits of `value`: round to nearest, ties to even; NaN stays a quiet NaN.
    @inlinable
    public static func floatToBFloat16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// The binary32 value of bfloat16 `bits`.
    @inlinable
    public static func bfloat16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
