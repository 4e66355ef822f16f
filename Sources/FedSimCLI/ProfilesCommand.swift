import Foundation
import Network
import Numerics

/// `fedsim profiles [NAME]`: the built-in network profiles, their distributions and sources.
struct ProfilesCommand: Command {
    static let name = "profiles"
    static let abstract = "List the built-in network profiles, or show one with its sources."
    static let options: [OptionSpec] = [
        OptionSpec("json", nil, "Print JSON instead of a table."),
    ]

    static let help = """
    List the built-in network profiles with the median, p10 and p90 of their downlink, uplink,
    RTT and loss; with a NAME, show that profile's distributions (in the JSON form a scenario
    uses), its mix (for web-mix) and the public sources of its figures.

    USAGE:
      fedsim profiles [NAME] [--json]

    \(options.helpText)

    A scenario names a profile ("network": {"profile": "4g"}), mixes them
    ("network": {"mix": [{"weight": 0.3, "profile": "fiber"}, …]}), or defines its own under
    "network.profiles".
    """

    let name: String?
    let json: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard parsed.positional.count <= 1 else { throw UsageError("expected at most one profile name") }
        name = parsed.positional.first
        json = parsed.flag("json")
    }

    func validate() throws {
        if let name, NetworkProfile.builtIn(named: name) == nil {
            let valid = NetworkProfile.builtInNames
            throw InputError(.unknownName(kind: "network profile", name: name, suggestion: Suggestion.nearest(to: name, in: valid), valid: valid), at: "")
        }
    }

    static func percentiles(_ d: Distribution) -> (p10: Double, median: Double, p90: Double) {
        (d.quantile(0.1), d.quantile(0.5), d.quantile(0.9))
    }

    func run(console: Console) throws -> Int32 {
        let profiles = name.map { [NetworkProfile.builtIn(named: $0)!] } ?? NetworkProfile.builtIn
        if json {
            console.print(try jsonText(profiles.map(ProfileJSON.init), pretty: true))
            return 0
        }
        if name == nil {
            var table = TextTable(["profile", "down p10/p50/p90", "up p10/p50/p90", "RTT p10/p50/p90", "loss p50", "what"], left: [5])
            for p in profiles {
                let m = p.marginals
                func rates(_ d: Distribution) -> String {
                    let q = Self.percentiles(d)
                    return [q.p10, q.median, q.p90].map { Quantity.significant($0 / 1e6, 3) }.joined(separator: "/") + " Mbps"
                }
                let rtt = Self.percentiles(m.rtt)
                table.add([p.name, rates(m.downlink), rates(m.uplink),
                           [rtt.p10, rtt.median, rtt.p90].map { Quantity.significant($0 * 1e3, 3) }.joined(separator: "/") + " ms",
                           Quantity.significant(m.loss.quantile(0.5), 2), p.summary])
            }
            console.print(table.rendered())
            console.print("\nSee 'fedsim profiles NAME' for a profile's distributions and sources.")
            return 0
        }
        let p = profiles[0]
        console.print("\(p.name): \(p.summary)")
        if case let .mix(components) = p.body {
            let total = components.reduce(0) { $0 + $1.weight }
            console.print("mix           " + components.map { "\(Quantity.significant($0.weight / total * 100, 3))% \($0.profile.name)" }.joined(separator: ", "))
        }
        var table = TextTable(["", "p10", "median", "p90", "mean"])
        for (label, d, dimension) in p.marginals.attributes {
            let q = Self.percentiles(d)
            table.add([label] + [q.p10, q.median, q.p90, d.mean ?? .nan].map { Quantity.humanReadable($0, as: dimension) })
        }
        console.print(table.rendered())
        if case .link = p.body {
            console.print("\ndistributions (the JSON a scenario's \"network.profiles\" takes):")
            for (label, d, _) in p.marginals.attributes { console.print("  \(label.padding(toLength: 5, withPad: " ", startingAt: 0)) \(try Self.json(d))") }
        }
        console.print("\nsources:")
        for s in p.sources { console.print("  - \(s)") }
        return 0
    }

    static func json(_ d: Distribution) throws -> String { try jsonText(d) }
}

/// The `--json` form of one profile.
struct ProfileJSON: Encodable {
    struct Summary: Encodable { let p10: Double; let median: Double; let p90: Double; let mean: Double? }
    struct Member: Encodable { let weight: Double; let profile: String }
    let name: String
    let summary: String
    let mix: [Member]?
    let down: Distribution?
    let up: Distribution?
    let rtt: Distribution?
    let loss: Distribution?
    let quantiles: [String: Summary]
    let sources: [String]

    init(_ p: NetworkProfile) {
        name = p.name
        summary = p.summary
        sources = p.sources
        var link: LinkDistributions?
        switch p.body {
        case let .link(l): link = l; mix = nil
        case let .mix(components): mix = components.map { Member(weight: $0.weight, profile: $0.profile.name) }
        }
        down = link?.downlink; up = link?.uplink; rtt = link?.rtt; loss = link?.loss
        var q: [String: Summary] = [:]
        for (label, d, _) in p.marginals.attributes {
            let s = ProfilesCommand.percentiles(d)
            q[label] = Summary(p10: s.p10, median: s.median, p90: s.p90, mean: d.mean)
        }
        quantiles = q
    }
}
