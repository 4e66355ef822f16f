import Foundation

/// One fuzz input: one or more named files.
struct FuzzCase: Sendable {
    var files: [(name: String, bytes: [UInt8])]

    init(_ files: [(name: String, bytes: [UInt8])]) { self.files = files }
    init(name: String, bytes: [UInt8]) { files = [(name, bytes)] }

    var primary: [UInt8] { files.first?.bytes ?? [] }
    var totalBytes: Int { files.reduce(0) { $0 + $1.bytes.count } }

    func bytes(_ name: String) -> [UInt8] { files.first { $0.name == name }?.bytes ?? [] }
    mutating func set(_ name: String, _ bytes: [UInt8]) {
        if let i = files.firstIndex(where: { $0.name == name }) { files[i].bytes = bytes } else { files.append((name, bytes)) }
    }

    /// Writes the files into `dir` (created, emptied of earlier inputs).
    func write(into dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files { try Data(f.bytes).write(to: URL(fileURLWithPath: dir + "/" + f.name)) }
    }
}

/// The largest file a mutation may produce (256 KiB).
let maxCaseBytes = 256 * 1024

/// Where a target runs: the repository (read only) and a private scratch folder.
struct FuzzEnvironment {
    var root: String
    var work: String
}

/// A fuzz target: a seed corpus, a way to mutate, and the code under test.
protocol FuzzTarget: AnyObject {
    var name: String { get }
    /// What it exercises, for `--list`.
    var summary: String { get }
    /// The seed corpus, the same on every call for the same repository.
    func corpus() throws -> [FuzzCase]
    /// One mutation of `input` (applied one to four times per case).
    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase])
    /// Runs the code under test on `input`; errors are expected, crashes and hangs are findings.
    func run(_ input: FuzzCase) throws
}

extension FuzzTarget {
    /// Case `index` of the seeded sequence: the corpus itself first, then mutants.
    func generate(_ index: Int, seed: UInt64, corpus: [FuzzCase]) -> FuzzCase {
        if index < corpus.count { return corpus[index] }
        var rng = FuzzRandom(seed: seed, target: name, index: UInt64(index))
        var input = rng.pick(corpus)
        for _ in 0..<rng.pick([1, 1, 1, 2, 2, 3, 4]) {
            var next = input
            mutate(&next, &rng, corpus: corpus)
            // Inputs stay below a size the code should read well within the time limit (like libFuzzer's -max_len).
            if next.files.allSatisfy({ $0.bytes.count <= maxCaseBytes }) { input = next }
        }
        return input
    }
}

/// Every string literal in JSON texts (keys and values): words of the format, for mutations.
func harvestStrings(_ texts: [[UInt8]], extra: [String]) -> [String] {
    var seen = Set<String>(), out: [String] = []
    for t in texts {
        for s in JSONScanner.spans(t) where s.kind == .string && s.end - s.start >= 2 && s.end - s.start < 60 {
            let word = String(decoding: t[(s.start + 1)..<(s.end - 1)], as: UTF8.self)
            if seen.insert(word).inserted { out.append(word) }
        }
    }
    for w in extra where seen.insert(w).inserted { out.append(w) }
    return out
}

/// Mutates one JSON file: mostly JSON-aware, sometimes raw bytes.
func mutateJSON(_ bytes: inout [UInt8], _ rng: inout FuzzRandom, others: [[UInt8]], dictionary: [String]) {
    if rng.chance(0.85) {
        JSONMutator.mutate(&bytes, &rng, others: others, dictionary: dictionary)
    } else {
        ByteMutator.mutate(&bytes, &rng, others: others)
    }
}

let formatWords = ["constant", "uniform", "normal", "lognormal", "gamma", "weibull", "pareto", "exponential", "empirical",
                   "mixture", "resample", "interpolate", "lora", "fedsrd", "fedsrd-e", "topk", "ffa-lora", "3g", "4g", "5g",
                   "fiber", "wifi", "starlink", "geo-satellite", "home-broadband", "web-mix", "tcp", "fluid", "f16", "bf16", "f32",
                   "Mbps", "MBps", "Mb", "MB", "kB", "KiB", "GB", "s", "ms", "h", "min", "d", "bit/s", "%", "seed", "arms", "arms.0.codec",
                   "network.profile", "stop.time", "selection.deadline", "x.y.z", "", "__proto__"]

/// A usage error of fedsim-fuzz itself.
struct FuzzUsage: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}

/// Every target, by name, in the order they run.
func makeTargets(env: FuzzEnvironment) -> [any FuzzTarget] {
    [ScenarioTarget(env: env), SweepTarget(env: env), SafeTensorsTarget(), WireTarget(), IDXTarget(env: env),
     TraceTarget(env: env), ReportTarget(env: env), PickleTarget(env: env)]
}

func makeTarget(named name: String, env: FuzzEnvironment) throws -> any FuzzTarget {
    guard let t = makeTargets(env: env).first(where: { $0.name == name }) else {
        throw FuzzUsage("unknown target '\(name)'; targets: \(makeTargets(env: env).map(\.name).joined(separator: ", "))")
    }
    return t
}
