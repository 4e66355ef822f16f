extension NetworkProfile {
    /// Geostationary satellite (HughesNet / Viasat).
    public static let geoSatellite = NetworkProfile(
        name: "geo-satellite", summary: "geostationary satellite (HughesNet/Viasat)",
        body: .link(LinkDistributions(downlink: rate(median: 19, p90: 40), uplink: rate(median: 2.9, p90: 6),
                                      rtt: rtt(median: 680, p90: 900), loss: loss(median: 0.005, p90: 0.02))),
        sources: ["medians down 19.73/18.13, up 2.43/3.38 Mbps, RTT 724/630 ms (HughesNet/Viasat): Ookla Q2 2021, as reported by RCR Wireless; ours are the midpoints",
                  "p90s, loss: assumptions"])
}
