import Foundation

/// Runs every target's shards in worker processes, `jobs` at a time, and prints the report.
func parent(_ args: [String]) throws -> Int32 {
    let options = try parseOptions(args)
    guard FileManager.default.fileExists(atPath: options.root + "/Scenarios") else {
        throw FuzzUsage("\(options.root) has no Scenarios/: run from the repository or pass --root")
    }
    let names = options.targets.isEmpty ? makeTargets(env: FuzzEnvironment(root: options.root, work: "")).map(\.name) : options.targets
    let probe = FuzzEnvironment(root: options.root, work: "")
    for n in names { _ = try makeTarget(named: n, env: probe) }
    let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
    writeFD(2, "fedsim-fuzz: \(names.count) target(s), \(options.cases) cases each (+ saved fixtures), seed \(options.seed), timeout \(options.timeout) s, jobs \(options.jobs)\n")
    // Each target is split into `jobs` shards of consecutive cases; shards run `jobs` at a time.
    let shards = names.flatMap { n in (0..<options.jobs).map { (name: n, index: $0) } }
    let results = ResultBox(count: shards.count)
    let gate = DispatchSemaphore(value: options.jobs)
    let group = DispatchGroup()
    let started = Date()
    for (slot, shard) in shards.enumerated() {
        gate.wait()
        group.enter()
        let supervisor = Supervisor(options: options, name: shard.name, executable: executable, shard: (shard.index, options.jobs))
        Thread.detachNewThread {
            let s = supervisor.run()
            results.set(slot, s)
            if options.jobs == 1 { writeFD(2, format(s) + "\n") } else { writeFD(2, "  \(s.name) shard \(shard.index + 1)/\(options.jobs): \(s.cases) cases, \(s.findings.count) finding(s), \(String(format: "%.1f", s.seconds)) s" + (s.error.map { " ERROR: \($0)" } ?? "") + "\n") }
            gate.signal()
            group.leave()
        }
    }
    group.wait()
    let parts = results.values.compactMap { $0 }
    let all = names.map { n in TargetSummary.merged(parts.filter { $0.name == n }) }
    print("target        cases   cases/s  accepted crashes  hangs    time  slowest case")
    for s in all { print(format(s)) }
    let total = all.reduce(0) { $0 + $1.cases }
    print(String(format: "total       %7d cases in %.1f s", total, Date().timeIntervalSince(started)))
    var found = false
    for s in all {
        if let error = s.error { found = true; print("\n\(s.name): ERROR \(error)") }
        // One paragraph per distinct finding: how often, which cases, where it is saved.
        var order: [String] = []
        var groups: [String: [Finding]] = [:]
        for f in s.findings {
            let key = f.kind + " " + f.signature
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(f)
        }
        for key in order {
            found = true
            let g = groups[key]!
            let labels = g.prefix(5).map(\.caseLabel).joined(separator: ", ") + (g.count > 5 ? ", …" : "")
            var saved: [String] = []
            for path in g.compactMap(\.saved) where !saved.contains(path) { saved.append(path) }
            print("\n\(s.name): \(g.count) \(g[0].kind)(es) — \(g[0].signature)\n  cases: \(labels)"
                  + (saved.isEmpty ? "" : "\n  fixture: " + saved.joined(separator: ", ")))
        }
    }
    return found ? 1 : 0
}
