import Codec
import FedSimCLI
import Federation
import Foundation
import Numerics
import Scenario
import XCTest

/// `workload.payload.model` as an object: a model shape of one's own.
final class CustomModelScenarioTests: XCTestCase {
    let llama2Shape: JSONValue = ["layers": 32, "hidden": 4096, "intermediate": 11008, "heads": 32, "kv_heads": 32, "vocab": 32000]

    func scenario(model: JSONValue, targets: [String] = ["q", "k", "v", "o", "gate", "up", "down"]) throws -> Scenario {
        let payload: JSONValue = ["model": model, "rank": 16, "targets": .array(targets.map { .string($0) }), "values": "bf16"]
        return try ScenarioParser.parse(["name": "x", "workload": ["payload": payload]])
    }

    func payload(_ s: Scenario) throws -> FederationConfig.Payload {
        guard case let .catalogue(p) = s.config.workload.payloadModel else { throw XCTSkip("not a model payload") }
        return p
    }

    /// A custom shape with Llama 2 7B's config values prices exactly as the catalogue's llama-2-7b:
    /// the same LoRA shapes, parameters, FLOPs and every codec's bytes.
    func testCustomShapeOfLlama2PricesAsTheCatalogueEntry() throws {
        let custom = try payload(scenario(model: llama2Shape)), catalogued = try payload(scenario(model: "llama-2-7b"))
        XCTAssertEqual(custom.shapes, catalogued.shapes)
        XCTAssertEqual(custom.shapes.count, 32 * 7)
        XCTAssertEqual(custom.loraParameters, catalogued.loraParameters)
        XCTAssertEqual(custom.model.parameterCount(), 6_738_415_616)
        XCTAssertEqual(custom.trainingFLOPs(samples: 600, tokensPerSample: 512, epochs: 1),
                       catalogued.trainingFLOPs(samples: 600, tokensPerSample: 512, epochs: 1))
        var options = CodecOptions()
        options.valueType = .bf16
        for name in CodecRegistry.names {
            let codec = try CodecRegistry.make(name, options: options)
            let a = codec.payloadBytes(shapes: custom.shapes), b = codec.payloadBytes(shapes: catalogued.shapes)
            XCTAssertEqual([a.upload, a.download], [b.upload, b.download], name)
        }
        XCTAssertEqual(custom.model.name, "custom")
        XCTAssertFalse(custom.model.isCatalogued)
    }

    /// The resolved form writes the shape with its defaults (head_dim, tied_embeddings, name) and parses back to it.
    func testResolvedCustomShapeRoundTrips() throws {
        var shape = llama2Shape
        if case var .object(o) = shape { o["name"] = "my-7b"; o["tied_embeddings"] = true; shape = .object(o) }
        let s = try scenario(model: shape)
        guard case let .object(root) = s.resolved, case let .object(workload)? = root["workload"], case let .object(p)? = workload["payload"] else {
            return XCTFail("resolved shape")
        }
        XCTAssertEqual(p["model"], ["name": "my-7b", "layers": 32, "hidden": 4096, "intermediate": 11008, "heads": 32, "kv_heads": 32,
                                    "head_dim": 128, "vocab": 32000, "tied_embeddings": true])
        let again = try ScenarioParser.parse(s.resolved)
        XCTAssertEqual(again.resolved, s.resolved)
        XCTAssertEqual(try payload(again).model, try payload(s).model)
        // A catalogue model still resolves to its id.
        guard case let .object(r2) = try scenario(model: "Meta-Llama/Llama-2-7b-HF").resolved, case let .object(w2)? = r2["workload"],
              case let .object(p2)? = w2["payload"] else { return XCTFail("resolved catalogue") }
        XCTAssertEqual(p2["model"], "llama-2-7b")
    }

    /// `fedsim validate` prints the custom shape resolved, and that output validates to itself.
    func testValidatePrintsTheShapeAndReadsItBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-custom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("custom.json")
        try Data(#"{"name": "c", "workload": {"payload": {"model": {"layers": 26, "hidden": 2304, "intermediate": 9216, "heads": 8, "kv_heads": 4, "head_dim": 256, "vocab": 256000, "tied_embeddings": true}, "rank": 8, "targets": ["q", "v"]}}}"#.utf8).write(to: file)
        let first = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["validate", file.path], console: first.console), 0, first.err)
        XCTAssertTrue(first.out.contains(#""head_dim" : 256"#), first.out)
        let resolvedFile = dir.appendingPathComponent("resolved.json")
        try Data(first.out.utf8).write(to: resolvedFile)
        let second = CapturedConsole()
        XCTAssertEqual(FedSimMain.run(["validate", resolvedFile.path], console: second.console), 0, second.err)
        XCTAssertEqual(second.out, first.out)
    }

    /// Bad shapes are refused at the offending key.
    func testBadShapes() throws {
        func refused(_ model: JSONValue, targets: [String] = ["q", "v"], at path: String, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try scenario(model: model, targets: targets), line: line) { error in
                guard let e = error as? InputError else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(e.keyPath, path, "\(e)", line: line)
                XCTAssertTrue(e.description.contains(fragment), "'\(e)' lacks '\(fragment)'", line: line)
            }
        }
        func with(_ key: String, _ value: JSONValue) -> JSONValue {
            guard case var .object(o) = llama2Shape else { return .null }
            o[key] = value
            return .object(o)
        }
        let at = "workload.payload.model"
        refused(with("kv_heads", 5), at: "\(at).kv_heads", "dividing heads (32)")
        refused(with("layers", 0), at: "\(at).layers", "a number of layers in 1…1024")
        refused(with("hidden", "4096"), at: "\(at).hidden", "a hidden size in 1…131072")
        refused(with("layers", 1e300), at: "\(at).layers", "a number of layers in 1…1024")
        refused(with("vocab", 32000.5), at: "\(at).vocab", "a vocabulary size")
        refused(with("kv_head", 8), at: at, "unknown key 'kv_head' (did you mean 'kv_heads'?)")
        refused(with("tied_embeddings", "yes"), at: "\(at).tied_embeddings", "true or false")
        refused(with("name", "gpt2"), at: "\(at).name", "not a catalogue model's")
        refused(with("head_dim", 8192), at: "\(at).head_dim", "heads · head_dim at most 131072")
        refused(with("vocab", .null), at: at, "vocab")
        refused(17, at: at, "a catalogue model name or a model shape")
        // The LoRA checks apply to a custom shape as to a catalogued one.
        refused(llama2Shape, targets: ["qkv_proj"], at: "workload.payload.targets[0]", "unknown custom LoRA target 'qkv_proj'")
    }
}
