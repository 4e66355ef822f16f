// fedsim-fuzz: seeded, time-bounded fuzzing of FedSim's input readers (issue 9, docs/FUZZING.md).
//
// The parent never runs a case itself: it re-launches this executable as a worker (`--worker`), which
// runs cases in order and reports `S <n>` before and `D <n> <µs>` after each one on its stdout. A
// worker that dies mid-case is a crash; a case that has not finished after --timeout is a hang (the
// worker is killed). Either way the parent regenerates the case from (seed, target, n), saves it
// under Tests/Fixtures/fuzz/<target>/ and starts a new worker at n + 1.
//
// Files: FuzzTarget.swift (cases, the target protocol, the list of targets), one file per target
// family (*Target*.swift), Mutators.swift and Random.swift (how cases are made), Worker.swift (the
// worker process), Supervisor*.swift (following workers, crashes and hangs), Parent.swift and
// Summary.swift (running the targets and the report), Options.swift, Files.swift.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let usage = """
USAGE:
  fedsim-fuzz [--targets a,b|all] [--cases N] [--time-limit SECONDS] [--seed S] [--timeout SECONDS]
              [--jobs J] [--root DIR] [--fixtures DIR] [--no-save] [--no-minimise]
  fedsim-fuzz --list
  fedsim-fuzz --replay TARGET PATH       run one saved case in this process (file or folder)
  fedsim-fuzz --emit TARGET N DIR        write case N of TARGET (for --seed) into DIR

OPTIONS:
  --targets       Targets to run (default all): \(["scenario", "sweep", "safetensors", "wire", "idx", "trace", "report", "pickle"].joined(separator: ", ")).
  --cases N       Generated cases per target (default 10000); saved fixtures run first, in addition.
  --time-limit S  Wall-time bound per target in seconds (default 900); a target stops early when reached.
  --seed S        Seed of the generated cases (default 1): same seed, same repository ⇒ same cases.
  --timeout S     A case running longer than this is a hang (default 1).
  --jobs J        Targets fuzzed at the same time (default 1).
  --root DIR      The repository (default .): corpus from Scenarios/, Tests/Fixtures, Reports/.
  --fixtures DIR  Where crashers and hangers are kept and re-run (default ROOT/Tests/Fixtures/fuzz).
  --no-save       Do not write new fixtures.
  --no-minimise   Do not shrink crashers before saving them.

Exit status: 0 nothing found, 1 a crash or hang was found (or a fixture still fails), 2 usage error.
"""

func mainStatus() -> Int32 {
    let args = Array(CommandLine.arguments.dropFirst())
    do {
        if args.first == "--worker" { return try worker(args) }
        if args.first == "-h" || args.first == "--help" { print(usage); return 0 }
        if args.first == "--list" {
            let env = FuzzEnvironment(root: ".", work: scratchDirectory("list"))
            defer { try? FileManager.default.removeItem(atPath: env.work) }
            for t in makeTargets(env: env) { print(t.name.padding(toLength: 12, withPad: " ", startingAt: 0) + t.summary) }
            return 0
        }
        if args.first == "--replay", args.count == 3 {
            let env = FuzzEnvironment(root: ".", work: scratchDirectory("replay"))
            defer { try? FileManager.default.removeItem(atPath: env.work) }
            let t = try makeTarget(named: args[1], env: env)
            _ = try t.corpus()
            guard let input = loadCase(args[2]) else { throw FuzzUsage("cannot read \(args[2])") }
            do { try t.run(input); print("\(args[1]): accepted") } catch { print("\(args[1]): rejected: \(String("\(error)".prefix(400)))") }
            return 0
        }
        if args.first == "--emit", args.count >= 4, let n = Int(args[2]) {
            let options = try parseOptions(Array(args.dropFirst(4)))
            let env = FuzzEnvironment(root: options.root, work: scratchDirectory("emit"))
            defer { try? FileManager.default.removeItem(atPath: env.work) }
            let t = try makeTarget(named: args[1], env: env)
            try t.generate(n, seed: options.seed, corpus: try t.corpus()).write(into: args[3])
            return 0
        }
        return try parent(args)
    } catch let error as FuzzUsage {
        writeFD(2, "fedsim-fuzz: \(error)\n\n\(usage)\n")
        return 2
    } catch {
        writeFD(2, "fedsim-fuzz: \(error)\n")
        return 2
    }
}

exit(mainStatus())
