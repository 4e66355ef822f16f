import Foundation
import Reporting

/// `Report.rerender(directory:)` on a folder of mutated summary.json / rounds.csv / clients.csv (module Reporting).
final class ReportTarget: FuzzTarget {
    let name = "report"
    let summary = "fedsim report inputs: Report.rerender(directory:) on mutated summary.json / rounds.csv / clients.csv (module Reporting)"
    let env: FuzzEnvironment
    init(env: FuzzEnvironment) { self.env = env }
    var dir: String { env.work + "/report" }
    var dictionary: [String] = []

    /// The first `rounds` rounds of every arm (and their clients): small enough to render in well under a second.
    static func truncatedCSV(_ bytes: [UInt8], maxRound: Int) -> [UInt8] {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard let header = lines.first else { return bytes }
        let columns = header.split(separator: 0x2C, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard let roundColumn = columns.firstIndex(of: "round") else { return Array(bytes.prefix(20000)) }
        var out = Array(header)
        for line in lines.dropFirst() {
            let cells = line.split(separator: 0x2C, omittingEmptySubsequences: false)
            guard roundColumn < cells.count, let r = Int(String(decoding: cells[roundColumn], as: UTF8.self)), r <= maxRound else { continue }
            out.append(0x0A)
            out += line
        }
        out.append(0x0A)
        return out
    }

    func corpus() throws -> [FuzzCase] {
        var runs = [env.root + "/Reports/default", env.root + "/Reports/web-mix-llama7b"]
        // One point of each committed sweep.
        for sweep in listFiles(env.root + "/Reports/sweeps", suffix: "") {
            if let point = listFiles(sweep + "/points", suffix: "").first { runs.append(point) }
        }
        var out: [FuzzCase] = []
        for run in runs {
            guard let summary = readBytes(run + "/summary.json"), let rounds = readBytes(run + "/rounds.csv") else { continue }
            let clients = readBytes(run + "/clients.csv") ?? []
            var files: [(name: String, bytes: [UInt8])] = [("summary.json", summary), ("rounds.csv", Self.truncatedCSV(rounds, maxRound: 12)),
                                                          ("clients.csv", Self.truncatedCSV(clients, maxRound: 2))]
            // The marker that makes the folder fedsim's own (fedsim report re-renders only those), and the provenance.
            for extra in [".fedsim-output", "provenance.json"] {
                if let bytes = readBytes(run + "/" + extra) { files.append((extra, bytes)) }
            }
            out.append(FuzzCase(files))
        }
        guard !out.isEmpty else { throw FuzzUsage("no run folders under \(env.root)/Reports: is --root the repository?") }
        dictionary = harvestStrings(out.map { $0.bytes("summary.json") }, extra: formatWords)
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        let which = rng.pick(["summary.json", "summary.json", "rounds.csv", "clients.csv"] + (input.files.contains { $0.name == "provenance.json" } ? ["provenance.json"] : []))
        var bytes = input.bytes(which)
        let others = corpus.map { $0.bytes(which) }
        if which.hasSuffix(".json") { mutateJSON(&bytes, &rng, others: others, dictionary: dictionary) } else { CSVMutator.mutate(&bytes, &rng, others: others) }
        if rng.chance(0.03) { input.files.removeAll { $0.name == which } } else { input.set(which, bytes) }
    }

    func run(_ input: FuzzCase) throws {
        try? FileManager.default.removeItem(atPath: dir)
        try input.write(into: dir)
        _ = try Report.rerender(directory: dir)
    }
}
