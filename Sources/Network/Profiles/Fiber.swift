extension NetworkProfile {
    /// Fiber to the home / institution.
    public static let fiber = NetworkProfile(
        name: "fiber", summary: "fiber (FTTH, institutional)",
        body: .link(LinkDistributions(downlink: rate(median: 500, p90: 940), uplink: rate(median: 300, p90: 900),
                                      rtt: rtt(median: 10, p90: 25), loss: loss(median: 0.0001, p90: 0.0005))),
        sources: ["RTT median 10 ms: Ookla Speedtest Global Index, global fixed median latency (Nov 2022)",
                  "rates (near-symmetric, 1 Gbps plans capped by 940 Mbps goodput), loss: assumptions"])
}
