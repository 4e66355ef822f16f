import Foundation

extension PEFTExtra {
    /// Whether the server averages this extra (F64, F32, F16, BF16: the float dtypes with a
    /// conversion to and from numbers). Every other dtype — integers, BOOL, and the 8-bit floats,
    /// whose bytes are only checked — is taken whole from one update (`ExtrasAggregation`).
    public var isAveraged: Bool {
        switch dtype {
        case .f64, .f32, .f16, .bf16: return true
        default: return false
        }
    }

    /// The elements as numbers (exact: every F64, F32, F16 and BF16 value is a `Double`); nil for a
    /// dtype that is not averaged.
    public func numbers() -> [Double]? {
        let n = elementCount
        return bytes.withUnsafeBytes { raw -> [Double]? in
            switch dtype {
            case .f64: return (0..<n).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            case .f32: return (0..<n).map { Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))) }
            case .f16: return (0..<n).map { Double(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))) }
            case .bf16: return (0..<n).map { Double(ValueType.bfloat16ToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))) }
            default: return nil
            }
        }
    }

    /// This extra with `values` (one per element) rounded to its dtype, to nearest with ties to
    /// even, each rounded once from the `Double` (no double rounding through `Float`). The dtype
    /// must be averaged (`isAveraged`) and the values finite.
    public func replacingNumbers(_ values: [Double]) -> PEFTExtra {
        precondition(isAveraged && values.count == elementCount, "replacingNumbers: \(signature) with \(values.count) values")
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        func append<T: FixedWidthInteger>(_ x: T) { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
        for v in values {
            switch dtype {
            case .f64: append(v.bitPattern)
            case .f32: append(Float(v).bitPattern)
            case .f16: append(Float16(v).bitPattern)
            default: append(PEFTExtra.bfloat16(v))
            }
        }
        return PEFTExtra(name: name, dtype: dtype, shape: shape, bytes: out)
    }

    /// The bfloat16 bits of `x` rounded once to nearest, ties to even: BF16 is a binary32 with 16
    /// fraction bits dropped, so `x` is first narrowed to the two binary32 values around it with
    /// round-to-odd (exact when it is one), which then round to BF16 as `x` itself would.
    static func bfloat16(_ x: Double) -> UInt16 {
        let f = Float(x)
        guard f.isFinite, Double(f) != x else { return ValueType.floatToBFloat16(f) }
        // Round to odd: the binary32 toward zero from x, with its last bit set.
        var truncated = f
        if abs(Double(f)) > abs(x) { truncated = f > 0 ? f.nextDown : f.nextUp }
        return ValueType.floatToBFloat16(Float(bitPattern: truncated.bitPattern | 1))
    }
}

/// The server's aggregation of the clients' extras (the tensors of a PEFT adapter that are not LoRA
/// factors, `PEFTExtra`), beside the codec's aggregation of the LoRA factors:
/// - float extras (F64, F32, F16, BF16) are FedAvg'd with the LoRA factors' weights
///   p_i = w_i / Σ w_j, summed in `Double` in the updates' order and rounded once back to the
///   tensor's own dtype (to nearest, ties to even);
/// - every other extra (integers and BOOL, such as `num_batches_tracked`; the 8-bit floats, which
///   have no conversion here) is taken whole from the update with the largest weight, ties to the
///   lowest client index: a step counter or a mask is not averaged into something no client had.
public enum ExtrasAggregation {
    /// The new global extras from `updates[k]` sent by `clients[k]` with weight `weights[k]`; each
    /// update holds the same extras, in the same order, as the others (what `ExtrasMessage.decode`
    /// against the global's extras gives).
    public static func aggregate(_ updates: [[PEFTExtra]], weights: [Double], clients: [Int]) throws(CodecError) -> [PEFTExtra] {
        guard let first = updates.first else { throw .noUpdates }
        guard weights.count == updates.count, clients.count == updates.count else {
            throw .shapeMismatch("\(updates.count) extras updates with \(weights.count) weights and \(clients.count) clients")
        }
        let total = weights.reduce(0, +)
        guard total > 0, total.isFinite, weights.allSatisfy({ $0 >= 0 }) else {
            throw .nonFinite("aggregation weights (need non-negative weights with a positive sum)")
        }
        for u in updates {
            guard u.count == first.count, zip(u, first).allSatisfy({ $0.name == $1.name && $0.dtype == $1.dtype && $0.shape == $1.shape }) else {
                throw .shapeMismatch("an extras update does not hold the same tensors as the others")
            }
        }
        let p = weights.map { $0 / total }
        // The heaviest update, ties to the lowest client index.
        var chosen = 0
        for k in updates.indices.dropFirst() where weights[k] > weights[chosen] || (weights[k] == weights[chosen] && clients[k] < clients[chosen]) {
            chosen = k
        }
        return try first.indices.map { (e) throws(CodecError) -> PEFTExtra in
            let template = first[e]
            guard template.isAveraged else { return updates[chosen][e] }
            var sum = [Double](repeating: 0, count: template.elementCount)
            for (u, weight) in zip(updates, p) {
                guard let values = u[e].numbers(), values.count == sum.count else { throw .shapeMismatch("extra '\(template.name)'") }
                for j in sum.indices { sum[j] += weight * values[j] }
            }
            guard sum.allSatisfy(\.isFinite) else { throw .nonFinite("the average of extra '\(template.name)'") }
            return template.replacingNumbers(sum)
        }
    }
}
