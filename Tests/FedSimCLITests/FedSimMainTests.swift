import FedSimCLI
import Foundation
import XCTest

final class FedSimMainTests: XCTestCase {
    func run(_ arguments: [String]) -> (status: Int32, out: String, err: String) {
        let capture = CapturedConsole()
        let status = FedSimMain.run(arguments, console: capture.console)
        return (status, capture.out, capture.err)
    }

    func testHelpAtEveryLevelGoesToStdoutWithStatusZero() {
        for arguments in [["--help"], ["-h"], ["help"], ["distribution", "--help"], ["distribution", "-h"], ["help", "distribution"]] {
            let r = run(arguments)
            XCTAssertEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.out.contains("USAGE:"), "\(arguments)")
            XCTAssertEqual(r.err, "", "\(arguments)")
        }
        XCTAssertTrue(run(["--help"]).out.contains("distribution"), "the root help lists the subcommands")
    }

    func testVersion() {
        let r = run(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.out, "fedsim \(FedSimMain.version)\n")
    }

    func testUsageErrorsGoToStderrWithStatusTwo() {
        let noCommand = run([])
        XCTAssertEqual(noCommand.status, 2)
        XCTAssertTrue(noCommand.err.contains("USAGE:"))
        let unknown = run(["distributoin"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.err.contains("did you mean 'distribution'"), unknown.err)
        XCTAssertEqual(unknown.out, "")
        let badOption = run(["--frobnicate"])
        XCTAssertEqual(badOption.status, 2)
        XCTAssertTrue(badOption.err.contains("unknown option"))
        let subOption = run(["distribution", "1", "--sample", "3"])
        XCTAssertEqual(subOption.status, 2)
        XCTAssertTrue(subOption.err.contains("did you mean --samples"), subOption.err)
        XCTAssertTrue(subOption.err.contains("USAGE:"))
        let missingValue = run(["distribution", "1", "--samples"])
        XCTAssertEqual(missingValue.status, 2)
        XCTAssertTrue(missingValue.err.contains("needs a value"))
        let badValue = run(["distribution", "1", "--samples=zero"])
        XCTAssertEqual(badValue.status, 2)
        XCTAssertTrue(badValue.err.contains("--samples expects an integer"))
    }

    func testDistributionJSONOutput() throws {
        let r = run(["distribution", #"{"dist":"exponential","mean":"80ms"}"#, "--json", "--samples=20000", "--seed", "3", "--values", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        XCTAssertEqual(object["dimension"] as? String, "duration")
        let exact = object["exact"] as! [String: Double]
        let sampled = object["sampled"] as! [String: Double]
        XCTAssertEqual(exact["p50"]!, 0.08 * log(2), accuracy: 1e-12)
        XCTAssertEqual(sampled["mean"]!, 0.08, accuracy: 0.08 * 5 / 20000.0.squareRoot())
        XCTAssertEqual((object["values"] as! [Double]).count, 2)
        // Same seed, same bytes.
        XCTAssertEqual(run(["distribution", #"{"dist":"exponential","mean":"80ms"}"#, "--json", "--samples=20000", "--seed", "3", "--values", "2"]).out, r.out)
    }

    func testDistributionTableAndBadInput() {
        let table = run(["distribution", #"{"dist":"lognormal","median":"10Mbps","p90":"40Mbps"}"#, "--samples", "1000"])
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.out.contains("p90           40.00 Mbps"), table.out)
        let bad = run(["distribution", #"{"dist":"lognormal","median":"10Mbps","p90":"5Mbps"}"#])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.err.contains("p90: expected p90 greater than median"), bad.err)
        XCTAssertEqual(bad.out, "")
        let syntax = run(["distribution", #"{"dist": "#])
        XCTAssertEqual(syntax.status, 2)
        XCTAssertTrue(syntax.err.contains("valid JSON"), syntax.err)
        let missing = run(["distribution", "@/nonexistent/d.json"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.err.contains("/nonexistent/d.json: no such file"), missing.err)
    }

    func testDistributionFromFileNamesTheFileInErrors() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-cli-\(getpid()).json").path
        try #"{"dist":"mixture","components":[{"weight":-1,"dist":"constant","value":1}]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = run(["distribution", "@" + path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.contains("\(path): components[0].weight: expected a positive weight, found -1"), r.err)
    }
}

extension FedSimMainTests {
    /// Options are declared once: the help lists each, and the USAGE synopsis names each (or says
    /// `[options]` and leaves them to the OPTIONS list).
    func testEveryDeclaredOptionIsInTheHelpAndTheUsage() {
        for command in FedSimMain.commands {
            let help = command.help
            let usage = help.components(separatedBy: "USAGE:").dropFirst().first?.components(separatedBy: "\n\n").first ?? ""
            for option in command.options {
                XCTAssertTrue(help.contains("  --\(option.name)"), "\(command.name): --\(option.name) is not in OPTIONS")
                XCTAssertTrue(usage.contains("--\(option.name)") || usage.contains("[options]"), "\(command.name): --\(option.name) is not in USAGE")
            }
            XCTAssertEqual(Set(command.options.map(\.name)).count, command.options.count, "\(command.name): an option declared twice")
        }
    }
}
