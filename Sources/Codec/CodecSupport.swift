import LoRA
import Numerics

/// Building blocks shared by the codecs: finiteness checks, importance scores, sparsification,
/// decoding into dense factors, applying broadcasts.
enum CodecSupport {
    static func requireFinite(_ adapter: LoRAAdapter, _ what: String) throws {
        for layer in adapter.layers {
            for m in LoRAMatrix.allCases where layer[m].storage.contains(where: { !$0.isFinite }) {
                throw CodecError.nonFinite("\(what) \(layer.shape.name).\(m)")
            }
        }
    }

    static func requireSameShapes(_ a: LoRAAdapter, _ b: LoRAAdapter, _ what: String) throws {
        guard a.shapes == b.shapes else { throw CodecError.shapeMismatch("\(what): the adapters' layers differ") }
    }

    /// I(ΔB[u,v]) = |ΔB[u,v]|·‖A[v,:]‖₂: each entry's contribution to ΔB·A.
    static func importanceB(_ deltaB: Matrix, a: Matrix) -> [Float] {
        let rowNorms = a.rowNorms()
        let r = deltaB.cols
        precondition(rowNorms.count == r && deltaB.count == deltaB.rows * r, "importanceB: A has \(rowNorms.count) rows, ΔB \(r) columns")
        return [Float](unsafeUninitializedCapacity: deltaB.count) { out, initialized in
            deltaB.storage.withUnsafeBufferPointer { d in
                rowNorms.withUnsafeBufferPointer { w in
                    for u in 0..<deltaB.rows {
                        for v in 0..<r { out[u * r + v] = abs(d[u * r + v]) * w[v] }
                    }
                }
            }
            initialized = deltaB.count
        }
    }

    /// I(ΔA[u,v]) = |ΔA[u,v]|·‖B'[:,u]‖₂: each entry's contribution to B'·ΔA.
    static func importanceA(_ deltaA: Matrix, b: Matrix) -> [Float] {
        let columnNorms = b.columnNorms()
        let cols = deltaA.cols
        precondition(columnNorms.count == deltaA.rows && deltaA.count == deltaA.rows * cols, "importanceA: B has \(columnNorms.count) columns, ΔA \(deltaA.rows) rows")
        return [Float](unsafeUninitializedCapacity: deltaA.count) { out, initialized in
            deltaA.storage.withUnsafeBufferPointer { d in
                for u in 0..<deltaA.rows {
                    let w = columnNorms[u]
                    for v in 0..<cols { out[u * cols + v] = abs(d[u * cols + v]) * w }
                }
            }
            initialized = deltaA.count
        }
    }

    /// Magnitudes, for magnitude top-k.
    static func magnitudes(_ m: Matrix) -> [Float] { m.storage.map { abs($0) } }

    /// The kept entries of `values` (dense when `k` covers everything).
    static func sparsified(_ values: Matrix, scores: [Float], k: Int, layer: Int, matrix: LoRAMatrix) -> WireTensor {
        if k >= values.count {
            return WireTensor(layer: layer, matrix: matrix, rows: values.rows, cols: values.cols, indices: nil, values: values.storage)
        }
        let indices = TopK.indices(of: scores, k: k)
        return WireTensor(layer: layer, matrix: matrix, rows: values.rows, cols: values.cols,
                          indices: indices, values: indices.map { values.storage[Int($0)] })
    }

    static func keptSummary(_ tensors: [WireTensor]) -> [(layer: Int, matrix: LoRAMatrix, kept: Int, count: Int)] {
        tensors.map { ($0.layer, $0.matrix, $0.kept, $0.length) }
    }

    /// Decodes `bytes` and checks codec and kind.
    static func decode(_ bytes: [UInt8], shapes: [LoRALayerShape], codecID: UInt8, kind: WireMessage.Kind) throws -> WireMessage {
        let message: WireMessage
        do { message = try WireMessage.decode(bytes, shapes: shapes) } catch { throw CodecError.wire(error) }
        guard message.codecID == codecID else { throw CodecError.wire(.wrongCodec(expected: codecID, found: message.codecID)) }
        guard message.kind == kind else { throw CodecError.wire(.wrongKind(expected: "\(kind)", found: message.kind.rawValue)) }
        return message
    }

    /// The message's tensors as a full-shape adapter, zeros where nothing was sent.
    static func densified(_ message: WireMessage, shapes: [LoRALayerShape]) -> LoRAAdapter {
        var adapter = LoRAAdapter.zeros(shapes)
        for t in message.tensors {
            adapter.layers[t.layer][t.matrix] = Matrix(rows: t.rows, cols: t.cols, storage: t.densified())
        }
        return adapter
    }

    /// Decodes a broadcast once and applies it: the message (for `AggregationResult.decodedBroadcast`
    /// and the broadcast history) and `global` with it applied (`Codec.apply(broadcast:to:)`).
    static func decodedBroadcast(_ bytes: [UInt8], to global: LoRAAdapter, codecID: UInt8,
                                 kind: WireMessage.Kind) throws -> (message: WireMessage, global: LoRAAdapter) {
        let message = try decode(bytes, shapes: global.shapes, codecID: codecID, kind: kind)
        return (message, applied(message, to: global))
    }

    /// `global` with each tensor of `message` added (delta) or written over (full).
    static func applied(_ message: WireMessage, to global: LoRAAdapter) -> LoRAAdapter {
        var out = global
        for t in message.tensors {
            var m = out.layers[t.layer][t.matrix]
            m.storage.withUnsafeMutableBufferPointer { s in
                if let indices = t.indices {
                    for (i, index) in indices.enumerated() {
                        if message.kind == .full { s[Int(index)] = t.values[i] } else { s[Int(index)] += t.values[i] }
                    }
                } else {
                    for i in 0..<t.values.count {
                        if message.kind == .full { s[i] = t.values[i] } else { s[i] += t.values[i] }
                    }
                }
            }
            out.layers[t.layer][t.matrix] = m
        }
        return out
    }

    /// Normalised aggregation weights p_i = w_i / Σ w_j.
    static func weights(_ updates: [WeightedUpdate]) throws -> [Float] {
        guard !updates.isEmpty else { throw CodecError.noUpdates }
        let total = updates.reduce(0) { $0 + $1.weight }
        guard total > 0, total.isFinite, updates.allSatisfy({ $0.weight >= 0 }) else {
            throw CodecError.nonFinite("aggregation weights (need non-negative weights with a positive sum)")
        }
        return updates.map { Float($0.weight / total) }
    }

    /// Error feedback: `delta` plus what earlier uploads dropped.
    static func withResidual(_ delta: LoRAAdapter, _ state: ClientCodecState, enabled: Bool) -> LoRAAdapter {
        guard enabled, let residual = state.residual, residual.shapes == delta.shapes else { return delta }
        return delta.adding(residual)
    }

    /// Records what the upload dropped (including value rounding) as the next residual.
    static func recordResidual(_ intended: LoRAAdapter, sent bytes: [UInt8], codecID: UInt8, state: inout ClientCodecState, enabled: Bool) throws {
        guard enabled else { return }
        let message = try decode(bytes, shapes: intended.shapes, codecID: codecID, kind: .update)
        state.residual = intended.subtracting(densified(message, shapes: intended.shapes))
    }
}
