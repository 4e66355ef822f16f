import Numerics

/// What a population is drawn from (its network profile is given apart: `Population.init`).
public struct PopulationSpec: Sendable, Equatable {
    /// Number of clients.
    public var clients: Int
    /// Local training samples per client (rounded to an integer ≥ 1). With real training the
    /// partition of the data sets them instead (`Population.init(_:network:seed:samples:)`).
    public var samples: Distribution
    /// Device training speed, FLOP/s.
    public var deviceSpeed: Distribution

    /// The scenario format's defaults (docs/SCENARIOS.md, "population").
    public static let defaultSamples = Distribution.lognormal(median: 600, p90: 2000, dimension: .dimensionless)
    public static let defaultDeviceSpeed = Distribution.lognormal(median: 30e12, p90: 120e12, dimension: .flopRate)

    public init(clients: Int = 100, samples: Distribution = PopulationSpec.defaultSamples, deviceSpeed: Distribution = PopulationSpec.defaultDeviceSpeed) {
        self.clients = clients
        self.samples = samples
        self.deviceSpeed = deviceSpeed
    }
}

/// The clients of a run, as a struct of arrays (a million clients take 7 × 8 MB + 1 MB).
///
/// Each attribute has its own stream (`population.<attribute>`, index 0), drawn client after
/// client, so appending clients never changes the earlier ones, and changing one attribute's
/// distribution never changes another's draws.
public struct Population: Sendable {
    /// A loss rate above this is clamped (a link losing half its packets is unusable anyway; it keeps
    /// a heavy-tailed loss distribution from producing nonsense).
    public static let maximumLoss = 0.5

    public let count: Int
    /// Downlink rate, bit/s.
    public var downlink: [Double]
    /// Uplink rate, bit/s.
    public var uplink: [Double]
    /// Round-trip time, s.
    public var rtt: [Double]
    /// Packet loss rate.
    public var loss: [Double]
    /// Training speed, FLOP/s.
    public var speed: [Double]
    /// Local training samples.
    public var samples: [Double]
    /// Index into `profileNames` of each client's (leaf) network profile.
    public var profile: [UInt16]
    /// Names of the leaf profiles.
    public let profileNames: [String]
    /// Per leaf profile, its time-varying downlink and uplink, if any (`LinkTrace`).
    public let linkTraces: [(down: LinkTrace?, up: LinkTrace?)]
    /// The derived key of the counter-based trace offsets (`network.trace.offset`).
    let traceOffsetKey: UInt64
    /// Whether any client's link follows a trace during the run.
    public let hasTimeVaryingLinks: Bool

    /// Bytes of a population of `clients` clients, to refuse one that cannot fit before drawing it:
    /// six Doubles and a profile index per client (50 B), plus, under a session model, the
    /// `SessionTimeline` of every client (13 B: state, next change, draw counter) — 63 MB a
    /// million clients with sessions. Array headers (a few hundred bytes) are left out.
    public static func estimatedBytes(clients: Int, sessions: Bool) -> Double {
        Double(max(clients, 0)) * (Double(6 * MemoryLayout<Double>.stride + MemoryLayout<UInt16>.stride)
                                   + (sessions ? SessionTimeline.bytesPerClient : 0))
    }

    /// Draws `spec.clients` clients on `network` under `seed`; `samples` (one count per client),
    /// when given, replaces the draw of sample counts (the other draws are unchanged: each
    /// attribute has its own stream).
    public init(_ spec: PopulationSpec, network: NetworkProfile, seed: UInt64, samples given: [Double]? = nil) {
        let n = spec.clients
        precondition(given.map { $0.count == n } ?? true, "one sample count per client")
        count = n
        let leaves = network.leaves
        profileNames = leaves.map(\.name)
        linkTraces = leaves.map { ($0.link.downlinkTrace, $0.link.uplinkTrace) }
        hasTimeVaryingLinks = linkTraces.contains { $0.down != nil || $0.up != nil }
        traceOffsetKey = StreamKey(seed: seed, purpose: LinkTrace.offsetPurpose).derivedKey
        func stream(_ what: String) -> RandomStream { RandomStream(seed: seed, purpose: "population.\(what)") }

        // Which leaf each client is on.
        var profile = [UInt16](repeating: 0, count: n)
        if leaves.count > 1 {
            let chooser = DistributionSampler(Distribution(.empirical(EmpiricalTable(
                values: leaves.indices.map(Double.init), weights: leaves.map(\.weight), method: .resample))))
            let s = stream("profile")
            for i in 0..<n { profile[i] = UInt16(chooser.sample(s)) }
        }
        self.profile = profile

        /// Draws one attribute for every client from its own stream: with one sampler per leaf
        /// profile, each client from its leaf's; with a single sampler, every client from it.
        func draw(_ name: String, _ samplers: [DistributionSampler], _ transform: (Double) -> Double) -> [Double] {
            let s = stream(name), perLeaf = samplers.count > 1
            var values = [Double](repeating: 0, count: n)
            values.withUnsafeMutableBufferPointer { out in
                for i in 0..<n { out[i] = transform(samplers[perLeaf ? Int(profile[i]) : 0].sample(s)) }
            }
            return values
        }
        func link(_ name: String, _ pick: (LinkDistributions) -> Distribution, clamp: ClosedRange<Double>) -> [Double] {
            draw(name, leaves.map { DistributionSampler(pick($0.link)) }) { min(max($0, clamp.lowerBound), clamp.upperBound) }
        }
        // Rates and RTTs: at least 1 kbit/s and 0.1 ms, so no draw divides by zero.
        downlink = link("downlink", \.downlink, clamp: 1e3...Double.greatestFiniteMagnitude)
        uplink = link("uplink", \.uplink, clamp: 1e3...Double.greatestFiniteMagnitude)
        rtt = link("rtt", \.rtt, clamp: 1e-4...Double.greatestFiniteMagnitude)
        loss = link("loss", \.loss, clamp: 0...Population.maximumLoss)
        speed = draw("speed", [DistributionSampler(spec.deviceSpeed)]) { max($0, 1) }
        samples = given ?? draw("samples", [DistributionSampler(spec.samples)]) { max(1, $0.rounded()) }
        // A time-varying link's recorded rate is the time-weighted mean of the client's trace.
        if hasTimeVaryingLinks {
            for i in 0..<n {
                let leaf = Int(profile[i])
                if let t = linkTraces[leaf].down { downlink[i] = max(t.timeline(client: i, leaf: leaf, offsetKey: traceOffsetKey).trace.meanRate, 1e3) }
                if let t = linkTraces[leaf].up { uplink[i] = max(t.timeline(client: i, leaf: leaf, offsetKey: traceOffsetKey).trace.meanRate, 1e3) }
            }
        }
    }

    /// Client `i`'s capacity timeline in `downlink` or uplink direction, when that link follows a
    /// trace; nil when its rate is constant.
    public func capacityTimeline(_ i: Int, downlink: Bool) -> CapacityTimeline? {
        guard hasTimeVaryingLinks else { return nil }
        let leaf = Int(profile[i])
        guard let trace = downlink ? linkTraces[leaf].down : linkTraces[leaf].up else { return nil }
        return trace.timeline(client: i, leaf: leaf, offsetKey: traceOffsetKey)
    }
}
