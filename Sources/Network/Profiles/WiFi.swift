extension NetworkProfile {
    /// Home / office Wi-Fi (the last hop of a fixed line).
    public static let wifi = NetworkProfile(
        name: "wifi", summary: "Wi-Fi on a fixed line",
        body: .link(LinkDistributions(downlink: rate(median: 145, p90: 400), uplink: rate(median: 40, p90: 150),
                                      rtt: rtt(median: 20, p90: 60), loss: loss(median: 0.001, p90: 0.005))),
        sources: ["down median 145 Mbps: between the US (137) and China (153) Wi-Fi medians of Yang et al., SIGCOMM 2022 (3.54M users), APNIC blog",
                  "up, RTT, loss: assumptions"])
}
