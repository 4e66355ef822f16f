import Numerics

/// The distributions one client's link is drawn from.
public struct LinkDistributions: Sendable, Equatable {
    /// Downlink (server → client) rate, bit/s.
    public var downlink: Distribution
    /// Uplink (client → server) rate, bit/s.
    public var uplink: Distribution
    /// Round-trip time, seconds.
    public var rtt: Distribution
    /// Packet loss rate, a probability in [0, 1).
    public var loss: Distribution
    /// A time-varying downlink (its rate follows a trace during the run); nil: the drawn rate
    /// holds for the whole run. With a trace, `downlink` is the constant trace mean (what the
    /// population records and dropouts are placed by).
    public var downlinkTrace: LinkTrace?
    /// A time-varying uplink, as `downlinkTrace`.
    public var uplinkTrace: LinkTrace?

    public init(downlink: Distribution, uplink: Distribution, rtt: Distribution, loss: Distribution,
                downlinkTrace: LinkTrace? = nil, uplinkTrace: LinkTrace? = nil) {
        self.downlink = downlink
        self.uplink = uplink
        self.rtt = rtt
        self.loss = loss
        self.downlinkTrace = downlinkTrace
        self.uplinkTrace = uplinkTrace
    }

    /// The four attributes with their names and dimensions, in display order.
    public var attributes: [(name: String, distribution: Distribution, dimension: Quantity.Dimension)] {
        [("down", downlink, .bitRate), ("up", uplink, .bitRate), ("rtt", rtt, .duration), ("loss", loss, .dimensionless)]
    }

    /// Checks dimensions and supports (rates and RTTs positive, loss in [0, 1)); errors at `keyPath.<attribute>`.
    public func validated(at keyPath: String) throws -> LinkDistributions {
        func at(_ key: String) -> String { keyPath.isEmpty ? key : keyPath + "." + key }
        for (name, d, dimension) in attributes {
            _ = try d.requiring(dimension, at: at(name))
            let (low, high) = d.support
            if dimension == .dimensionless {
                // Draws are clamped to `Population.maximumLoss`; the distribution itself must sit in [0, 1).
                guard low >= 0, d.quantile(0.999) < 1 else {
                    throw InputError(.invalidValue(expected: "a loss rate in [0, 1)", found: "\(d.name) reaching \(Quantity.shortest(low < 0 ? low : high))"), at: at(name))
                }
            } else {
                _ = try d.requiringPositive(dimension == .bitRate ? "rates" : "round-trip times", at: at(name))
            }
        }
        return self
    }
}

/// A named access network: either one link distribution (`4g`) or a weighted mix of profiles
/// (`web-mix`), with the public sources its figures come from.
public struct NetworkProfile: Sendable, Equatable {
    /// One weighted member of a mix.
    public struct Component: Sendable, Equatable {
        public var weight: Double
        public var profile: NetworkProfile
        public init(weight: Double, profile: NetworkProfile) {
            self.weight = weight
            self.profile = profile
        }
    }

    public indirect enum Body: Sendable, Equatable {
        case link(LinkDistributions)
        case mix([Component])
    }

    public var name: String
    /// One line: what access technology this is.
    public var summary: String
    public var body: Body
    /// Where the figures come from, and which are assumptions.
    public var sources: [String]

    public init(name: String, summary: String, body: Body, sources: [String]) {
        self.name = name
        self.summary = summary
        self.body = body
        self.sources = sources
    }

    /// The leaf profiles with their overall weights (normalised to sum 1), in declaration order.
    /// A client draws its leaf first, then all four attributes from that leaf, so a 3G client has a
    /// 3G downlink *and* a 3G uplink and RTT.
    public var leaves: [(weight: Double, name: String, link: LinkDistributions)] {
        switch body {
        case let .link(link): return [(1, name, link)]
        case let .mix(components):
            let total = components.reduce(0) { $0 + $1.weight }
            return components.flatMap { c in c.profile.leaves.map { (c.weight / total * $0.weight, $0.name, $0.link) } }
        }
    }

    /// The marginal distribution of each attribute (a mixture for a mix).
    public var marginals: LinkDistributions {
        let leaves = self.leaves
        if leaves.count == 1 { return leaves[0].link }
        func mix(_ pick: (LinkDistributions) -> Distribution, _ dimension: Quantity.Dimension) -> Distribution {
            Distribution(.mixture(leaves.map { .init(weight: $0.weight, distribution: pick($0.link)) }), dimension: dimension)
        }
        return LinkDistributions(downlink: mix(\.downlink, .bitRate), uplink: mix(\.uplink, .bitRate),
                                 rtt: mix(\.rtt, .duration), loss: mix(\.loss, .dimensionless))
    }
}

extension NetworkProfile {
    /// The built-in profiles, in display order. A new profile is one file in `Profiles/` plus one
    /// line here.
    public static let builtIn: [NetworkProfile] = [
        .threeG, .fourG, .fiveG, .homeBroadband, .fiber, .wifi, .starlink, .geoSatellite, .webMix,
    ]

    /// Names of the built-in profiles.
    public static var builtInNames: [String] { builtIn.map(\.name) }

    /// The built-in profile called `name`, if any.
    public static func builtIn(named name: String) -> NetworkProfile? { builtIn.first { $0.name == name } }

    // Shorthands for the profile files.
    static func rate(median: Double, p90: Double) -> Distribution { .lognormal(median: median * 1e6, p90: p90 * 1e6, dimension: .bitRate) }
    static func rate(p10: Double, median: Double, p90: Double) -> Distribution {
        .lognormal(p10: p10 * 1e6, median: median * 1e6, p90: p90 * 1e6, dimension: .bitRate)
    }
    static func rtt(median: Double, p90: Double) -> Distribution { .lognormal(median: median / 1e3, p90: p90 / 1e3, dimension: .duration) }
    static func rtt(p10: Double, median: Double, p90: Double) -> Distribution {
        .lognormal(p10: p10 / 1e3, median: median / 1e3, p90: p90 / 1e3, dimension: .duration)
    }
    /// Loss: lognormal around `median`; the population clamps draws to `Population.maximumLoss`.
    static func loss(median: Double, p90: Double) -> Distribution { .lognormal(median: median, p90: p90, dimension: .dimensionless) }
}
