import Codec
import FedSimCLI
import Foundation
import LoRA
import Numerics
import XCTest

final class CodecCommandTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-codec-cli-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let capture = CapturedConsole()
        let status = FedSimMain.run(arguments, console: capture.console)
        return (status, capture.out, capture.err)
    }

    func adapter(seed: UInt64, shift: Float = 0, rank: Int = 4) -> LoRAAdapter {
        let shapes = (0..<2).map { LoRALayerShape(name: "base_model.model.model.layers.\($0).self_attn.q_proj", inFeatures: 64, outFeatures: 48, rank: rank) }
        var a = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(seed: 1, purpose: "test.init"))
        let stream = RandomStream(seed: seed, purpose: "test.delta")
        for l in a.layers.indices {
            a.layers[l].b = Matrix(rows: 48, cols: rank) { _, _ in Float(stream.standardNormal()) * 0.01 + shift }
            a.layers[l].a.storage = a.layers[l].a.storage.map { $0 + Float(stream.standardNormal()) * 0.001 * (shift == 0 ? 0 : 1) }
        }
        return a
    }

    func save(_ adapter: LoRAAdapter, _ name: String, dtype: SafeTensorsDType = .f32) throws -> String {
        let path = folder + "/" + name
        try PEFTAdapter.safetensors(from: adapter, dtype: dtype).write(to: path)
        return path
    }

    func testAllCodecsOnRealFilesAsJSON() throws {
        let before = try save(adapter(seed: 1), "before.safetensors")
        let after1 = try save(adapter(seed: 2, shift: 0.001), "after1.safetensors")
        let after2 = try save(adapter(seed: 3, shift: 0.002), "after2.safetensors", dtype: .bf16)
        let r = run(["codec", before, after1, after2, "--json", "--sparsity", "0.8", "--layers"])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let codecs = object["codecs"] as! [[String: Any]]
        XCTAssertEqual(codecs.map { $0["name"] as! String }, CodecRegistry.names)
        let lora = codecs[0]
        XCTAssertEqual(lora["ratio_to_lora"] as! Double, 1, accuracy: 1e-12)
        XCTAssertEqual(lora["client_rel_error"] as! [Double], [0, 0])
        XCTAssertEqual(lora["client_kept_energy"] as! [Double], [1, 1], "a lossless upload keeps the whole update")
        XCTAssertNotNil(lora["update_cosine"] as? Double)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(lora["update_kurtosis"] as? Double), 1)
        let table = run(["codec", before, after1, after2, "--codec", "fedsrd"])
        XCTAssertEqual(table.status, 0, table.err)
        XCTAssertTrue(table.out.contains("kept energy") && table.out.contains("update kurtosis"), table.out)
        for c in codecs {
            XCTAssertEqual((c["upload_bytes"] as! [Int]).count, 2)
            XCTAssertNotNil(c["aggregate_rel_error"] as? Double)
            XCTAssertEqual((c["layers"] as! [Any]).count, 2)
        }
        let fedsrd = codecs[1]
        XCTAssertNotNil(fedsrd["residual"] as? Double)
        // Layers of 64×4 and 48×4 are below min_sparse_entries (1024): sent dense, so no saving here.
        XCTAssertEqual(fedsrd["ratio_to_lora"] as! Double, 1, accuracy: 0.01)
    }

    func testCatalogTableAndJSON() throws {
        let r = run(["codec", "--catalog", "llama-2-7b", "--rank", "16", "--targets", "q,v", "--json", "--values", "bf16"])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        XCTAssertEqual(object["lora_parameters"] as? Int, 8_388_608)
        let codecs = object["codecs"] as! [[String: Any]]
        let lora = codecs.first { $0["name"] as? String == "lora" }!, fedsrd = codecs.first { $0["name"] as? String == "fedsrd" }!
        // Dense bf16: 2 bytes per parameter plus headers.
        XCTAssertEqual(Double(lora["upload_bytes"] as! Int), 2 * 8_388_608, accuracy: 2 * 8_388_608 * 0.001)
        XCTAssertLessThanOrEqual(fedsrd["ratio_to_lora"] as! Double, 0.2)
        let table = run(["codec", "--catalog", "mistral-7b", "--rank", "8", "--targets", "q,k,v,o"])
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.out.contains("fedsrd"))
        let bad = run(["codec", "--catalog", "llama-2-7", "--rank", "16", "--targets", "q,v"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.err.contains("did you mean 'llama-2-7b'"), bad.err)
        let badTarget = run(["codec", "--catalog", "llama-2-7b", "--rank", "16", "--targets", "q,x"])
        XCTAssertEqual(badTarget.status, 2)
        XCTAssertTrue(badTarget.err.contains("targets[1]"), badTarget.err)
    }

    /// Bad adapters: exit 2, naming the file, the tensor or module, and what was expected.
    func testBadAdaptersExitTwoNamingFileAndTensor() throws {
        let good = adapter(seed: 1)
        let before = try save(good, "before.safetensors")
        func expectError(_ path: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
            let r = run(["codec", before, path])
            XCTAssertEqual(r.status, 2, r.err, file: file, line: line)
            XCTAssertEqual(r.out, "", file: file, line: line)
            for fragment in fragments { XCTAssertTrue(r.err.contains(fragment), "'\(r.err)' lacks '\(fragment)'", file: file, line: line) }
        }
        // Missing B for a module.
        var missing = PEFTAdapter.safetensors(from: good, dtype: .f32)
        missing.tensors.removeValue(forKey: "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight")
        let missingPath = folder + "/missing.safetensors"
        try missing.write(to: missingPath)
        expectError(missingPath, ["missing.safetensors", "layers.1.self_attn.q_proj", "lora_B"])
        // Mismatched ranks between A and B.
        var ranks = PEFTAdapter.safetensors(from: good, dtype: .f32)
        let key = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"
        ranks.tensors[key] = .init(dtype: .f32, shape: [48, 3], values: [Float](repeating: 0, count: 144))
        let ranksPath = folder + "/ranks.safetensors"
        try ranks.write(to: ranksPath)
        expectError(ranksPath, ["ranks.safetensors", "layers.0.self_attn.q_proj"])
        // Shapes differ between BEFORE and AFTER.
        expectError(try save(adapter(seed: 2, rank: 8), "rank8.safetensors"), ["rank8.safetensors"])
        // Unsupported dtype, truncated file, header length past the end, non-finite values.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: before))
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        let i64 = header.replacingOccurrences(of: "\"F32\"", with: "\"I64\"")
        try (bytes[0..<8] + Data(i64.utf8) + bytes[(8 + headerLength)...]).write(to: URL(fileURLWithPath: folder + "/i64.safetensors"))
        expectError(folder + "/i64.safetensors", ["i64.safetensors", "I64"])
        try bytes.prefix(5).write(to: URL(fileURLWithPath: folder + "/short.safetensors"))
        expectError(folder + "/short.safetensors", ["short.safetensors"])
        var past = bytes
        past[0] = 0xFF; past[1] = 0xFF; past[2] = 0xFF
        try past.write(to: URL(fileURLWithPath: folder + "/past.safetensors"))
        expectError(folder + "/past.safetensors", ["past.safetensors"])
        // The writer refuses NaN, so patch the bytes of a valid file: the last value of the last tensor.
        var patched = bytes
        let nanBits = Float.nan.bitPattern
        for b in 0..<4 { patched[patched.count - 4 + b] = UInt8(truncatingIfNeeded: nanBits >> UInt32(8 * b)) }
        try patched.write(to: URL(fileURLWithPath: folder + "/nan.safetensors"))
        expectError(folder + "/nan.safetensors", ["nan.safetensors", "NaN"])
        expectError(folder + "/absent.safetensors", ["absent.safetensors"])
    }

    /// A PEFT file with extras: a modules_to_save head (F32), DoRA magnitudes, an I64 buffer and `count` more biases.
    func saveWithExtras(_ adapter: LoRAAdapter, _ name: String, biases: Int = 0) throws -> String {
        var file = PEFTAdapter.safetensors(from: adapter, dtype: .f32)
        file.tensors["base_model.model.score.modules_to_save.default.weight"] = .init(dtype: .f32, shape: [2, 48], values: (0..<96).map { Float($0) / 96 })
        for l in 0..<2 {
            file.tensors["base_model.model.model.layers.\(l).self_attn.q_proj.lora_magnitude_vector"] = .init(dtype: .f32, shape: [48], values: [Float](repeating: 1, count: 48))
        }
        for b in 0..<biases { file.tensors["base_model.model.extra.\(b).bias"] = .init(dtype: .bf16, shape: [4], values: [0.5, 1, 2, 4]) }
        file.raw["base_model.model.model.norm.num_batches_tracked"] = .init(dtype: .i64, shape: [], bytes: [7, 0, 0, 0, 0, 0, 0, 0])
        let path = folder + "/" + name
        try file.write(to: path)
        return path
    }

    func testExtrasAreCountedInEveryCodecsBytesAndListed() throws {
        let plain = (try save(adapter(seed: 1), "b0.safetensors"), try save(adapter(seed: 2, shift: 0.001), "a0.safetensors"))
        let rich = (try saveWithExtras(adapter(seed: 1), "b1.safetensors", biases: 9), try saveWithExtras(adapter(seed: 2, shift: 0.001), "a1.safetensors", biases: 9))
        let r0 = run(["codec", plain.0, plain.1, "--json"]), r1 = run(["codec", rich.0, rich.1, "--json"])
        XCTAssertEqual(r0.status, 0, r0.err)
        XCTAssertEqual(r1.status, 0, r1.err)
        XCTAssertEqual(r0.err, "", "no warning without extras")
        let o0 = try JSONSerialization.jsonObject(with: Data(r0.out.utf8)) as! [String: Any]
        let o1 = try JSONSerialization.jsonObject(with: Data(r1.out.utf8)) as! [String: Any]
        XCTAssertNil((o0["adapter"] as! [String: Any])["extras"])
        let extras = try XCTUnwrap((o1["adapter"] as! [String: Any])["extras"] as? [String: Any])
        XCTAssertEqual(extras["tensors"] as? Int, 1 + 2 + 9 + 1)
        XCTAssertEqual(extras["bytes"] as? Int, 96 * 4 + 2 * 48 * 4 + 9 * 4 * 2 + 8)
        let message = try XCTUnwrap(extras["message_bytes"] as? Int)
        XCTAssertGreaterThan(message, extras["bytes"] as! Int)
        for (c0, c1) in zip(o0["codecs"] as! [[String: Any]], o1["codecs"] as! [[String: Any]]) {
            XCTAssertEqual((c1["upload_bytes"] as! [Int]), (c0["upload_bytes"] as! [Int]).map { $0 + message }, "\(c0["name"]!)")
            XCTAssertEqual(c1["download_bytes"] as! Int, (c0["download_bytes"] as! Int) + message, "\(c0["name"]!)")
            XCTAssertEqual(c1["client_rel_error"] as! [Double], c0["client_rel_error"] as! [Double], "extras change no LoRA error")
        }
        // The warning lists the extras by kind, long lists clipped; the table names both categories.
        XCTAssertTrue(r1.err.contains("warning: \(rich.0): 13 tensor(s) are not LoRA factors"), r1.err)
        XCTAssertTrue(r1.err.contains("DoRA magnitude: 2 tensor(s)") && r1.err.contains("bias: 9 tensor(s)") && r1.err.contains("… and 3 more"), r1.err)
        XCTAssertTrue(r1.err.contains("num_batches_tracked (I64 [])"), r1.err)
        let table = run(["codec", rich.0, rich.1, "--codec", "fedsrd"])
        XCTAssertEqual(table.status, 0, table.err)
        XCTAssertTrue(table.out.contains("LoRA pairs through the codec: 2") && table.out.contains("extras dense: 13 tensors, \(extras["bytes"]!) bytes (\(message) bytes with framing"), table.out)
        // An AFTER that lacks an extra, or has it in another dtype, is an error naming the tensor.
        var dropped = try SafeTensorsFile.read(contentsOf: rich.1)
        dropped.raw.removeValue(forKey: "base_model.model.model.norm.num_batches_tracked")
        try dropped.write(to: folder + "/dropped.safetensors")
        let d = run(["codec", rich.0, folder + "/dropped.safetensors"])
        XCTAssertEqual(d.status, 2)
        XCTAssertTrue(d.err.contains("dropped.safetensors") && d.err.contains("'base_model.model.model.norm.num_batches_tracked'"), d.err)
        var retyped = try SafeTensorsFile.read(contentsOf: rich.1)
        retyped.raw["base_model.model.model.norm.num_batches_tracked"] = .init(dtype: .i32, shape: [], bytes: [7, 0, 0, 0])
        try retyped.write(to: folder + "/retyped.safetensors")
        let t = run(["codec", rich.0, folder + "/retyped.safetensors"])
        XCTAssertEqual(t.status, 2)
        XCTAssertTrue(t.err.contains("I64 []") && t.err.contains("I32 []"), t.err)
    }

    func testDirectoryFIFOAndDeviceAsAdapterAreClearErrors() throws {
        let before = try save(adapter(seed: 1), "before.safetensors")
        let fifo = folder + "/pipe.safetensors"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for (path, what) in [(folder, "is a directory"), (fifo, "is a FIFO"), ("/dev/null", "is a device")] {
            for arguments in [["codec", path, before], ["codec", before, path]] {
                let r = run(arguments)
                XCTAssertEqual(r.status, 2, r.err)
                XCTAssertTrue(r.err.contains(path) && r.err.contains(what), r.err)
            }
        }
    }

    func testUsageErrors() {
        XCTAssertEqual(run(["codec"]).status, 2)
        XCTAssertEqual(run(["codec", "a.safetensors"]).status, 2)
        let sparsity = run(["codec", "a", "b", "--sparsity", "1.5"])
        XCTAssertEqual(sparsity.status, 2)
        XCTAssertTrue(sparsity.err.contains("[0, 1)"))
        let codec = run(["codec", "a", "b", "--codec", "fedsdr"])
        XCTAssertEqual(codec.status, 2)
        XCTAssertTrue(codec.err.contains("did you mean 'fedsrd'"), codec.err)
        XCTAssertEqual(run(["codec", "a", "b", "--weights", "1,2"]).status, 2)
        XCTAssertEqual(run(["codec", "--catalog", "gpt2", "--targets", "c_attn"]).status, 2)
    }
}
