import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL at random moments (seeded): no output directory looks complete unless it is, an
/// interrupted sweep or `run --seeds` resumes to the same bytes as an uninterrupted one, and a
/// killed `--force` never loses the old results. Runs the real `fedsim` executable.
/// Seeded kill moments in [0, 1) (a 64-bit LCG): the same kills on every run of the test.
struct Moments {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
}

final class KillTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        // A small time-only scenario: three arms, 200 clients, 40 rounds (a fraction of a second).
        let scenario = """
        {"name": "kill-test", "seed": 1,
         "population": {"clients": 200},
         "network": {"profile": "web-mix"},
         "selection": {"per_round": 10, "over_selection": 0.3, "deadline": "30min"},
         "availability": {"dropout_per_round": 0.05},
         "workload": {"payload": {"model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]}},
         "arms": [{"codec": "lora"}, {"codec": "fedsrd"}, {"codec": "topk"}],
         "stop": {"rounds": 40}}
        """
        try Data(scenario.utf8).write(to: work.appendingPathComponent("s.json"))
        let sweep = """
        {"base": "s.json", "axes": {"network.profile": ["3g", "4g", "5g"], "seed": [1, 2]}}
        """
        try Data(sweep.utf8).write(to: work.appendingPathComponent("sweep.json"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    /// The fedsim executable built next to the test bundle.
    func fedsim() throws -> URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("fedsim")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let built = Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent("fedsim") }
        if let found = built.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) { return found }
        struct Missing: Error {}
        XCTFail("the fedsim executable is not built next to the tests (swift build --build-tests builds it)")
        throw Missing()
    }

    func start(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = try fedsim()
        p.arguments = arguments
        p.currentDirectoryURL = work
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    @discardableResult
    func finish(_ arguments: [String]) throws -> Int32 {
        let p = try start(arguments)
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// Starts `arguments`, kills it with SIGKILL after `delay` seconds (if still running).
    func kill(_ arguments: [String], after delay: Double) throws {
        let p = try start(arguments)
        usleep(useconds_t(delay * 1e6))
        if p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    /// Every file under `dir` (relative path → bytes), hidden temporaries included.
    func tree(_ dir: URL) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
        for case let url as URL in e where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            out[String(url.path.dropFirst(dir.path.count + 1))] = FileManager.default.contents(atPath: url.path)
        }
        return out
    }

    /// A run directory is complete: marker, data files that parse, the report.
    func assertCompleteRun(_ dir: URL, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        let names = Set(((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []))
        for required in [".fedsim-output", "summary.json", "rounds.csv"] {
            XCTAssertTrue(names.contains(required), "\(context): \(dir.lastPathComponent) lacks \(required)", file: file, line: line)
        }
        if let s = FileManager.default.contents(atPath: dir.appendingPathComponent("summary.json").path) {
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: s), "\(context): summary.json is not whole", file: file, line: line)
        }
    }

    func testKilledSweepsResumeToTheSameBytes() throws {
        let clock = Date()
        XCTAssertEqual(try finish(["sweep", "sweep.json", "--out", "reference"]), 0)
        let full = Date().timeIntervalSince(clock)
        let reference = tree(work.appendingPathComponent("reference"))
        XCTAssertEqual(reference.keys.filter { $0.hasSuffix("/summary.json") }.count, 6)
        var moments = Moments(seed: 0x9E37_79B9_7F4A_7C15)
        func uniform() -> Double { moments.next() }
        let out = work.appendingPathComponent("killed")
        var kills = 0
        for _ in 0..<20 {
            try kill(["sweep", "sweep.json", "--out", "killed"], after: uniform() * full * 0.6)
            kills += 1
            // No point looks complete unless it is.
            let points = out.appendingPathComponent("points")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: points.path)) ?? [] where !name.hasPrefix(".") {
                assertCompleteRun(points.appendingPathComponent(name), "after kill \(kills)")
                XCTAssertTrue(FileManager.default.fileExists(atPath: points.appendingPathComponent(name).appendingPathComponent("point.json").path))
            }
        }
        XCTAssertEqual(try finish(["sweep", "sweep.json", "--out", "killed"]), 0)
        let resumed = tree(out)
        XCTAssertEqual(Set(resumed.keys), Set(reference.keys), "the same files, and no temporary left behind")
        for (name, bytes) in reference { XCTAssertEqual(resumed[name], bytes, "\(name) differs after \(kills) kills") }
    }

    func testKilledRunsLeaveNothingThatLooksCompleteAndResumeSeeds() throws {
        let args = ["run", "s.json", "--seeds", "3", "--no-clients"]
        let clock = Date()
        XCTAssertEqual(try finish(args + ["--out", "reference"]), 0)
        let full = Date().timeIntervalSince(clock)
        let reference = tree(work.appendingPathComponent("reference"))
        var moments = Moments(seed: 42)
        func uniform() -> Double { moments.next() }
        let out = work.appendingPathComponent("killed")
        for k in 0..<12 {
            try kill(args + ["--out", "killed"], after: uniform() * full)
            if FileManager.default.fileExists(atPath: out.path) {
                assertCompleteRun(out, "run kill \(k)")
                XCTAssertEqual(tree(out), reference, "a run directory in place is the whole result")
                try FileManager.default.removeItem(at: out)
            }
        }
        // Kill after the first seed was saved, then resume: same bytes.
        let p = try start(args + ["--out", "killed"])
        let seeds = work.appendingPathComponent(".killed.seeds")
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning, Date() < deadline, ((try? FileManager.default.contentsOfDirectory(atPath: seeds.path)) ?? []).filter({ $0.hasSuffix(".json") }).isEmpty { usleep(1000) }
        if p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        XCTAssertEqual(try finish(args + ["--out", "killed"]), 0)
        XCTAssertEqual(tree(out), reference, "resumed seeds give the same bytes")
        XCTAssertFalse(FileManager.default.fileExists(atPath: seeds.path), "the saved seeds are removed once the run is written")
    }

    func testKilledForceNeverLosesTheOldResults() throws {
        let args = ["run", "s.json", "--no-clients", "--out", "target", "--force"]
        XCTAssertEqual(try finish(args), 0)
        let old = tree(work.appendingPathComponent("target"))
        let clock = Date()
        XCTAssertEqual(try finish(args), 0)
        let full = Date().timeIntervalSince(clock)
        var moments = Moments(seed: 7)
        func uniform() -> Double { moments.next() }
        for k in 0..<10 {
            try kill(args, after: full * (0.5 + 0.6 * uniform()))
            assertCompleteRun(work.appendingPathComponent("target"), "force kill \(k)")
            XCTAssertEqual(tree(work.appendingPathComponent("target")), old, "old or new results, whole (they are the same bytes)")
        }
        XCTAssertEqual(try finish(args), 0)
        let siblings = (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []
        XCTAssertEqual(siblings.filter { $0.hasPrefix(".target.") }, [], "temporaries of killed runs are cleaned by the next run")
    }
}
