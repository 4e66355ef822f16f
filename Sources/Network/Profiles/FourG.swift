extension NetworkProfile {
    /// 4G / LTE mobile.
    public static let fourG = NetworkProfile(
        name: "4g", summary: "4G/LTE mobile",
        body: .link(LinkDistributions(downlink: rate(median: 17.4, p90: 50), uplink: rate(median: 5, p90: 15),
                                      rtt: rtt(median: 50, p90: 100), loss: loss(median: 0.002, p90: 0.01))),
        sources: ["down median 17.4 Mbps: OpenSignal, \"State of LTE\", Nov 2016 (global LTE average); 13.4-21.7 Mbps under heavy congestion: Ookla, India 2025",
                  "RTT: above the 28 ms global mobile median (Ookla Speedtest Global Index, Nov 2022), which includes 5G",
                  "up (about 1/3.5 of down), p90s, loss: assumptions"])
}
