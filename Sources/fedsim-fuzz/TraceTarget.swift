import Foundation
import Numerics

/// A distribution with `"trace"` decoded from JSON (reads the CSV into an `EmpiricalTable`), then sampled (module Numerics).
final class TraceTarget: FuzzTarget {
    let name = "trace"
    let summary = "trace CSVs and distribution JSON: Distribution (Codable) with \"trace\" → EmpiricalTable.readColumn, sampler, quantiles (module Numerics)"
    let env: FuzzEnvironment
    init(env: FuzzEnvironment) { self.env = env }
    var dir: String { env.work + "/trace" }
    var dictionary: [String] = []

    static let validCSV = "time,rate_mbps,rtt\n0,12.5,0.05\n1,8.25,0.06\n2,30,0.04\n3,1.5,0.2\n4,95.75,0.03\n"

    func corpus() throws -> [FuzzCase] {
        var csvs: [[UInt8]] = [Array(Self.validCSV.utf8), Array("rate\n1\n2\n3\n".utf8),
                               Array("a, b ,c\r\n1,2,3\r\n\r\n4,5,6\r\n".utf8), Array("x\n1e-3\n2.5e2\n-0\n".utf8)]
        for path in listFiles(env.root + "/Tests/Fixtures/invalid-scenarios/traces", suffix: ".csv") { if let b = readBytes(path) { csvs.append(b) } }
        if let b = readBytes(env.root + "/Validation/ns3/grid.csv") { csvs.append(Array(b.prefix(2000))) }
        let specs = [
            #"{"dist": "empirical", "trace": {"file": "trace.csv", "column": "rate_mbps", "unit": "Mbps"}}"#,
            #"{"dist": "empirical", "trace": {"file": "trace.csv", "column": "1", "unit": "Mbps"}, "method": "interpolate"}"#,
            #"{"dist": "empirical", "trace": {"file": "trace.csv", "column": "rtt", "unit": "s"}, "method": "resample"}"#,
            #"{"dist": "mixture", "components": [{"weight": 0.5, "dist": "empirical", "trace": {"file": "trace.csv", "column": 0, "unit": "ms"}}, {"weight": 0.5, "dist": "constant", "value": "1s"}]}"#,
            #"{"dist": "empirical", "values": ["1Mbps", "2Mbps", 3e6], "weights": [1, 2, 3]}"#,
        ]
        var specsBytes = specs.map { Array($0.utf8) }
        if let b = readBytes(env.root + "/Scenarios/distributions/web-mix-downlink.json") { specsBytes.append(b) }
        var out: [FuzzCase] = []
        for (i, csv) in csvs.enumerated() { out.append(FuzzCase([("dist.json", specsBytes[i % specsBytes.count]), ("trace.csv", csv)])) }
        for (i, spec) in specsBytes.enumerated() { out.append(FuzzCase([("dist.json", spec), ("trace.csv", csvs[i % csvs.count])])) }
        dictionary = harvestStrings(specsBytes, extra: formatWords + ["trace.csv", "time", "rtt", "0", "-1", "99", "rate_mbps "])
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        if rng.chance(0.35) {
            var spec = input.bytes("dist.json")
            mutateJSON(&spec, &rng, others: corpus.map { $0.bytes("dist.json") }, dictionary: dictionary)
            input.set("dist.json", spec)
        } else {
            var csv = input.bytes("trace.csv")
            CSVMutator.mutate(&csv, &rng, others: corpus.map { $0.bytes("trace.csv") })
            input.set("trace.csv", csv)
        }
    }

    func run(_ input: FuzzCase) throws {
        try input.write(into: dir)
        let distribution = try Distribution.parse(Data(input.bytes("dist.json")), file: "dist.json", baseDirectory: dir)
        let sampler = DistributionSampler(distribution)
        _ = sampler.samples(64, RandomStream(StreamKey(seed: 1, purpose: "fuzz-trace")))
        for p in [0.0, 0.1, 0.5, 0.9, 1.0] { _ = distribution.quantile(p) }
        _ = distribution.cdf(distribution.quantile(0.5))
        _ = distribution.mean
        _ = distribution.support
    }
}
