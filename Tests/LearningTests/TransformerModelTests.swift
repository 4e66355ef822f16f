import Foundation
@testable import Learning
import Numerics
import XCTest

/// The model's structure: LoRA's start equals the base, the causal mask, Hugging Face's rotary
/// convention, PEFT's names, and configuration errors.
final class TransformerModelTests: XCTestCase {
    typealias G = TransformerGradientTests

    /// Next-token probabilities of every position of `windows` (n windows).
    func probabilities(_ base: TransformerWeights, _ adapter: TransformerAdapter?, _ windows: [Int32], _ n: Int) -> [Float] {
        let layout = TransformerLayout(config: base.config, adapter: adapter)
        let bp = layout.pack(base), ap = adapter.map { layout.pack($0) }
        let ws = TransformerWorkspace(layout: layout, sequences: n, length: windows.count / n - 1)
        _ = windows.withUnsafeBufferPointer { TransformerMath.forward(layout, base: bp.pointer, adapter: ap?.pointer, tokens: $0.baseAddress!, ws: ws) }
        return Array(UnsafeBufferPointer(start: ws.probs, count: ws.rows * base.config.vocabulary))
    }

    func testFreshLoRAEqualsTheBaseBitForBit() {
        let base = G.model()
        let adapter = TransformerAdapter(config: G.config, lora: TransformerLoRAConfig(targets: TransformerModule.allCases, rank: 2, alpha: 16), seed: 9)
        XCTAssertTrue(adapter.entries.allSatisfy { $0.b.storage.allSatisfy { $0 == 0 } })
        XCTAssertTrue(adapter.entries.allSatisfy { $0.a.frobeniusNorm() > 0 })
        XCTAssertEqual(probabilities(base, adapter, G.windows, 2), probabilities(base, nil, G.windows, 2))
        // And a non-zero B changes the output.
        XCTAssertNotEqual(probabilities(base, G.adapter(), G.windows, 2), probabilities(base, nil, G.windows, 2))
    }

    func testLoRAInitialisationIsKaimingUniformAsPEFT() {
        let config = TransformerConfig(layers: 2, width: 64, heads: 4, context: 8, vocabulary: 256, hidden: 160)
        let a = TransformerAdapter(config: config, lora: TransformerLoRAConfig(targets: [.q, .down], rank: 4, alpha: 8), seed: 1)
        for e in a.entries {
            let bound = 1 / Float(e.a.cols).squareRoot()
            XCTAssertTrue(e.a.storage.allSatisfy { abs($0) <= bound }, e.shape.name)
            XCTAssertGreaterThan(e.a.storage.map(abs).max() ?? 0, 0.9 * bound, e.shape.name)
        }
        XCTAssertEqual(a.entries.map { "\($0.a.rows)x\($0.a.cols) \($0.b.rows)x\($0.b.cols)" },
                       ["4x64 64x4", "4x160 64x4", "4x64 64x4", "4x160 64x4"])
    }

    func testPEFTNamesInOrder() {
        let a = TransformerAdapter(config: G.config, lora: TransformerLoRAConfig(targets: [.v, .q, .gate, .q], rank: 2, alpha: 4), seed: 1)
        XCTAssertEqual(a.namedTensors.map(\.name).prefix(6), [
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
            "base_model.model.model.layers.0.mlp.gate_proj.lora_A.weight",
            "base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight",
        ])
        XCTAssertEqual(a.entries.count, 6)
        XCTAssertEqual(a.index(layer: 1, module: .gate), 5)
        XCTAssertNil(a.index(layer: 1, module: .k))
        XCTAssertEqual(G.model().tensorNames.prefix(3), ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                                                         "model.layers.0.self_attn.k_proj.weight"])
        XCTAssertEqual(G.model().tensorNames.last, "lm_head.weight")
        XCTAssertEqual(G.model().parameterCount, G.config.parameterCount)
    }

    /// Changing a later token leaves every earlier position's prediction unchanged (bit for bit),
    /// and does change its own position's.
    func testCausalMask() {
        let base = G.model()
        let before = probabilities(base, G.adapter(), G.windows, 2)
        var changed = G.windows
        changed[3] = (changed[3] + 4) % 11  // window 0, position 3
        let after = probabilities(base, G.adapter(), changed, 2)
        let v = G.config.vocabulary
        XCTAssertEqual(Array(after[0..<(3 * v)]), Array(before[0..<(3 * v)]))
        XCTAssertNotEqual(Array(after[(3 * v)..<(4 * v)]), Array(before[(3 * v)..<(4 * v)]))
        XCTAssertNotEqual(Array(after[(5 * v)..<(6 * v)]), Array(before[(5 * v)..<(6 * v)]))
        // The other window is untouched.
        XCTAssertEqual(Array(after[(6 * v)...]), Array(before[(6 * v)...]))
    }

    /// Hugging Face's `apply_rotary_pos_emb`: `q·cos + rotate_half(q)·sin`, pairs (i, i + d/2),
    /// frequency θ^(−2i/d).
    func testRotaryPositionsFollowHuggingFace() {
        let (cos, sin) = TransformerKernels.ropeTables(context: 3, headSize: 4, theta: 10000)
        var x: [Float] = [1, 2, 3, 4, 1, 2, 3, 4]  // two heads of row 1 → position 1 (context 3, rows 0..<2)
        var rows: [Float] = [0, 0, 0, 0, 0, 0, 0, 0] + x
        cos.withUnsafeBufferPointer { c in sin.withUnsafeBufferPointer { s in
            rows.withUnsafeMutableBufferPointer { TransformerKernels.rope($0.baseAddress!, rows: 2, width: 8, headSize: 4, context: 3,
                                                                          cos: c.baseAddress!, sin: s.baseAddress!, inverse: false) }
        } }
        let f0 = 1.0, f1 = 0.01  // 10000^0, 10000^(−2/4)
        let expected = [1 * Foundation.cos(f0) - 3 * Foundation.sin(f0), 2 * Foundation.cos(f1) - 4 * Foundation.sin(f1),
                        3 * Foundation.cos(f0) + 1 * Foundation.sin(f0), 4 * Foundation.cos(f1) + 2 * Foundation.sin(f1)]
        for (k, e) in (expected + expected).enumerated() { XCTAssertEqual(Double(rows[8 + k]), e, accuracy: 1e-6) }
        XCTAssertEqual(Array(rows[0..<8]), [0, 0, 0, 0, 0, 0, 0, 0])
        // The inverse rotation undoes it.
        cos.withUnsafeBufferPointer { c in sin.withUnsafeBufferPointer { s in
            rows.withUnsafeMutableBufferPointer { TransformerKernels.rope($0.baseAddress!, rows: 2, width: 8, headSize: 4, context: 3,
                                                                          cos: c.baseAddress!, sin: s.baseAddress!, inverse: true) }
        } }
        x = Array(rows[8...])
        for (k, e) in [1, 2, 3, 4, 1, 2, 3, 4].enumerated() { XCTAssertEqual(x[k], Float(e), accuracy: 1e-6) }
    }

    func testConfigurationErrors() {
        func keyOf(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let e as InputError { return e.keyPath } catch { return "other" }
        }
        XCTAssertNil(keyOf { try TransformerConfig().validate() })
        XCTAssertEqual(keyOf { try TransformerConfig(width: 130, heads: 4).validate() }, "model.width")
        XCTAssertEqual(keyOf { try TransformerConfig(width: 12, heads: 4).validate() }, "model.heads")  // head size 3 is odd
        XCTAssertEqual(keyOf { try TransformerConfig(context: 0).validate() }, "model.context")
        XCTAssertEqual(keyOf { try TransformerConfig(layers: -1).validate() }, "model.layers")
        XCTAssertEqual(keyOf { try TransformerConfig(vocabulary: 1 << 20).validate() }, "model.vocabulary")
        let config = TransformerConfig()
        XCTAssertNil(keyOf { try TransformerLoRAConfig().validate(for: config) })
        XCTAssertEqual(keyOf { try TransformerLoRAConfig(rank: 129).validate(for: config) }, "lora.rank")
        XCTAssertEqual(keyOf { try TransformerLoRAConfig(rank: 0).validate(for: config) }, "lora.rank")
        XCTAssertEqual(keyOf { try TransformerLoRAConfig(targets: []).validate(for: config) }, "lora.targets")
        XCTAssertEqual(try TransformerLoRAConfig.modules(named: ["q_proj", "v", "down_proj"]), [.q, .v, .down])
        XCTAssertEqual(keyOf { _ = try TransformerLoRAConfig.modules(named: ["q", "qkv"]) }, "lora.targets[1]")
        do { try TransformerConfig(width: 130, heads: 4).validate() } catch {
            XCTAssertTrue("\(error)".contains("divisible"), "\(error)")
        }
    }
}
