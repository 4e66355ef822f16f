import Foundation
import Numerics
import Reporting

/// `fedsim report DIR`: re-render report.md, report.html and the plots from a run's data files.
struct ReportCommand: Command {
    static let name = "report"
    static let abstract = "Re-render a run's report (report.md, report.html, plots) from its data files."
    static let options: [OptionSpec] = [
    ]

    static let help = """
    Re-render the report of a finished run from the data files in its directory (summary.json,
    rounds.csv, clients.csv): report.md, report.html (self-contained, plots inline) and
    plots/*.svg (gnuplot).

    USAGE:
      fedsim report DIR

    \(options.helpText)
    """

    let dir: String

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard parsed.positional.count == 1 else { throw UsageError(parsed.positional.isEmpty ? "missing the run directory" : "expected one directory") }
        dir = parsed.positional[0]
    }

    func run(console: Console) throws -> Int32 {
        let written = try Report.rerender(directory: dir)
        console.print("Wrote " + written.map { "\(dir)/\($0)" }.joined(separator: ", "))
        return 0
    }
}
