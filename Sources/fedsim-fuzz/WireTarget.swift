import Codec
import CZlib
import Foundation
import LoRA
import Numerics

/// `WireMessage.decode` and every codec's `apply(broadcast:)` / `aggregate` on the bytes (module Codec).
final class WireTarget: FuzzTarget {
    let name = "wire"
    let summary = "wire decoder: WireMessage.decode, densify, each codec's apply(broadcast:) and aggregate (module Codec)"
    let shapes = [LoRALayerShape(name: "layers.0.q_proj", inFeatures: 24, outFeatures: 16, rank: 4),
                  LoRALayerShape(name: "layers.1.v_proj", inFeatures: 12, outFeatures: 20, rank: 2)]
    var global = LoRAAdapter(layers: [])
    var codecs: [any Codec] = []

    func corpus() throws -> [FuzzCase] {
        global = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(StreamKey(seed: 3, purpose: "fuzz-global")))
        for l in global.layers.indices {
            global.layers[l].b = Matrix(rows: global.layers[l].b.rows, cols: global.layers[l].b.cols) { i, j in Float((i * 7 + j * 3) % 11) * 0.01 - 0.05 }
        }
        var out: [[UInt8]] = []
        var configurations: [CodecOptions] = []
        for (sparsity, type) in [(0.9, ValueType.f32), (0.5, .f16), (0.99, .bf16)] {
            var o = CodecOptions()
            o.sparsity = sparsity
            o.valueType = type
            o.minSparseEntries = 8
            configurations.append(o)
        }
        codecs = try CodecRegistry.all.map { try CodecRegistry.make($0.name, options: configurations[0]) }
        for (n, type) in CodecRegistry.all.enumerated() {
            for (k, options) in configurations.enumerated() {
                let codec = try CodecRegistry.make(type.name, options: options)
                var updates: [WeightedUpdate] = []
                for client in 0..<2 {
                    let delta = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(StreamKey(seed: UInt64(10 * n + k), purpose: "fuzz-delta", index: UInt64(client))))
                    var state = ClientCodecState()
                    let update = try codec.encode(delta: delta, global: global, round: 1 + k, state: &state)
                    out.append(update.bytes)
                    updates.append(WeightedUpdate(bytes: update.bytes, weight: Double(client + 1)))
                }
                out.append(try codec.aggregate(updates, global: global, round: 1 + k).broadcast)
            }
        }
        // Messages built by hand: sparse tensors (bitmap, Elias–Fano), kinds full and delta, no tensors.
        let a0 = shapes[0].dimensions(.a), b1 = shapes[1].dimensions(.b)
        let sparse = WireTensor(layer: 0, matrix: .a, rows: a0.rows, cols: a0.cols, indices: [0, 5, 17, 95], values: [1, -2, 3.5, 0.25])
        let dense = WireTensor(layer: 1, matrix: .b, rows: b1.rows, cols: b1.cols, indices: nil, values: (0..<(b1.rows * b1.cols)).map { Float($0) * 0.1 })
        let wide = WireTensor(layer: 0, matrix: .a, rows: a0.rows, cols: a0.cols, indices: Array(stride(from: 0, to: 96, by: 3).map(UInt32.init)),
                              values: (0..<32).map { Float($0) })
        for (kind, tensors) in [(WireMessage.Kind.update, [sparse, dense]), (.full, [dense]), (.delta, [wide]), (.update, [])] {
            for type in ValueType.allCases {
                out.append(WireMessage(codecID: 0, kind: kind, round: 7, valueType: type, tensors: tensors).encoded())
            }
        }
        return out.map { FuzzCase(name: "message.fswf", bytes: $0) }
    }

    /// The offsets of a message's header fields (per tensor: layer, matrix, rows, cols, type, encoding, kept).
    func fields(_ b: [UInt8]) -> [(offset: Int, length: Int, varint: Bool)] {
        var out: [(Int, Int, Bool)] = [(4, 1, false), (5, 1, false), (6, 1, false), (7, 4, false)]
        guard let (count, n) = Binary.readVarint(b, 11) else { return out }
        out.append((11, n, true))
        var at = 11 + n
        for _ in 0..<min(count, 64) {
            guard let (_, l1) = Binary.readVarint(b, at) else { return out }
            out.append((at, l1, true)); at += l1
            out.append((at, 1, false)); at += 1
            guard let (rows, l2) = Binary.readVarint(b, at) else { return out }
            out.append((at, l2, true)); at += l2
            guard let (cols, l3) = Binary.readVarint(b, at) else { return out }
            out.append((at, l3, true)); at += l3
            guard at + 2 <= b.count else { return out }
            let width = b[at] == 0 ? 4 : 2
            out.append((at, 1, false)); at += 1
            let encoding = IndexEncoding(rawValue: b[at])
            out.append((at, 1, false)); at += 1
            guard let (kept, l4) = Binary.readVarint(b, at), let encoding, rows < 1 << 20, cols < 1 << 20, kept < 1 << 40 else { return out }
            out.append((at, l4, true)); at += l4
            at += encoding.indexBytes(length: Int(rows * cols), kept: Int(kept)) + Int(kept) * width
        }
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        let fields = fields(bytes)
        if rng.chance(0.6), let field = fields.isEmpty ? nil : rng.pick(fields), field.offset + field.length <= bytes.count {
            let old = field.varint ? Binary.readVarint(bytes, field.offset)?.0 ?? 0 : UInt64(bytes[field.offset])
            let choices: [UInt64] = [0, 1, 2, 3, 7, 8, 127, 128, 255, 256, 0xFFFF, 1 << 31, 1 << 32, 1 << 62, 1 << 63, UInt64.max, old &+ 1, old &- 1, old &* 2]
            let value = rng.pick(choices)
            let replacement: [UInt8]
            if field.varint { replacement = Binary.varint(value) } else if field.length == 4 {
                replacement = (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
            } else { replacement = [UInt8(truncatingIfNeeded: value)] }
            bytes.replaceSubrange(field.offset..<(field.offset + field.length), with: replacement)
        } else {
            ByteMutator.mutate(&bytes, &rng, others: corpus.map(\.primary))
        }
        // Most mutants get a valid CRC, so that the decoder gets past the checksum.
        if bytes.count >= 4, rng.chance(0.9) {
            let n = bytes.count - 4
            let crc = bytes.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: CZlib.crc32(0, $0.baseAddress, uInt(n))) }
            for k in 0..<4 { bytes[n + k] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * k)) }
        }
        input.set("message.fswf", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let bytes = input.primary
        var decodeError: (any Error)?
        do {
            let message = try WireMessage.decode(bytes, shapes: shapes)
            for t in message.tensors { _ = t.densified() }
            _ = message.encodedSize
        } catch { decodeError = error }
        // Every codec's readers (each rejects the other codecs' ids; accepted = the decoder accepted).
        for codec in codecs {
            _ = try? codec.apply(broadcast: bytes, to: global)
            _ = try? codec.aggregate([WeightedUpdate(bytes: bytes, weight: 1)], global: global, round: 2)
        }
        if let decodeError { throw decodeError }
    }
}
