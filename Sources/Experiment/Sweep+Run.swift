import Foundation
import Numerics
import Reporting
import Scenario

extension Sweep {
    /// Which points an invocation runs: point k (0-based) when k mod `count` = `index` − 1.
    public struct Shard: Sendable, Equatable {
        /// The shard's number, 1…`count`.
        public let index: Int
        /// How many shards.
        public let count: Int
        /// Shard `index` of `count`; nil unless 1 ≤ index ≤ count.
        public init?(index: Int, count: Int) {
            guard count >= 1, (1...count).contains(index) else { return nil }
            self.index = index
            self.count = count
        }
        /// Every point.
        public static let whole = Shard(uncheckedIndex: 1, count: 1)
        private init(uncheckedIndex: Int, count: Int) {
            index = uncheckedIndex
            self.count = count
        }
        /// Whether the shard runs `point`.
        public func contains(_ point: Point) -> Bool { point.index % count == index - 1 }
    }

    /// A point's state in an output directory (`--dry-run`).
    public enum Status: Sendable, Equatable {
        /// Its results exist: it will be skipped.
        case done
        /// This shard runs it.
        case toRun
        /// Another shard runs it.
        case otherShard
    }

    /// What a sweep invocation did, and what the summary found.
    public struct Outcome: Sendable, Equatable {
        /// Points run now.
        public var ran: Int
        /// Points of this shard whose results existed (skipped).
        public var skipped: Int
        /// Points of the whole sweep whose results are in the directory.
        public var found: Int
        /// Point folders of an earlier definition (ignored).
        public var stale: Int
        /// The sweep's number of points.
        public var total: Int
        /// The summary files written (relative to the directory), e.g. "sweep.md", "plots/speedup.svg".
        public var summaryFiles: [String]
    }

    /// The points `shard` runs.
    public func points(in shard: Shard) -> [Point] { points.filter(shard.contains) }

    /// The checks made before anything runs, for every point of `shard` (see `Preflight.check`);
    /// an error names the point (`axes (point N)`).
    public func preflight(shard: Shard, memoryLimit: Double) throws {
        for p in points(in: shard) {
            do {
                try Preflight.check(p.scenario, recordClients: false, memoryLimit: memoryLimit, file: file)
            } catch var error as InputError {
                error.keyPath = "axes (point \(p.index + 1))"
                throw error
            }
        }
    }

    /// Every point with its state for output directory `out` (nil: none yet, nothing is done).
    public func plan(shard: Shard, out: String?) -> [(point: Point, status: Status)] {
        points.map { p in
            let done = out.map { FileManager.default.fileExists(atPath: Self.pointsFolder($0) + "/" + p.directory + "/summary.json") } ?? false
            return (p, done ? .done : shard.contains(p) ? .toRun : .otherShard)
        }
    }

    /// The folder of the point folders in output directory `out`.
    public static func pointsFolder(_ out: String) -> String { out + "/points" }

    /// Runs the points of `shard` whose results are not in `out` yet (after `preflight`), writing each
    /// into `out/points/<directory>/` atomically, then the summary of every point found in `out`.
    /// `force` first removes what fedsim wrote in `out` (it must carry fedsim's marker and hold
    /// nothing else). Errors: `InputError` (exit 2), `OutputError` (exit 1).
    public func run(shard: Shard, out: String, force: Bool = false, memoryLimit: Double, observer: (any ExperimentObserver)? = nil) throws -> Outcome {
        try preflight(shard: shard, memoryLimit: memoryLimit)
        let mine = points(in: shard)
        _ = try OutputDirectory.prepare(out, kind: .sweep, replace: force, resume: true)
        if force { try OutputDirectory.clean(out, kind: .sweep) }
        try OutputDirectory.create(out, kind: .sweep)
        let pointsDir = Self.pointsFolder(out)
        do { try FileManager.default.createDirectory(atPath: pointsDir, withIntermediateDirectories: true) } catch {
            throw OutputError(path: pointsDir, reason: InputFile.plain(error))
        }
        OutputDirectory.cleanStale(in: pointsDir)
        var ran = 0, skipped = 0
        let started = Date()
        for (k, p) in mine.enumerated() {
            let dir = pointsDir + "/" + p.directory
            if FileManager.default.fileExists(atPath: dir + "/summary.json") { skipped += 1; continue }
            let position = PointPosition(index: p.index, count: points.count)
            let results = try SeedRunner(scenario: p.scenario, file: baseFile, seeds: 1, recordClients: false, point: position).run(observer: observer)
            let data = RunOutput.files(results).filter { $0.name != "clients.csv" }
            try OutputDirectory.write(data + [("point.json", Self.pointJSON(p)), ExperimentFiles.provenance], to: dir, kind: .run)
            ran += 1
            let elapsed = Date().timeIntervalSince(started)
            let left = Double(mine.count - k - 1) * elapsed / Double(max(1, ran))
            try observer?.experiment(.pointFinished(PointFinished(position: position, files: data, headline: Report.headline(results), done: ran + skipped, inShard: mine.count, secondsLeft: left)))
        }
        let summary = try SweepSummary.write(directory: out, axes: axes,
                                             points: points.map { .init(index: $0.index, directory: $0.directory, values: $0.values, seed: $0.seed) })
        return Outcome(ran: ran, skipped: skipped, found: summary.found, stale: summary.stale, total: points.count, summaryFiles: summary.files)
    }

    /// `point.json`: the point's index, seed, content key and axis values.
    static func pointJSON(_ p: Point) -> Data {
        let json = JSONValue.object(["index": .number(Double(p.index)), "seed": p.seed.map { .number(Double($0)) } ?? .null, "key": .string(p.key),
                                     "values": .object(Dictionary(p.values.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }))])
        return Data((json.text(pretty: true) + "\n").utf8)
    }
}
