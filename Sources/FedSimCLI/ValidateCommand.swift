import Foundation
import Numerics
import Scenario

/// `fedsim validate FILE`: check a scenario and print it with every default filled in.
struct ValidateCommand: Command {
    static let name = "validate"
    static let abstract = "Check a scenario file and print it with every default filled in."
    static let options: [OptionSpec] = [
        OptionSpec("quiet", nil, "Print nothing when the file is valid."),
    ]

    static let help = """
    Check a scenario file (docs/SCENARIOS.md) and print the resolved scenario as JSON: every
    default filled in, profiles and distributions in canonical form. On an error, print it (the
    file, the key path and what was expected) and exit with status 2.

    USAGE:
      fedsim validate SCENARIO.json [--quiet]

    \(options.helpText)
    """

    let file: String
    let quiet: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard parsed.positional.count == 1 else {
            throw UsageError(parsed.positional.isEmpty ? "missing the scenario file" : "expected one scenario file")
        }
        file = parsed.positional[0]
        quiet = parsed.flag("quiet")
    }

    func run(console: Console) throws -> Int32 {
        let scenario = try ScenarioParser.load(file: file)
        if !quiet { console.print(scenario.resolved.text(pretty: true)) }
        return 0
    }
}
