import Experiment
import Federation
import Numerics

/// The `fedsim` tool: global options and dispatch to one subcommand.
public enum FedSimMain {
    /// The tool's version.
    public static let version = FedSimVersion.current

    /// Every subcommand, in the order `--help` lists them. Only working subcommands are listed.
    public static let commands: [any Command.Type] = [
        CodecCommand.self,
        DistributionCommand.self,
        ImportCommand.self,
        MergeCommand.self,
        NetCommand.self,
        ProfilesCommand.self,
        ReportCommand.self,
        RunCommand.self,
        SchemaCommand.self,
        SweepCommand.self,
        ValidateCommand.self,
    ]

    static var help: String {
        let width = commands.map { $0.name.count }.max() ?? 0
        let list = commands.map { "  " + $0.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.abstract }
        return """
        fedsim \(version): a discrete-event network simulator for federated fine-tuning with LoRA.

        USAGE:
          fedsim <subcommand> [options]

        SUBCOMMANDS:
        \(list.joined(separator: "\n"))

        OPTIONS:
          -h, --help     Show this help (also after any subcommand).
          --version      Show the version.

        See 'fedsim <subcommand> --help' for a subcommand's options.
        """
    }

    /// Runs the tool on `arguments` (without the program name) and returns the exit status:
    /// 0 done, 2 bad input or usage, 1 internal failure.
    public static func run(_ arguments: [String], console: Console) -> Int32 {
        guard let first = arguments.first else {
            console.error("error: missing subcommand\n\n" + help)
            return 2
        }
        if first == "-h" || first == "--help" || first == "help" {
            if arguments.count > 1, let command = commands.first(where: { $0.name == arguments[1] }) {
                console.print(command.help)
            } else {
                console.print(help)
            }
            return 0
        }
        if first == "--version" {
            console.print("fedsim \(version)")
            return 0
        }
        guard let command = commands.first(where: { $0.name == first }) else {
            let hint = Suggestion.nearest(to: first, in: commands.map { $0.name }).map { " (did you mean '\($0)'?)" } ?? ""
            let what = first.hasPrefix("-") ? "unknown option" : "unknown subcommand"
            console.error("error: \(what) '\(first)'\(hint)\n\n" + help)
            return 2
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("-h") || rest.contains("--help") {
            console.print(command.help)
            return 0
        }
        do {
            let parsed = try command.init(arguments: rest)
            try parsed.validate()
            return try parsed.run(console: console)
        } catch let error as UsageError {
            console.error("error: \(error.message)\n\n\(command.usage)\n  (see 'fedsim \(command.name) --help')")
            return 2
        } catch let error as InputError {
            console.error("error: \(error)")
            return 2
        } catch let error as OutputError {
            console.error("error: \(error)")
            return 1
        } catch let error as ExternalTrainerError {
            console.error("error: \(error)")
            return 1
        } catch let error as Subprocess.StartError {
            console.error("error: \(error)")
            return 1
        } catch {
            console.error("internal error: \(error)")
            return 1
        }
    }
}
