@testable import Codec
import LoRA
import Numerics
import XCTest

/// Repeatable random adapters for codec tests.
struct AdapterFactory {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func uniform() -> Float { Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }

    /// A matrix whose rows (or columns) have unequal norms, as trained LoRA factors do.
    mutating func structured(_ rows: Int, _ cols: Int, scale: Float = 1, rowSkew: Bool) -> Matrix {
        let weights = (0..<(rowSkew ? rows : cols)).map { i in Float(exp(-Double(i) / Double(max(1, rowSkew ? rows : cols) / 4 + 1))) }
        var m = Matrix.zeros(rows: rows, cols: cols)
        for i in 0..<rows { for j in 0..<cols { m[i, j] = scale * uniform() * weights[rowSkew ? i : j] } }
        return m
    }

    mutating func shapes(layers: Int, rank: Int, dIn: ClosedRange<Int>, dOut: ClosedRange<Int>) -> [LoRALayerShape] {
        (0..<layers).map { LoRALayerShape(name: "layers.\($0).proj", inFeatures: int(dIn), outFeatures: int(dOut), rank: rank) }
    }

    /// A global adapter with A random and B non-zero (a mid-training state).
    mutating func global(_ shapes: [LoRALayerShape]) -> LoRAAdapter {
        LoRAAdapter(layers: shapes.map { s in
            LoRALayer(shape: s, a: structured(s.rank, s.inFeatures, scale: 0.5, rowSkew: true),
                      b: structured(s.outFeatures, s.rank, scale: 0.2, rowSkew: false))
        })
    }

    /// A client delta with structure (unequal row/column norms).
    mutating func delta(_ shapes: [LoRALayerShape], scale: Float = 0.01) -> LoRAAdapter {
        LoRAAdapter(layers: shapes.map { s in
            LoRALayer(shape: s, a: structured(s.rank, s.inFeatures, scale: scale, rowSkew: true),
                      b: structured(s.outFeatures, s.rank, scale: scale, rowSkew: false))
        })
    }
}

/// ‖x − y‖_F / ‖y‖_F in Double.
func relativeError(_ x: Matrix, _ y: Matrix) -> Double {
    var num = 0.0, den = 0.0
    for i in 0..<x.storage.count {
        let d = Double(x.storage[i]) - Double(y.storage[i])
        num += d * d
        den += Double(y.storage[i]) * Double(y.storage[i])
    }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

func options(_ configure: (inout CodecOptions) -> Void) -> CodecOptions {
    var o = CodecOptions()
    configure(&o)
    return o
}
