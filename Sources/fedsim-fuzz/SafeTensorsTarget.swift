import Codec
import Foundation
import LoRA
import Numerics

/// `SafeTensorsFile.read(data:name:)` then `PEFTFile` (LoRA pairs and extras) and `ExtrasMessage` (module Codec).
final class SafeTensorsTarget: FuzzTarget {
    let name = "safetensors"
    let summary = "safetensors reader + PEFT adapter reader: SafeTensorsFile.read, PEFTFile (pairs and extras), compatible, ExtrasMessage (module Codec)"
    let dictionary = ["F32", "F16", "BF16", "F64", "I64", "BOOL", "U8", "f32", "F8_E4M3", "", "dtype", "shape", "data_offsets",
                      "__metadata__", "format", "pt", "layers.0.q_proj.lora_A.weight", "layers.0.q_proj.lora_B.weight",
                      "layers.1.v_proj.lora_A.default.weight", "x.lora_A.weight", ".lora_B.weight", "lora_A",
                      "I32", "I16", "I8", "U16", "U32", "U64", "F8_E5M2", "F8_E8M0", "embed.lora_embedding_A", "embed.lora_embedding_B",
                      ".lora_magnitude_vector", "score.modules_to_save.default.weight", ".lora_B.bias"]
    var reference: LoRAAdapter?

    static func adapter(seed: UInt64) -> LoRAAdapter {
        let shapes = [LoRALayerShape(name: "layers.0.q_proj", inFeatures: 6, outFeatures: 5, rank: 2),
                      LoRALayerShape(name: "layers.2.v_proj", inFeatures: 4, outFeatures: 3, rank: 2),
                      LoRALayerShape(name: "layers.10.v_proj", inFeatures: 4, outFeatures: 3, rank: 2)]
        return LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(StreamKey(seed: seed, purpose: "fuzz-adapter")))
    }

    func corpus() throws -> [FuzzCase] {
        var adapter = Self.adapter(seed: 1)
        for l in adapter.layers.indices { adapter.layers[l].b = Matrix(rows: adapter.layers[l].b.rows, cols: adapter.layers[l].b.cols) { i, j in Float(i + 2 * j) * 0.01 - 0.02 } }
        reference = adapter
        var files: [SafeTensorsFile] = SafeTensorsDType.allCases.map { PEFTAdapter.safetensors(from: adapter, dtype: $0) }
        var withDefault = SafeTensorsFile(metadata: ["format": "pt", "note": "ß\u{1F600}"])
        for (k, v) in files[0].tensors { withDefault.tensors[k.replacingOccurrences(of: ".weight", with: ".default.weight")] = v }
        files.append(withDefault)
        var extra = files[1]
        extra.tensors["base_model.embed_tokens.weight"] = .init(dtype: .f32, shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        extra.tensors["scalar"] = .init(dtype: .bf16, shape: [], values: [0.5])
        extra.tensors["empty"] = .init(dtype: .f16, shape: [0, 4], values: [])
        files.append(extra)
        files.append(SafeTensorsFile(tensors: ["only.lora_A.weight": .init(dtype: .f32, shape: [1, 2], values: [1, 2])]))
        // Extras of every kept-as-bytes dtype, and embedding LoRA.
        var whole = files[0]
        whole.tensors["embed.lora_embedding_A"] = .init(dtype: .f32, shape: [2, 5], values: (0..<10).map { Float($0) / 10 })
        whole.tensors["embed.lora_embedding_B"] = .init(dtype: .f32, shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        whole.tensors["layers.0.q_proj.lora_magnitude_vector"] = .init(dtype: .f32, shape: [5], values: [1, 1, 1, 1, 1])
        for dtype in SafeTensorsElementType.allCases where dtype.decoded == nil {
            whole.raw["extra.\(dtype.rawValue)"] = .init(dtype: dtype, shape: [2], bytes: [UInt8](repeating: 1, count: 2 * dtype.byteCount))
        }
        files.append(whole)
        return try files.map { FuzzCase(name: "adapter.safetensors", bytes: [UInt8](try $0.serialized())) }
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        let headerLength = Binary.u64le(bytes, 0)
        let headerValid = bytes.count >= 8 && headerLength <= UInt64(bytes.count - 8)
        switch rng.below(10) {
        case 0...4 where headerValid:   // the header's JSON: offsets, shapes, dtypes, names; length fixed most times
            let end = 8 + Int(headerLength)
            var header = Array(bytes[8..<end])
            let others = corpus.map { c -> [UInt8] in
                let n = Binary.u64le(c.primary, 0)
                return c.primary.count >= 8 && n <= UInt64(c.primary.count - 8) ? Array(c.primary[8..<(8 + Int(n))]) : []
            }
            JSONMutator.mutate(&header, &rng, others: others, dictionary: dictionary)
            var out = [UInt8](repeating: 0, count: 8)
            Binary.putU64le(rng.chance(0.85) ? UInt64(header.count) : UInt64(header.count) &+ UInt64(rng.int(-8...8) & 0xFFFF), into: &out, at: 0)
            bytes = out + header + Array(bytes[end...])
        case 5 where bytes.count >= 8:   // the header length field
            let n = Binary.u64le(bytes, 0)
            let values: [UInt64] = [0, 1, 2, n &- 1, n &+ 1, UInt64(bytes.count), UInt64(bytes.count - 8), UInt64(bytes.count - 7),
                                    1 << 31, 1 << 32, 1 << 63, UInt64.max, UInt64.max - 7]
            Binary.putU64le(rng.pick(values), into: &bytes, at: 0)
        case 6 where headerValid && bytes.count > 8 + Int(headerLength):   // data bytes: NaN, infinity, subnormals
            let dataStart = 8 + Int(headerLength)
            let at = dataStart + rng.below(bytes.count - dataStart)
            let pattern: [UInt8] = rng.pick([[0x00, 0x00, 0xC0, 0x7F], [0x00, 0x00, 0x80, 0x7F], [0x00, 0x7C], [0x80, 0x7F], [0x01, 0, 0, 0]])
            for (k, b) in pattern.enumerated() where at + k < bytes.count { bytes[at + k] = b }
        default:
            ByteMutator.mutate(&bytes, &rng, others: corpus.map(\.primary))
        }
        input.set("adapter.safetensors", bytes)
    }

    func run(_ input: FuzzCase) throws {
        let file = try SafeTensorsFile.read(data: Data(input.primary), name: "adapter.safetensors")
        _ = PEFTAdapter.ignoredTensorNames(in: file)
        _ = try file.serialized()
        let whole = try PEFTFile(from: file, fileName: "adapter.safetensors")
        let adapter = whole.adapter
        // The extras go through their message and back, and the whole file writes and reads back the
        // same: a difference is a finding (a crash), not an expected error.
        let message = ExtrasMessage(kind: .update, round: 1, extras: whole.extras)
        let bytes = message.encoded()
        precondition(bytes.count == message.encodedSize, "ExtrasMessage size function differs from its encoding")
        let decoded = try ExtrasMessage.decode(bytes, expected: whole.extras)
        precondition(decoded.extras == message.extras && (message.extras.isEmpty || decoded == message), "ExtrasMessage round trip differs")
        let back = try PEFTFile(from: SafeTensorsFile.read(data: whole.safetensors(dtype: .f32).serialized(), name: "back"), fileName: "back")
        precondition(back.extras == whole.extras, "PEFTFile extras do not survive a write and read")
        if let reference { try PEFTAdapter.compatible(reference, adapter, beforeName: "reference", afterName: "adapter") }
        _ = PEFTAdapter.safetensors(from: adapter, dtype: .bf16)
    }
}
