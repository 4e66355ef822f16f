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
    //   gpt2            124,439,808    qwen2.5-0.5b    494,032,768    qwen2.5-1.5b   1,543,714,304
    //   qwen2.5-3b    3,085,938,688    qwen2.5-7b    7,615,616,512    gemma-2-2b     2,614,341,888
    //   phi-3-mini    3,821,079,552    llama-2-7b    6,738,415,616    llama-2-13b   13,015,864,320
    //   llama-2-70b  68,976,648,192    llama-3-8b    8,030,261,248    llama-3-70b   70,553,706,496
    //   mistral-7b    7,241,732,096
    // The architecture formula reproduces each exactly (relative error 0), well inside the 1% required.
    func testComputedParameterCountsMatchPublishedTotals() throws {
        let published: [String: Int] = [
            "gpt2": 124_439_808, "qwen2.5-0.5b": 494_032_768, "qwen2.5-1.5b": 1_543_714_304, "qwen2.5-3b": 3_085_938_688,
            "qwen2.5-7b": 7_615_616_512, "gemma-2-2b": 2_614_341_888, "phi-3-mini": 3_821_079_552,
            "llama-2-7b": 6_738_415_616, "llama-2-13b": 13_015_864_320, "llama-2-70b": 68_976_648_192,
            "llama-3-8b": 8_030_261_248, "llama-3-70b": 70_553_706_496, "mistral-7b": 7_241_732_096,
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
        // Qwen2.5-1.5B and 3B (tied): 1.31B and 2.77B non-embedding.
        for (id, nonEmbedding) in [("qwen2.5-1.5b", 1.31), ("qwen2.5-3b", 2.77)] {
            let m = try model(id)
            XCTAssertEqual(Double(m.parameterCount() - m.embeddingParameters) / 1e9, nonEmbedding, accuracy: 0.005, id)
        }
        // Gemma 2 2B (the Gemma 2 report: 590M embedding, 2,024M non-embedding): a block is q 2304·2048, k and v
        // 2304·1024 each, o 2048·2304, three 2304·9216 GeGLU matrices and four RMSNorms.
        let gemma = try model("gemma-2-2b")
        XCTAssertEqual(gemma.embeddingParameters, 589_824_000)
        XCTAssertEqual(gemma.parametersPerLayer, 2304 * 2048 + 2 * 2304 * 1024 + 2048 * 2304 + 3 * 2304 * 9216 + 4 * 2304)
        XCTAssertEqual(gemma.parameterCount() - gemma.embeddingParameters, 2_024_517_888)
        // Phi-3's fused qkv_proj (3072→9216) and gate_up_proj (3072→16384) hold what separate matrices would.
        let phi = try model("phi-3-mini")
        XCTAssertEqual(phi.parametersPerLayer, 3072 * 9216 + 3072 * 3072 + 3072 * 16384 + 8192 * 3072 + 2 * 3072)
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
        // Gemma 2 2B's head_dim is 256, not 2304 / 8 = 288.
        let gemma = try model("gemma-2-2b")
        XCTAssertEqual([gemma.hiddenSize, gemma.intermediateSize, gemma.layers, gemma.attentionHeads, gemma.keyValueHeads,
                        gemma.headDim, gemma.vocabularySize, gemma.normsPerLayer], [2304, 9216, 26, 8, 4, 256, 256_000, 4])
        XCTAssertEqual(gemma.mlp, .gatedGeGLU)
        XCTAssertTrue(gemma.tiedEmbeddings)
        let phi = try model("phi-3-mini")
        XCTAssertEqual([phi.hiddenSize, phi.intermediateSize, phi.layers, phi.attentionHeads, phi.keyValueHeads, phi.headDim, phi.vocabularySize],
                       [3072, 8192, 32, 32, 32, 96, 32064])
        XCTAssertEqual(phi.family, .phi3)
        XCTAssertFalse(phi.tiedEmbeddings)
        for (id, kv, vocab) in [("llama-2-13b", 40, 32000), ("llama-2-70b", 8, 32000), ("llama-3-70b", 8, 128_256)] {
            let m = try model(id)
            XCTAssertEqual([m.keyValueHeads, m.vocabularySize, m.headDim], [kv, vocab, 128], id)
        }
        for m in ModelCatalog.all {
            XCTAssertTrue(m.isCatalogued, m.name)
            XCTAssertFalse(m.huggingFaceID.isEmpty, m.name)
        }
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
        // Gemma 2 2B q, v at r = 8: 26 × 8 × ((2304 + 2048) + (2304 + 1024)) — head_dim 256, not hidden / heads.
        XCTAssertEqual(try model("gemma-2-2b").loraParameterCount(rank: 8, targets: ["q", "v"]), 26 * 8 * (4352 + 3328))
        // Phi-3 mini on qkv_proj and o_proj at r = 16: 32 × 16 × ((3072 + 9216) + (3072 + 3072)).
        XCTAssertEqual(try model("phi-3-mini").loraParameterCount(rank: 16, targets: ["qkv_proj", "o_proj"]), 32 * 16 * (12288 + 6144))
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
        // Gemma 2 2B: q_proj 2304→2048, k/v 2304→1024, o 2048→2304.
        let gemma = try model("gemma-2-2b").loraShapes(rank: 8, targets: ["q", "k", "v", "o", "gate", "up", "down"])
        XCTAssertEqual(gemma.count, 26 * 7)
        XCTAssertEqual(gemma.prefix(7).map { [$0.inFeatures, $0.outFeatures] },
                       [[2304, 2048], [2304, 1024], [2304, 1024], [2048, 2304], [2304, 9216], [2304, 9216], [9216, 2304]])
        XCTAssertEqual(gemma.last?.name, "model.layers.25.mlp.down_proj")
        // Phi-3: the fused modules, as PEFT names them; the role names map onto them.
        let phi = try model("phi-3-mini").loraShapes(rank: 8, targets: ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"])
        XCTAssertEqual(phi.count, 32 * 4)
        XCTAssertEqual(phi.prefix(4).map(\.name), ["model.layers.0.self_attn.qkv_proj", "model.layers.0.self_attn.o_proj",
                                                   "model.layers.0.mlp.gate_up_proj", "model.layers.0.mlp.down_proj"])
        XCTAssertEqual(phi.prefix(4).map { [$0.inFeatures, $0.outFeatures] }, [[3072, 9216], [3072, 3072], [3072, 16384], [8192, 3072]])
        XCTAssertEqual(try model("phi-3-mini").loraShapes(rank: 8, targets: ["qkv", "o", "gate_up", "down"]), phi)
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
        // Phi-3: q, k, v, gate and up have no module of their own; the message names the fused one.
        let phi = try model("phi-3-mini")
        for (index, target) in ["q", "k_proj", "v"].enumerated() {
            assertError(path: "payload.targets[\(index)]", "expected 'qkv_proj'", "phi-3-mini fuses q, k and v into one 3072→9216 projection, self_attn.qkv_proj",
                        "found '\(target)'") {
                try phi.loraShapes(rank: 8, targets: Array(["qkv_proj", "o_proj", "down"].prefix(index)) + [target])
            }
        }
        for target in ["gate", "up_proj"] {
            assertError(path: "payload.targets[0]", "expected 'gate_up_proj'", "fuses gate and up into one 3072→16384 projection, mlp.gate_up_proj",
                        "found '\(target)'") { try phi.loraShapes(rank: 8, targets: [target]) }
        }
        assertError(path: "payload.targets[1]", "each module targeted once", "self_attn.qkv_proj") { try phi.loraShapes(rank: 8, targets: ["qkv", "qkv_proj"]) }
        assertError(path: "payload.targets[0]", "unknown phi-3-mini LoRA target 'c_attn'", "valid: qkv, o, gate_up, down") {
            try phi.loraShapes(rank: 8, targets: ["c_attn"])
        }
        assertError(path: "payload.targets", "expected at least one LoRA target (e.g. \"qkv_proj\")") { try phi.loraShapes(rank: 8, targets: []) }
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
            "meta-llama/Llama-2-13b-hf": "llama-2-13b", "llama2-13b": "llama-2-13b", "Llama-2-13b-chat": "llama-2-13b",
            "meta-llama/Llama-2-70b-hf": "llama-2-70b", "llama2-70b": "llama-2-70b", "meta-llama/Llama-2-70b-chat-hf": "llama-2-70b",
            "meta-llama/Meta-Llama-3-70B": "llama-3-70b", "llama3-70b": "llama-3-70b", "meta-llama/Meta-Llama-3-70B-Instruct": "llama-3-70b",
            "Qwen/Qwen2.5-1.5B": "qwen2.5-1.5b", "Qwen2.5-1.5B-Instruct": "qwen2.5-1.5b", "Qwen/Qwen2.5-3B": "qwen2.5-3b",
            "Qwen/Qwen2.5-3B-Instruct": "qwen2.5-3b", "phi-3-mini": "phi-3-mini", "microsoft/Phi-3-mini-4k-instruct": "phi-3-mini",
            "Phi-3-mini-4k-instruct": "phi-3-mini", "google/gemma-2-2b": "gemma-2-2b", "gemma-2-2b-it": "gemma-2-2b",
        ]
        for (alias, id) in expected { XCTAssertEqual(try ModelCatalog.named(alias).name, id, alias) }
        for target in ModelCatalog.aliases.values { XCTAssertTrue(ModelCatalog.names.contains(target), target) }
    }

    func testUnknownModel() {
        assertError(path: "workload.model", "unknown model 'lama-2-7b'", "did you mean 'llama-2-7b'?",
                    "valid: gpt2, qwen2.5-0.5b, qwen2.5-1.5b, qwen2.5-3b, qwen2.5-7b, gemma-2-2b, phi-3-mini, llama-2-7b, llama-2-13b, llama-2-70b, llama-3-8b, llama-3-70b, mistral-7b") {
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

    // MARK: custom shapes

    func custom(_ body: (inout [String: Int]) -> Void = { _ in }, headDim: Int? = nil, name: String = "custom") throws -> ModelArchitecture {
        var v = ["layers": 32, "hidden": 4096, "intermediate": 11008, "heads": 32, "kv_heads": 32, "vocab": 32000]
        body(&v)
        return try CustomModelShape.architecture(name: name, layers: v["layers"] ?? 0, hidden: v["hidden"] ?? 0, intermediate: v["intermediate"] ?? 0,
                                                 heads: v["heads"] ?? 0, keyValueHeads: v["kv_heads"] ?? 0, headDim: headDim,
                                                 vocabulary: v["vocab"] ?? 0, keyPath: "workload.payload.model")
    }

    /// A custom shape with Llama 2 7B's config values is Llama 2 7B in everything but its name.
    func testCustomShapeEqualToLlama2IsLlama2() throws {
        let shape = try custom(), llama = try model("llama-2-7b")
        XCTAssertFalse(shape.isCatalogued)
        XCTAssertEqual(shape.name, "custom")
        XCTAssertEqual(shape.parameterCount(), llama.parameterCount())
        XCTAssertEqual(shape.publishedParameters, 6_738_415_616)
        XCTAssertEqual(shape.computeParameters, llama.computeParameters)
        let targets = ["q", "k", "v", "o", "gate", "up", "down"]
        XCTAssertEqual(try shape.loraShapes(rank: 16, targets: targets), try llama.loraShapes(rank: 16, targets: targets))
        XCTAssertEqual(shape.trainingFLOPsPerToken(loraParameters: 1), llama.trainingFLOPsPerToken(loraParameters: 1))
        // Setting head_dim to its default changes nothing; Gemma's shape needs it set.
        XCTAssertEqual(try custom(headDim: 128), shape)
        let gemmaLike = try custom({ $0 = ["layers": 26, "hidden": 2304, "intermediate": 9216, "heads": 8, "kv_heads": 4, "vocab": 256_000] }, headDim: 256)
        XCTAssertEqual(try gemmaLike.loraShapes(rank: 4, targets: ["q", "k", "o"]).prefix(3).map { [$0.inFeatures, $0.outFeatures] },
                       [[2304, 2048], [2304, 1024], [2048, 2304]])
    }

    func testCustomShapeErrors() throws {
        let at = "workload.payload.model"
        assertError(path: "\(at).kv_heads", "a number of key/value heads dividing heads (32)", "found 5") { try self.custom { $0["kv_heads"] = 5 } }
        assertError(path: "\(at).kv_heads", "dividing heads (8)", "found 16") { try self.custom { $0["heads"] = 8; $0["kv_heads"] = 16 } }
        assertError(path: "\(at).layers", "a number of layers in 1…1024", "found 0") { try self.custom { $0["layers"] = 0 } }
        assertError(path: "\(at).hidden", "a hidden size in 1…131072", "found -4096") { try self.custom { $0["hidden"] = -4096 } }
        assertError(path: "\(at).vocab", "a vocabulary size in 1…4194304", "found \(Int.max)") { try self.custom { $0["vocab"] = Int.max } }
        assertError(path: "\(at).heads", "dividing hidden (4096), or head_dim given", "found 24") { try self.custom { $0["heads"] = 24; $0["kv_heads"] = 8 } }
        assertError(path: "\(at).head_dim", "heads · head_dim at most 131072", "32 · 16384 = 524288") { try self.custom(headDim: 16384) }
        assertError(path: "\(at).head_dim", "a head width in 1…16384", "found \(Int.max)") { try self.custom(headDim: Int.max) }
        assertError(path: "\(at).name", "not a catalogue model's", "\"model\": \"llama-2-7b\"") { try self.custom(name: "meta-llama/Llama-2-7b-hf") }
        assertError(path: "\(at).name", "ASCII letters, digits and . _ - +", "found 'my model'") { try self.custom(name: "my model") }
        assertError(path: "\(at).name", "1…64") { try self.custom(name: "") }
        assertError(path: "\(at).name", "1…64") { try self.custom(name: String(repeating: "a", count: 65)) }
    }

    /// The largest shape the bounds allow counts its parameters and LoRA shapes without overflow.
    func testLargestCustomShapeDoesNotOverflow() throws {
        let f = CustomModelShape.self
        let largest = try CustomModelShape.architecture(
            name: "largest", layers: f.layers.range.upperBound, hidden: f.hidden.range.upperBound, intermediate: f.intermediate.range.upperBound,
            heads: f.heads.range.upperBound, keyValueHeads: f.keyValueHeads.range.upperBound, headDim: f.maxAttentionWidth / f.heads.range.upperBound,
            vocabulary: f.vocabulary.range.upperBound, tiedEmbeddings: false)
        XCTAssertLessThan(largest.parameterCount(), 1 << 50)
        let targets = ["q", "k", "v", "o", "gate", "up", "down"]
        let lora = try largest.loraParameterCount(rank: largest.hiddenSize, targets: targets)
        XCTAssertLessThan(lora, 1 << 51)
        XCTAssertTrue(largest.trainingFLOPsPerToken(loraParameters: lora).isFinite)
    }

    func testCustomShapeCodableRoundTrip() throws {
        let shape = try custom(name: "mine")
        XCTAssertEqual(try JSONDecoder().decode(ModelArchitecture.self, from: JSONEncoder().encode(shape)), shape)
    }

    /// docs/SCENARIOS.md's catalogue table states each model's values and links its config.json.
    func testDocumentedCatalogueTableIsTheCatalogue() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/SCENARIOS.md"), encoding: .utf8)
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| `") }
        XCTAssertEqual(rows.count, ModelCatalog.all.count)
        func grouped(_ n: Int) -> String {
            let digits = Array(String(n))
            return String(digits.enumerated().flatMap { i, c in (i > 0 && (digits.count - i) % 3 == 0) ? [",", c] : [c] })
        }
        for m in ModelCatalog.all {
            guard let row = rows.first(where: { $0.hasPrefix("| `\(m.name)` |") }) else {
                XCTFail("no row for \(m.name)")
                continue
            }
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            XCTAssertEqual(Array(cells[1...9]), [m.displayName, "\(m.layers)", "\(m.hiddenSize)", "\(m.intermediateSize)",
                                                  "\(m.attentionHeads) / \(m.keyValueHeads)", "\(m.headDim)", "\(m.vocabularySize)",
                                                  m.tiedEmbeddings ? "yes" : "no", grouped(m.publishedParameters)], m.name)
            XCTAssertEqual(cells.last, "[\(m.huggingFaceID)](https://huggingface.co/\(m.huggingFaceID)/blob/main/config.json)", m.name)
        }
    }
}
