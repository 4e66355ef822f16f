/// The tensors of a PEFT adapter that are not LoRA factors (`PEFTExtra`: heads, biases, DoRA
/// magnitudes, buffers), sent dense at their own dtype in a message of their own beside the codec's
/// `WireMessage`, both ways. An adapter without extras sends none (zero bytes), so the codecs' bytes
/// on plain LoRA adapters are unchanged.
///
/// ```
/// "FSWX" | version u8 (1) | kind u8 (update 0 | broadcast 1) | round u32le | tensor count varint
/// per tensor: extra id varint | dtype u8 | rank varint | dims varint × rank | shape's product × dtype width bytes
/// CRC-32 (zlib) of everything before it, u32le
/// ```
///
/// The extra id is the tensor's index among the adapter's extras (natural order of names, which
/// sender and receiver both hold): names are not sent. Every message carries every extra once.
public struct ExtrasMessage: Sendable, Equatable {
    /// Which way the message goes.
    public enum Kind: UInt8, Sendable {
        /// A client's trained extras.
        case update = 0
        /// The server's aggregated extras.
        case broadcast = 1
    }

    static let magic: [UInt8] = Array("FSWX".utf8)
    /// The format version written and read.
    public static let version: UInt8 = 1

    /// The dtype tags on the wire, by position (never reorder: append only).
    static let dtypeTags: [SafeTensorsElementType] = [.bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .i16, .u16,
                                                      .f16, .bf16, .i32, .u32, .f32, .f64, .i64, .u64]

    public var kind: Kind
    public var round: UInt32
    /// The extras, in the adapter's order.
    public var extras: [PEFTExtra]

    /// Creates a message.
    public init(kind: Kind, round: UInt32, extras: [PEFTExtra]) {
        self.kind = kind
        self.round = round
        self.extras = extras
    }

    /// The encoded size of a message carrying `extras` (0 when there are none: no message is sent).
    public static func size(of extras: [PEFTExtra]) -> Int {
        guard !extras.isEmpty else { return 0 }
        var n = 4 + 1 + 1 + 4 + ByteWriter.varintSize(UInt64(extras.count)) + 4
        for (id, e) in extras.enumerated() {
            n += ByteWriter.varintSize(UInt64(id)) + 1 + ByteWriter.varintSize(UInt64(e.shape.count))
            n += e.shape.reduce(0) { $0 + ByteWriter.varintSize(UInt64($1)) } + e.bytes.count
        }
        return n
    }

    /// The encoded size.
    public var encodedSize: Int { ExtrasMessage.size(of: extras) }

    /// The bytes on the wire (empty when there are no extras).
    public func encoded() -> [UInt8] {
        guard !extras.isEmpty else { return [] }
        var w = ByteWriter(capacity: encodedSize)
        w.append(ExtrasMessage.magic)
        w.u8(ExtrasMessage.version)
        w.u8(kind.rawValue)
        w.u32(round)
        w.varint(UInt64(extras.count))
        for (id, e) in extras.enumerated() {
            w.varint(UInt64(id))
            w.u8(UInt8(ExtrasMessage.dtypeTags.firstIndex(of: e.dtype)!))
            w.varint(UInt64(e.shape.count))
            for d in e.shape { w.varint(UInt64(d)) }
            w.append(e.bytes)
        }
        w.u32(crc32(w.bytes, count: w.bytes.count))
        return w.bytes
    }

    /// Decodes `bytes` against `expected` (the extras the receiver holds: names, dtypes and shapes),
    /// checking magic, version, CRC, every length, that each extra comes once with its dtype and
    /// shape, and that float extras are finite. No bytes for no extras is the empty message (round 0).
    /// Never crashes on bad input.
    public static func decode(_ bytes: [UInt8], expected: [PEFTExtra]) throws(WireError) -> ExtrasMessage {
        guard !expected.isEmpty || !bytes.isEmpty else { return ExtrasMessage(kind: .update, round: 0, extras: []) }
        guard bytes.count >= 4 + 1 + 1 + 4 + 1 + 4 else { throw .truncated(at: bytes.count) }
        let bodyEnd = try checkFrame(bytes, magic: magic, version: version)
        var r = ByteReader(bytes, from: 5, end: bodyEnd)
        guard let kind = Kind(rawValue: try r.u8()) else { throw .malformed("unknown extras message kind") }
        let round = try r.u32()
        let count = try r.varint()
        guard count == UInt64(expected.count) else { throw .malformed("\(count) extra tensors, expected the adapter's \(expected.count)") }
        var out = [PEFTExtra?](repeating: nil, count: expected.count)
        for _ in 0..<expected.count {
            let id = Int(clamping: try r.varint())
            guard id < expected.count else { throw .malformed("extra id \(id) past the adapter's \(expected.count) extras") }
            let want = expected[id]
            guard out[id] == nil else { throw .malformed("extra '\(want.name)' sent twice") }
            let tag = Int(try r.u8())
            guard tag < dtypeTags.count else { throw .malformed("unknown dtype tag \(tag)") }
            let dtype = dtypeTags[tag]
            let rank = try r.varint()
            guard rank <= 64 else { throw .malformed("extra '\(want.name)': \(rank) dimensions") }
            var shape: [Int] = []
            for _ in 0..<Int(rank) { shape.append(Int(clamping: try r.varint())) }
            guard dtype == want.dtype, shape == want.shape else {
                throw .wrongShape(tensor: want.name, expected: want.signature, found: "\(dtype.rawValue) \(shape)")
            }
            let at = try r.take(want.bytes.count)
            let data = Array(bytes[at..<(at + want.bytes.count)])
            if let bad = data.withUnsafeBytes({ dtype.firstNonFinite(in: $0) }) {
                throw .malformed("extra '\(want.name)': element \(bad.index) is \(bad.value)")
            }
            out[id] = PEFTExtra(name: want.name, dtype: dtype, shape: shape, bytes: data)
        }
        guard r.remaining == 0 else { throw .malformed("\(r.remaining) bytes after the last extra") }
        return ExtrasMessage(kind: kind, round: round, extras: out.compactMap { $0 })
    }
}
