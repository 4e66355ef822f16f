import Foundation
import Numerics
#if canImport(Glibc)
import Glibc
#endif

/// FedSim's output directories: each carries a marker file saying fedsim wrote it, is written
/// atomically (a temporary sibling, swapped into place in one step), and `--force` replaces or
/// cleans only a directory with that marker holding only files fedsim writes — never a file, a
/// directory of the user's, or anything fedsim did not write.
public enum OutputDirectory {
    /// The marker file's name.
    public static let marker = ".fedsim-output"

    public enum Kind: String, Sendable {
        /// `fedsim run`'s output (and a sweep point's).
        case run
        /// `fedsim sweep`'s output.
        case sweep
    }

    /// The marker's contents (fixed text, so outputs stay byte-identical).
    public static func markerFile(_ kind: Kind) -> (name: String, contents: Data) {
        (marker, Data("written by fedsim \(kind.rawValue); fedsim --force may replace or clean this directory, and nothing else\n".utf8))
    }

    /// The names fedsim writes in a directory of `kind`.
    public static func owned(_ kind: Kind) -> Set<String> {
        switch kind {
        case .run: return [marker, "summary.json", "rounds.csv", "clients.csv", "report.md", "report.html", "plots", "provenance.json", "point.json"]
        case .sweep: return [marker, "points", "sweep.csv", "sweep.md", "plots", "report.md", "report.html", "provenance.json", "sweep-plan.json", ".mpi"]
        }
    }

    /// What the directory holds now.
    public enum State: Equatable { case absent, empty, ours, foreign }

    /// Checks `dir` before any work: refuses (exit 2) a file, a non-empty directory fedsim did not
    /// write, and — unless `replace` — a non-empty one it did; with `replace`, also one holding
    /// files fedsim does not write. Then checks the location is writable (exit 1 if not).
    public static func prepare(_ dir: String, kind: Kind, replace: Bool, resume: Bool = false, option: String = "--out") throws -> State {
        let state = try inspect(dir, kind: kind, option: option)
        switch state {
        case .absent, .empty: break
        case .foreign:
            throw InputError(.file(path: dir, reason: "exists, is not empty and was not written by fedsim \(kind.rawValue) (no \(marker) file): choose another \(option); --force never replaces a directory fedsim did not write"), at: "")
        case .ours:
            if replace {
                let strangers = try entries(dir).filter { !owned(kind).contains($0) && !isTemporary($0) }
                if !strangers.isEmpty {
                    throw InputError(.file(path: dir, reason: "holds files fedsim does not write (\(strangers.prefix(3).joined(separator: ", "))\(strangers.count > 3 ? ", …" : "")): move them away first; --force removes only fedsim's own files"), at: "")
                }
            } else if !resume {
                throw InputError(.file(path: dir, reason: "exists and is not empty (use --force to replace it)"), at: "")
            }
        }
        if let reason = FileSystem.unwritableReason(dir) { throw OutputError(path: dir, reason: reason) }
        cleanStale(in: URL(fileURLWithPath: dir).standardizedFileURL.deletingLastPathComponent().path,
                   name: URL(fileURLWithPath: dir).standardizedFileURL.lastPathComponent)
        return state
    }

    static func entries(_ dir: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: dir).sorted() } catch {
            throw OutputError(path: dir, reason: InputFile.plain(error))
        }
    }

    static func inspect(_ dir: String, kind: Kind, option: String) throws -> State {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else { return .absent }
        guard isDirectory.boolValue else {
            throw InputError(.file(path: dir, reason: "exists and is not a directory: \(option) names a directory fedsim creates (it never replaces a file)"), at: "")
        }
        // fedsim's own unfinished temporaries do not make a folder foreign: another writer (an MPI
        // rank, a sweep worker) may be between writing the marker's temporary and renaming it.
        let names = try entries(dir).filter { !isTemporary($0) }
        if names.isEmpty { return .empty }
        return isMarked(dir, kind: kind) ? .ours : .foreign
    }

    /// Whether `dir` carries fedsim's marker for `kind`.
    public static func isMarked(_ dir: String, kind: Kind) -> Bool {
        FileManager.default.contents(atPath: dir + "/" + marker) == markerFile(kind).contents
    }

    /// A temporary name of the writer: `.NAME.tmp-HOST-PID` or `.NAME.old-HOST-PID`.
    static func temporaryName(_ name: String, _ what: String) -> String { ".\(name).\(what)-\(FileSystem.hostName)-\(getpid())" }

    static func isTemporary(_ name: String) -> Bool { name.hasPrefix(".") && (name.contains(".tmp-") || name.contains(".old-")) }

    /// Removes temporary siblings of `name` in `parent` left by writers of this host that are no
    /// longer running (a killed run); another live process's are left alone.
    public static func cleanStale(in parent: String, name: String? = nil) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        let host = FileSystem.hostName
        for n in names where isTemporary(n) && (name.map { n.hasPrefix(".\($0).") } ?? true) {
            guard let dash = n.lastIndex(of: "-"), let pid = Int32(n[n.index(after: dash)...]) else { continue }
            let owner = n[..<dash]
            guard owner.hasSuffix("-" + host) else { continue }
            if !FileSystem.processAlive(pid) || pid == getpid() { try? FileManager.default.removeItem(atPath: parent + "/" + n) }
        }
    }

    /// Writes `files` (relative name → contents) and the marker as directory `dir`, replacing it if
    /// it exists: everything goes to a temporary sibling that is swapped with the old directory in
    /// one atomic rename, so a reader (or a kill at any moment) sees the old or the new, whole.
    public static func write(_ files: [(name: String, contents: Data)], to dir: String, kind: Kind) throws {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: dir).standardizedFileURL
        let parent = target.deletingLastPathComponent()
        do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch {
            throw OutputError(path: parent.path, reason: InputFile.plain(error))
        }
        let temp = parent.appendingPathComponent(temporaryName(target.lastPathComponent, "tmp"))
        try? fm.removeItem(at: temp)
        do {
            try fm.createDirectory(at: temp, withIntermediateDirectories: false)
            for file in files + [markerFile(kind)] {
                let url = temp.appendingPathComponent(file.name)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try file.contents.write(to: url)
            }
        } catch {
            try? fm.removeItem(at: temp)
            throw OutputError(path: temp.path, reason: InputFile.plain(error))
        }
        if fm.fileExists(atPath: target.path) {
            if FileSystem.exchange(temp.path, target.path) {
                try? fm.removeItem(at: temp)       // now the old directory
                return
            }
            // No atomic exchange here: keep the old one under a name cleanStale recognises until the new one is in place.
            let old = parent.appendingPathComponent(temporaryName(target.lastPathComponent, "old"))
            do {
                try fm.moveItem(at: target, to: old)
                do { try fm.moveItem(at: temp, to: target) } catch {
                    try? fm.moveItem(at: old, to: target)
                    throw error
                }
                try? fm.removeItem(at: old)
            } catch {
                try? fm.removeItem(at: temp)
                throw OutputError(path: target.path, reason: InputFile.plain(error))
            }
        } else {
            do { try fm.moveItem(at: temp, to: target) } catch {
                try? fm.removeItem(at: temp)
                throw OutputError(path: target.path, reason: InputFile.plain(error))
            }
        }
    }

    /// Removes what fedsim wrote in `dir` (after `prepare(dir, kind:, replace: true)`), leaving the
    /// empty directory with its marker.
    public static func clean(_ dir: String, kind: Kind) throws {
        for name in try entries(dir) where owned(kind).contains(name) || isTemporary(name) {
            guard name != marker else { continue }
            do { try FileManager.default.removeItem(atPath: dir + "/" + name) } catch {
                throw OutputError(path: dir + "/" + name, reason: InputFile.plain(error))
            }
        }
    }

    /// Replaces one file atomically (a temporary sibling named as `cleanStale` recognises, then a
    /// rename), for files updated in place (a sweep's summary, a re-rendered report).
    public static func writeFile(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(temporaryName(url.lastPathComponent, "tmp"))
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: temp)
            guard rename(temp.path, url.path) == 0 else { throw OutputError(path: path, reason: String(cString: strerror(errno))) }
        } catch let error as OutputError {
            try? FileManager.default.removeItem(at: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw OutputError(path: path, reason: InputFile.plain(error))
        }
    }

    /// Creates `dir` (if absent) with its marker, for outputs that grow in place (a sweep).
    public static func create(_ dir: String, kind: Kind) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let m = markerFile(kind)
            if FileManager.default.contents(atPath: dir + "/" + m.name) != m.contents { try writeFile(m.contents, to: dir + "/" + m.name) }
        } catch let error as OutputError {
            throw error
        } catch {
            throw OutputError(path: dir, reason: InputFile.plain(error))
        }
    }
}
