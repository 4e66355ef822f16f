import Experiment
import Foundation
import Numerics
import Reporting
import Scenario
import XCTest

/// Sweep files into planned points (order, keys, folders, errors), shards, plans and runs.
final class SweepTests: ExperimentTestCase {
    /// The committed sweeps plan exactly the point folders of the committed reports: content keys
    /// and folder names are stable (a changed key would orphan every finished point).
    func testCommittedSweepsPlanTheCommittedPointFolders() throws {
        for name in ["compressibility", "profiles", "uplink"] {
            let sweep = try Sweep(file: repoRoot.appendingPathComponent("Scenarios/sweeps/\(name).json").path)
            let committed = contents(repoRoot.appendingPathComponent("Reports/sweeps/\(name)/points").path).filter { !$0.hasPrefix(".") }
            XCTAssertFalse(committed.isEmpty, name)
            XCTAssertEqual(sweep.points.map(\.directory).sorted(), committed, name)
            XCTAssertEqual(sweep.points.map(\.index), Array(0..<sweep.points.count))
        }
    }

    func testPointsAreSortedByAxisWithSeedsInnermostAndKeyed() throws {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "set": {"stop.rounds": 3}, "axes": {"seed": [7, 8], "network.profile": ["3g", "5g"], "selection.per_round": [4]}}"#)
        let sweep = try Sweep(file: path("sweep.json"))
        XCTAssertEqual(sweep.baseFile, path("s.json"))
        XCTAssertEqual(sweep.axes, ["network.profile", "selection.per_round"])
        XCTAssertEqual(sweep.points.map(\.seed), [7, 8, 7, 8])
        XCTAssertEqual(sweep.points.map { Report.plain($0.values[0].value) }, ["3g", "3g", "5g", "5g"])
        XCTAssertEqual(sweep.points.map(\.scenario.stop.rounds), [3, 3, 3, 3], "set applies to every point")
        XCTAssertEqual(sweep.points.map(\.scenario.selection.perRound), [4, 4, 4, 4])
        let p = sweep.points[1]
        XCTAssertEqual(p.scenario.seed, 8)
        XCTAssertEqual(p.key, ContentKey.of(p.scenario))
        XCTAssertEqual(p.directory, "profile=3g,per_round=4,seed=8-" + p.key)
        XCTAssertEqual(Set(sweep.points.map(\.key)).count, 4)
    }

    func testBadSweepsAreInputErrorsAtTheirKey() throws {
        try write("s.json", scenario())
        let cases: [(String, String, String)] = [
            (#"{"base": "missing.json", "axes": {"seed": [1]}}"#, "base", "missing.json"),
            (#"{"base": "s.json", "axes": {}}"#, "axes", "an object of key paths"),
            (#"{"base": "s.json", "axes": {"name.x": [1]}}"#, "axes", "a key path into the base scenario"),
            (#"{"base": "s.json", "set": {"stop.rounds.x": 1}, "axes": {"seed": [1]}}"#, "set", "a key path into the base scenario"),
            (#"{"base": "s.json", "axes": {"network": [{}], "network.profile": ["3g"]}}"#, "axes", "the second sets a part of the first"),
            (#"{"base": "s.json", "axes": {"seed": [1, 1]}}"#, "axes", "resolve to the same scenario"),
            (#"{"base": "s.json", "axes": {"nope.x": [1]}}"#, "axes", "a valid scenario at point 1 (nope.x = 1)"),
            (#"{"base": "s.json", "axes": {"stop.rounds": [2, -1]}}"#, "axes", "a valid scenario at point 2 (stop.rounds = -1)"),
            (#"{"base": "s.json", "axes": {"seed": [-1]}}"#, "axes.seed", "a seed in 0…"),
            (#"{"base": "s.json", "axes": {"seed": [1]}, "extra": 1}"#, "", "extra"),
        ]
        for (i, (text, key, message)) in cases.enumerated() {
            try write("bad\(i).json", text)
            XCTAssertThrowsError(try Sweep(file: path("bad\(i).json")), text) { error in
                guard let e = error as? InputError else { return XCTFail("\(text): \(error)") }
                XCTAssertEqual(e.file, self.path("bad\(i).json"), text)
                XCTAssertTrue(e.keyPath.hasPrefix(key), "\(text): \(e.keyPath)")
                XCTAssertTrue(e.description.contains(message), "\(text): \(e)")
            }
        }
    }

    func testShardsPartitionThePoints() throws {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"seed": [1, 2, 3, 4, 5]}}"#)
        let sweep = try Sweep(file: path("sweep.json"))
        XCTAssertNil(Sweep.Shard(index: 0, count: 2))
        XCTAssertNil(Sweep.Shard(index: 3, count: 2))
        XCTAssertNil(Sweep.Shard(index: 1, count: 0))
        let shards = try (1...2).map { try XCTUnwrap(Sweep.Shard(index: $0, count: 2)) }
        XCTAssertEqual(sweep.points(in: shards[0]).map(\.index), [0, 2, 4])
        XCTAssertEqual(sweep.points(in: shards[1]).map(\.index), [1, 3])
        XCTAssertEqual(sweep.points(in: .whole).count, 5)
        XCTAssertEqual(sweep.plan(shard: shards[1], out: nil).map(\.status), [.otherShard, .toRun, .otherShard, .toRun, .otherShard])
    }

    func testRunWritesPointsResumesAndSummarises() throws {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"network.profile": ["3g", "5g"], "seed": [1, 2]}}"#)
        let sweep = try Sweep(file: path("sweep.json"))
        let first = try XCTUnwrap(Sweep.Shard(index: 1, count: 2))
        let observer = RecordingObserver()
        let partial = try sweep.run(shard: first, out: path("sw"), memoryLimit: 1e12, observer: observer)
        XCTAssertEqual([partial.ran, partial.skipped, partial.found, partial.stale, partial.total], [2, 0, 2, 0, 4])
        XCTAssertTrue(partial.summaryFiles.contains("sweep.md"), "\(partial.summaryFiles)")
        XCTAssertEqual(observer.finishedPoints.map(\.position), [PointPosition(index: 0, count: 4), PointPosition(index: 2, count: 4)])
        XCTAssertEqual(observer.finishedPoints.map(\.done), [1, 2])
        XCTAssertEqual(observer.finishedPoints.last?.secondsLeft, 0)
        XCTAssertEqual(observer.finishedPoints.first?.files.map(\.name), ["summary.json", "rounds.csv"])
        let dir = path("sw/points/" + sweep.points[0].directory)
        XCTAssertEqual(contents(dir), [".fedsim-output", "point.json", "provenance.json", "rounds.csv", "summary.json"])
        let point = try JSONValue.parse(try InputFile.read(dir + "/point.json"), file: nil)
        XCTAssertEqual(point, .object(["index": .number(0), "seed": .number(1), "key": .string(sweep.points[0].key),
                                       "values": .object(["network.profile": .string("3g")])]))
        XCTAssertEqual(sweep.plan(shard: first, out: path("sw")).map(\.status), [.done, .otherShard, .done, .otherShard])
        // The whole sweep now runs only the other shard's points.
        let rest = try sweep.run(shard: .whole, out: path("sw"), memoryLimit: 1e12)
        XCTAssertEqual([rest.ran, rest.skipped, rest.found, rest.stale], [2, 2, 4, 0])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("sw/sweep.csv")))
        // A memory limit too small refuses before anything runs, naming the point.
        XCTAssertThrowsError(try sweep.run(shard: .whole, out: path("sw2"), memoryLimit: 1)) { error in
            XCTAssertEqual((error as? InputError)?.keyPath, "axes (point 1)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("sw2")))
    }

    /// `--jobs 2` (worker processes of the fedsim executable built beside the tests) writes the
    /// same point files and summary as one process, byte for byte; only provenance.json, which
    /// records the threads each process used, differs.
    func testJobsWriteTheSameFilesAsOneProcess() throws {
        let fedsim = try XCTUnwrap(Subprocess.resolve("fedsim", directory: tmp.path), "fedsim is not built beside the tests")
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"network.profile": ["3g", "4g", "5g"], "seed": [1, 2]}}"#)
        let sweep = try Sweep(file: path("sweep.json"))
        let one = try sweep.run(shard: .whole, out: path("one"), memoryLimit: 1e12)
        let observer = RecordingObserver()
        let two = try sweep.run(shard: .whole, out: path("two"), memoryLimit: 1e12, observer: observer,
                                execution: Sweep.Execution(jobs: 2, threadsPerJob: 1, executable: fedsim))
        XCTAssertEqual([one.ran, one.found], [6, 6])
        XCTAssertEqual([two.ran, two.skipped, two.found, two.total], [6, 0, 6, 6])
        XCTAssertEqual(Set(observer.finishedPoints.map(\.position.index)), Set(0..<6), "each point reported once as it appears")
        XCTAssertEqual(observer.finishedPoints.map(\.done), Array(1...6))
        let (a, b) = (outputFiles(path("one")), outputFiles(path("two")))
        XCTAssertGreaterThan(a.count, 20)
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, data) in a { XCTAssertEqual(data, b[name], name) }
        // A second invocation finds every point done and starts no worker.
        let again = try sweep.run(shard: .whole, out: path("two"), memoryLimit: 1e12, execution: Sweep.Execution(jobs: 2, executable: "/nonexistent"))
        XCTAssertEqual([again.ran, again.skipped], [0, 6])
    }

    /// A worker that fails stops the sweep with exit 1's error, naming the worker and its message.
    func testAFailingWorkerStopsTheSweep() throws {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"seed": [1, 2]}}"#)
        let sweep = try Sweep(file: path("sweep.json"))
        XCTAssertThrowsError(try sweep.run(shard: .whole, out: path("x"), memoryLimit: 1e12, execution: Sweep.Execution(jobs: 2, executable: "/bin/false"))) { error in
            XCTAssertTrue(error is OutputError, "\(error)")
            XCTAssertTrue("\(error)".contains("a sweep job failed: worker"), "\(error)")
        }
    }

    /// Three shards written to three folders and merged give the files of one unsharded sweep
    /// (provenance.json aside); a shard of another sweep, or a folder that is no sweep output, is refused.
    func testMergeOfThreeShardsEqualsOneSweep() throws {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"network.profile": ["3g", "4g", "5g"], "seed": [1, 2]}}"#)
        let sweep = try Sweep(file: path("sweep.json"))
        _ = try sweep.run(shard: .whole, out: path("whole"), memoryLimit: 1e12)
        for k in 1...3 { _ = try sweep.run(shard: try XCTUnwrap(Sweep.Shard(index: k, count: 3)), out: path("shard\(k)"), memoryLimit: 1e12) }
        let merged = try SweepMerge.merge((1...3).map { path("shard\($0)") }, into: path("merged"))
        XCTAssertEqual([merged.copied, merged.present, merged.missing, merged.total], [6, 0, 0, 6])
        let (a, b) = (outputFiles(path("whole")), outputFiles(path("merged")))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, data) in a { XCTAssertEqual(data, b[name], name) }
        XCTAssertNotNil(a["/sweep-plan.json"])
        // Merging into a shard: it gains the others' points; two shards only: a point is missing.
        let partial = try SweepMerge.merge([path("shard1"), path("shard2")], into: path("shard1"))
        XCTAssertEqual([partial.copied, partial.present, partial.missing], [2, 2, 2])
        // Another sweep's shard is refused, naming it; so is a folder that is no sweep output.
        try write("other.json", #"{"base": "s.json", "axes": {"network.profile": ["3g", "5g"]}}"#)
        _ = try Sweep(file: path("other.json")).run(shard: .whole, out: path("other"), memoryLimit: 1e12)
        XCTAssertThrowsError(try SweepMerge.merge([path("shard3"), path("other")], into: path("m2"))) { error in
            XCTAssertTrue("\(error)".contains(path("other")) && "\(error)".contains("another sweep"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("m2")))
        XCTAssertThrowsError(try SweepMerge.merge([path("s.json")], into: path("m3"))) { XCTAssertTrue($0 is InputError) }
    }
}
