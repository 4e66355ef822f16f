import Experiment
import Foundation
import Numerics

/// `fedsim merge SHARD… --out DIR`: join a sweep's shard outputs and summarise them.
struct MergeCommand: Command {
    static let name = "merge"
    static let abstract = "Join the outputs of a sweep's shards (e.g. Slurm array tasks) and write the summary."
    static let options: [OptionSpec] = [
        OptionSpec("out", "DIR", "The merged sweep output (created; or one of the shards, which then gains the others' points)."),
        OptionSpec("force", nil, "Replace what fedsim wrote in DIR first (only that)."),
    ]

    static let help = """
    Copy the point folders of every SHARD (outputs of `fedsim sweep … --shard i/N --out SHARD`) into
    DIR and write the summary of the whole sweep (sweep.csv, sweep.md, plots). Every shard must be an
    output of the same sweep definition (their sweep-plan.json keys agree); a shard of another sweep
    is refused. Points already in DIR are kept; points no shard has are reported missing.

    USAGE:
      fedsim merge SHARD... --out DIR [--force]

    \(options.helpText)
    """

    let shards: [String]
    let out: String
    let force: Bool

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard !parsed.positional.isEmpty else { throw UsageError("missing the shard folders") }
        shards = parsed.positional
        guard let out = parsed.value("out"), !out.isEmpty else { throw UsageError("missing --out DIR") }
        self.out = out
        force = parsed.flag("force")
    }

    func run(console: Console) throws -> Int32 {
        let o = try SweepMerge.merge(shards, into: out, force: force)
        console.print("Merge: \(o.copied) point(s) copied, \(o.present) already in \(out); \(o.total - o.missing) of \(o.total) points"
                      + (o.missing > 0 ? " (\(o.missing) in no shard yet)" : ""))
        console.print("Summary: \(out)/report.html (report.md, sweep.csv, plots/)")
        return 0
    }
}
