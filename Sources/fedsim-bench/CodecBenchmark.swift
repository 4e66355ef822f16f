import Codec
import Foundation
import LoRA
import Numerics

/// The codec: FedSRD's server step (aggregate 10 clients + decompose) on one 4096 × 4096 layer at
/// r = 16, factored vs dense (ours) vs numpy's dense implementation of the same algorithm, same inputs;
/// and the client's encode throughput.
enum CodecBenchmark: Benchmark {
    static let name = "codec"
    static let summary = "FedSRD server step 4096×4096 r=16, 10 clients (factored single-threaded and threaded, dense, numpy); client encode"

    static func run(_ context: BenchContext) -> [BenchRow] {
        let d = context.quick ? 1024 : 4096, r = 16, clients = 10
        let shapes = [LoRALayerShape(name: "layer", inFeatures: d, outFeatures: d, rank: r)]
        let stream = RandomStream(seed: 7, purpose: "bench.codec")
        var global = LoRAAdapter.kaimingUniform(shapes, stream: stream)
        global.layers[0].b = Matrix(rows: d, cols: r) { _, _ in Float(stream.standardNormal() * 0.01) }
        let deltas = (0..<clients).map { _ in
            LoRAAdapter(layers: [LoRALayer(shape: shapes[0],
                                           a: Matrix(rows: r, cols: d) { _, _ in Float(stream.standardNormal() * 0.001) },
                                           b: Matrix(rows: d, cols: r) { _, _ in Float(stream.standardNormal() * 0.001) })])
        }
        var options = CodecOptions()
        options.sparsity = 0.9
        let factored = FedSRDCodec(options: options)
        var denseOptions = options
        denseOptions.denseServer = true
        let dense = FedSRDCodec(options: denseOptions)

        // Client encode: importance, kurtosis, top-k, wire; one core (this loop is single-threaded,
        // BLAS is not used by the client step).
        var states = [ClientCodecState](repeating: ClientCodecState(), count: clients)
        var updates: [WeightedUpdate] = []
        _ = try! factored.encode(delta: deltas[0], global: global, round: 1, state: &states[0])  // warm-up
        var encodeSeconds = Double.infinity
        for _ in 0..<3 {
            updates = []
            encodeSeconds = min(encodeSeconds, measureSeconds {
                for i in 0..<clients {
                    let up = try! factored.encode(delta: deltas[i], global: global, round: 1, state: &states[i])
                    updates.append(WeightedUpdate(bytes: up.bytes, weight: Double(100 + 10 * i)))
                }
            })
        }
        let parametersPerSecond = Double(clients * shapes[0].parameterCount) / encodeSeconds

        // The factored step as fedsim runs it: with single-threaded BLAS (a federation that trains and
        // `fedsim codec` both run every product single-threaded, so a run gives the same bytes on any
        // number of cores); and with OpenBLAS's own threads, as the dense paths and numpy run.
        var factoredResult: AggregationResult?
        var best = Double.infinity
        BLASThreads.singleThreaded {
            for _ in 0..<3 { best = min(best, measureSeconds { factoredResult = try! factored.aggregate(updates, global: global, round: 1) }) }
        }
        var threadedBest = Double.infinity
        for _ in 0..<3 { threadedBest = min(threadedBest, measureSeconds { _ = try! factored.aggregate(updates, global: global, round: 1) }) }
        var denseResult: AggregationResult?
        let denseSeconds = measureSeconds { denseResult = try! dense.aggregate(updates, global: global, round: 1) }
        let agreement = relativeDifference(factoredResult!.global, denseResult!.global, base: global)

        // numpy: the same dense algorithm on the same decoded inputs, written to a scratch folder.
        var numpySeconds: Double?
        var numpyAgreement: Double?
        if context.python != nil, let folder = try? exportInputs(updates: updates, global: global, codec: factored) {
            if let peer = context.runPeer("fedsrd_numpy.py", [folder, String(options.iterations), String(options.ridge), String(options.sparsity)]) {
                numpySeconds = peer["seconds"] as? Double
                if let deltaB = readFloats(folder + "/numpy_delta_b.f32"), let deltaA = readFloats(folder + "/numpy_delta_a.f32") {
                    let numpyGlobal = LoRAAdapter(layers: [LoRALayer(shape: shapes[0], a: global.layers[0].a + Matrix(rows: r, cols: d, storage: deltaA),
                                                                     b: global.layers[0].b + Matrix(rows: d, cols: r, storage: deltaB))])
                    numpyAgreement = relativeDifference(factoredResult!.global, numpyGlobal, base: global)
                }
            }
            try? FileManager.default.removeItem(atPath: folder)
        }
        // fedsrd-e's server step on the same layer, with and without the residual `fedsim codec`
        // reports (factored: thin QRs in Double; it used to form ΔW densely).
        var reportOptions = options
        reportOptions.reportResidual = true
        let efficient = FedSRDECodec(options: options), reporting = FedSRDECodec(options: reportOptions)
        let efficientUpdates = (0..<clients).map { i -> WeightedUpdate in
            var state = ClientCodecState()
            return WeightedUpdate(bytes: try! efficient.encode(delta: deltas[i], global: global, round: 1, state: &state).bytes, weight: Double(100 + 10 * i))
        }
        var plainSeconds = Double.infinity, residualSeconds = Double.infinity
        var efficientResidual: Double?
        for _ in 0..<3 {
            plainSeconds = min(plainSeconds, measureSeconds { _ = try! efficient.aggregate(efficientUpdates, global: global, round: 1) })
            residualSeconds = min(residualSeconds, measureSeconds { efficientResidual = try! reporting.aggregate(efficientUpdates, global: global, round: 1).residual })
        }
        FileHandle.standardError.write(Data(String(format: "bench: codec: fedsrd-e server step %.3f s, with the residual reported %.3f s (residual %.4f)\n",
                                                   plainSeconds, residualSeconds, efficientResidual ?? -1).utf8))
        let label = "server step \(d)×\(d) r=\(r) n=\(clients) steps/s"
        FileHandle.standardError.write(Data(String(format: "bench: codec: factored %.4f s (single-threaded BLAS; %.4f s with OpenBLAS's threads), dense %.3f s, numpy %@ s; |factored−dense| %.2e, |factored−numpy| %@; residual %.4f\n",
                                                   best, threadedBest, denseSeconds, numpySeconds.map { String(format: "%.3f", $0) } ?? "n/a", agreement,
                                                   numpyAgreement.map { String(format: "%.2e", $0) } ?? "n/a", factoredResult!.residual ?? -1).utf8))
        return [
            BenchRow(benchmark: name, metric: label + " (factored, single-threaded BLAS)", ours: 1 / best, peer: numpySeconds.map { 1 / $0 }, peerName: "numpy dense", goal: 50),
            BenchRow(benchmark: name, metric: label + " (factored, OpenBLAS threads)", ours: 1 / threadedBest, peer: numpySeconds.map { 1 / $0 }, peerName: "numpy dense", goal: nil),
            BenchRow(benchmark: name, metric: label + " (factored, single-threaded BLAS)", ours: 1 / best, peer: 1 / denseSeconds, peerName: "FedSim dense", goal: nil),
            BenchRow(benchmark: name, metric: "client encode parameters/s (goal 50 M)", ours: parametersPerSecond, peer: nil, peerName: "–", goal: nil),
            BenchRow(benchmark: name, metric: "fedsrd-e server step \(d)×\(d) r=\(r) n=\(clients) with the residual reported, s", ours: residualSeconds,
                     peer: plainSeconds, peerName: "without it", goal: nil),
        ]
    }

    /// ‖(x − base) − (y − base)‖ / ‖y − base‖ over every factor.
    static func relativeDifference(_ x: LoRAAdapter, _ y: LoRAAdapter, base: LoRAAdapter) -> Double {
        var num = 0.0, den = 0.0
        for l in x.layers.indices {
            for m in LoRAMatrix.allCases {
                let a = x.layers[l][m].storage, b = y.layers[l][m].storage, c = base.layers[l][m].storage
                for i in a.indices {
                    let dy = Double(b[i]) - Double(c[i])
                    num += (Double(a[i]) - Double(b[i])) * (Double(a[i]) - Double(b[i]))
                    den += dy * dy
                }
            }
        }
        return den > 0 ? (num / den).squareRoot() : num.squareRoot()
    }

    /// Writes the decoded inputs (A, B, weights, each client's ΔB̃ and ΔÃ) as raw float32 files.
    static func exportInputs(updates: [WeightedUpdate], global: LoRAAdapter, codec: FedSRDCodec) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-bench-codec-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let layer = global.layers[0]
        func write(_ values: [Float], _ name: String) throws {
            try values.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: folder + "/" + name))
        }
        try write(layer.a.storage, "a.f32")
        try write(layer.b.storage, "b.f32")
        let total = updates.reduce(0) { $0 + $1.weight }
        try write(updates.map { Float($0.weight / total) }, "p.f32")
        for (i, u) in updates.enumerated() {
            let m = try WireMessage.decode(u.bytes, shapes: global.shapes)
            for t in m.tensors { try write(t.densified(), "client\(i)_\(t.matrix == .a ? "a" : "b").f32") }
        }
        let meta = "{\"d_out\": \(layer.shape.outFeatures), \"d_in\": \(layer.shape.inFeatures), \"rank\": \(layer.shape.rank), \"clients\": \(updates.count), \"adaptive\": \(codec.options.adaptive), \"min_sparse_entries\": \(codec.options.minSparseEntries)}"
        try meta.write(toFile: folder + "/meta.json", atomically: true, encoding: .utf8)
        return folder
    }

    static func readFloats(_ path: String) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
