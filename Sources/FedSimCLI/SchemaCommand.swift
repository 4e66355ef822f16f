import Foundation
import Scenario

/// `fedsim schema`: the JSON Schema of scenario files, generated from the readers' own key tables.
struct SchemaCommand: Command {
    static let name = "schema"
    static let abstract = "Print the JSON Schema of scenario files (Scenarios/schema.json)."
    static let options: [OptionSpec] = []

    static let help = """
    Print the JSON Schema (2020-12) of scenario files. Each key's schema is declared beside the
    code that reads it (Sources/Scenario/Sections/), so the schema cannot drift from the reader;
    Scenarios/schema.json is this output, and `make test` checks that it is.

    USAGE:
      fedsim schema

    EXAMPLES:
      fedsim schema > Scenarios/schema.json
    """

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard parsed.positional.isEmpty else { throw UsageError("fedsim schema takes no arguments") }
    }

    func run(console: Console) throws -> Int32 {
        console.print(String(ScenarioSchema.text.dropLast()))
        return 0
    }
}
