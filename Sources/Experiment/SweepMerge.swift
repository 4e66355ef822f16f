import Foundation
import Numerics
import Reporting

/// `fedsim merge SHARD… --out DIR`: joins the outputs of a sweep's shards (e.g. one Slurm array
/// task each, written to separate folders) into one sweep output and writes its summary. Every
/// shard must be an output of the same sweep: their `sweep-plan.json` keys must agree.
public enum SweepMerge {
    /// What a merge did.
    public struct Outcome: Sendable, Equatable {
        /// Points copied into the output now.
        public var copied: Int
        /// Points the output already held.
        public var present: Int
        /// Points of the sweep found in no shard (and not in the output).
        public var missing: Int
        /// The sweep's number of points.
        public var total: Int
        /// The summary files written.
        public var summaryFiles: [String]
    }

    /// A shard's plan, read from its `sweep-plan.json`.
    struct Plan {
        var key: String
        var axes: [String]
        var points: [SweepSummary.PlannedPoint]
        var data: Data
    }

    static func plan(_ dir: String) throws -> Plan {
        guard OutputDirectory.isMarked(dir, kind: .sweep) else {
            throw InputError(.file(path: dir, reason: "not a fedsim sweep output (no \(OutputDirectory.marker) of a sweep)"), at: "")
        }
        let path = dir + "/" + Sweep.planFile
        guard InputFile.problem(path) == nil else {
            throw InputError(.file(path: path, reason: "missing: the shard was written by a fedsim before \(Sweep.planFile) existed; run its shard again (finished points are kept)"), at: "")
        }
        let data = try InputFile.read(path, maxBytes: 256 << 20)
        let root = Node(try JSONValue.parse(data, file: path))
        do {
            _ = try root.object(allowed: ["key", "axes", "points"])
            let key = try root.required("key").string()
            let axes = try root.required("axes").elements().map { try $0.string() }
            let points = try root.required("points").elements().map { p -> SweepSummary.PlannedPoint in
                _ = try p.object(allowed: ["index", "directory", "seed", "values"])
                let directory = try p.required("directory").string()
                guard !directory.isEmpty, !directory.contains("/"), !directory.hasPrefix(".") else { throw p.invalid("a point folder name") }
                let values = try p.required("values").elements().map { v -> (key: String, value: JSONValue) in
                    (try v.required("key").string(), try v.required("value").value)
                }
                return SweepSummary.PlannedPoint(index: try p.required("index").integer(0...100_000_000, "a point index"), directory: directory,
                                                 values: values, seed: try p.member("seed")?.seed())
            }
            return Plan(key: key, axes: axes, points: points, data: data)
        } catch let e as InputError {
            throw e.inFile(path)
        }
    }

    /// Merges the point folders of `shards` into `out` (created, or resumed when it is a sweep
    /// output of the same sweep; `force` first cleans what fedsim wrote there) and writes the
    /// summary of every point found. Errors: `InputError` (exit 2) for a folder that is not a
    /// sweep output or belongs to another sweep, `OutputError` (exit 1) for a write that fails.
    public static func merge(_ shards: [String], into out: String, force: Bool = false) throws -> Outcome {
        guard let first = shards.first else { throw InputError(.invalidValue(expected: "at least one shard folder", found: "none"), at: "SHARD") }
        let plans = try shards.map(plan)
        let reference = plans[0]
        for (dir, p) in zip(shards, plans).dropFirst() where p.key != reference.key {
            throw InputError(.file(path: dir, reason: "a shard of another sweep (sweep key \(p.key); \(first) has \(reference.key)): shards merge only with shards of the same sweep definition"), at: "")
        }
        let standardized = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        let outPath = standardized(out)
        if FileManager.default.fileExists(atPath: out + "/" + Sweep.planFile), !shards.map(standardized).contains(outPath), !force {
            let existing = try plan(out)
            guard existing.key == reference.key else {
                throw InputError(.file(path: out, reason: "the output of another sweep (sweep key \(existing.key), the shards' is \(reference.key)); use --force to replace it"), at: "--out")
            }
        }
        _ = try OutputDirectory.prepare(out, kind: .sweep, replace: force, resume: true)
        if force, FileManager.default.fileExists(atPath: out), !shards.map(standardized).contains(outPath) { try OutputDirectory.clean(out, kind: .sweep) }
        try OutputDirectory.create(out, kind: .sweep)
        try OutputDirectory.writeFile(reference.data, to: out + "/" + Sweep.planFile)
        let pointsDir = out + "/points"
        do { try FileManager.default.createDirectory(atPath: pointsDir, withIntermediateDirectories: true) } catch {
            throw OutputError(path: pointsDir, reason: InputFile.plain(error))
        }
        OutputDirectory.cleanStale(in: pointsDir)
        var copied = 0, present = 0, missing = 0
        for p in reference.points {
            let target = pointsDir + "/" + p.directory
            if FileManager.default.fileExists(atPath: target + "/summary.json") { present += 1; continue }
            guard let source = shards.map({ $0 + "/points/" + p.directory }).first(where: { FileManager.default.fileExists(atPath: $0 + "/summary.json") }) else {
                missing += 1
                continue
            }
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: source)) ?? []).filter { $0 != OutputDirectory.marker }.sorted()
            let files = try names.map { name -> (name: String, contents: Data) in (name, try InputFile.read(source + "/" + name, maxBytes: 1 << 30)) }
            try OutputDirectory.write(files, to: target, kind: .run)
            copied += 1
        }
        let summary = try SweepSummary.write(directory: out, axes: reference.axes, points: reference.points)
        return Outcome(copied: copied, present: present, missing: missing, total: reference.points.count, summaryFiles: summary.files)
    }
}
