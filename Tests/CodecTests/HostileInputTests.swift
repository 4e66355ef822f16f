@testable import Codec
import Foundation
import LoRA
import Numerics
import XCTest

/// The readers of untrusted bytes (wire messages, safetensors, PEFT adapters) on header fields set
/// to extremes: each input is refused with a typed error, never a trap (issue 9; the same mutations
/// fedsim-fuzz makes, here as fixed cases).
final class HostileInputTests: XCTestCase {
    let shapes = [LoRALayerShape(name: "layers.0.q_proj", inFeatures: 24, outFeatures: 16, rank: 4),
                  LoRALayerShape(name: "layers.1.v_proj", inFeatures: 12, outFeatures: 20, rank: 2)]

    /// A message with a bitmap tensor, an Elias–Fano tensor and a dense one.
    func sampleMessage() -> [UInt8] {
        let a0 = shapes[0].dimensions(.a), b0 = shapes[0].dimensions(.b), b1 = shapes[1].dimensions(.b)
        let bitmap = WireTensor(layer: 0, matrix: .a, rows: a0.rows, cols: a0.cols, indices: Array(stride(from: 0, to: 96, by: 3).map(UInt32.init)),
                                values: (0..<32).map { Float($0) })
        let eliasFano = WireTensor(layer: 0, matrix: .b, rows: b0.rows, cols: b0.cols, indices: [1, 9, 40], values: [1, 2, 3])
        let dense = WireTensor(layer: 1, matrix: .b, rows: b1.rows, cols: b1.cols, indices: nil, values: (0..<(b1.rows * b1.cols)).map { Float($0) })
        return WireMessage(codecID: 0, kind: .update, round: 3, valueType: .f16, tensors: [bitmap, eliasFano, dense]).encoded()
    }

    func varint(_ value: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.varint(value)
        return w.bytes
    }

    /// `bytes` with the field at `offset` (a varint when `isVarint`) replaced by `value` and the CRC made valid again.
    func withField(_ bytes: [UInt8], at offset: Int, isVarint: Bool, value: UInt64) -> [UInt8] {
        var out = bytes
        if isVarint {
            var r = ByteReader(bytes, from: offset)
            let before = r.offset
            _ = try? r.varint()
            out.replaceSubrange(offset..<(offset + max(1, r.offset - before)), with: varint(value))
        } else {
            out[offset] = UInt8(truncatingIfNeeded: value)
        }
        let body = out.count - 4
        let crc = crc32(out, count: body)
        for k in 0..<4 { out[body + k] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * k)) }
        return out
    }

    /// The header fields of `sampleMessage()`: (offset, varint?) of count, then per tensor layer, matrix, rows, cols, type, encoding, kept.
    func fields(_ bytes: [UInt8]) throws -> [(offset: Int, varint: Bool)] {
        var out: [(Int, Bool)] = [(5, false), (6, false), (11, true)]
        var r = ByteReader(bytes, from: 11, end: bytes.count - 4)
        let count = try r.varint()
        for _ in 0..<count {
            out.append((r.offset, true)); let layer = Int(try r.varint())
            out.append((r.offset, false)); let matrix = LoRAMatrix(rawValue: try r.u8()) ?? .a
            out.append((r.offset, true)); let rows = Int(try r.varint())
            out.append((r.offset, true)); let cols = Int(try r.varint())
            out.append((r.offset, false)); let type = ValueType(wireTag: try r.u8()) ?? .f32
            out.append((r.offset, false)); let encoding = IndexEncoding(rawValue: try r.u8()) ?? .dense
            out.append((r.offset, true)); let kept = Int(try r.varint())
            XCTAssertEqual(shapes[layer].dimensions(matrix).rows, rows)
            _ = try r.take(encoding.indexBytes(length: rows * cols, kept: kept) + kept * type.byteWidth)
        }
        return out
    }

    func testEveryHeaderFieldAtEveryExtremeIsRefusedOrDecodedWithoutTrapping() throws {
        let bytes = sampleMessage()
        XCTAssertNoThrow(try WireMessage.decode(bytes, shapes: shapes))
        let extremes: [UInt64] = [0, 1, 2, 3, 127, 128, 255, 0xFFFF, 1 << 31, 1 << 32, 1 << 62, 1 << 63, UInt64.max]
        var refused = 0, cases = 0
        for field in try fields(bytes) {
            for value in extremes where field.varint || value <= 255 {
                let mutated = withField(bytes, at: field.offset, isVarint: field.varint, value: value)
                cases += 1
                do {
                    let m = try WireMessage.decode(mutated, shapes: shapes)
                    for t in m.tensors { XCTAssertEqual(t.densified().count, t.rows * t.cols) }
                } catch { refused += 1 }
                for type in CodecRegistry.all {
                    let codec = type.init(options: CodecOptions())
                    _ = try? codec.apply(broadcast: mutated, to: LoRAAdapter.zeros(shapes))
                    _ = try? codec.aggregate([WeightedUpdate(bytes: mutated, weight: 1)], global: LoRAAdapter.zeros(shapes), round: 1)
                }
            }
        }
        XCTAssertGreaterThan(cases, 150)
        XCTAssertGreaterThan(refused, cases / 2, "most extreme header fields must be refused")
    }

    func testSpecificExtremesGiveTheirErrors() throws {
        let bytes = sampleMessage()
        let f = try fields(bytes)
        // Tensor count 2^63: more tensors than the adapter has.
        XCTAssertThrowsError(try WireMessage.decode(withField(bytes, at: f[2].offset, isVarint: true, value: 1 << 63), shapes: shapes)) {
            guard case .malformed = $0 as? WireError else { return XCTFail("\($0)") }
        }
        // Layer 2^64 − 1: past the adapter.
        XCTAssertThrowsError(try WireMessage.decode(withField(bytes, at: f[3].offset, isVarint: true, value: .max), shapes: shapes)) {
            guard case .unknownLayer = $0 as? WireError else { return XCTFail("\($0)") }
        }
        // Rows 2^63: not the receiver's shape.
        XCTAssertThrowsError(try WireMessage.decode(withField(bytes, at: f[5].offset, isVarint: true, value: 1 << 63), shapes: shapes)) {
            guard case .wrongShape = $0 as? WireError else { return XCTFail("\($0)") }
        }
        // Kept count 2^64 − 1 on the bitmap tensor: more values than positions.
        XCTAssertThrowsError(try WireMessage.decode(withField(bytes, at: f[9].offset, isVarint: true, value: .max), shapes: shapes)) {
            guard case .malformed = $0 as? WireError else { return XCTFail("\($0)") }
        }
        // A varint of eleven bytes.
        var long = bytes
        long.replaceSubrange(11..<12, with: [UInt8](repeating: 0xFF, count: 10) + [0x01])
        XCTAssertThrowsError(try WireMessage.decode(withField(long, at: 4, isVarint: false, value: 1), shapes: shapes))
    }

    // MARK: safetensors

    func file(header: String, data: [UInt8] = []) -> Data {
        var out = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        out.append(contentsOf: data)
        return out
    }

    func testSafeTensorsHeaderFieldExtremesAreTypedErrors() {
        func error(_ d: Data) -> SafeTensorsError? {
            do { _ = try SafeTensorsFile.read(data: d, name: "x"); return nil } catch { return error }
        }
        let eight = [UInt8](repeating: 0, count: 8)
        // Header length 2^64 − 1.
        var huge = file(header: "{}")
        huge.replaceSubrange(0..<8, with: [UInt8](repeating: 0xFF, count: 8))
        guard case .headerPastEnd = error(huge) else { return XCTFail("header length 2^64-1") }
        // Offsets past Int, past the buffer, reversed.
        for offsets in ["[0,18446744073709551616]", "[0,9223372036854775807]", "[8,0]", "[0,-8]", "[0,8.5]", "[0,1e3]"] {
            let d = file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":\#(offsets)}}"#, data: eight)
            XCTAssertNotNil(error(d), offsets)
        }
        // An integral number written with a fraction or exponent is the same JSON number (RFC 8259).
        XCTAssertNil(error(file(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}"#, data: eight)))
        XCTAssertNil(error(file(header: #"{"t":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}"#, data: eight)))
        // A shape whose element count overflows Int.
        let overflow = file(header: #"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eight)
        guard case .sizeMismatch = error(overflow) else { return XCTFail("overflowing shape: \(String(describing: error(overflow)))") }
        // Nesting deeper than 64, a dtype the format does not define, a duplicate tensor.
        let deep = file(header: #"{"t":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}")
        guard case .invalidHeader = error(deep) else { return XCTFail("deep nesting") }
        guard case .unsupportedDType = error(file(header: #"{"t":{"dtype":"F63","shape":[1],"data_offsets":[0,8]}}"#, data: eight)) else {
            return XCTFail("F63")
        }
        XCTAssertNil(error(file(header: #"{"t":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: eight)), "F64 is read (as bytes)")
        guard case .duplicateName = error(file(header: #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{}}"#, data: [0, 0, 0, 0])) else {
            return XCTFail("duplicate")
        }
    }

    /// A PEFT file whose factors have shapes that pass the reader but cannot pair (rank mismatch, zero dimension).
    func testPEFTShapesThatCannotPairAreTypedErrors() throws {
        var file = SafeTensorsFile()
        file.tensors["m.lora_A.weight"] = .init(dtype: .f32, shape: [2, 3], values: [Float](repeating: 0, count: 6))
        file.tensors["m.lora_B.weight"] = .init(dtype: .f32, shape: [4, 3], values: [Float](repeating: 0, count: 12))
        XCTAssertThrowsError(try PEFTAdapter.loraAdapter(from: file, fileName: "f")) {
            guard case .rankMismatch = $0 as? PEFTError else { return XCTFail("\($0)") }
        }
        file.tensors["m.lora_B.weight"] = .init(dtype: .f32, shape: [0, 2], values: [])
        let read = try SafeTensorsFile.read(data: try file.serialized(), name: "f")
        XCTAssertThrowsError(try PEFTAdapter.loraAdapter(from: read, fileName: "f")) {
            guard case .emptyDimension = $0 as? PEFTError else { return XCTFail("\($0)") }
        }
    }
}
