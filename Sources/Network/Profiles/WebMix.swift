extension NetworkProfile {
    /// A global Web client base: a mix of access technologies.
    public static let webMix = NetworkProfile(
        name: "web-mix", summary: "a global mix of Web clients",
        body: .mix([.init(weight: 0.05, profile: .threeG), .init(weight: 0.30, profile: .fourG),
                    .init(weight: 0.15, profile: .fiveG), .init(weight: 0.20, profile: .homeBroadband),
                    .init(weight: 0.10, profile: .fiber), .init(weight: 0.15, profile: .wifi),
                    .init(weight: 0.03, profile: .starlink), .init(weight: 0.02, profile: .geoSatellite)]),
        sources: ["weights: assumption, mobile-heavy like the global Web (a mixture describes a global client base better than one distribution: NETWORK-PROFILES.md); its mobile median lands near the 61.52 Mbps global mobile median of Nov 2024 (DataReportal \"Digital 2025\", citing Ookla)"])
}
