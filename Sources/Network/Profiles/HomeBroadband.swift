extension NetworkProfile {
    /// Fixed home broadband (cable / DSL mix).
    public static let homeBroadband = NetworkProfile(
        name: "home-broadband", summary: "fixed home broadband (cable/DSL)",
        body: .link(LinkDistributions(downlink: rate(median: 115.22, p90: 400), uplink: rate(median: 17.18, p90: 50),
                                      rtt: rtt(median: 14, p90: 40), loss: loss(median: 0.0005, p90: 0.002))),
        sources: ["down 115.22 / up 17.18 Mbps / RTT 14 ms medians: Ookla, \"Starlink, HughesNet, Viasat performance Q2 2021\" (US fixed broadband)",
                  "p90s, loss: assumptions"])
}
