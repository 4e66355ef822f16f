import LoRA
import Numerics

/// `fedsrd`: Sparsify (importance-aware top-k up), Reconstruct (full-rank ΔW = Σ p_i ΔW_i on the
/// server), Decompose (alternating ridge fits back into sparse δB, δA broadcast down).
/// The server works on ΔW in factored form; `denseServer` forms it (the test oracle).
public struct FedSRDCodec: Codec {
    public static let name = "fedsrd"
    public static let wireID: UInt8 = 2
    public static let summary = "FedSRD: importance top-k up; reconstruct ΔW, decompose into sparse δB, δA down"
    public let options: CodecOptions
    public init(options: CodecOptions) { self.options = options }

    public func encode(delta: LoRAAdapter, global: LoRAAdapter, round: Int, state: inout ClientCodecState) throws -> EncodedUpdate {
        try ImportanceEncoder.encode(delta: delta, global: global, round: round, options: options, codecID: Self.wireID, state: &state)
    }

    public func aggregate(_ updates: [WeightedUpdate], global: LoRAAdapter, round: Int) throws -> AggregationResult {
        let operators = try reconstruct(updates, global: global)
        let fit = try decompose(operators, global: global)
        let tensors = fit.delta.layers.enumerated().flatMap { i, layer in
            [WireTensor(layer: i, matrix: .a, rows: layer.a.rows, cols: layer.a.cols, indices: fit.indices[i].a, values: fit.indices[i].a.map { $0.map { layer.a.storage[Int($0)] } } ?? layer.a.storage),
             WireTensor(layer: i, matrix: .b, rows: layer.b.rows, cols: layer.b.cols, indices: fit.indices[i].b, values: fit.indices[i].b.map { $0.map { layer.b.storage[Int($0)] } } ?? layer.b.storage)]
        }
        let broadcast = WireMessage(codecID: Self.wireID, kind: .delta, round: UInt32(truncatingIfNeeded: round), valueType: options.valueType, tensors: tensors).encoded()
        let decoded = try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: Self.wireID, kind: .delta)
        return AggregationResult(broadcast: broadcast, decodedBroadcast: decoded.message, global: decoded.global, residual: fit.residual,
                                 guardEvents: fit.guardEvents, kept: CodecSupport.keptSummary(tensors))
    }

    public func apply(broadcast: [UInt8], to global: LoRAAdapter) throws -> LoRAAdapter {
        try CodecSupport.decodedBroadcast(broadcast, to: global, codecID: Self.wireID, kind: .delta).global
    }

    public func plan(shapes: [LoRALayerShape], keptFraction f: KeptFraction) -> (upload: [TensorPlan], download: [TensorPlan]) {
        (CodecPlans.sparse(shapes, a: f.uploadA, b: f.uploadB, minSparseEntries: options.minSparseEntries),
         CodecPlans.sparse(shapes, a: f.downloadA, b: f.downloadB, minSparseEntries: options.minSparseEntries))
    }

    /// Reconstruct: per layer, ΔW = Σ p_i (ΔB̃_i·A + B̂_i·ΔÃ_i), B̂_i = B + ΔB̃_i, factored or dense.
    func reconstruct(_ updates: [WeightedUpdate], global: LoRAAdapter, codecID: UInt8 = FedSRDCodec.wireID) throws -> [any UpdateOperator] {
        let p = try CodecSupport.weights(updates)
        let shapes = global.shapes
        let messages = try updates.map { try CodecSupport.decode($0.bytes, shapes: shapes, codecID: codecID, kind: .update) }
        let n = messages.count
        // Each client's ΔB̃ and ΔÃ per layer (nil: not sent, i.e. zero).
        var deltasB = [[WireTensor?]](repeating: [WireTensor?](repeating: nil, count: n), count: shapes.count)
        var deltasA = deltasB
        for (i, message) in messages.enumerated() {
            for t in message.tensors {
                if t.matrix == .a { deltasA[t.layer][i] = t } else { deltasB[t.layer][i] = t }
            }
        }
        // U = [Σ p_i ΔB̃_i | p_1 B̂_1 | … | p_n B̂_n], Vᵀ = [A; ΔÃ_1; …; ΔÃ_n], each written in one pass.
        let us = global.layers.indices.map { Self.factorU(b: global.layers[$0].b, weights: p, deltas: deltasB[$0]) }
        let vts = global.layers.indices.map { Self.factorVt(a: global.layers[$0].a, deltas: deltasA[$0]) }
        return zip(us, vts).map { u, vt in
            let factored = FactoredUpdate(u: u, vt: vt)
            return options.denseServer ? DenseUpdate(w: factored.dense()) : factored
        }
    }

    /// Calls `body(flat index, value)` for each value the tensor carries, in order.
    @inline(__always)
    static func forEachValue(of t: WireTensor, _ body: (Int, Float) -> Void) {
        t.values.withUnsafeBufferPointer { values in
            if let indices = t.indices {
                indices.withUnsafeBufferPointer { ix in
                    for k in 0..<Swift.min(ix.count, values.count) { body(Int(ix[k]), values[k]) }
                }
            } else {
                for k in 0..<values.count { body(k, values[k]) }
            }
        }
    }

    /// Whether the tensor is as `WireMessage.decode` makes them: one value per index, indices strictly
    /// increasing inside rows·cols, or all rows·cols values when dense (the one-pass writers rely on it).
    static func isWellFormed(_ t: WireTensor) -> Bool {
        guard let indices = t.indices else { return t.values.count == t.length }
        guard indices.count == t.values.count else { return false }
        var previous = -1
        for index in indices {
            guard Int(index) > previous else { return false }
            previous = Int(index)
        }
        return previous < t.length
    }

    /// U = [Σ p_i ΔB̃_i | p_1 B̂_1 | … | p_n B̂_n] (d_out × (n+1)r), B̂_i = B + ΔB̃_i, row by row: each
    /// row's blocks are written (0, then p_i·B), then each client's entries in that row are added,
    /// client after client — the same sums in the same order as scattering client by client into
    /// the finished blocks, without sweeping the whole of U once per client.
    static func factorU(b: Matrix, weights p: [Float], deltas: [WireTensor?]) -> Matrix {
        let r = b.cols, rows = b.rows, n = p.count, width = (n + 1) * r, count = rows * width
        precondition(deltas.count == n && b.count == rows * r, "factorU: one delta per weight, B's storage matching its shape")
        // The clients' entries one after the other (flat indices into B's shape, sorted per client).
        var flat: [UInt32] = [], values: [Float] = [], starts: [Int] = [], ends: [Int] = []
        for t in deltas {
            starts.append(values.count)
            if let t {
                precondition(t.rows == rows && t.cols == r && Self.isWellFormed(t), "factorU: ΔB̃ is \(t.rows)×\(t.cols) or its indices are not sorted in it, B \(rows)×\(r)")
                if let indices = t.indices { flat += indices } else { flat += (0..<t.values.count).map { UInt32($0) } }
                values += t.values
            }
            ends.append(values.count)
        }
        let storage = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            b.storage.withUnsafeBufferPointer { src in
                flat.withUnsafeBufferPointer { ix in
                    values.withUnsafeBufferPointer { vals in
                        p.withUnsafeBufferPointer { w in
                            starts.withUnsafeMutableBufferPointer { cursor in
                                for row in 0..<rows {
                                    let dst = row &* width, from = row &* r, rowEnd = from &+ r
                                    for c in 0..<r { out[dst &+ c] = 0 }
                                    for i in 0..<n {
                                        let block = dst &+ (i &+ 1) &* r, weight = w[i]
                                        for c in 0..<r { out[block &+ c] = weight * src[from &+ c] }
                                    }
                                    for i in 0..<n {
                                        let block = (i &+ 1) &* r, weight = w[i], end = ends[i]
                                        var k = cursor[i]
                                        while k < end && Int(ix[k]) < rowEnd {
                                            let at = dst &+ Int(ix[k]) &- from, scaled = weight * vals[k]
                                            out[at] += scaled
                                            out[at &+ block] += scaled
                                            k &+= 1
                                        }
                                        cursor[i] = k
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = count
        }
        return Matrix(rows: rows, cols: width, storage: storage)
    }

    /// Vᵀ = [A; ΔÃ_1; …; ΔÃ_n] ((n+1)r × d_in): A, then each client's slab, zeros plus its values.
    static func factorVt(a: Matrix, deltas: [WireTensor?]) -> Matrix {
        let slab = a.count, count = (deltas.count + 1) * slab
        let storage = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            a.storage.withUnsafeBufferPointer { src in
                for k in 0..<slab { out[k] = src[k] }
            }
            for (i, t) in deltas.enumerated() {
                let base = (i + 1) * slab
                for k in 0..<slab { out[base &+ k] = 0 }
                if let t {
                    precondition(t.rows == a.rows && t.cols == a.cols && Self.isWellFormed(t),
                                 "factorVt: ΔÃ is \(t.rows)×\(t.cols) or its indices are not sorted in it, A \(a.rows)×\(a.cols)")
                    forEachValue(of: t) { flat, value in out[base &+ flat] += value }
                }
            }
            initialized = count
        }
        return Matrix(rows: (deltas.count + 1) * a.rows, cols: a.cols, storage: storage)
    }

    /// The fitted broadcast: sparse δB, δA per layer, their kept indices (nil = dense), residual, guard events.
    struct Fit {
        var delta: LoRAAdapter
        var indices: [(a: [UInt32]?, b: [UInt32]?)]
        var residual: Double
        var layerResiduals: [Double]
        var guardEvents: Int
    }

    /// Decompose: J alternations of ridge fits, each followed by the kurtosis-rule top-k across layers.
    func decompose(_ operators: [any UpdateOperator], global: LoRAAdapter) throws -> Fit {
        let rule = options.downloadRule
        let layers = global.layers
        // ΔW·Aᵀ never changes (A is the global A).
        let wAt = zip(operators, layers).map { $0.timesTransposed($1.a) }
        let gramA = layers.map { l -> Matrix in
            let lambda = Float(options.ridge * l.a.frobeniusNormSquared() / Double(l.shape.rank))
            return l.a.multiplied(by: l.a, transposeOther: true).addingToDiagonal(lambda)
        }
        var deltaA = layers.map { Matrix.zeros(rows: $0.a.rows, cols: $0.a.cols) }
        var deltaB = layers.map { Matrix.zeros(rows: $0.b.rows, cols: $0.b.cols) }
        var keptA = [[UInt32]?](repeating: nil, count: layers.count), keptB = keptA
        var wStar = [Matrix]()  // B*ᵀ·ΔW of the last δA step, reused by the residual
        for _ in 0..<max(1, options.iterations) {
            // δB ← (ΔW − B·δA)·Aᵀ·(A·Aᵀ + λ_A I)⁻¹
            for l in layers.indices {
                let m = wAt[l] - layers[l].b.multiplied(by: deltaA[l].multiplied(by: layers[l].a, transposeOther: true))
                deltaB[l] = try gramA[l].solveSymmetricPositiveDefinite(m, side: .right)
            }
            let scoresB = layers.indices.map { CodecSupport.importanceB(deltaB[$0], a: layers[$0].a) }
            let countsB = rule.keptCounts(kinds: layers.map { _ in .b }, scores: scoresB)
            for l in layers.indices { (deltaB[l], keptB[l]) = Self.sparsify(deltaB[l], scoresB[l], countsB[l]) }
            // δA ← (B*ᵀB* + λ_B I)⁻¹·B*ᵀ·(ΔW − δB·A)
            wStar = []
            for l in layers.indices {
                let bStar = layers[l].b + deltaB[l]
                let bStarTW = operators[l].transposedTimes(bStar)
                wStar.append(bStarTW)
                let normSquared = bStar.frobeniusNormSquared()
                guard normSquared > 0 else {
                    deltaA[l] = .zeros(rows: deltaA[l].rows, cols: deltaA[l].cols)
                    continue
                }
                let rhs = bStarTW - bStar.multiplied(by: deltaB[l], transposeSelf: true).multiplied(by: layers[l].a)
                let lambda = Float(options.ridge * normSquared / Double(layers[l].shape.rank))
                deltaA[l] = try bStar.gram().addingToDiagonal(lambda).solveSymmetricPositiveDefinite(rhs)
            }
            let scoresA = layers.indices.map { CodecSupport.importanceA(deltaA[$0], b: layers[$0].b + deltaB[$0]) }
            let countsA = rule.keptCounts(kinds: layers.map { _ in .a }, scores: scoresA)
            for l in layers.indices { (deltaA[l], keptA[l]) = Self.sparsify(deltaA[l], scoresA[l], countsA[l]) }
        }
        // Guard and residual, from r × r Grams and the products already at hand.
        var guardEvents = 0
        var residualSquared = 0.0, totalSquared = 0.0
        var layerResiduals: [Double] = []
        for l in layers.indices {
            let a = layers[l].a, bStar = layers[l].b + deltaB[l]
            let wNorm = operators[l].frobeniusNormSquared()
            var parts = FitNorms(deltaB: deltaB[l], a: a, bStar: bStar, deltaA: deltaA[l], wAt: wAt[l], bStarTW: wStar[l])
            var halvings = 0
            while parts.fitNormSquared > 4 * wNorm && wNorm > 0 && halvings < 64 {
                deltaA[l] = deltaA[l] * 0.5
                parts = FitNorms(deltaB: deltaB[l], a: a, bStar: bStar, deltaA: deltaA[l], wAt: wAt[l], bStarTW: wStar[l])
                halvings += 1
            }
            if halvings > 0 { guardEvents += 1 }
            let res = max(wNorm - 2 * parts.innerWithW + parts.fitNormSquared, 0)
            residualSquared += res
            totalSquared += wNorm
            layerResiduals.append(wNorm > 0 ? (res / wNorm).squareRoot() : 0)
        }
        var delta = LoRAAdapter.zeros(global.shapes)
        for l in layers.indices {
            delta.layers[l].a = deltaA[l]
            delta.layers[l].b = deltaB[l]
        }
        return Fit(delta: delta, indices: layers.indices.map { (keptA[$0], keptB[$0]) },
                   residual: totalSquared > 0 ? (residualSquared / totalSquared).squareRoot() : 0,
                   layerResiduals: layerResiduals, guardEvents: guardEvents)
    }

    /// Keeps the `k` most important entries (all of them, with nil indices, when k covers the matrix).
    static func sparsify(_ m: Matrix, _ scores: [Float], _ k: Int) -> (Matrix, [UInt32]?) {
        guard k < m.count else { return (m, nil) }
        let indices = TopK.indices(of: scores, k: k)
        return (m.keepingOnly(indices), indices)
    }
}

/// ‖F‖² and ⟨ΔW, F⟩ for F = δB·A + B*·δA, from r × r Grams and ΔW·Aᵀ, B*ᵀ·ΔW.
struct FitNorms {
    let fitNormSquared: Double
    let innerWithW: Double

    init(deltaB: Matrix, a: Matrix, bStar: Matrix, deltaA: Matrix, wAt: Matrix, bStarTW: Matrix) {
        let aaT = a.multiplied(by: a, transposeOther: true)                 // r × r
        let dBtdB = deltaB.gram()                                           // r × r
        let dAdAt = deltaA.multiplied(by: deltaA, transposeOther: true)     // r × r
        let bStarGram = bStar.gram()                                        // r × r
        let dBtBStar = deltaB.multiplied(by: bStar, transposeSelf: true)    // r × r
        let dAaT = deltaA.multiplied(by: a, transposeOther: true)           // r × r
        // ‖δB·A‖² = ⟨δBᵀδB, AAᵀ⟩; ‖B*δA‖² = ⟨B*ᵀB*, δAδAᵀ⟩; ⟨δB·A, B*·δA⟩ = ⟨δBᵀB*, (δA·Aᵀ)ᵀ⟩.
        fitNormSquared = dBtdB.dot(aaT) + bStarGram.dot(dAdAt) + 2 * dBtBStar.dot(dAaT.transposed())
        innerWithW = wAt.dot(deltaB) + bStarTW.dot(deltaA)
    }
}
