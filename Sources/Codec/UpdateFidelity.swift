import LoRA
import Numerics

/// How faithfully a codec carried a round's updates, measured in the space that matters, ΔW = B·A:
/// every norm is computed from the low-rank factors in Double (no d_out × d_in matrix is formed).
///
/// - A client's **kept energy** is 1 − ‖ΔW_i − ΔŴ_i‖² / ‖ΔW_i‖², where ΔW_i is its true update
///   (trained − global) and ΔŴ_i what the server decodes from its upload. For a codec that keeps a
///   subset of independent coordinates it is the share of the update's energy those coordinates
///   hold; 1 is lossless; it is negative when the upload adds more error than it carries signal.
/// - The round's **cosine** and **norm ratio** compare the update the server applied to the global
///   adapter (B'·A' − B·A, from the decoded broadcast) with exact FedAvg of the same clients' true
///   updates, Σ p_i ΔW_i: 1 and 1 are exact; a cosine below 1 is a turned update, a norm ratio below
///   1 a shrunken one.
/// - The **update kurtosis** is the Pearson kurtosis of each factor delta's entries (ΔA and ΔB of
///   every layer): about 1.8 for a flat (sign-like, Adam-style) update, 3 for a Gaussian one, well
///   above 3 when a few entries carry most of the update, which is what top-k sparsification needs.
public enum UpdateFidelity {
    /// ‖ΔW_i‖² and ‖ΔW_i − ΔŴ_i‖² of one client, summed over layers: `trained` is its adapter after
    /// local training, `sent` the densified delta its upload decodes to (ΔÃ, ΔB̃).
    public static func clientError(global: LoRAAdapter, trained: LoRAAdapter, sent: LoRAAdapter) -> (error: Double, norm: Double) {
        var error = 0.0, norm = 0.0
        for (l, g) in global.layers.enumerated() {
            let r = g.shape.rank
            let t = trained.layers[l], got = sent.layers[l]
            let deltaA = t.a - g.a, deltaB = t.b - g.b
            // ΔW_i = ΔB_i·A + B_i'·ΔA_i; the error is what was dropped: EB·A' + B̂·EA.
            norm += normSquared([deltaB, t.b], [g.a, deltaA], rank: r)
            let bHat = g.b + got.b
            error += normSquared([deltaB - got.b, bHat], [t.a, deltaA - got.a], rank: r)
        }
        return (error, norm)
    }

    /// The kept energy of the encoded upload `bytes` of a client whose adapter after local training is `trained`.
    public static func keptEnergy(upload bytes: [UInt8], global: LoRAAdapter, trained: LoRAAdapter) throws -> Double {
        let message: WireMessage
        do { message = try WireMessage.decode(bytes, shapes: global.shapes) } catch { throw CodecError.wire(error) }
        return keptEnergy(clientError(global: global, trained: trained, sent: CodecSupport.densified(message, shapes: global.shapes)))
    }

    /// The kept energy 1 − error / norm of `clientError` (1 for an update of zero norm).
    public static func keptEnergy(_ e: (error: Double, norm: Double)) -> Double {
        e.norm > 0 ? 1 - e.error / e.norm : 1
    }

    /// Per layer, ‖exact‖², ‖applied‖² and ‖applied − exact‖² for the exact FedAvg Σ p_i ΔW_i of
    /// `trained` (weights `p`, summing to 1) and the applied update `next` − `global`.
    public static func aggregateErrors(global: LoRAAdapter, trained: [LoRAAdapter], p: [Double], next: LoRAAdapter)
        -> [(exact: Double, applied: Double, error: Double)] {
        global.layers.enumerated().map { l, g in
            let r = g.shape.rank
            var left: [Matrix] = [], right: [Matrix] = [], sumDeltaB = Matrix.zeros(rows: g.b.rows, cols: r)
            for (i, t) in trained.enumerated() {
                // Σ p_i ΔW_i = (Σ p_i ΔB_i)·A + Σ p_i B_i'·ΔA_i.
                sumDeltaB.add(t.layers[l].b - g.b, scaledBy: Float(p[i]))
                left.append(t.layers[l].b * Float(p[i]))
                right.append(t.layers[l].a - g.a)
            }
            let n = next.layers[l]
            let deltaB = n.b - g.b, deltaA = n.a - g.a
            let exact = normSquared([sumDeltaB] + left, [g.a] + right, rank: r)
            let applied = normSquared([deltaB, n.b], [g.a, deltaA], rank: r)
            let error = normSquared([sumDeltaB - deltaB] + left + [n.b * -1], [g.a] + right + [deltaA], rank: r)
            return (exact, applied, error)
        }
    }

    /// Cosine and norm ratio ‖applied‖ / ‖exact‖ over the whole adapter (nil when the exact update is zero).
    public static func agreement(_ layers: [(exact: Double, applied: Double, error: Double)]) -> (cosine: Double, normRatio: Double)? {
        let exact = layers.reduce(0) { $0 + $1.exact }, applied = layers.reduce(0) { $0 + $1.applied }
        let error = layers.reduce(0) { $0 + $1.error }
        guard exact > 0 else { return nil }
        let normRatio = (applied / exact).squareRoot()
        guard applied > 0 else { return (0, 0) }
        let inner = (exact + applied - error) / 2
        return (min(1, max(-1, inner / (exact * applied).squareRoot())), normRatio)
    }

    /// Pearson kurtosis of each factor delta (ΔA, ΔB of every layer) of `trained` − `global` that
    /// has a spread (a frozen or untouched factor has none and is left out).
    public static func kurtoses(global: LoRAAdapter, trained: LoRAAdapter) -> [Double] {
        global.layers.enumerated().flatMap { l, g in
            [trained.layers[l].a - g.a, trained.layers[l].b - g.b].compactMap { ImportanceStatistics.kurtosis($0.storage) }
        }
    }

    /// The median of `values` (nil when empty): the mean of the middle two for an even count.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted(), m = s.count / 2
        return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
    }

    /// ‖Σ_k L_k·R_k‖²_F for blocks L_k (d_out × r) and R_k (r × d_in), in Double.
    static func normSquared(_ left: [Matrix], _ right: [Matrix], rank r: Int) -> Double {
        var u = DoubleMatrix(rows: left[0].rows, cols: left.count * r)
        var v = DoubleMatrix(rows: right.count * r, cols: right[0].cols)
        for (k, block) in left.enumerated() { u.setColumns(block, at: k * r) }
        for (k, block) in right.enumerated() { v.setRows(block, at: k * r) }
        return u.productNormSquared(v)
    }
}
