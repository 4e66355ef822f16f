import Codec
import Federation
import Foundation
import LoRA
import Numerics

/// The external-trainer protocol's own cost per client call (docs/EXTERNAL-TRAINER.md) on a
/// Llama-2-7B-sized adapter (r = 16 on q, k, v, o: 16.8 M parameters): writing the global adapter,
/// reading the trained one back and checking it (names, shapes, finite values) — against the
/// codec's encode of the same update (fedsrd at sparsity 0.9), which every call pays anyway.
enum ExternalBenchmark: Benchmark {
    static let name = "external"
    static let summary = "external-trainer protocol per call (write global, read + check update) vs fedsrd encode, Llama-2-7B r=16 q,k,v,o"

    /// As in `fedsim run` with training: single-threaded BLAS (OpenBLAS's idle threads would
    /// otherwise spin on the second core).
    static func run(_ context: BenchContext) -> [BenchRow] { BLASThreads.singleThreaded { measure(context) } }

    static func measure(_ context: BenchContext) -> [BenchRow] {
        guard let model = try? ModelCatalog.named("llama-2-7b"), var shapes = try? model.loraShapes(rank: 16, targets: ["q", "k", "v", "o"]) else { return [] }
        if context.quick { shapes = Array(shapes.prefix(16)) }
        let stream = RandomStream(seed: 11, purpose: "bench.external")
        var global = LoRAAdapter.kaimingUniform(shapes, stream: stream)
        for l in global.layers.indices {
            global.layers[l].b = Matrix(rows: shapes[l].outFeatures, cols: shapes[l].rank) { _, _ in Float(stream.standardNormal() * 0.01) }
        }
        // As a trainer's initial adapter arrives: modules in the file's natural order.
        guard let natural = try? PEFTAdapter.loraAdapter(from: PEFTAdapter.safetensors(from: global, dtype: .f32), fileName: "bench") else { return [] }
        global = natural
        shapes = global.shapes
        var trained = global
        for l in trained.layers.indices {
            trained.layers[l].a = trained.layers[l].a + Matrix(rows: shapes[l].rank, cols: shapes[l].inFeatures) { _, _ in Float(stream.standardNormal() * 0.001) }
            trained.layers[l].b = trained.layers[l].b + Matrix(rows: shapes[l].outFeatures, cols: shapes[l].rank) { _, _ in Float(stream.standardNormal() * 0.001) }
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-bench-external-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let globalPath = dir.appendingPathComponent("global.safetensors").path, updatePath = dir.appendingPathComponent("adapter.safetensors").path
        // The trainer's side (not the protocol's cost): its adapter on disk.
        guard (try? ExternalWorkload.writeAdapter(trained, to: updatePath)) != nil else { return [] }

        var write = Double.infinity, read = Double.infinity, encode = Double.infinity
        var ok = true
        for _ in 0..<3 {
            write = min(write, measureSeconds { ok = ok && (try? ExternalWorkload.writeAdapter(global, to: globalPath)) != nil })
            read = min(read, measureSeconds {
                if case .failure = ExternalWorkload.readUpdate(updatePath, global: global, freezingA: false) { ok = false }
            })
        }
        var options = CodecOptions()
        options.sparsity = 0.9
        let codec = FedSRDCodec(options: options)
        let delta = trained.subtracting(global)
        for _ in 0..<2 {
            var state = ClientCodecState()
            encode = min(encode, measureSeconds { ok = ok && (try? codec.encode(delta: delta, global: global, round: 1, state: &state)) != nil })
        }
        guard ok else {
            FileHandle.standardError.write(Data("bench: external: a protocol step failed\n".utf8))
            return []
        }
        // The global adapter is written once per round for all of its clients; per call it costs
        // write / K. The row charges a whole write to every call (one client per round).
        let perCall = write + read
        let parameters = global.parameterCount
        FileHandle.standardError.write(Data(String(format: "bench: external: %d parameters (%.1f MB as F32): write global %.3f s, read + check update %.3f s, fedsrd encode %.3f s; protocol/encode %.1f%% (%.1f%% with the global written once for 10 clients)\n",
                                                   parameters, Double(parameters * 4) / 1e6, write, read, encode, 100 * perCall / encode, 100 * (write / 10 + read) / encode).utf8))
        let shared = write / 10 + read
        return [
            BenchRow(benchmark: name, metric: "protocol per call ÷ fedsrd encode (Llama-2-7B r=16\(context.quick ? ", 16 modules" : ""); global shared by 10 clients)",
                     ours: shared / encode, peer: nil, peerName: "–", goal: nil, ceiling: (0.10, "10%")),
            BenchRow(benchmark: name, metric: "the same with a whole global write per call", ours: perCall / encode, peer: nil, peerName: "–", goal: nil),
            BenchRow(benchmark: name, metric: "read + check an update, s", ours: read, peer: nil, peerName: "–", goal: nil),
        ]
    }
}
