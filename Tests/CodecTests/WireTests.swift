@testable import Codec
import LoRA
import Numerics
import XCTest

final class WireTests: XCTestCase {
    func message(_ f: inout AdapterFactory, shapes: [LoRALayerShape], keep: Double, type: ValueType) -> WireMessage {
        var tensors: [WireTensor] = []
        for (i, s) in shapes.enumerated() {
            for m in LoRAMatrix.allCases {
                let d = s.dimensions(m)
                let n = d.rows * d.cols
                let values = (0..<n).map { _ in f.uniform() }
                let k = max(1, Int(Double(n) * keep))
                if k >= n {
                    tensors.append(WireTensor(layer: i, matrix: m, rows: d.rows, cols: d.cols, indices: nil, values: values))
                } else {
                    let idx = TopK.indices(of: values.map { abs($0) }, k: k)
                    tensors.append(WireTensor(layer: i, matrix: m, rows: d.rows, cols: d.cols, indices: idx, values: idx.map { values[Int($0)] }))
                }
            }
        }
        return WireMessage(codecID: 2, kind: .update, round: 7, valueType: type, tensors: tensors)
    }

    /// Random shapes, densities and value types: decode(encode(m)) == m (values rounded to the type),
    /// and the size function equals the real length.
    func testRoundTripAndExactSizeOverRandomMessages() throws {
        var f = AdapterFactory(seed: 1)
        for trial in 0..<60 {
            let shapes = f.shapes(layers: f.int(1...3), rank: f.int(1...8), dIn: 1...300, dOut: 1...300)
            let keep = [0.001, 0.01, 0.05, 0.1, 0.3, 0.6, 1.0][trial % 7]
            let type = ValueType.allCases[trial % 3]
            let m = message(&f, shapes: shapes, keep: keep, type: type)
            let bytes = m.encoded()
            XCTAssertEqual(bytes.count, m.encodedSize, "size function, trial \(trial)")
            let plan = m.tensors.map { TensorPlan(layer: $0.layer, matrix: $0.matrix, rows: $0.rows, cols: $0.cols, kept: $0.kept) }
            XCTAssertEqual(FedSRDCodec.messageBytes(plan, valueType: type), bytes.count)
            let back = try WireMessage.decode(bytes, shapes: shapes)
            XCTAssertEqual(back.tensors.count, m.tensors.count)
            for (x, y) in zip(back.tensors, m.tensors) {
                XCTAssertEqual(x.densified(), y.densified().map { type.rounded($0) }, "trial \(trial)")
            }
        }
    }

    func testEncodingChoiceDependsOnlyOnLengthAndCount() {
        XCTAssertEqual(IndexEncoding.best(length: 1000, kept: 1000, valueWidth: 4), .dense)
        XCTAssertEqual(IndexEncoding.best(length: 65536, kept: 6554, valueWidth: 2), .eliasFano)
        XCTAssertEqual(IndexEncoding.best(length: 65536, kept: 30000, valueWidth: 4), .bitmap)
        // 97% kept in bf16: the bitmap (8 KB) costs more than the dropped values save (3.9 KB).
        XCTAssertEqual(IndexEncoding.best(length: 65536, kept: 63570, valueWidth: 2), .dense)
        XCTAssertEqual(IndexEncoding.best(length: 65536, kept: 58982, valueWidth: 2), .bitmap)
        // Elias–Fano at 10% density: ≈ L + 2 = 5.3 bits per index (L = 3).
        let ef = IndexEncoding.eliasFano.indexBytes(length: 65536, kept: 6554)
        XCTAssertEqual(ef, (6554 * 3 + 7) / 8 + (6554 + (65535 >> 3) + 7) / 8)
        XCTAssertLessThan(Double(ef * 8) / 6554, 5.4)
    }

    func testEliasFanoEdgeCases() throws {
        for (n, indices) in [(1, [0]), (2, [1]), (1000, [0, 999]), (1000, Array(0..<1000).filter { $0 % 7 == 3 }.map { $0 }),
                             (70000, [5, 65535, 65536, 69999]),
                             // 58 low bits (read in two parts), 64-bit words with and without a full tail.
                             (1 << 59, [5, 4_000_000_000]), (64, Array(0..<64)), (200, Array(stride(from: 1, to: 200, by: 3)))] as [(Int, [Int])] {
            var w = ByteWriter()
            let idx = indices.map { UInt32($0) }
            IndexEncoding.eliasFano.write(idx, length: n, into: &w)
            XCTAssertEqual(w.bytes.count, IndexEncoding.eliasFano.indexBytes(length: n, kept: idx.count))
            var r = ByteReader(w.bytes)
            XCTAssertEqual(try IndexEncoding.eliasFano.read(count: idx.count, length: n, from: &r), idx)
        }
    }

    func testF16AndBF16RoundingRules() {
        // bf16 keeps 8 significand bits: 1 + 2⁻⁸ is a tie and rounds to even (1); 1 + 3·2⁻⁸ rounds up.
        XCTAssertEqual(ValueType.bf16.rounded(1 + 0x1p-8), 1)
        XCTAssertEqual(ValueType.bf16.rounded(1 + 3 * 0x1p-8), 1 + 0x1p-6)
        XCTAssertEqual(ValueType.bf16.rounded(-(1 + 3 * 0x1p-8)), -(1 + 0x1p-6))
        XCTAssertTrue(ValueType.bf16.rounded(.nan).isNaN)
        XCTAssertEqual(ValueType.bf16.rounded(.infinity), .infinity)
        XCTAssertEqual(ValueType.floatToBFloat16(Float.greatestFiniteMagnitude), 0x7F80, "rounds up to +inf")
        // f16: 11 significand bits; 1 + 2⁻¹¹ ties to 1; overflow to inf above 65504; subnormals kept.
        XCTAssertEqual(ValueType.f16.rounded(1 + 0x1p-11), 1)
        XCTAssertEqual(ValueType.f16.rounded(1 + 3 * 0x1p-11), 1 + 0x1p-9)
        XCTAssertEqual(ValueType.f16.rounded(70000), .infinity)
        XCTAssertEqual(ValueType.f16.rounded(0x1p-24), 0x1p-24)
        XCTAssertEqual(ValueType.f32.rounded(0.1), 0.1)
    }

    func testBadMessagesThrowTypedErrors() throws {
        var f = AdapterFactory(seed: 3)
        let shapes = f.shapes(layers: 2, rank: 4, dIn: 50...80, dOut: 50...80)
        let bytes = message(&f, shapes: shapes, keep: 0.2, type: .f16).encoded()
        // Every truncation is an error, never a crash.
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            XCTAssertThrowsError(try WireMessage.decode(Array(bytes[0..<cut]), shapes: shapes))
        }
        var corrupted = bytes
        corrupted[bytes.count / 2] ^= 0x10
        XCTAssertThrowsError(try WireMessage.decode(corrupted, shapes: shapes)) { error in
            guard case .checksumMismatch = error as? WireError else { return XCTFail("\(error)") }
        }
        var version = bytes
        version[4] = 9
        XCTAssertEqual(try? WireMessage.decode(version, shapes: shapes), nil)
        XCTAssertThrowsError(try WireMessage.decode(version, shapes: shapes)) { XCTAssertEqual($0 as? WireError, .unsupportedVersion(9)) }
        var magic = bytes
        magic[0] = 0
        XCTAssertThrowsError(try WireMessage.decode(magic, shapes: shapes)) { XCTAssertEqual($0 as? WireError, .badMagic) }
        var other = shapes
        other[1].inFeatures += 1
        XCTAssertThrowsError(try WireMessage.decode(bytes, shapes: other)) { error in
            guard case .wrongShape = error as? WireError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try WireMessage.decode(bytes, shapes: Array(shapes.prefix(1)))) { error in
            XCTAssertNotNil(error as? WireError, "\(error)")
        }
        // Random garbage with a valid CRC still fails cleanly.
        for seed in 0..<200 {
            var g = AdapterFactory(seed: UInt64(seed))
            var junk = Array("FSWF".utf8) + [1] + (0..<g.int(0...60)).map { _ in UInt8(truncatingIfNeeded: g.rng.next()) }
            let crc = crc32(junk, count: junk.count)
            for s in stride(from: 0, to: 32, by: 8) { junk.append(UInt8(truncatingIfNeeded: crc >> UInt32(s))) }
            _ = try? WireMessage.decode(junk, shapes: shapes)
        }
    }

    func testCRCIsZlibs() {
        // The CRC-32 of "123456789" is 0xCBF43926 (the standard check value).
        XCTAssertEqual(crc32(Array("123456789".utf8), count: 9), 0xCBF4_3926)
    }
}
