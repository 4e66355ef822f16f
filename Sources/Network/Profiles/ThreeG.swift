extension NetworkProfile {
    /// 3G (EV-DO / HSPA class) mobile.
    public static let threeG = NetworkProfile(
        name: "3g", summary: "3G mobile (EV-DO/HSPA class)",
        body: .link(LinkDistributions(downlink: rate(median: 0.8, p90: 2.5), uplink: rate(median: 0.3, p90: 1),
                                      rtt: rtt(median: 150, p90: 400), loss: loss(median: 0.01, p90: 0.03))),
        sources: ["down: OpenSignal, \"State of LTE\" (Nov 2016): 3G (EV-DO class) below 1 Mbps",
                  "up, RTT, loss: assumptions (3G uplink about a third of downlink; RTTs of 100-500 ms are typical of 3G)"])
}
