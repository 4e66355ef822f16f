import FedSimCLI
import Federation
import Foundation
import Numerics
import Reporting
import Scenario
import XCTest

/// The typed results of issue 10: summary.json and the CSVs decode and re-encode to the same
/// bytes, the block model escapes hostile names in both renderings, `fedsim report` names the
/// file, line and column of what it cannot read.
final class ReportingTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let runs = ["Reports/default", "Reports/mlp-fashion-mnist", "Reports/web-mix-llama7b"]

    func committed(_ path: String) throws -> Data { try Data(contentsOf: Self.root.appendingPathComponent(path)) }

    // MARK: summary.json

    func testCommittedSummariesDecodeAndEncodeToTheSameBytes() throws {
        var paths = Self.runs.map { $0 + "/summary.json" }
        for sweep in ["compressibility", "profiles", "uplink"] {
            let dir = Self.root.appendingPathComponent("Reports/sweeps/\(sweep)/points")
            if let first = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().first(where: { !$0.hasPrefix(".") }) {
                paths.append("Reports/sweeps/\(sweep)/points/\(first)/summary.json")
            }
        }
        XCTAssertEqual(paths.count, 6)
        for path in paths {
            let bytes = try committed(path)
            let summary = try RunSummary.read(bytes, file: path)
            XCTAssertEqual(summary.json, bytes, "\(path): encode(decode(file)) is the file")
            XCTAssertEqual(try RunSummary.read(summary.json, file: path), summary, "\(path): decode(encode(x)) is x")
            XCTAssertFalse(summary.arms.isEmpty)
            XCTAssertEqual(summary.arms, summary.runs.first?.arms, "the contract's arms are the first seed's")
        }
        let web = try RunSummary.read(try committed("Reports/web-mix-llama7b/summary.json"), file: "s")
        XCTAssertEqual(web.mode, .timeOnly)
        XCTAssertNil(web.arms[0].timeToTargetSeconds)
    }

    func testSummaryEncodingKeepsNullsAndLeavesOutWhatDoesNotApply() throws {
        var summary = try RunSummary.read(try committed("Reports/default/summary.json"), file: "s")
        summary.arms[1].speedupVsLora = nil
        summary.arms[1].finalAccuracy = .nan
        summary.arms[1].bytesUp = 2_000_000_000_000_000
        let text = String(decoding: summary.json, as: UTF8.self)
        let again = try RunSummary.read(summary.json, file: "s")
        XCTAssertNil(again.arms[1].speedupVsLora, "absent, not null")
        XCTAssertNil(again.arms[1].finalAccuracy, "a non-finite value is null")
        XCTAssertEqual(again.arms[1].bytesUp, 2_000_000_000_000_000, "a count past 10^15 reads back exactly")
        XCTAssertEqual(again.json, summary.json)
        XCTAssertTrue(text.contains("\"final_accuracy\" : null"), text)
    }

    func testSummaryErrorsNameTheFileTheKeyAndWhatWasExpected() throws {
        let bytes = try committed("Reports/default/summary.json")
        let text = String(decoding: bytes, as: UTF8.self)
        func error(_ edited: String) -> String {
            do { _ = try RunSummary.read(Data(edited.utf8), file: "run/summary.json"); return "no error" } catch { return "\(error)" }
        }
        // The first arm's bytes_up, whatever the committed run's value.
        let first = try XCTUnwrap(text.range(of: #""bytes_up" : [0-9]+"#, options: .regularExpression))
        func replacingBytesUp(_ value: String) -> String { text.replacingOccurrences(of: String(text[first]), with: "\"bytes_up\" : " + value) }
        let mistyped = error(replacingBytesUp("\"many\""))
        XCTAssertTrue(mistyped.hasPrefix("run/summary.json: runs[0].arms[0].bytes_up: expected a number, found \"many\""), mistyped)
        let fractional = error(replacingBytesUp("1.5"))
        XCTAssertTrue(fractional.contains("arms[0].bytes_up: expected a whole number, found 1.5"), fractional)
        let missing = error(text.replacingOccurrences(of: "\"mode\" : \"training\",", with: ""))
        XCTAssertTrue(missing.contains("run/summary.json") && missing.contains("missing key 'mode'"), missing)
        let mode = error(text.replacingOccurrences(of: "\"mode\" : \"training\"", with: "\"mode\" : \"fast\""))
        XCTAssertTrue(mode.contains("mode: expected \"training\" or \"time-only\", found \"fast\""), mode)
        let syntax = error(String(text.dropLast(3)))
        XCTAssertTrue(syntax.contains("run/summary.json") && syntax.contains("line"), syntax)
    }

    // MARK: CSV tables

    func testCommittedCSVsReadBackTypedAndRewriteToTheSameBytes() throws {
        for run in Self.runs {
            let rounds = String(decoding: try committed(run + "/rounds.csv"), as: UTF8.self)
            let rows = try RoundRow.table.read(rounds, file: run + "/rounds.csv")
            XCTAssertFalse(rows.isEmpty)
            XCTAssertEqual(RoundRow.table.text(rows), rounds, run)
            let clients = String(decoding: try committed(run + "/clients.csv"), as: UTF8.self)
            let clientRows = try ClientRow.table.read(clients, file: run + "/clients.csv")
            XCTAssertFalse(clientRows.isEmpty)
            XCTAssertEqual(ClientRow.table.text(clientRows), clients, run)
        }
        let sweep = String(decoding: try committed("Reports/sweeps/compressibility/sweep.csv"), as: UTF8.self)
        let header = try XCTUnwrap(try CSV.records(sweep, file: "sweep.csv").first?.fields)
        let axes = Array(header.dropFirst().prefix(header.count - SweepRow.table(axes: []).header.count))
        let table = SweepRow.table(axes: axes)
        XCTAssertEqual(table.text(try table.read(sweep, file: "sweep.csv")), sweep)
    }

    static let awkward = ["plain", "a,b", "q\"uote\"", "line\nbreak", "crlf\r\nend", "<script>alert(1)</script> & 'x'", "ü, 😀", ",", "\"", ""]

    func testTablesRoundTripFieldsWithCommasQuotesAndLineBreaks() throws {
        var rounds: [RoundRow] = []
        var clients: [ClientRow] = []
        for (i, name) in Self.awkward.enumerated() {
            rounds.append(RoundRow(seed: UInt64(i), arm: name, record: RoundRecord(
                round: i + 1, startSeconds: Double(i) * 0.1, closeSeconds: 1e300, endSeconds: i == 0 ? .infinity : 2.5e-7, available: 3, selected: 2,
                completed: 1, dropped: 1, late: 0, aggregated: i % 2 == 0, close: RoundClose.allCases[i % 4], bytesUp: Int.max, bytesDown: 0,
                version: i, accuracy: i % 3 == 0 ? nil : 0.1 * Double(i), loss: i == 2 ? .nan : -1.5)))
            clients.append(ClientRow(seed: 7, arm: name, record: ClientRecord(
                round: Int32(i), client: Int32.max, outcome: ClientOutcome.allCases[i % 3], staleRounds: -1, downloadBytes: 10, uploadBytes: 20,
                downloadSeconds: .nan, computeSeconds: 1.25, uploadSeconds: 3, endSeconds: 4),
                profile: Self.awkward[(i + 3) % Self.awkward.count], downlinkBitsPerSecond: 1e9, uplinkBitsPerSecond: 5e6, rttSeconds: 0.05,
                loss: 0, samples: 600))
        }
        let roundsText = RoundRow.table.text(rounds)
        let readRounds = try RoundRow.table.read(roundsText, file: "rounds.csv")
        XCTAssertEqual(RoundRow.table.text(readRounds), roundsText)
        XCTAssertEqual(readRounds.map(\.arm), Self.awkward)
        XCTAssertEqual(readRounds.map(\.record.accuracy), rounds.map(\.record.accuracy))
        XCTAssertEqual(readRounds.map(\.record.close), rounds.map(\.record.close))
        XCTAssertEqual(readRounds[0].record.endSeconds, .infinity)
        XCTAssertNil(readRounds[2].record.loss, "NaN is written as nothing and reads back as none")
        XCTAssertEqual(Array(readRounds[1...]), Array(rounds[1...]).map { r in
            var r = r
            if r.record.loss?.isNaN == true { r.record.loss = nil }
            return r
        })
        let clientsText = ClientRow.table.text(clients)
        let readClients = try ClientRow.table.read(clientsText, file: "clients.csv")
        XCTAssertEqual(ClientRow.table.text(readClients), clientsText)
        XCTAssertEqual(readClients.map(\.profile), clients.map(\.profile))
        XCTAssertTrue(readClients.allSatisfy { $0.record.downloadSeconds.isNaN })
        XCTAssertEqual(readClients.map(\.record.outcome), clients.map(\.record.outcome))
        // Columns in another order read the same rows; a missing column or a short record is refused.
        let records = try CSV.records(roundsText, file: "x")
        let swapped = records.map { r in CSV.row([r.fields[1], r.fields[0]] + r.fields.dropFirst(2)) }.joined()
        XCTAssertEqual(RoundRow.table.text(try RoundRow.table.read(swapped, file: "x")), roundsText)
        XCTAssertThrowsError(try RoundRow.table.read(records.map { CSV.row(Array($0.fields.dropLast())) }.joined(), file: "x"))
        XCTAssertThrowsError(try RoundRow.table.read(CSV.row(records[0].fields) + CSV.row(["1", "2"]), file: "x"))
        XCTAssertThrowsError(try RoundRow.table.read("", file: "x"))
    }

    func testTableErrorsNameTheFileTheLineTheColumnAndWhatWasExpected() throws {
        let header = RoundRow.table.header
        var fields = ["1", "lora", "1", "0", "10", "9", "10", "5", "3", "2", "1", "0", "0", "1", "quota", "100", "100", "1", "0.5", "1.2", "0.7", "0.4", "0.5", "2.1"]
        XCTAssertEqual(fields.count, header.count)
        let good = CSV.row(header) + CSV.row(fields)
        XCTAssertEqual(try RoundRow.table.read(good, file: "x").count, 1)
        func message(_ text: String) -> String {
            do { _ = try RoundRow.table.read(text, file: "run/rounds.csv"); return "no error" } catch { return "\(error)" }
        }
        fields[18] = "high"
        XCTAssertEqual(message(good + CSV.row(fields)), "run/rounds.csv: line 3, column 'accuracy': expected a number, or nothing (none), found 'high'")
        fields[18] = "0.5"; fields[14] = "timeout"
        XCTAssertEqual(message(good + CSV.row(fields)), "run/rounds.csv: line 3, column 'close_reason': expected one of quota, deadline, exhausted, empty, found 'timeout'")
        fields[14] = "quota"; fields[1] = "a\nb"; fields[13] = "yes"
        XCTAssertEqual(message(good + CSV.row(fields) + CSV.row(fields)),
                       "run/rounds.csv: line 3, column 'aggregated': expected 1 or 0, found 'yes'", "the line where the record starts")
        XCTAssertTrue(message(CSV.row(header.filter { $0 != "version" })).hasPrefix("run/rounds.csv: line 1: expected the column 'version' in the header"))
    }

    // MARK: the block model

    static let hostile = "<script>alert(\"x\")</script> & 'q' **b** `c` | [l](u)\n# h"

    func testHostileTextIsInertInBothRenderings() {
        let doc = ReportDocument(title: Self.hostile, blocks: [
            .heading(level: 1, [.text(Self.hostile)]),
            .paragraph([.strong([.text(Self.hostile)]), .text(" and "), .code("--seeds 5")]),
            .list([[.text(Self.hostile)], [.text("-x")]]),
            .table(.init(header: [[.text("arm")], [.text("n")]], alignments: [.left, .right], rows: [[[.text(Self.hostile)], [.text("1")]]])),
            .paragraph([.link([.text("a & b")], url: "plots/x.svg?a=1&b=\"2\"")]),
        ])
        let html = doc.html
        XCTAssertFalse(html.contains("<script"), html)
        XCTAssertTrue(html.contains("<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'q' **b** `c` | [l](u)\n# h</title>"), html)
        XCTAssertTrue(html.contains("<h1>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'q' **b** `c` | [l](u) # h</h1>"), "the newline is a space")
        XCTAssertTrue(html.contains("<p><strong>&lt;script&gt;"), html)
        XCTAssertTrue(html.contains("</strong> and <code>--seeds 5</code></p>"), html)
        XCTAssertTrue(html.contains("<tr><td>&lt;script&gt;"), html)
        XCTAssertTrue(html.contains("<td class=\"r\">1</td></tr>"), html)
        XCTAssertTrue(html.contains("<li>-x</li>"), html)
        XCTAssertTrue(html.contains("<a href=\"plots/x.svg?a=1&amp;b=&quot;2&quot;\">a &amp; b</a>"), html)
        let md = doc.markdown
        XCTAssertFalse(md.contains("<script>"), md)
        XCTAssertFalse(md.contains("\n# h"), "a newline in a name cannot start a heading")
        XCTAssertTrue(md.contains("\\*\\*b\\*\\* \\`c\\` \\| \\[l\\](u)"), md)
        XCTAssertTrue(md.contains("- \\-x\n"), "a list item's text cannot start another list")
        XCTAssertTrue(md.contains("|---|---:|\n"), md)
    }

    func testHostileArmAndScenarioNamesInTheRunReport() throws {
        var summary = try RunSummary.read(try committed("Reports/default/summary.json"), file: "s")
        summary.scenario = Self.hostile
        for i in summary.arms.indices where summary.arms[i].name == "fedsrd" { summary.arms[i].name = Self.hostile }
        let rounds = try RoundRow.table.read(String(decoding: try committed("Reports/default/rounds.csv"), as: UTF8.self), file: "r")
            .prefix(20).map { r -> RoundRow in var r = r; r.arm = Self.hostile; return r }
        let files = try Report.files(RunRecords(summary: summary, rounds: Array(rounds), clients: []))
        let html = String(decoding: try XCTUnwrap(files.first { $0.name == "report.html" }).contents, as: UTF8.self)
        XCTAssertFalse(html.contains("<script"))
        XCTAssertTrue(html.contains("<title>FedSim — &lt;script&gt;alert(&quot;x&quot;)"), html)
        XCTAssertTrue(html.contains("<tr><td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'q'"), "the arm's row")
        let md = String(decoding: try XCTUnwrap(files.first { $0.name == "report.md" }).contents, as: UTF8.self)
        XCTAssertTrue(md.hasPrefix("# \\<script\\>alert(\"x\")\\</script\\> & 'q' \\*\\*b\\*\\*"), md)
        XCTAssertTrue(md.contains("| \\<script\\>"), md)
    }

    // MARK: fedsim report DIR

    func testReportNamesTheFileAndLineOfAMalformedRoundsCSV() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-reporting-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("Reports/default"), to: dir)
        func report() -> (status: Int32, err: String) {
            let capture = CapturedConsole()
            let status = FedSimMain.run(["report", dir.path], console: capture.console)
            return (status, capture.err)
        }
        XCTAssertEqual(report().status, 0)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("report.html")), try committed("Reports/default/report.html"),
                       "re-rendered from the data files: the same page")
        let roundsURL = dir.appendingPathComponent("rounds.csv")
        var lines = try String(contentsOf: roundsURL, encoding: .utf8).components(separatedBy: "\n")
        var fields = lines[3].components(separatedBy: ",")
        fields[7] = "many"
        lines[3] = fields.joined(separator: ",")
        try Data(lines.joined(separator: "\n").utf8).write(to: roundsURL)
        let bad = report()
        XCTAssertEqual(bad.status, 2, bad.err)
        XCTAssertTrue(bad.err.contains(roundsURL.path + ": line 4, column 'available': expected an integer"), bad.err)
        XCTAssertTrue(bad.err.contains("found 'many'"), bad.err)
        lines[3] = "\"open," + lines[3]
        try Data(lines.joined(separator: "\n").utf8).write(to: roundsURL)
        let open = report()
        XCTAssertEqual(open.status, 2, open.err)
        XCTAssertTrue(open.err.contains("rounds.csv") && open.err.contains("line"), open.err)
    }
}
