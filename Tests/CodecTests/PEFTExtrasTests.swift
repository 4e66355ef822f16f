import Foundation
import LoRA
import Numerics
import XCTest
@testable import Codec

/// A safetensors file assembled byte by byte, independent of the writer: tensors in the given order.
private func handFile(_ tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])]) -> Data {
    var entries: [String] = [], data: [UInt8] = []
    for t in tensors {
        entries.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(data.count),\(data.count + t.bytes.count)]}")
        data += t.bytes
    }
    let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    let length = (0..<8).map { UInt8((UInt64(header.count) >> (8 * UInt64($0))) & 0xFF) }
    return Data(length + header + data)
}

private func le<T: FixedWidthInteger>(_ x: T) -> [UInt8] { withUnsafeBytes(of: x.littleEndian) { Array($0) } }
private func f32(_ xs: [Float]) -> [UInt8] { xs.flatMap { le($0.bitPattern) } }
private func f64(_ xs: [Double]) -> [UInt8] { xs.flatMap { le($0.bitPattern) } }

final class PEFTExtrasTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("peft-extras-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Every element type of the format parses; F32/F16/BF16 decode, the others keep their bytes, and all write back unchanged.
    func testEveryDTypeParsesAndRoundTrips() throws {
        var tensors: [(String, String, [Int], [UInt8])] = []
        for (k, dtype) in SafeTensorsElementType.allCases.enumerated() {
            // Two elements of small, finite values (bytes 0x00 / 0x01… are finite in every type).
            let bytes = (0..<(2 * dtype.byteCount)).map { UInt8(($0 + k) % 2) }
            tensors.append(("t.\(dtype.rawValue)", dtype.rawValue, [2], bytes))
        }
        let data = handFile(tensors.map { ($0.0, $0.1, $0.2, $0.3) })
        try data.write(to: URL(fileURLWithPath: path("all.safetensors")))
        for file in [try SafeTensorsFile.read(data: data, name: "all"), try SafeTensorsFile.read(contentsOf: path("all.safetensors"))] {
            XCTAssertEqual(file.tensorCount, SafeTensorsElementType.allCases.count)
            for (name, dtypeName, shape, bytes) in tensors {
                let dtype = try XCTUnwrap(SafeTensorsElementType(rawValue: dtypeName))
                XCTAssertEqual(file.info(name)?.dtype, dtype)
                XCTAssertEqual(file.info(name)?.shape, shape)
                XCTAssertEqual(file.info(name)?.byteCount, bytes.count)
                if dtype.decoded == nil { XCTAssertEqual(file.raw[name]?.bytes, bytes, name) } else { XCTAssertNotNil(file.tensors[name], name) }
            }
            let back = try SafeTensorsFile.read(data: try file.serialized(), name: "back")
            XCTAssertEqual(back, file)
        }
        // A name the format does not define is still refused, naming the tensor.
        let unknown = handFile([("x", "F128", [1], [UInt8](repeating: 0, count: 16))])
        XCTAssertThrowsError(try SafeTensorsFile.read(data: unknown, name: "u")) {
            XCTAssertEqual($0 as? SafeTensorsError, .unsupportedDType(file: "u", tensor: "x", dtype: "F128"))
        }
    }

    /// NaN and ±∞ are refused in every float tensor, decoded or raw, naming the tensor and element; integers are never "non-finite".
    func testNonFiniteInRawFloatTensorsNamesTheTensor() {
        let cases: [(dtype: String, bytes: [UInt8], index: Int, value: String)] = [
            ("F64", f64([1, .nan]), 1, "NaN"), ("F64", f64([-.infinity]), 0, "-infinity"),
            ("F8_E5M2", [0x3C, 0x7C], 1, "+infinity"), ("F8_E5M2", [0xFE], 0, "NaN"),
            ("F8_E4M3", [0x38, 0x00, 0xFF], 2, "NaN"), ("F8_E8M0", [0x7F, 0xFF], 1, "NaN"),
        ]
        for c in cases {
            let data = handFile([("head.weight", c.dtype, [c.bytes.count / (c.dtype == "F64" ? 8 : 1)], c.bytes)])
            XCTAssertThrowsError(try SafeTensorsFile.read(data: data, name: "n.safetensors"), c.dtype) {
                XCTAssertEqual($0 as? SafeTensorsError, .nonFinite(file: "n.safetensors", tensor: "head.weight", index: c.index, value: c.value), c.dtype)
                XCTAssertTrue("\($0)".contains("'head.weight'"))
            }
        }
        // The same bit patterns as integers are plain numbers.
        XCTAssertNoThrow(try SafeTensorsFile.read(data: handFile([("ids", "I64", [2], le(UInt64.max) + le(Int64(7)))]), name: "i"))
        XCTAssertNoThrow(try SafeTensorsFile.read(data: handFile([("m", "U8", [1], [0xFF])]), name: "i"))
        // The writer refuses them too.
        let bad = SafeTensorsFile(raw: ["h": .init(dtype: .f64, shape: [1], bytes: f64([.nan]))])
        XCTAssertThrowsError(try bad.serialized()) { XCTAssertEqual($0 as? SafeTensorsError, .nonFinite(file: "<memory>", tensor: "h", index: 0, value: "NaN")) }
        let short = SafeTensorsFile(raw: ["h": .init(dtype: .i64, shape: [2], bytes: [0])])
        XCTAssertThrowsError(try short.serialized()) { guard case .invalidTensor = $0 as? SafeTensorsError else { return XCTFail("\($0)") } }
    }

    /// A realistic PEFT layout: q and v LoRA with DoRA magnitudes, embedding LoRA, a LoRA bias, a base-layer bias,
    /// a modules_to_save classifier head (F32 weight, F64 bias) and an I64 buffer.
    private func realisticFile(seed: UInt64, nanInHead: Bool = false) -> Data {
        let s = RandomStream(seed: seed, purpose: "peft-extras")
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(s.standardNormal()) * 0.1 } }
        let p = "base_model.model.model.layers.0.self_attn"
        var head = values(2 * 16)
        if nanInHead { head[3] = .nan }
        return handFile([
            ("\(p).q_proj.lora_A.weight", "F32", [4, 16], f32(values(64))), ("\(p).q_proj.lora_B.weight", "F32", [16, 4], f32(values(64))),
            ("\(p).q_proj.lora_magnitude_vector", "F32", [16], f32(values(16))),
            ("\(p).v_proj.lora_A.weight", "BF16", [4, 16], (0..<64).flatMap { _ in [0x80, 0x3F] }),
            ("\(p).v_proj.lora_B.weight", "F32", [8, 4], f32(values(32))), ("\(p).v_proj.lora_B.bias", "F32", [8], f32(values(8))),
            ("\(p).v_proj.lora_magnitude_vector", "F32", [8], f32(values(8))),
            ("\(p).v_proj.base_layer.bias", "F16", [8], (0..<8).flatMap { _ in [0x00, 0x3C] }),
            ("base_model.model.model.embed_tokens.lora_embedding_A", "F32", [4, 50], f32(values(200))),
            ("base_model.model.model.embed_tokens.lora_embedding_B", "F32", [16, 4], f32(values(64))),
            ("base_model.model.score.modules_to_save.default.weight", "F32", [2, 16], f32(head)),
            ("base_model.model.score.modules_to_save.default.bias", "F64", [2], f64([0.25, -0.5])),
            ("base_model.model.model.norm.num_batches_tracked", "I64", [], le(Int64(seed))),
        ])
    }

    func testRealisticPEFTLayoutKeepsEveryTensor() throws {
        let raw = try SafeTensorsFile.read(data: realisticFile(seed: 1), name: "adapter.safetensors")
        let file = try PEFTFile(from: raw, fileName: "adapter.safetensors")
        // LoRA pairs: embedding LoRA is a pair like the others ([r, num_embeddings], [embedding_dim, r]).
        XCTAssertEqual(file.adapter.layers.map(\.shape.name), ["base_model.model.model.embed_tokens", "base_model.model.model.layers.0.self_attn.q_proj",
                                                               "base_model.model.model.layers.0.self_attn.v_proj"])
        XCTAssertEqual(file.styles, [.embedding, .linear, .linear])
        XCTAssertEqual(file.adapter.layers[0].shape, LoRALayerShape(name: "base_model.model.model.embed_tokens", inFeatures: 50, outFeatures: 16, rank: 4))
        XCTAssertEqual(file.adapter.layers[2].a.storage, [Float](repeating: 1, count: 64), "BF16 0x3F80 = 1")
        // Every other tensor is an extra, at its own dtype, with its kind.
        let kinds = Dictionary(uniqueKeysWithValues: file.extras.map { ($0.name, $0.kind) })
        XCTAssertEqual(file.extras.count, 7)
        XCTAssertEqual(kinds["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"], .doraMagnitude)
        XCTAssertEqual(kinds["base_model.model.model.layers.0.self_attn.v_proj.lora_B.bias"], .loraBias)
        XCTAssertEqual(kinds["base_model.model.model.layers.0.self_attn.v_proj.base_layer.bias"], .bias)
        XCTAssertEqual(kinds["base_model.model.score.modules_to_save.default.weight"], .modulesToSave)
        XCTAssertEqual(kinds["base_model.model.model.norm.num_batches_tracked"], .other)
        XCTAssertEqual(file.extras.first { $0.name.hasSuffix("default.bias") }?.dtype, .f64)
        XCTAssertEqual(file.extraBytes, 4 * 16 + 4 * 8 + 4 * 8 + 2 * 8 + 4 * 32 + 8 * 2 + 8)
        // Every tensor of the file is a factor or an extra.
        XCTAssertEqual(2 * file.adapter.layers.count + file.extras.count, raw.tensorCount)
        // Written back (factors F32 under PEFT's names for their style), it reads as the same contents.
        let back = try PEFTFile(from: SafeTensorsFile.read(data: file.safetensors(dtype: .f32).serialized(), name: "back"), fileName: "back")
        XCTAssertEqual(back, file)
        XCTAssertNotNil(file.safetensors(dtype: .f32).tensors["base_model.model.model.embed_tokens.lora_embedding_A"])
        // The plain reader still gives the LoRA pairs.
        XCTAssertEqual(try PEFTAdapter.loraAdapter(from: raw, fileName: "a"), file.adapter)
        XCTAssertEqual(PEFTAdapter.ignoredTensorNames(in: raw), file.extras.map(\.name))
    }

    func testNaNInAnExtraIsAnErrorNamingTheTensor() throws {
        try realisticFile(seed: 1, nanInHead: true).write(to: URL(fileURLWithPath: path("nan.safetensors")))
        XCTAssertThrowsError(try PEFTFile.read(contentsOf: path("nan.safetensors"))) {
            XCTAssertEqual($0 as? SafeTensorsError, .nonFinite(file: path("nan.safetensors"), tensor: "base_model.model.score.modules_to_save.default.weight",
                                                              index: 3, value: "NaN"))
        }
    }

    func testFactorsOfOtherDTypesAndMixedStylesAreErrors() {
        let f64Factor = handFile([("q.lora_A.weight", "F64", [1, 1], f64([1])), ("q.lora_B.weight", "F32", [1, 1], f32([1]))])
        XCTAssertThrowsError(try PEFTFile(from: SafeTensorsFile.read(data: f64Factor, name: "f"), fileName: "f")) {
            XCTAssertEqual($0 as? PEFTError, .factorDType(file: "f", tensor: "q.lora_A.weight", dtype: "F64"))
            XCTAssertTrue("\($0)".contains("F32, F16 or BF16"))
        }
        let mixed = SafeTensorsFile(tensors: ["e.lora_A.weight": .init(dtype: .f32, shape: [1, 2], values: [1, 2]),
                                              "e.lora_embedding_B": .init(dtype: .f32, shape: [2, 1], values: [1, 2])])
        XCTAssertThrowsError(try PEFTFile(from: mixed, fileName: "m")) {
            XCTAssertEqual($0 as? PEFTError, .missingFactor(file: "m", module: "e", missing: .b, expectedKey: "e.lora_B.weight"))
        }
        let onlyEmbedding = SafeTensorsFile(tensors: ["e.lora_embedding_A": .init(dtype: .f32, shape: [1, 2], values: [1, 2])])
        XCTAssertThrowsError(try PEFTFile(from: onlyEmbedding, fileName: "m")) {
            XCTAssertEqual($0 as? PEFTError, .missingFactor(file: "m", module: "e", missing: .b, expectedKey: "e.lora_embedding_B"))
        }
        let onlyExtras = SafeTensorsFile(raw: ["ids": .init(dtype: .i64, shape: [1], bytes: le(Int64(1)))])
        XCTAssertThrowsError(try PEFTFile(from: onlyExtras, fileName: "m")) { XCTAssertEqual($0 as? PEFTError, .noLoRATensors(file: "m", tensorCount: 1)) }
    }

    func testExtrasMustMatchBetweenFiles() throws {
        let before = try PEFTFile(from: SafeTensorsFile.read(data: realisticFile(seed: 1), name: "b"), fileName: "b")
        var after = try PEFTFile(from: SafeTensorsFile.read(data: realisticFile(seed: 2), name: "a"), fileName: "a")
        XCTAssertNoThrow(try PEFTFile.compatible(before, after, beforeName: "b", afterName: "a"))
        let head = try XCTUnwrap(after.extras.firstIndex { $0.dtype == .f64 })
        after.extras[head].dtype = .f32
        after.extras[head].bytes = f32([1, 2])
        XCTAssertThrowsError(try PEFTFile.compatible(before, after, beforeName: "b", afterName: "a")) {
            XCTAssertEqual($0 as? PEFTError, .extraMismatch(tensor: after.extras[head].name, beforeFile: "b", before: "F64 [2]", afterFile: "a", after: "F32 [2]"))
        }
        after.extras.remove(at: head)
        XCTAssertThrowsError(try PEFTFile.compatible(before, after, beforeName: "b", afterName: "a")) {
            XCTAssertEqual($0 as? PEFTError, .extraMissing(tensor: before.extras[head].name, presentIn: "b", missingFrom: "a"))
        }
    }

    func testExtrasMessageRoundTripAndHostileBytes() throws {
        let file = try PEFTFile(from: SafeTensorsFile.read(data: realisticFile(seed: 1), name: "b"), fileName: "b")
        let message = ExtrasMessage(kind: .update, round: 7, extras: file.extras)
        let bytes = message.encoded()
        XCTAssertEqual(bytes.count, message.encodedSize)
        XCTAssertEqual(bytes.count, ExtrasMessage.size(of: file.extras))
        XCTAssertEqual(try ExtrasMessage.decode(bytes, expected: file.extras), message)
        // Framing: 15 bytes of header and CRC, and per tensor id, dtype, rank and dimensions.
        XCTAssertLessThan(bytes.count - file.extraBytes, 15 + 6 * file.extras.count)
        // No extras: no message.
        XCTAssertEqual(ExtrasMessage.size(of: []), 0)
        XCTAssertEqual(ExtrasMessage(kind: .broadcast, round: 1, extras: []).encoded(), [])
        // A flipped bit fails the CRC; every truncation is an error, never a crash.
        var flipped = bytes
        flipped[20] ^= 1
        XCTAssertThrowsError(try ExtrasMessage.decode(flipped, expected: file.extras)) {
            guard case .checksumMismatch = $0 as? WireError else { return XCTFail("\($0)") }
        }
        for n in 0..<bytes.count { XCTAssertThrowsError(try ExtrasMessage.decode(Array(bytes[0..<n]), expected: file.extras)) }
        // The receiver holds other dtypes or fewer extras.
        var other = file.extras
        other[0].dtype = .i32
        XCTAssertThrowsError(try ExtrasMessage.decode(bytes, expected: other)) {
            guard case .wrongShape(let tensor, _, _) = $0 as? WireError else { return XCTFail("\($0)") }
            XCTAssertEqual(tensor, file.extras[0].name)
        }
        XCTAssertThrowsError(try ExtrasMessage.decode(bytes, expected: Array(file.extras.dropLast())))
        // A NaN with a valid CRC is refused, naming the extra.
        var nan = file.extras
        let f32Index = try XCTUnwrap(nan.firstIndex { $0.dtype == .f32 })
        nan[f32Index].bytes.replaceSubrange(0..<4, with: f32([.nan]))
        XCTAssertThrowsError(try ExtrasMessage.decode(ExtrasMessage(kind: .update, round: 1, extras: nan).encoded(), expected: file.extras)) {
            XCTAssertTrue("\($0)".contains(file.extras[f32Index].name) && "\($0)".contains("NaN"), "\($0)")
        }
    }
}
