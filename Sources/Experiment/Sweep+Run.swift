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

    /// One of the worker processes of `--jobs J`: worker `index` (1…`count`) runs the shard's
    /// points whose position in the shard's list is `index` − 1 modulo `count`.
    public struct Worker: Sendable, Equatable {
        public let index: Int
        public let count: Int
        /// Worker `index` of `count`; nil unless 1 ≤ index ≤ count.
        public init?(index: Int, count: Int) {
            guard count >= 1, (1...count).contains(index) else { return nil }
            self.index = index
            self.count = count
        }
    }

    /// How the points of an invocation run: in this process, one after another (`jobs` 1), or
    /// spread over `jobs` worker processes of this executable (each with `threads` threads),
    /// or as one such worker (which writes no summary).
    public struct Execution: Sendable, Equatable {
        public var jobs: Int
        public var threadsPerJob: Int?
        public var worker: Worker?
        /// The fedsim executable the workers run (nil: this process's own).
        public var executable: String?
        public init(jobs: Int = 1, threadsPerJob: Int? = nil, worker: Worker? = nil, executable: String? = nil) {
            self.jobs = jobs
            self.threadsPerJob = threadsPerJob
            self.worker = worker
            self.executable = executable
        }
        public static let sequential = Execution()
    }

    /// Runs the points of `shard` whose results are not in `out` yet (after `preflight`), writing each
    /// into `out/points/<directory>/` atomically, then the summary of every point found in `out`.
    /// `force` first removes what fedsim wrote in `out` (it must carry fedsim's marker and hold
    /// nothing else). With `execution.jobs` > 1 the points run in that many worker processes
    /// (`fedsim sweep … --worker k/J`); every point's files, and so the summary, are the same
    /// bytes whatever the number of jobs. Errors: `InputError` (exit 2), `OutputError` (exit 1).
    public func run(shard: Shard, out: String, force: Bool = false, memoryLimit: Double, observer: (any ExperimentObserver)? = nil,
                    execution: Execution = .sequential) throws -> Outcome {
        try preflight(shard: shard, memoryLimit: memoryLimit)
        var mine = points(in: shard)
        if let w = execution.worker {
            mine = mine.enumerated().filter { $0.offset % w.count == w.index - 1 }.map(\.element)
            _ = try OutputDirectory.prepare(out, kind: .sweep, replace: false, resume: true)
        } else {
            _ = try OutputDirectory.prepare(out, kind: .sweep, replace: force, resume: true)
            // --force on a folder that does not exist yet: nothing to remove.
            if force, FileManager.default.fileExists(atPath: out) { try OutputDirectory.clean(out, kind: .sweep) }
        }
        try OutputDirectory.create(out, kind: .sweep)
        if execution.worker == nil { try OutputDirectory.writeFile(planJSON, to: out + "/" + Self.planFile) }
        let pointsDir = Self.pointsFolder(out)
        do { try FileManager.default.createDirectory(atPath: pointsDir, withIntermediateDirectories: true) } catch {
            throw OutputError(path: pointsDir, reason: InputFile.plain(error))
        }
        if execution.worker == nil { OutputDirectory.cleanStale(in: pointsDir) }
        if execution.worker == nil, execution.jobs > 1 {
            let (ran, skipped) = try runJobs(mine, shard: shard, out: out, memoryLimit: memoryLimit, execution: execution, observer: observer)
            return try summarise(out: out, ran: ran, skipped: skipped)
        }
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
        if execution.worker != nil {
            let found = points.filter { FileManager.default.fileExists(atPath: pointsDir + "/" + $0.directory + "/summary.json") }.count
            return Outcome(ran: ran, skipped: skipped, found: found, stale: 0, total: points.count, summaryFiles: [])
        }
        return try summarise(out: out, ran: ran, skipped: skipped)
    }

    /// One rank of an MPI job (`mpirun -n size fedsim sweep … --mpi`): runs shard `rank`+1 of
    /// `size` into `out` (a folder every rank sees), then marks itself done in `out/.mpi/` (with
    /// the sweep's key and `job`, the launcher's job identity); rank 0
    /// waits for every rank's mark and writes the summary of the points found (what failed ranks
    /// left undone is reported as missing; mpirun stops the job when a rank fails).
    public func runRank(_ rank: Int, of size: Int, job: String, out: String, memoryLimit: Double, observer: (any ExperimentObserver)?) throws -> Outcome {
        guard let shard = Shard(index: rank + 1, count: size) else {
            throw InputError(.invalidValue(expected: "an MPI rank in 0…\(size - 1)", found: String(rank)), at: "--mpi")
        }
        // Every rank prepares the folder; creating it is idempotent, so their order does not matter.
        let mine = try run(shard: shard, out: out, memoryLimit: memoryLimit, observer: observer,
                           execution: Execution(worker: Worker(index: 1, count: 1)))
        let marks = out + "/" + Self.mpiFolder
        do { try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true) } catch {
            throw OutputError(path: marks, reason: InputFile.plain(error))
        }
        let mark = Data("\(key) \(job) \(size)\n".utf8)
        try OutputDirectory.writeFile(mark, to: marks + "/rank-\(rank)")
        guard rank == 0 else { return mine }
        let expected = mark
        while (0..<size).contains(where: { FileManager.default.contents(atPath: marks + "/rank-\($0)") != expected }) {
            usleep(200_000)
        }
        try? FileManager.default.removeItem(atPath: marks)
        try OutputDirectory.writeFile(planJSON, to: out + "/" + Self.planFile)
        return try summarise(out: out, ran: mine.ran, skipped: mine.skipped)
    }

    /// The folder of the MPI ranks' done marks in a sweep output (removed by rank 0).
    public static let mpiFolder = ".mpi"

    /// Writes the summary of every point found in `out`.
    private func summarise(out: String, ran: Int, skipped: Int) throws -> Outcome {
        let summary = try SweepSummary.write(directory: out, axes: axes,
                                             points: points.map { .init(index: $0.index, directory: $0.directory, values: $0.values, seed: $0.seed) })
        return Outcome(ran: ran, skipped: skipped, found: summary.found, stale: summary.stale, total: points.count, summaryFiles: summary.files)
    }

    /// Runs `mine` in `execution.jobs` worker processes of this executable and reports each
    /// point as its files appear; a failed worker stops the sweep with its last messages.
    private func runJobs(_ mine: [Point], shard: Shard, out: String, memoryLimit: Double, execution: Execution,
                         observer: (any ExperimentObserver)?) throws -> (ran: Int, skipped: Int) {
        let pointsDir = Self.pointsFolder(out)
        func done(_ p: Point) -> Bool { FileManager.default.fileExists(atPath: pointsDir + "/" + p.directory + "/summary.json") }
        let skipped = mine.filter(done).count
        guard skipped < mine.count else { return (0, skipped) }
        guard let executable = execution.executable ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) else {
            throw OutputError(path: "/proc/self/exe", reason: "cannot find this program to start its worker processes")
        }
        let jobs = min(execution.jobs, mine.count)
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-sweep-jobs-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        do { try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true) } catch {
            throw OutputError(path: logs.path, reason: InputFile.plain(error))
        }
        defer { try? FileManager.default.removeItem(at: logs) }
        // Progress: each point as its summary appears (in the shard's order of completion).
        var reported = Set(mine.filter(done).map(\.index))
        let started = Date()
        var observerError: Error?
        func poll() {
            for p in mine where !reported.contains(p.index) && done(p) {
                reported.insert(p.index)
                guard observerError == nil, let observer else { continue }
                let dir = pointsDir + "/" + p.directory
                let files = ["summary.json", "rounds.csv"].compactMap { name in FileManager.default.contents(atPath: dir + "/" + name).map { (name: name, contents: $0) } }
                let headline = (files.first.flatMap { try? RunSummary.read($0.contents, file: dir + "/summary.json") }).map { Report.headline($0) } ?? ""
                let ran = reported.count - skipped
                let left = Double(mine.count - reported.count) * Date().timeIntervalSince(started) / Double(max(1, ran))
                do {
                    try observer.experiment(.pointFinished(PointFinished(position: PointPosition(index: p.index, count: points.count), files: files,
                                                                          headline: headline, done: reported.count, inShard: mine.count, secondsLeft: left)))
                } catch { observerError = error }
            }
        }
        let (file, threads) = (self.file, execution.threadsPerJob)
        // One thread per worker process (each waits for its process), the progress polled meanwhile.
        let failures: [String?] = blockingMap(jobs, threads: jobs, poll: poll) { j in
            let k = j + 1
            var arguments = ["sweep", file, "--out", out, "--shard", "\(shard.index)/\(shard.count)", "--worker", "\(k)/\(jobs)",
                             "--max-memory", String(Int(memoryLimit.rounded(.down)))]
            if let threads { arguments += ["--threads", String(threads)] }
            let err = logs.appendingPathComponent("worker-\(k).err").path, outFile = logs.appendingPathComponent("worker-\(k).out").path
            do {
                let o = try Subprocess.run(executable, arguments, in: FileManager.default.currentDirectoryPath,
                                           standardOutput: outFile, standardError: err, timeout: .infinity)
                return o.succeeded ? nil : "worker \(k) of \(jobs) \(o.ending): \(Subprocess.tail(of: err))"
            } catch {
                return "worker \(k) of \(jobs): \(error)"
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw OutputError(path: out, reason: "a sweep job failed: " + failure) }
        if let observerError { throw observerError }
        return (mine.filter(done).count - skipped, skipped)
    }

    /// `sweep-plan.json` in a sweep's output: the sweep's key (SHA-256 of its points' keys, so
    /// two outputs of the same definition share it), its axes and every planned point — what
    /// `fedsim merge` checks shards against and summarises them with.
    public static let planFile = "sweep-plan.json"

    /// The sweep's key: the first 16 hex digits of SHA-256 over its points' keys in order.
    public var key: String { String(SHA256.hex(points.map(\.key).joined(separator: "\n")).prefix(16)) }

    var planJSON: Data {
        let list: [JSONValue] = points.map { p in
            .object(["index": .number(Double(p.index)), "directory": .string(p.directory), "seed": p.seed.map { .number(Double($0)) } ?? .null,
                     "values": .array(p.values.map { .object(["key": .string($0.key), "value": $0.value]) })])
        }
        let json = JSONValue.object(["key": .string(key), "axes": .array(axes.map { .string($0) }), "points": .array(list)])
        return Data((json.text(pretty: true) + "\n").utf8)
    }

    /// `point.json`: the point's index, seed, content key and axis values.
    static func pointJSON(_ p: Point) -> Data {
        let json = JSONValue.object(["index": .number(Double(p.index)), "seed": p.seed.map { .number(Double($0)) } ?? .null, "key": .string(p.key),
                                     "values": .object(Dictionary(p.values.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }))])
        return Data((json.text(pretty: true) + "\n").utf8)
    }
}
