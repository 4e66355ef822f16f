extension NetworkProfile {
    /// Starlink low-earth-orbit satellite; the one profile with measured p10/p50/p90 on each side,
    /// hence two-piece lognormals (a heavier slow tail than a lognormal gives).
    public static let starlink = NetworkProfile(
        name: "starlink", summary: "Starlink (LEO satellite)",
        body: .link(LinkDistributions(downlink: rate(p10: 22.81, median: 116.77, p90: 250.96),
                                      uplink: rate(p10: 6.79, median: 18.17, p90: 27.17),
                                      rtt: rtt(p10: 37, median: 47, p90: 72), loss: loss(median: 0.005, p90: 0.02))),
        sources: ["p10/p50/p90 down 22.81/116.77/250.96, up 6.79/18.17/27.17 Mbps, RTT 37/47/72 ms: Ookla satellite reports (one US state, late 2024); Ookla's 'p10' latency (72 ms) is the slow end, our p90",
                  "loss: assumption (LEO handovers cause bursts of loss)"])
}
