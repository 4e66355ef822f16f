import Foundation

/// Runs cases `from..<to` of a target (fixtures first), or one saved case; reports on stdout.
func worker(_ args: [String]) throws -> Int32 {
    var name = "", seed: UInt64 = 1, from = 0, to = 0, until = Double.infinity, root = ".", fixtures = "", single: String?
    var i = 0
    while i < args.count {
        let value = i + 1 < args.count ? args[i + 1] : ""
        switch args[i] {
        case "--worker": name = value
        case "--seed": seed = UInt64(value) ?? 1
        case "--from": from = Int(value) ?? 0
        case "--to": to = Int(value) ?? 0
        case "--until": until = Double(value) ?? .infinity
        case "--root": root = value
        case "--fixtures": fixtures = value
        case "--case": single = value
        default: throw FuzzUsage("worker: unknown argument \(args[i])")
        }
        i += 2
    }
    let work = scratchDirectory("worker-\(name)")
    defer { try? FileManager.default.removeItem(atPath: work) }
    let t = try makeTarget(named: name, env: FuzzEnvironment(root: root, work: work))
    let corpus = try t.corpus()
    if let single {
        guard let input = loadCase(single) else { throw FuzzUsage("cannot read \(single)") }
        writeFD(1, "S 0\n")
        let start = nowNanos()
        var accepted = 1
        do { try t.run(input) } catch { accepted = 0 }
        writeFD(1, "D 0 \((nowNanos() - start) / 1000) \(accepted)\n")
        return 0
    }
    let saved = fixtures.isEmpty ? [] : loadFixtures(fixtures + "/" + name)
    for n in from..<max(from, to) {
        if Date().timeIntervalSince1970 > until { break }
        let input = n < saved.count ? saved[n].input : t.generate(n - saved.count, seed: seed, corpus: corpus)
        writeFD(1, "S \(n)\n")
        let start = nowNanos()
        var accepted = 1
        do { try t.run(input) } catch { accepted = 0 }
        writeFD(1, "D \(n) \((nowNanos() - start) / 1000) \(accepted)\n")
    }
    return 0
}
