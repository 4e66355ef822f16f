extension NetworkProfile {
    /// 5G mobile.
    public static let fiveG = NetworkProfile(
        name: "5g", summary: "5G mobile",
        body: .link(LinkDistributions(downlink: rate(median: 166.13, p90: 450), uplink: rate(median: 21.08, p90: 50),
                                      rtt: rtt(median: 30, p90: 60), loss: loss(median: 0.001, p90: 0.005))),
        sources: ["down 166.13 / up 21.08 Mbps medians: Ookla, \"Growing and Slowing: The State of 5G 2021\" (global, Q3 2021)",
                  "RTT median 30 ms: Ookla global mobile median 28 ms (Nov 2022); one US 5G carrier 47 ms (Ookla H1 2024)",
                  "p90s, loss: assumptions"])
}
