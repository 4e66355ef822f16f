import CNumerics
import Foundation

/// Exponential draws by the ziggurat method (Marsaglia & Tsang 2000, "The ziggurat method for
/// generating random variables", J. Stat. Softw. 5(8), 256 layers), driven by a `RandomStream`'s
/// GSL generator: one raw 32-bit draw (`RandomStream.nextRaw32()`, the bits of `gsl_rng_get`) per
/// value on the fast path, taken by 98.9 % of the draws, and no logarithm.
///
/// The low 8 bits of the draw pick a layer and the high 24 bits place the value in it, so a value
/// is a multiple of its layer's width / 2^24 (at most 4.6 × 10⁻⁷). The rest go through the exact
/// rejection step, and the base layer's tail beyond r ≈ 7.697 is r + Exp(1) (`log1p` of a
/// `gsl_rng_uniform` draw: the exponential is memoryless).
///
/// Not the sampler of `RandomStream.exponential(mean:)` and `Distribution.exponential`, which
/// stay `gsl_ran_exponential` (`−mean · log1p(−U)`): the two give different values from the same
/// stream, and every simulated output depends on the GSL one. The hold benchmark uses this one.
///
/// A value type holding pointers to tables built once for the process (`tables`), so a hot loop
/// that keeps one pays no lazy-initialisation check per draw (`@unchecked Sendable`: the tables
/// are never written after they are built).
@frozen
public struct ExponentialZiggurat: @unchecked Sendable {
    /// Layer i's fast-path data, side by side: its width / 2^24, and the 24-bit threshold below
    /// which a point of the layer lies under the density (the width of the layer above / its own).
    @frozen
    public struct Layer: Sendable {
        public var width: Double
        public var threshold: UInt32
    }

    /// The tables (immutable once built; never freed).
    public final class Tables: @unchecked Sendable {
        /// The 256 layers. Layer 0 is the base strip (the rectangle under f(r), of width v/f(r),
        /// plus the tail); layer 255 is the widest rectangle above it, layer 1 the narrowest, at the top.
        public let layers: UnsafeMutablePointer<Layer>
        /// f(xᵢ) = exp(−xᵢ) at each layer's right edge xᵢ: layer i spans densities f[i]…f[i − 1].
        public let density: UnsafeMutablePointer<Double>

        /// The right edge of the base layer's rectangle, where the tail starts.
        public static let r = 7.697117470131487
        /// The area of every layer.
        public static let v = 3.949659822581572e-3

        init() {
            layers = .allocate(capacity: 256)
            density = .allocate(capacity: 256)
            let m = 16_777_216.0  // 2^24
            let r = Tables.r, v = Tables.v
            var x = r, previous = r
            let q = v / exp(-r)
            var width = [Double](repeating: 0, count: 256)
            var threshold = [UInt32](repeating: 0, count: 256)
            threshold[0] = UInt32(r / q * m)
            threshold[1] = 0
            width[0] = q / m
            width[255] = r / m
            density[0] = 1
            density[255] = exp(-r)
            for i in stride(from: 254, through: 1, by: -1) {
                x = -log(v / x + exp(-x))
                threshold[i + 1] = UInt32(x / previous * m)
                previous = x
                density[i] = exp(-x)
                width[i] = x / m
            }
            for i in 0..<256 { (layers + i).initialize(to: Layer(width: width[i], threshold: threshold[i])) }
        }
    }

    /// The process's tables, built on first use.
    public static let tables = Tables()

    @usableFromInline let layers: UnsafeMutablePointer<Layer>
    @usableFromInline let density: UnsafeMutablePointer<Double>

    /// A sampler on the shared tables.
    public init() {
        let tables = ExponentialZiggurat.tables
        layers = tables.layers
        density = tables.density
    }

    /// An exponential draw with mean `mean` from `stream` (one raw draw on the fast path).
    @inlinable @inline(__always)
    public func next(_ stream: RandomStream, mean: Double) -> Double {
        let bits = stream.nextRaw32()
        let layer = layers[Int(bits & 255)]
        let u = bits >> 8
        if u < layer.threshold { return Double(u) * layer.width * mean }
        return slow(stream, bits) * mean
    }

    /// The rejection step for a draw outside its layer's fast region (1.1 % of draws), Marsaglia &
    /// Tsang's `efix`: the tail for the base layer, otherwise accept the point if it lies under the
    /// density or start over.
    @usableFromInline @inline(never)
    func slow(_ stream: RandomStream, _ first: UInt32) -> Double {
        var bits = first
        while true {
            let i = Int(bits & 255)
            if i == 0 { return Tables.r - log1p(-gsl_rng_uniform(stream.rng)) }
            let x = Double(bits >> 8) * layers[i].width
            if density[i] + gsl_rng_uniform(stream.rng) * (density[i - 1] - density[i]) < exp(-x) { return x }
            bits = stream.nextRaw32()
            let layer = layers[Int(bits & 255)]
            let u = bits >> 8
            if u < layer.threshold { return Double(u) * layer.width }
        }
    }
}

extension RandomStream {
    /// An exponential draw with mean `mean` by the ziggurat method (`ExponentialZiggurat`): about
    /// five times faster than `exponential(mean:)`, but not the same values. For hot loops, keep an
    /// `ExponentialZiggurat` and call its `next(_:mean:)` (no lazy-initialisation check).
    @inlinable
    public func exponentialZiggurat(mean: Double) -> Double {
        ExponentialZiggurat().next(self, mean: mean)
    }
}
