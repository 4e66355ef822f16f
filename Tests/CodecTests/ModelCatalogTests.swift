import Codec
import Foundation
import LoRA
import Numerics
import XCTest

final class ModelCatalogTests: XCTestCase {
    func model(_ name: String) throws -> ModelArchitecture { try ModelCatalog.named(name, keyPath: "model") }

    /// `body` must throw an `InputError` at `path` whose message contains every fragment.
    func assertError(path: String, _ fragments: String..., file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Any) {
        do {
            let value = try body()
            XCTFail("accepted, gave \(value)", file: file, line: line)
        } catch let error as InputError {
            XCTAssertEqual(error.keyPath, path, "\(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
            }
        } catch {
            XCTFail("not an InputError: \(error)", file: file, line: line)
        }
    }

    // Published totals (Hugging Face Hub, from each checkpoint's safetensors metadata; GPT-2 from
    // transformers' num_parameters(), see the catalogue's comments):
    //   gpt2          124,439,808      qwen2.5-0.5b   494,032,768     qwen2.5-7b   7,615,616,512
    //   llama-2-7b  6,738,415,616      llama-3-8b   8,030,261,248     mistral-7b   7,241,732,096
    // The architecture formula reproduces each exactly (relative error 0), well inside the 1% required.
    func testComputedParameterCountsMatchPublishedTotals() throws {
        let published: [String: Int] = [
            "gpt2": 124_439_808, "qwen2.5-0.5b": 494_032_768, "qwen2.5-7b": 7_615_616_512,
            "llama-2-7b": 6_738_415_616, "llama-3-8b": 8_030_261_248, "mistral-7b": 7_241_732_096,
        ]
        XCTAssertEqual(Set(ModelCatalog.names), Set(published.keys))
        for m in ModelCatalog.all {
            let computed = m.parameterCount()
            XCTAssertEqual(m.publishedParameters, published[m.name], m.name)
            let relative = abs(Double(computed - m.publishedParameters)) / Double(m.publishedParameters)
            XCTAssertLessThan(relative, 0.01, "\(m.name): computed \(computed) vs published \(m.publishedParameters)")
            XCTAssertEqual(computed, m.publishedParameters, m.name)
        }
    }

    func testParameterBreakdownMatchesModelCards() throws {
        // GPT-2: wte 50257·768 + wpe 1024·768 = 39,383,808; a block is 7,087,872 (two LayerNorms, c_attn,
        // attn.c_proj, c_fc, mlp.c_proj, all with biases); ln_f 1,536; tied head.
        let gpt2 = try model("gpt2")
        XCTAssertEqual(gpt2.embeddingParameters, 39_383_808)
        XCTAssertEqual(gpt2.parametersPerLayer, 7_087_872)
        XCTAssertEqual(gpt2.parametersPerNorm, 1536)
        // Qwen2.5 model cards give non-embedding totals of 0.36B and 6.53B (embeddings: input table, plus the
        // LM head when untied).
        let small = try model("qwen2.5-0.5b"), large = try model("qwen2.5-7b")
        XCTAssertEqual(Double(small.parameterCount() - small.embeddingParameters) / 1e9, 0.36, accuracy: 0.005)
        XCTAssertEqual(Double(large.parameterCount() - 2 * large.embeddingParameters) / 1e9, 6.53, accuracy: 0.005)
        // Tying matters: untying Qwen2.5-0.5B would add a 151936 × 896 head.
        var untied = small
        untied.tiedEmbeddings = false
        XCTAssertEqual(untied.parameterCount() - small.parameterCount(), 151_936 * 896)
        // Qwen's q/k/v biases: 896 + 2·128 per layer.
        var unbiased = small
        unbiased.attentionBias = .none
        XCTAssertEqual(small.parametersPerLayer - unbiased.parametersPerLayer, 896 + 2 * 128)
    }

    func testConfigValues() throws {
        let llama3 = try model("llama-3-8b")
        XCTAssertEqual([llama3.hiddenSize, llama3.intermediateSize, llama3.layers, llama3.attentionHeads, llama3.keyValueHeads,
                        llama3.headDim, llama3.vocabularySize], [4096, 14336, 32, 32, 8, 128, 128_256])
        let qwen = try model("qwen2.5-0.5b")
        XCTAssertEqual([qwen.headDim, qwen.keyValueHeads * qwen.headDim], [64, 128])
        XCTAssertTrue(qwen.tiedEmbeddings)
        XCTAssertEqual(try model("gpt2").positionEmbedding, .learned(positions: 1024))
        XCTAssertEqual(try model("mistral-7b").positionEmbedding, .rotary)
        XCTAssertEqual(Set(ModelCatalog.all.map(\.name)).count, ModelCatalog.all.count, "duplicate ids")
        for m in ModelCatalog.all { XCTAssertEqual(m.name, m.name.lowercased()) }
    }

    func testCodableRoundTrip() throws {
        let data = try JSONEncoder().encode(ModelCatalog.all)
        XCTAssertEqual(try JSONDecoder().decode([ModelArchitecture].self, from: data), ModelCatalog.all)
    }

    func testKnownLoRAParameterCounts() throws {
        let llama2 = try model("llama-2-7b")
        // 32 layers × 2 targets × 16 × (4096 + 4096).
        XCTAssertEqual(try llama2.loraParameterCount(rank: 16, targets: ["q", "v"]), 8_388_608)
        // The familiar PEFT figures: r = 8 on q, v and on all seven linear layers.
        XCTAssertEqual(try llama2.loraParameterCount(rank: 8, targets: ["q_proj", "v_proj"]), 4_194_304)
        XCTAssertEqual(try llama2.loraParameterCount(rank: 8, targets: ["q", "k", "v", "o", "gate", "up", "down"]), 19_988_480)
        // Llama-3-8B has GQA: v is 4096→1024, so 32 × 16 × ((4096 + 4096) + (4096 + 1024)).
        let llama3 = try model("llama-3-8b")
        XCTAssertEqual(try llama3.loraParameterCount(rank: 16, targets: ["q", "v"]), 32 * 16 * (8192 + 5120))
        XCTAssertEqual(try llama3.loraParameterCount(rank: 8, targets: ["q", "v"]), 3_407_872)
        XCTAssertEqual(try model("mistral-7b").loraParameterCount(rank: 8, targets: ["q", "k", "v", "o", "gate", "up", "down"]), 20_971_520)
        // Qwen2.5-0.5B q, v at r = 8: 24 × 8 × ((896 + 896) + (896 + 128)).
        XCTAssertEqual(try model("qwen2.5-0.5b").loraParameterCount(rank: 8, targets: ["q", "v"]), 540_672)
        // GPT-2 c_attn at r = 8: 12 × 8 × (768 + 2304).
        XCTAssertEqual(try model("gpt2").loraParameterCount(rank: 8, targets: ["c_attn"]), 294_912)
    }

    func testShapesAndNamesFollowLayerThenTargetOrder() throws {
        let shapes = try model("llama-3-8b").loraShapes(rank: 4, targets: ["v", "q", "down"])
        XCTAssertEqual(shapes.count, 32 * 3)
        XCTAssertEqual(Array(shapes.prefix(4)), [
            LoRALayerShape(name: "model.layers.0.self_attn.v_proj", inFeatures: 4096, outFeatures: 1024, rank: 4),
            LoRALayerShape(name: "model.layers.0.self_attn.q_proj", inFeatures: 4096, outFeatures: 4096, rank: 4),
            LoRALayerShape(name: "model.layers.0.mlp.down_proj", inFeatures: 14336, outFeatures: 4096, rank: 4),
            LoRALayerShape(name: "model.layers.1.self_attn.v_proj", inFeatures: 4096, outFeatures: 1024, rank: 4),
        ])
        XCTAssertEqual(shapes.last?.name, "model.layers.31.mlp.down_proj")
        let kinds = try model("qwen2.5-0.5b").loraShapes(rank: 2, targets: ["k", "o", "gate", "up"]).prefix(4)
        XCTAssertEqual(kinds.map(\.name), ["model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.o_proj",
                                           "model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"])
        XCTAssertEqual(kinds.map { [$0.inFeatures, $0.outFeatures] }, [[896, 128], [896, 896], [896, 4864], [896, 4864]])

        let gpt2 = try model("gpt2").loraShapes(rank: 8, targets: ["c_attn", "attn.c_proj", "c_fc", "mlp.c_proj"])
        XCTAssertEqual(gpt2.count, 48)
        XCTAssertEqual(gpt2.prefix(4).map(\.name), ["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj",
                                                    "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"])
        XCTAssertEqual(gpt2.prefix(4).map { [$0.inFeatures, $0.outFeatures] }, [[768, 2304], [768, 768], [768, 3072], [3072, 768]])
        XCTAssertEqual(gpt2.last?.name, "transformer.h.11.mlp.c_proj")
        // Role names on GPT-2: o → attn.c_proj, up → c_fc, down → mlp.c_proj.
        XCTAssertEqual(try model("gpt2").loraShapes(rank: 8, targets: ["o", "up", "down"]).prefix(3).map(\.name),
                       ["transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"])
        // The rank bound is inclusive: k of Qwen2.5-0.5B is 896→128.
        XCTAssertEqual(try model("qwen2.5-0.5b").loraShapes(rank: 128, targets: ["k"]).first?.rank, 128)
    }

    func testTargetErrors() throws {
        let llama = try model("llama-2-7b"), gpt2 = try model("gpt2")
        assertError(path: "payload.targets[1]", "unknown llama-2-7b LoRA target 'q_porj'", "did you mean 'q_proj'?", "valid: q, k, v, o") {
            try llama.loraShapes(rank: 8, targets: ["v", "q_porj"])
        }
        assertError(path: "workload.payload.targets[2]", "each module targeted once", "'v_proj'", "self_attn.v_proj", "targets[0] 'v'") {
            try llama.loraShapes(rank: 8, targets: ["v", "q", "v_proj"], keyPath: "workload.payload")
        }
        assertError(path: "targets", "expected at least one LoRA target", "found an empty list") {
            try llama.loraShapes(rank: 8, targets: [], keyPath: "")
        }
        assertError(path: "payload.targets[0]", "expected 'c_attn'", "GPT-2 fuses q, k and v into one 768→2304 projection", "found 'q'") {
            try gpt2.loraShapes(rank: 8, targets: ["q"])
        }
        assertError(path: "payload.targets[1]", "fuses q, k and v", "found 'v_proj'") { try gpt2.loraShapes(rank: 8, targets: ["c_fc", "v_proj"]) }
        assertError(path: "payload.targets[0]", "expected 'c_fc' or 'mlp.c_proj'", "not gated", "found 'gate'") { try gpt2.loraShapes(rank: 8, targets: ["gate"]) }
        assertError(path: "payload.targets[0]", "expected 'attn.c_proj' or 'mlp.c_proj'", "found 'c_proj'") { try gpt2.loraShapes(rank: 8, targets: ["c_proj"]) }
        assertError(path: "payload.targets[0]", "unknown gpt2 LoRA target 'o_proj'", "did you mean 'attn.c_proj'?") {
            try gpt2.loraShapes(rank: 8, targets: ["o_proj"])
        }
        assertError(path: "payload.targets[1]", "each module targeted once", "attn.c_proj") { try gpt2.loraShapes(rank: 8, targets: ["o", "attn.c_proj"]) }
        assertError(path: "payload.targets[0]", "unknown llama-2-7b LoRA target 'c_attn'", "valid:") { try llama.loraShapes(rank: 8, targets: ["c_attn"]) }
    }

    func testRankErrors() throws {
        let llama = try model("llama-2-7b")
        assertError(path: "payload.rank", "expected a positive rank, found 0") { try llama.loraShapes(rank: 0, targets: ["q"]) }
        assertError(path: "w.rank", "expected a positive rank, found -4") { try llama.loraShapes(rank: -4, targets: ["q"], keyPath: "w") }
        // The tightest targeted layer bounds the rank: k_proj of Qwen2.5-0.5B is 896→128.
        assertError(path: "payload.rank", "at most 128", "self_attn.k_proj of qwen2.5-0.5b is 896→128", "found 129") {
            try self.model("qwen2.5-0.5b").loraShapes(rank: 129, targets: ["q", "k"])
        }
        assertError(path: "payload.rank", "at most 768", "found 1000") { try self.model("gpt2").loraShapes(rank: 1000, targets: ["c_fc"]) }
        XCTAssertEqual(try llama.loraShapes(rank: 4096, targets: ["q"]).count, 32)
    }

    func testLookupIsCaseInsensitiveAndAcceptsAliases() throws {
        let expected: [String: String] = [
            "llama-2-7b": "llama-2-7b", "LLaMA-2-7B": "llama-2-7b", "meta-llama/Llama-2-7b-hf": "llama-2-7b", "llama2-7b": "llama-2-7b",
            "mistral-7b-v0.1": "mistral-7b", "mistralai/Mistral-7B-v0.1": "mistral-7b", "Qwen/Qwen2.5-7B": "qwen2.5-7b",
            "Qwen/Qwen2.5-0.5B-Instruct": "qwen2.5-0.5b", "meta-llama/Meta-Llama-3-8B": "llama-3-8b", "GPT2": "gpt2",
            "openai-community/gpt2": "gpt2", "gpt-2": "gpt2",
        ]
        for (alias, id) in expected { XCTAssertEqual(try ModelCatalog.named(alias).name, id, alias) }
        for target in ModelCatalog.aliases.values { XCTAssertTrue(ModelCatalog.names.contains(target), target) }
    }

    func testUnknownModel() {
        assertError(path: "workload.model", "unknown model 'lama-2-7b'", "did you mean 'llama-2-7b'?",
                    "valid: gpt2, qwen2.5-0.5b, qwen2.5-7b, llama-2-7b, llama-3-8b, mistral-7b") {
            try ModelCatalog.named("lama-2-7b", keyPath: "workload.model")
        }
        // A near miss of a Hugging Face id suggests the catalogue id.
        assertError(path: "payload.model", "did you mean 'llama-2-7b'?") { try ModelCatalog.named("meta-llama/Llama-2-7b") }
        assertError(path: "payload.model", "unknown model 'falcon-40b'", "valid: gpt2") { try ModelCatalog.named("falcon-40b") }
        do {
            _ = try ModelCatalog.named("falcon-40b")
        } catch let error as InputError {
            guard case let .unknownName(_, _, suggestion, _) = error.problem else { return XCTFail("\(error)") }
            XCTAssertNil(suggestion)
        } catch { XCTFail("\(error)") }
    }

    func testTrainingFLOPs() throws {
        // Llama-2-7B: N_base = 6,738,415,616 − 32000·4096 (embedding lookup) = 6,607,343,616.
        let llama = try model("llama-2-7b")
        XCTAssertEqual(llama.computeParameters, 6_607_343_616)
        let lora = try llama.loraParameterCount(rank: 16, targets: ["q", "v"])
        XCTAssertEqual(llama.trainingFLOPsPerToken(loraParameters: lora), 4 * 6_607_343_616 + 6 * 8_388_608)
        // Cheaper than full fine-tuning's 6·N by about a third.
        XCTAssertEqual(llama.trainingFLOPsPerToken(loraParameters: lora) / (6 * Double(llama.parameterCount())), 0.655, accuracy: 0.005)
        // GPT-2: the tied head still costs a multiply per weight, the position table does not.
        let gpt2 = try model("gpt2")
        XCTAssertEqual(gpt2.computeParameters, 124_439_808 - 1024 * 768)
        XCTAssertEqual(gpt2.trainingFLOPsPerToken(loraParameters: 0), 4 * Double(124_439_808 - 1024 * 768))
    }
}
