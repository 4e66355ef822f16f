import Foundation
import Numerics
import XCTest

/// `Subprocess`: argv without a shell, exit statuses and signals, the working directory, output
/// files, and a timeout that stops the program's whole process group.
final class SubprocessTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-subprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func run(_ program: String, _ arguments: [String], timeout: Double = 30) throws -> (Subprocess.Outcome, String, String) {
        let path = try XCTUnwrap(Subprocess.resolve(program, directory: dir.path), program)
        let out = dir.appendingPathComponent("out").path, err = dir.appendingPathComponent("err").path
        let o = try Subprocess.run(path, arguments, in: dir.path, environment: ["FEDSIM_TEST": "x y"], standardOutput: out, standardError: err, timeout: timeout)
        return (o, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", Subprocess.tail(of: err))
    }

    func testArgumentsAreArgvElementsAndTheDirectoryAndEnvironmentApply() throws {
        let (o, out, _) = try run("sh", ["-c", #"printf '%s|' "$@"; pwd; printf '%s' "$FEDSIM_TEST""#, "sh", "a b", "$(touch PWNED)", ";ls"])
        XCTAssertTrue(o.succeeded)
        XCTAssertEqual(out, "a b|$(touch PWNED)|;ls|" + dir.resolvingSymlinksInPath().path + "\nx y")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("PWNED").path))
    }

    func testExitStatusesAndSignals() throws {
        XCTAssertEqual(try run("sh", ["-c", "echo oops >&2; exit 3"]).0.ending, .exited(3))
        XCTAssertEqual(try run("sh", ["-c", "echo oops >&2; exit 3"]).2, "oops")
        XCTAssertEqual(try run("sh", ["-c", "kill -9 $$"]).0.ending, .signalled(SIGKILL))
        XCTAssertThrowsError(try Subprocess.run(dir.path + "/missing", [], in: dir.path, standardOutput: "/dev/null", standardError: "/dev/null", timeout: 1))
        XCTAssertNil(Subprocess.resolve("./missing", directory: dir.path))
        XCTAssertNil(Subprocess.resolve(dir.path, directory: dir.path), "a directory is not an executable")
    }

    /// A program past its timeout is stopped with everything it started: a background child that
    /// would outlive it is gone too.
    func testATimeoutStopsTheWholeGroup() throws {
        let marker = dir.appendingPathComponent("survived").path
        let started = Date()
        let (o, _, _) = try run("sh", ["-c", "(sleep 2; touch '\(marker)') & sleep 30"], timeout: 0.5)
        XCTAssertEqual(o.ending, .timedOut(seconds: 0.5))
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        Thread.sleep(forTimeInterval: 2.5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the background child outlived the call")
        // A program that ends normally takes its leftover background children with it.
        let (done, _, _) = try run("sh", ["-c", "(sleep 1; touch '\(marker)') & exit 0"])
        XCTAssertTrue(done.succeeded)
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }
}
