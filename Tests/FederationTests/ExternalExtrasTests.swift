import Codec
import Federation
import Foundation
import LoRA
import Numerics
import XCTest

/// The external trainer's adapters with tensors that are not LoRA factors (extras) and embedding LoRA:
/// the global carries them as the initial adapter had them, and an update must bring them back.
final class ExternalExtrasTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("external-extras-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    private func layout() -> PEFTFile {
        let shapes = [LoRALayerShape(name: "m.embed_tokens", inFeatures: 10, outFeatures: 4, rank: 2),
                      LoRALayerShape(name: "m.layers.0.q_proj", inFeatures: 4, outFeatures: 4, rank: 2)]
        let adapter = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(seed: 3, purpose: "external-extras"))
        let head = PEFTExtra(name: "m.score.weight", dtype: .f32, shape: [2], bytes: [0, 0, 128, 63, 0, 0, 0, 64])
        let steps = PEFTExtra(name: "m.norm.num_batches_tracked", dtype: .i64, shape: [], bytes: [5, 0, 0, 0, 0, 0, 0, 0])
        return PEFTFile(adapter: adapter, styles: [.embedding, .linear], extras: [steps, head])
    }

    private func failure(_ result: Result<LoRAAdapter, TrainingFailure>) -> TrainingFailure? {
        if case let .failure(f) = result { return f }
        return nil
    }

    func testGlobalCarriesExtrasAndUpdatesMustReturnThem() throws {
        let file = layout()
        let global = folder + "/global.safetensors"
        try ExternalWorkload.writeAdapter(file.adapter, to: global, layout: file)
        let written = try SafeTensorsFile.read(contentsOf: global)
        XCTAssertNotNil(written.tensors["m.embed_tokens.lora_embedding_A"], "embedding LoRA keeps PEFT's names")
        XCTAssertNotNil(written.tensors["m.layers.0.q_proj.lora_A.weight"])
        XCTAssertEqual(written.raw["m.norm.num_batches_tracked"]?.bytes, file.extras[0].bytes)
        XCTAssertEqual(try PEFTFile.read(contentsOf: global), file)
        // The trainer returns the same tensors: accepted.
        let trained = try ExternalWorkload.readUpdate(global, global: file.adapter, freezingA: false, layout: file).get()
        XCTAssertEqual(trained, file.adapter)

        // A trainer that drops an extra: a failed participant (shape), naming the tensor.
        var dropped = written
        dropped.raw.removeValue(forKey: "m.norm.num_batches_tracked")
        try dropped.write(to: folder + "/dropped.safetensors")
        let d = try XCTUnwrap(failure(ExternalWorkload.readUpdate(folder + "/dropped.safetensors", global: file.adapter, freezingA: false, layout: file)))
        XCTAssertEqual(d.kind, .shape)
        XCTAssertTrue(d.message.contains("missing: m.norm.num_batches_tracked"), d.message)
        // Another dtype: shape, naming both signatures.
        var retyped = written
        retyped.raw["m.norm.num_batches_tracked"] = .init(dtype: .i32, shape: [], bytes: [5, 0, 0, 0])
        try retyped.write(to: folder + "/retyped.safetensors")
        let r = try XCTUnwrap(failure(ExternalWorkload.readUpdate(folder + "/retyped.safetensors", global: file.adapter, freezingA: false, layout: file)))
        XCTAssertEqual(r.kind, .shape)
        XCTAssertTrue(r.message.contains("I64 []") && r.message.contains("I32 []"), r.message)
        // NaN in a float extra: non_finite, naming the tensor (the writer refuses NaN, so patch the bytes).
        var bytes = try Data(contentsOf: URL(fileURLWithPath: global))
        let header = String(decoding: bytes[8..<(8 + Int(bytes[0]) + Int(bytes[1]) << 8)], as: UTF8.self)
        let headerEnd = 8 + Int(bytes[0]) + Int(bytes[1]) << 8
        let range = try XCTUnwrap(header.range(of: #""m.score.weight":{"data_offsets":["#))
        let offset = Int(header[range.upperBound...].prefix { $0.isNumber })!
        for (k, b) in [0x00, 0x00, 0xC0, 0x7F].enumerated() { bytes[headerEnd + offset + k] = UInt8(b) }
        try bytes.write(to: URL(fileURLWithPath: folder + "/nan.safetensors"))
        let n = try XCTUnwrap(failure(ExternalWorkload.readUpdate(folder + "/nan.safetensors", global: file.adapter, freezingA: false, layout: file)))
        XCTAssertEqual(n.kind, .nonFinite)
        XCTAssertTrue(n.message.contains("'m.score.weight'") && n.message.contains("NaN"), n.message)
        // Without a layout (plain LoRA), the extras are tensors the global does not have.
        let plain = try XCTUnwrap(failure(ExternalWorkload.readUpdate(global, global: file.adapter, freezingA: false)))
        XCTAssertEqual(plain.kind, .shape)
    }
}
