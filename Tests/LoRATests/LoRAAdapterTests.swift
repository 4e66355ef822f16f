import LoRA
import Numerics
import XCTest

final class LoRAAdapterTests: XCTestCase {
    let shapes = [LoRALayerShape(name: "mlp.0", inFeatures: 5, outFeatures: 3, rank: 2),
                  LoRALayerShape(name: "mlp.1", inFeatures: 3, outFeatures: 4, rank: 2)]

    /// The Gaussian initialiser draws one standard normal per entry of A, layer by layer, row by row,
    /// scaled by 1/√d_in, and leaves B zero: the draw order the committed reports were trained with.
    func testGaussianDrawOrder() {
        let adapter = LoRAAdapter.gaussian(shapes, stream: RandomStream(seed: 7, purpose: "lora.init"))
        let s = RandomStream(seed: 7, purpose: "lora.init")
        for layer in adapter.layers {
            let sd = 1 / Double(layer.shape.inFeatures).squareRoot()
            let expected = (0..<layer.a.count).map { _ in Float(s.standardNormal() * sd) }
            XCTAssertEqual(layer.a.storage, expected, layer.shape.name)
            XCTAssertEqual(layer.b, .zeros(rows: layer.shape.outFeatures, cols: layer.shape.rank))
        }
        XCTAssertEqual(adapter.shapes, shapes)
    }

    /// Kaiming-uniform draws one uniform per entry of A in the same order, within ±1/√d_in.
    func testKaimingUniformDrawOrderAndBound() {
        let adapter = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(seed: 7, purpose: "x"))
        let s = RandomStream(seed: 7, purpose: "x")
        for layer in adapter.layers {
            let bound = Float(1 / Double(layer.shape.inFeatures).squareRoot())
            let expected = (0..<layer.a.count).map { _ in Float(s.uniform() * 2 - 1) * bound }
            XCTAssertEqual(layer.a.storage, expected)
            XCTAssertTrue(layer.a.storage.allSatisfy { abs($0) <= bound })
            XCTAssertTrue(layer.b.storage.allSatisfy { $0 == 0 })
        }
        XCTAssertNotEqual(adapter, LoRAAdapter.gaussian(shapes, stream: RandomStream(seed: 7, purpose: "x")))
    }

    /// s = α / r, in Float as the forward pass uses it.
    func testScaling() {
        XCTAssertEqual(shapes[0].scaling(alpha: 8), 4)
        XCTAssertEqual(LoRALayerShape(name: "q", inFeatures: 1, outFeatures: 1, rank: 3).scaling(alpha: 1), Float(1) / Float(3))
    }

    /// Arithmetic factor by factor: (x − y) + y is x up to rounding, x − x is zero, counts add up.
    func testArithmeticAndCounts() {
        let x = LoRAAdapter.kaimingUniform(shapes, stream: RandomStream(seed: 1, purpose: "x"))
        var y = LoRAAdapter.gaussian(shapes, stream: RandomStream(seed: 2, purpose: "y"))
        y.layers[1][.b] = Matrix(rows: 4, cols: 2) { i, j in Float(i - j) }
        XCTAssertEqual(x.subtracting(x), .zeros(shapes))
        let back = x.subtracting(y).adding(y)
        for (l, m) in zip(back.layers, x.layers) {
            for f in LoRAMatrix.allCases {
                for (p, q) in zip(l[f].storage, m[f].storage) { XCTAssertEqual(p, q, accuracy: 1e-6) }
            }
        }
        XCTAssertEqual(x.adding(y).layers[1].b, x.layers[1].b + y.layers[1].b)
        XCTAssertEqual(x.parameterCount, 2 * (5 + 3) + 2 * (3 + 4))
        XCTAssertEqual(x.parameterCount, x.layers.reduce(0) { $0 + $1.a.count + $1.b.count })
        XCTAssertTrue(x.isFinite)
        var bad = x
        bad.layers[0][.b] = Matrix(rows: 3, cols: 2) { i, _ in i == 2 ? .nan : 0 }
        XCTAssertFalse(bad.isFinite)
    }
}
