import Foundation
@testable import Learning
import Numerics
import XCTest

/// The transformer against PyTorch in float64 (`Tests/Peers/transformer_reference_torch.py`, the model
/// written as Hugging Face's Llama computes it): same formula weights, two windows of
/// "Hello, RoPE world!"; the loss of the base and of the LoRA-adapted model (q, v, down; r 2, α 4), and
/// for every base and LoRA tensor two figures of its gradient (a fixed projection and the norm).
/// Float32 against float64: loss within 10⁻⁶, each figure within 10⁻⁵·‖g‖ + 10⁻⁷ (measured: loss to
/// 7·10⁻⁹, figures to 8.4·10⁻⁷·‖g‖).
final class TransformerReferenceTests: XCTestCase {
    static let config = TransformerConfig(layers: 2, width: 16, heads: 2, context: 8, vocabulary: 256, hidden: 24)
    static let windows: [Int32] = "Hello, RoPE world!".utf8.map { Int32($0) }

    func model() -> (TransformerWeights, TransformerAdapter) {
        var w = TransformerWeights(config: Self.config, seed: 1)
        let names = w.tensorNames
        w.forEachBuffer { t, buffer in
            let gain = names[t].hasSuffix("norm.weight")
            for j in buffer.indices {
                let x = sin(0.37 * Double(j) + 1.3 * Double(t) + 0.1)
                buffer[j] = Float(gain ? 1 + 0.2 * x : 0.05 * x)
            }
        }
        var a = TransformerAdapter(config: Self.config, lora: TransformerLoRAConfig(targets: [.q, .v, .down], rank: 2, alpha: 4), seed: 1)
        for e in a.entries.indices {
            a.entries[e].a.storage = a.entries[e].a.storage.indices.map { Float(0.1 * sin(0.23 * Double($0) + 0.7 * Double(e))) }
            a.entries[e].b.storage = a.entries[e].b.storage.indices.map { Float(0.05 * cos(0.29 * Double($0) + 0.5 * Double(e))) }
        }
        return (w, a)
    }

    func figures(_ g: ArraySlice<Float>) -> [Double] {
        var projection = 0.0, squares = 0.0
        for (j, x) in g.enumerated() { projection += Double(x) * sin(0.5 * Double(j) + 1); squares += Double(x) * Double(x) }
        return [projection, squares.squareRoot()]
    }

    var worst = 0.0

    func compare(_ ours: [Double], _ torch: [Double]?, _ name: String) {
        guard let torch else { return XCTFail("no reference for \(name)") }
        worst = max(worst, abs(ours[0] - torch[0]) / torch[1], abs(ours[1] - torch[1]) / torch[1])
        let tolerance = 1e-5 * torch[1] + 1e-7
        XCTAssertEqual(ours[0], torch[0], accuracy: tolerance, "\(name) projection")
        XCTAssertEqual(ours[1], torch[1], accuracy: tolerance, "\(name) norm")
    }

    func testMatchesPyTorchFloat64() {
        let (base, adapter) = model()
        let plain = TransformerTrainer(base: base, adapter: nil, settings: TransformerTrainingSettings(shardSize: 1), threads: 1)
        let p = plain.lossAndGradient(Self.windows, sequences: 2)
        XCTAssertEqual(p.loss, Self.baseLoss, accuracy: 1e-6)
        let g = p.gradient.read(at: 0, count: p.gradient.count)
        var offset = 0, copy = base
        let names = base.tensorNames
        copy.forEachBuffer { t, buffer in
            compare(figures(g[offset..<(offset + buffer.count)]), Self.base[names[t]], names[t])
            offset += buffer.count
        }
        XCTAssertEqual(Self.base.count, names.count)
        let adapted = TransformerTrainer(base: base, adapter: adapter, settings: TransformerTrainingSettings(shardSize: 1), threads: 1)
        let q = adapted.lossAndGradient(Self.windows, sequences: 2)
        XCTAssertEqual(q.loss, Self.loss, accuracy: 1e-6)
        let ga = q.gradient.read(at: 0, count: q.gradient.count), layout = adapted.layout
        for (k, e) in adapter.entries.enumerated() {
            compare(figures(ga[layout.adapterA[k]..<(layout.adapterA[k] + e.a.count)]), Self.lora[e.shape.tensorName(.a)], e.shape.tensorName(.a))
            compare(figures(ga[layout.adapterB[k]..<(layout.adapterB[k] + e.b.count)]), Self.lora[e.shape.tensorName(.b)], e.shape.tensorName(.b))
        }
        XCTAssertEqual(Self.lora.count, 2 * adapter.entries.count)
        print("transformer vs PyTorch float64: loss \(p.loss) vs \(Self.baseLoss), adapted \(q.loss) vs \(Self.loss); worst figure error / ‖g‖ \(worst)")
    }

    // Printed by transformer_reference_torch.py (PyTorch 1.13.1, float64).
    static let baseLoss = 5.665983795701571
    static let loss = 5.666087966462816
    static let base: [String: [Double]] = [
        "model.embed_tokens.weight": [-2.0714950464930855, 0.5901551621467309],
        "model.layers.0.self_attn.q_proj.weight": [-0.012464580007805152, 0.14457955078859988],
        "model.layers.0.self_attn.k_proj.weight": [0.0007055944420925392, 0.15050669215147136],
        "model.layers.0.self_attn.v_proj.weight": [0.17084527836213703, 0.2297455758659338],
        "model.layers.0.self_attn.o_proj.weight": [0.02466217850316114, 0.23015553617996767],
        "model.layers.0.mlp.gate_proj.weight": [-0.0038403560876579482, 0.037570115959320916],
        "model.layers.0.mlp.up_proj.weight": [0.00959832607033783, 0.02588888783614051],
        "model.layers.0.mlp.down_proj.weight": [0.026917239795342468, 0.10483742082792567],
        "model.layers.0.input_layernorm.weight": [-0.01878722471482084, 0.017225780308371998],
        "model.layers.0.post_attention_layernorm.weight": [0.0030215849011183873, 0.003624360805198726],
        "model.layers.1.self_attn.q_proj.weight": [-0.06889820091984372, 0.06475386334571098],
        "model.layers.1.self_attn.k_proj.weight": [0.1308595437700596, 0.060753878161271986],
        "model.layers.1.self_attn.v_proj.weight": [0.16556954122730444, 0.27703188258476696],
        "model.layers.1.self_attn.o_proj.weight": [0.03882542344639527, 0.2933203615847896],
        "model.layers.1.mlp.gate_proj.weight": [0.015634328692005695, 0.026142428639276346],
        "model.layers.1.mlp.up_proj.weight": [0.031737618569196574, 0.03301933135815022],
        "model.layers.1.mlp.down_proj.weight": [0.08395153076591456, 0.08921410983811998],
        "model.layers.1.input_layernorm.weight": [0.0007213828953653344, 0.035308202272663104],
        "model.layers.1.post_attention_layernorm.weight": [-0.002621342786989897, 0.0027024720580906096],
        "model.norm.weight": [0.06450158488330088, 0.05476392803963318],
        "lm_head.weight": [1.9100905657932097, 0.974799538867016],
    ]
    static let lora: [String: [Double]] = [
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": [-0.004139744292810821, 0.011672124818971475],
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": [-0.014153117538658666, 0.050793679416216306],
        "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight": [0.0038373654649377234, 0.032987545728074115],
        "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight": [-0.019112698723605413, 0.10123499611921966],
        "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight": [0.001673812461614404, 0.012023305545076279],
        "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight": [-0.0014181075621161662, 0.0067972734445333576],
        "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight": [0.008844642729581666, 0.0054944282430264835],
        "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight": [0.006151952089454809, 0.03114949037896681],
        "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight": [-0.09051484118377348, 0.03839228133897921],
        "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight": [0.010360658345130978, 0.12294092144447936],
        "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight": [-0.010522569995854531, 0.01690652242277242],
        "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight": [0.0032164131919965233, 0.01332372219020596],
    ]
}
