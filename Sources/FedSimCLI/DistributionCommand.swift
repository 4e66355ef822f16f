import Foundation
import Numerics
import Scenario

/// `fedsim distribution`: what a distribution written for a scenario really produces.
struct DistributionCommand: Command {
    static let name = "distribution"
    static let abstract = "Show a distribution's mean and quantiles, exact and sampled."
    static let options: [OptionSpec] = [
        OptionSpec("samples", "N", "Draws used for the sampled column (default 100000)."),
        OptionSpec("seed", "S", "Scenario seed the draws' stream is derived from (default 1)."),
        OptionSpec("values", "K", "Also print the first K draws."),
        OptionSpec("json", nil, "Print one JSON object instead of a table."),
    ]

    static let help = """
    Show what a distribution in a scenario file produces: its mean and quantiles from the exact
    CDF (GSL), next to the same figures from seeded draws, so you can check a distribution before
    you put it in a scenario.

    USAGE:
      fedsim distribution <json | @file.json> [--samples N] [--seed S] [--values K] [--json]

    ARGUMENTS:
      <json | @file.json>  A distribution in FedSim's JSON form, inline or from a file, e.g.
                           '{"dist": "lognormal", "median": "10Mbps", "p90": "40Mbps"}'.
                           Families: constant, uniform, normal (with optional min/max
                           truncation), lognormal (mu/sigma or median + p90), gamma, weibull,
                           pareto, exponential, empirical (values or a CSV trace column),
                           mixture. Quantities take units: "10Mbps", "80ms", "16MB", "30TFLOPS".

    \(options.helpText)

    EXAMPLE:
      fedsim distribution '{"dist":"mixture","components":[
          {"weight":0.7,"dist":"lognormal","median":"20Mbps","p90":"60Mbps"},
          {"weight":0.3,"dist":"lognormal","median":"150Mbps","p90":"400Mbps"}]}'
    """

    static let probabilities = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]

    let source: String
    let samples: Int
    let seed: UInt64
    let valueCount: Int
    let json: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard parsed.positional.count == 1 else {
            throw UsageError(parsed.positional.isEmpty ? "missing the distribution (JSON text or @file.json)"
                                                       : "expected one distribution, found \(parsed.positional.count) arguments")
        }
        source = parsed.positional[0]
        samples = try parsed.integer("samples", default: 100_000, in: 1...100_000_000)
        seed = UInt64(try parsed.integer("seed", default: 1, in: 0...Int.max))
        valueCount = try parsed.integer("values", default: 0, in: 0...1_000_000)
        json = parsed.flag("json")
    }

    func run(console: Console) throws -> Int32 {
        let (distribution, file) = try load()
        let sampler = DistributionSampler(distribution)
        let stream = RandomStream(seed: seed, purpose: "cli.distribution")
        let draws = sampler.samples(max(samples, valueCount), stream)
        let sorted = draws.prefix(samples).sorted()
        let sampledMean = sorted.reduce(0, +) / Double(sorted.count)
        func sampledQuantile(_ p: Double) -> Double {
            // numpy's default rule: linear interpolation at p·(n−1).
            let position = p * Double(sorted.count - 1)
            let i = Int(position.rounded(.down))
            let fraction = position - Double(i)
            return i + 1 < sorted.count ? sorted[i] + fraction * (sorted[i + 1] - sorted[i]) : sorted[i]
        }
        if json {
            var exact: [String: Double?] = ["mean": distribution.mean]
            var sampled: [String: Double] = ["mean": sampledMean]
            for p in Self.probabilities {
                exact[Self.label(p)] = distribution.quantile(p)
                sampled[Self.label(p)] = sampledQuantile(p)
            }
            let object = DistributionReport(distribution: distribution, file: file, dimension: distribution.dimension?.rawValue,
                                            samples: samples, seed: seed, exact: exact, sampled: sampled,
                                            values: valueCount > 0 ? Array(draws.prefix(valueCount)) : nil)
            console.print(try jsonText(object))
            return 0
        }
        let dimension = distribution.dimension ?? .dimensionless
        func show(_ value: Double?) -> String {
            guard let value else { return "infinite" }
            return Quantity.humanReadable(value, as: dimension, digits: 4)
        }
        console.print("distribution  \(distribution.name)" + (distribution.dimension.map { " (\($0.rawValue))" } ?? ""))
        console.print(try "resolved      " + jsonText(distribution))
        let header = "              " + "exact".padding(toLength: 16, withPad: " ", startingAt: 0) + "sampled (n=\(samples), seed \(seed))"
        console.print(header)
        func row(_ label: String, _ exact: String, _ sampled: String) {
            console.print(label.padding(toLength: 14, withPad: " ", startingAt: 0) + exact.padding(toLength: 16, withPad: " ", startingAt: 0) + sampled)
        }
        row("mean", show(distribution.mean), show(sampledMean))
        for p in Self.probabilities { row(Self.label(p), show(distribution.quantile(p)), show(sampledQuantile(p))) }
        if valueCount > 0 {
            console.print("first \(valueCount) draws (base unit \(dimension.baseUnit.isEmpty ? "-" : dimension.baseUnit)):")
            console.print(draws.prefix(valueCount).map { Quantity.shortest($0) }.joined(separator: " "))
        }
        return 0
    }

    static func label(_ p: Double) -> String { "p" + Quantity.shortest(p * 100) }

    /// Reads the argument as inline JSON or `@file`, decoding with key-path errors.
    private func load() throws -> (Distribution, String?) {
        var file: String?
        let data: Data
        if source.hasPrefix("@") {
            let path = String(source.dropFirst())
            file = path
            data = try InputFile.read(path, maxBytes: 64 << 20)
        } else {
            data = Data(source.utf8)
        }
        // The strict reader (duplicate keys, depth, UTF-8, line:column on syntax errors).
        let base = file.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? FileManager.default.currentDirectoryPath
        do {
            return (try Distribution.parse(data, file: file ?? "the distribution argument", baseDirectory: base), file)
        } catch let error as InputError {
            if case .file = error.problem, error.keyPath.isEmpty { throw error }
            throw file.map { error.inFile($0) } ?? error
        }
    }
}

/// The `--json` output of `fedsim distribution`.
struct DistributionReport: Encodable {
    let distribution: Distribution
    let file: String?
    let dimension: String?
    let samples: Int
    let seed: UInt64
    let exact: [String: Double?]
    let sampled: [String: Double]
    let values: [Double]?
}
