import Codec
import Foundation
import Learning
import LoRA
import Numerics
import XCTest

/// The transformer's adapter is the project's one adapter type: a trained update passes through
/// every codec and PEFT's safetensors layout by its PEFT names, with no conversion.
final class TransformerAdapterCodecTests: XCTestCase {
    func testATrainedTransformerUpdateTravelsThroughTheCodecsAndPEFTFiles() throws {
        let config = TransformerConfig(layers: 2, width: 32, heads: 2, context: 16, vocabulary: 256, hidden: 48)
        let base = TransformerWeights(config: config, seed: 1)
        let start = TransformerAdapter(config: config, lora: TransformerLoRAConfig(targets: [.q, .v, .down], rank: 4, alpha: 8), seed: 2)
        let text = Array("In the beginning the Universe was created. This has made a lot of people very angry.".utf8)
        let batcher = try WindowBatcher(tokens: text, context: config.context)
        let trained = try TransformerTraining.train(base: base, adapter: start, batcher: batcher,
                                                    settings: TransformerTrainingSettings(steps: 5, batchSize: 4),
                                                    stream: RandomStream(seed: 3, purpose: "test"), threads: 1).adapter
        let after = try XCTUnwrap(trained)
        XCTAssertEqual(after.adapter.shapes, start.adapter.shapes)
        XCTAssertEqual(after.adapter.shapes.first?.name, "base_model.model.model.layers.0.self_attn.q_proj")
        let delta = after.adapter.subtracting(start.adapter)
        XCTAssertGreaterThan(delta.layers.map { $0.b.frobeniusNorm() }.reduce(0, +), 0, "training moved B")
        // PEFT's file layout, read back unchanged.
        let file = PEFTAdapter.safetensors(from: after.adapter, dtype: .f32)
        XCTAssertTrue(file.tensors.keys.contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"))
        let back = try PEFTAdapter.loraAdapter(from: SafeTensorsFile.read(data: file.serialized(), name: "t"), fileName: "t")
        XCTAssertEqual(Set(back.layers.map(\.shape)), Set(after.adapter.layers.map(\.shape)))
        for layer in back.layers {
            let original = try XCTUnwrap(after.adapter.layers.first { $0.shape == layer.shape })
            XCTAssertEqual(layer, original, layer.shape.name)
        }
        // Every codec encodes the update and aggregates it onto the global; lossless lora gives it back exactly.
        for name in CodecRegistry.names {
            let codec = try CodecRegistry.make(name, options: CodecOptions())
            var state = ClientCodecState()
            let upload = try codec.encode(delta: delta, global: start.adapter, round: 1, state: &state)
            let result = try codec.aggregate([WeightedUpdate(bytes: upload.bytes, weight: 1)], global: start.adapter, round: 1)
            XCTAssertEqual(result.global.shapes, start.adapter.shapes, name)
            if name == "lora" { XCTAssertEqual(result.global, start.adapter.adding(delta)) }
        }
    }
}
