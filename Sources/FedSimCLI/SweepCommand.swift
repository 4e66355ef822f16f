import Experiment
import Foundation
import Numerics

/// `fedsim sweep SWEEP.json --out DIR`: a grid of scenario variants (profiles × codecs × seeds ×
/// any key), resumable and shardable, with a summary of the speedup over lora per point.
struct SweepCommand: Command {
    static let name = "sweep"
    static let abstract = "Run a grid of scenario variants (resumable, shardable) and summarise the speedups."
    static let options: [OptionSpec] = [
        OptionSpec("out", "DIR", "Output directory (points/, sweep.csv, sweep.md, plots/)."),
        OptionSpec("shard", "i/N", "Run only points k with k mod N = i − 1."),
        OptionSpec("jobs", "N", "Run the points in N worker processes at once (default 1); the outputs are\nthe same bytes whatever N. Each worker gets --threads, or the cores ÷ N."),
        OptionSpec("mpi", nil, "Run as one rank of `mpirun -n N fedsim sweep … --mpi`: rank r runs shard r+1/N\n(from OMPI_COMM_WORLD_RANK/SIZE, or PMI_RANK/SIZE); rank 0 then waits for the\nothers and writes the summary. The output folder must be on a file system all ranks share."),
        OptionSpec("worker", "k/J", "Internal (what --jobs starts its workers with): run the k-th of J parts\nof the shard's points and write no summary."),
        OptionSpec("force", nil, "Start over: remove the points and summaries fedsim wrote in DIR first\n(only those: DIR must carry fedsim's marker and hold nothing else)."),
        OptionSpec("dry-run", nil, "Check the sweep and list its points (done or to run); write nothing."),
        OptionSpec("max-memory", "M", "Refuse points whose memory estimate exceeds M (default: half of memory)."),
        OptionSpec("threads", "N", "Threads for training and evaluation (default: every core; FEDSIM_THREADS=N too).\nOutputs are the same bytes whatever N."),
    ]

    static let help = """
    Run every combination of the axes of a sweep file on a base scenario, one point after another,
    and summarise each arm's time to target and speedup over lora per point, and where along each
    numeric axis it crosses 1 (report.html, report.md = sweep.md, sweep.csv, plots/). A point whose results exist is skipped, so an interrupted sweep picks up
    where it stopped; --shard i/N runs every N-th point (e.g. one Slurm array task each), and any
    later invocation (all shards done) writes the summary of every point found.

    USAGE:
      fedsim sweep SWEEP.json --out DIR [--jobs N] [--shard i/N] [--mpi] [--force] [--dry-run] [--max-memory M] [--threads N] [--worker k/J]

    SWEEP FILE:
      {"base": "default.json",                       the scenario, relative to the sweep file
       "axes": {"network.profile": ["3g", "4g", "5g"],   dotted key paths (numbers index arrays)
                "seed": [1, 2, 3]},                   "seed": replications, averaged in sweep.md
       "set": {"stop.rounds": 30}}                    fixed changes to the base (optional)

    Each point is kept in points/<values>-<key>/, where <key> is a hash of the point's resolved
    scenario: editing the sweep's "set", its base scenario or an axis value makes new points
    (results of the old definition are not reused, and are reported as stale).

    \(options.helpText)
    """

    let file: String
    let out: String
    let shard: Sweep.Shard
    let force: Bool
    let dryRun: Bool
    let maxMemory: Double
    let execution: Sweep.Execution
    let mpi: Bool
    let rank: MPIRank?

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        maxMemory = try RunCommand.memoryLimit(parsed.value("max-memory"))
        let threads: Int? = parsed.value("threads") == nil ? nil : try parsed.integer("threads", default: 1, in: 1...1024)
        if let threads { Parallelism.use(threads: threads) }
        guard parsed.positional.count == 1 else { throw UsageError(parsed.positional.isEmpty ? "missing the sweep file" : "expected one sweep file") }
        let jobs = try parsed.integer("jobs", default: 1, in: 1...256)
        var worker: Sweep.Worker?
        if let text = parsed.value("worker") {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
            guard parts.count == 2, let k = parts[0], let n = parts[1], n <= 256, let w = Sweep.Worker(index: k, count: n) else {
                throw UsageError("--worker expects k/J with 1 ≤ k ≤ J ≤ 256, found '\(String(text.prefix(40)))'")
            }
            worker = w
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        execution = Sweep.Execution(jobs: jobs, threadsPerJob: jobs > 1 ? (threads ?? max(1, cores / jobs)) : nil, worker: worker)
        file = parsed.positional[0]
        dryRun = parsed.flag("dry-run")
        let out = parsed.value("out") ?? ""
        guard !out.isEmpty || dryRun else { throw UsageError("missing --out DIR") }
        self.out = out
        force = parsed.flag("force")
        mpi = parsed.flag("mpi")
        if mpi {
            guard parsed.value("shard") == nil, parsed.value("jobs") == nil, parsed.value("worker") == nil else {
                throw UsageError("--mpi takes the shard from the MPI rank: no --shard, --jobs or --worker with it")
            }
            guard !force else { throw UsageError("--mpi with --force: ranks would clean each other's points; remove or --force the folder in one process first") }
            guard let rank = MPIRank.current else {
                throw UsageError("--mpi: no MPI rank in the environment (OMPI_COMM_WORLD_RANK/SIZE or PMI_RANK/SIZE); start with mpirun -n N")
            }
            self.rank = rank
            shard = Sweep.Shard(index: rank.rank + 1, count: rank.size) ?? .whole
            return
        }
        rank = nil
        if let text = parsed.value("shard") {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
            guard parts.count == 2, let i = parts[0], let n = parts[1], n <= 1_000_000, let shard = Sweep.Shard(index: i, count: n) else {
                throw UsageError("--shard expects i/N with 1 ≤ i ≤ N ≤ 1000000, found '\(String(text.prefix(40)))'")
            }
            self.shard = shard
        } else {
            shard = .whole
        }
    }

    func run(console: Console) throws -> Int32 {
        let sweep = try Sweep(file: file)
        if dryRun {
            try sweep.preflight(shard: shard, memoryLimit: maxMemory)
            let plan = sweep.plan(shard: shard, out: out.isEmpty ? nil : out)
            for (p, status) in plan {
                console.print("\(p.index + 1)\t\(Self.text(status))\t\(p.directory)")
            }
            console.print("\(plan.count) point(s); \(sweep.points(in: shard).count) in this shard")
            return 0
        }
        if let rank {
            let outcome = try sweep.runRank(rank.rank, of: rank.size, job: rank.job, out: out, memoryLimit: maxMemory, observer: ConsoleProgress(console))
            guard rank.rank == 0 else { return 0 }
            console.print("Sweep (\(rank.size) MPI ranks): \(outcome.found) of \(outcome.total) points in \(out)")
            if outcome.found == outcome.total { console.print("Summary: \(out)/sweep.md, sweep.csv") }
            return 0
        }
        let outcome = try sweep.run(shard: shard, out: out, force: force, memoryLimit: maxMemory, observer: ConsoleProgress(console), execution: execution)
        if execution.worker != nil { return 0 }
        console.print("Sweep: \(outcome.ran) point(s) run, \(outcome.skipped) already done; \(outcome.found) of \(outcome.total) points in \(out)"
                      + (outcome.stale > 0 ? " (\(outcome.stale) stale point folder(s) of an earlier definition ignored)" : ""))
        if outcome.found == outcome.total {
            console.print("Summary: \(out)/report.html (report.md, sweep.csv\(outcome.summaryFiles.contains("plots/speedup.svg") ? ", plots/" : ""))")
        } else {
            console.print("Summary of the points so far: \(out)/report.html (run the other shards, then this command again, or fedsim merge)")
        }
        return 0
    }

    /// A point's state as `--dry-run` lists it.
    static func text(_ status: Sweep.Status) -> String {
        switch status {
        case .done: "done"
        case .toRun: "to run"
        case .otherShard: "other shard"
        }
    }
}

/// This process's MPI rank and the job's size, from the launcher's environment (Open MPI's
/// OMPI_COMM_WORLD_RANK/SIZE, or PMI_RANK/PMI_SIZE of MPICH and Slurm's PMI).
struct MPIRank {
    let rank: Int
    let size: Int
    /// The job's identity (PMIx namespace, Open MPI job id or Slurm job id), so marks of an
    /// earlier, interrupted job are never taken for this one's.
    var job: String {
        let env = ProcessInfo.processInfo.environment
        let id = ["PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "SLURM_JOB_ID", "OMPI_MCA_orte_hnp_uri"].lazy.compactMap { env[$0] }.first ?? "job"
        return SHA256.hex(id).prefix(16).description
    }

    static var current: MPIRank? {
        let env = ProcessInfo.processInfo.environment
        for (r, n) in [("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE"), ("PMIX_RANK", "OMPI_COMM_WORLD_SIZE")] {
            if let rank = env[r].flatMap(Int.init), let size = env[n].flatMap(Int.init), size >= 1, size <= 1_000_000, (0..<size).contains(rank) {
                return MPIRank(rank: rank, size: size)
            }
        }
        return nil
    }
}
