import Experiment
import Foundation
import Numerics
import Reporting
import XCTest

/// The scale-out paths end to end, with the fedsim executable built beside the tests: the Slurm
/// array script (Slurm's environment simulated) and its merge, and `mpirun -n 2 … --mpi` (Open MPI
/// from Debian, which `make setup` installs), each against one unsharded sweep.
final class ScaleOutTests: ExperimentTestCase {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func fedsim() throws -> String { try XCTUnwrap(Subprocess.resolve("fedsim", directory: tmp.path), "fedsim is not built beside the tests") }

    func assertSameFiles(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) {
        let (x, y) = (outputFiles(a), outputFiles(b))
        XCTAssertGreaterThan(x.count, 20, file: file, line: line)
        XCTAssertEqual(Set(x.keys), Set(y.keys), file: file, line: line)
        for (name, data) in x { XCTAssertEqual(data, y[name], name, file: file, line: line) }
    }

    func sweepFiles() throws -> Sweep {
        try write("s.json", scenario())
        try write("sweep.json", #"{"base": "s.json", "axes": {"network.profile": ["3g", "4g", "5g"], "seed": [1, 2]}}"#)
        let sweep = try Sweep(file: path("sweep.json"))
        _ = try sweep.run(shard: .whole, out: path("whole"), memoryLimit: 1e12)
        return sweep
    }

    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Subprocess.Outcome, String) {
        let err = path("stderr-\(UUID().uuidString.prefix(6)).log")
        let o = try Subprocess.run(program, arguments, in: tmp.path, environment: environment, standardOutput: path("stdout.log"), standardError: err, timeout: 300)
        return (o, Subprocess.tail(of: err, lines: 8, limit: 2000))
    }

    /// examples/slurm: three array tasks and the merge job give the unsharded sweep's files; an
    /// array that does not start at 1 is refused.
    func testSlurmArrayScriptAndMerge() throws {
        _ = try sweepFiles()
        let bash = try XCTUnwrap(Subprocess.resolve("bash", directory: tmp.path))
        let script = repo.appendingPathComponent("examples/slurm/sweep-array.sbatch").path
        for k in 1...3 {
            let (o, err) = try run(bash, [script, "sweep.json", "slurm"], environment: [
                "FEDSIM": try fedsim(), "SLURM_ARRAY_TASK_ID": "\(k)", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3", "SLURM_CPUS_PER_TASK": "1"])
            XCTAssertTrue(o.succeeded, "task \(k): \(o.ending): \(err)")
        }
        let (m, err) = try run(bash, [repo.appendingPathComponent("examples/slurm/merge.sbatch").path, "sweep.json", "slurm"], environment: ["FEDSIM": try fedsim()])
        XCTAssertTrue(m.succeeded, "merge: \(m.ending): \(err)")
        assertSameFiles(path("whole"), path("slurm/merged"))
        let (bad, message) = try run(bash, [script, "sweep.json", "x"], environment: ["FEDSIM": try fedsim(), "SLURM_ARRAY_TASK_ID": "2",
                                                                                     "SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_MAX": "3"])
        XCTAssertEqual(bad.ending, .exited(2))
        XCTAssertTrue(message.contains("1-N"), message)
    }

    /// `mpirun -n 2 fedsim sweep … --mpi`: both ranks' points and rank 0's summary are the
    /// unsharded sweep's files; without an MPI environment --mpi is a usage error (exit 2).
    func testMPIRanksWriteTheSweep() throws {
        let fedsim = try fedsim()
        _ = try sweepFiles()
        let (plain, message) = try run(fedsim, ["sweep", path("sweep.json"), "--out", path("nompi"), "--mpi"])
        XCTAssertEqual(plain.ending, .exited(2), message)
        XCTAssertTrue(message.contains("mpirun"), message)
        let mpirun = try XCTUnwrap(Subprocess.resolve("mpirun", directory: tmp.path), "Open MPI is not installed (make setup installs openmpi-bin)")
        let (o, err) = try run(mpirun, ["--allow-run-as-root", "--oversubscribe", "-n", "2", fedsim, "sweep", path("sweep.json"), "--out", path("mpi"), "--mpi"])
        XCTAssertTrue(o.succeeded, "\(o.ending): \(err)")
        assertSameFiles(path("whole"), path("mpi"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("mpi/.mpi")), "rank 0 removes the ranks' marks")
    }
}

/// The race `mpirun` exposed: one rank between writing the output marker's temporary and renaming
/// it must not make the folder look foreign to another rank.
final class OutputFolderRaceTests: XCTestCase {
    func testAFolderHoldingOnlyFedsimTemporariesIsEmpty() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("x".utf8).write(to: dir.appendingPathComponent(".fedsim-output.tmp-otherhost-123-abc"))
        XCTAssertEqual(try OutputDirectory.prepare(dir.path, kind: .sweep, replace: false, resume: true), .empty)
        // A file of someone else still makes it foreign.
        try Data("x".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(try OutputDirectory.prepare(dir.path, kind: .sweep, replace: false, resume: true))
    }
}
