import CNumerics
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a result came from: the program, its commit, the machine, and the BLAS kernel that did
/// the products. Written next to the results (`provenance.json`), never into them, so that result
/// files stay byte-identical across machines while the file says what ran where.
public struct Provenance: Codable, Sendable, Equatable {
    /// fedsim's version (`fedsim --version`).
    public var fedsimVersion: String
    /// The git commit (hex), or `unknown`.
    public var gitCommit: String
    /// How `gitCommit` was found, in plain words (it is read at run time, not compiled in).
    public var gitCommitSource: String
    /// `/proc/cpuinfo`'s model name, or `unknown`.
    public var cpuModel: String
    /// Vendor, family, model and stepping numbers (what OpenBLAS identifies the CPU by).
    public var cpuIdentification: String
    /// The instruction-set features that decide the kernel: avx, avx2, fma, avx512f.
    public var cpuFeatures: [String: Bool]
    /// The kernel family in use (`openblas_get_corename`).
    public var blasCoreName: String
    /// OpenBLAS's build configuration (`openblas_get_config`).
    public var blasConfig: String
    /// How the kernel was chosen (`forced by OPENBLAS_CORETYPE`, `chosen by fedsim`, `OpenBLAS's own pick`).
    public var blasKernelChoice: String
    /// Anything to add about the kernel (a failed re-execution, a fallback); empty if nothing.
    public var blasKernelNote: String
    /// Threads OpenBLAS uses for one call (training runs use one per product either way).
    public var blasThreads: Int
    /// Kernel name, release and machine (`uname`), e.g. `Linux 6.1.0-18-amd64 x86_64`.
    public var operatingSystem: String
    /// The distribution (`/etc/os-release` PRETTY_NAME), or `unknown`.
    public var distribution: String
    /// Processors this process may use.
    public var cores: Int
    /// The Swift compiler that built fedsim (to the minor version), or `unknown`.
    public var swiftCompiler: String

    /// The provenance of this process, for fedsim `version`.
    public static func current(version: String) -> Provenance {
        let cpu = CPUInfo.current
        let selection = BLASKernel.selection
        let commit = GitCommit.find(fromExecutable: GitCommit.executablePath())
        return Provenance(
            fedsimVersion: version,
            gitCommit: commit.commit,
            gitCommitSource: commit.source,
            cpuModel: cpu.modelName,
            cpuIdentification: cpu.identification,
            cpuFeatures: Dictionary(uniqueKeysWithValues: CPUInfo.recordedFeatures.map { ($0, cpu.flags.contains($0)) }),
            blasCoreName: BLASKernel.coreName,
            blasConfig: BLASKernel.config,
            blasKernelChoice: selection.choice.rawValue,
            blasKernelNote: selection.note,
            blasThreads: BLASThreads.count,
            operatingSystem: operatingSystem(),
            distribution: distribution(),
            cores: ProcessInfo.processInfo.activeProcessorCount,
            swiftCompiler: swiftCompiler)
    }

    /// Canonical JSON: sorted keys, two-space indentation, unescaped slashes, a final newline.
    public func canonicalJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// The compiler version, from a compile-time ladder.
    public static var swiftCompiler: String {
        #if compiler(>=7.0)
        return "Swift 7.0 or later"
        #elseif compiler(>=6.5)
        return "Swift 6.5 or later"
        #elseif compiler(>=6.4)
        return "Swift 6.4"
        #elseif compiler(>=6.3)
        return "Swift 6.3"
        #elseif compiler(>=6.2)
        return "Swift 6.2"
        #elseif compiler(>=6.1)
        return "Swift 6.1"
        #elseif compiler(>=6.0)
        return "Swift 6.0"
        #else
        return "unknown"
        #endif
    }

    static func operatingSystem() -> String {
        #if canImport(Glibc)
        var names = utsname()
        guard uname(&names) == 0 else { return "unknown" }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        }
        return "\(text(names.sysname)) \(text(names.release)) \(text(names.machine))"
        #else
        return ProcessInfo.processInfo.operatingSystemVersionString
        #endif
    }

    static func distribution() -> String {
        guard let data = FileManager.default.contents(atPath: "/etc/os-release") else { return "unknown" }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            let value = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
            return value.isEmpty ? "unknown" : String(value.prefix(200))
        }
        return "unknown"
    }
}

/// The first processor's block of `/proc/cpuinfo` (all processors of a machine are alike here).
public struct CPUInfo: Sendable, Equatable {
    public var modelName: String
    public var vendor: String
    public var family: String
    public var model: String
    public var stepping: String
    public var flags: Set<String>

    /// The features recorded in the provenance.
    public static let recordedFeatures = ["avx", "avx2", "avx512f", "fma"]

    /// The Haswell kernels need AVX2 and FMA (the kernel lists a flag only when the OS enables its state).
    public var supportsPinnedKernel: Bool { flags.contains("avx2") && flags.contains("fma") }

    public var identification: String {
        vendor == "unknown" && family == "unknown" ? "unknown"
            : "\(vendor) family \(family) model \(model) stepping \(stepping)"
    }

    /// This machine's, read once.
    public static let current: CPUInfo = parse(readFirstBlock(path: "/proc/cpuinfo"))

    /// Parses one `/proc/cpuinfo` block (`key<TAB>: value` lines); missing keys are `unknown`.
    public static func parse(_ text: String) -> CPUInfo {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        func field(_ key: String) -> String {
            guard let value = fields[key], !value.isEmpty else { return "unknown" }
            return String(value.prefix(200))
        }
        let flags = Set((fields["flags"] ?? "").split(separator: " ").map(String.init))
        return CPUInfo(modelName: field("model name"), vendor: field("vendor_id"), family: field("cpu family"),
                       model: field("model"), stepping: field("stepping"), flags: flags)
    }

    /// Reads up to the first blank line (a machine with hundreds of processors has a long file).
    static func readFirstBlock(path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        var data = Data()
        while data.count < 1 << 20 {
            guard let chunk = try? handle.read(upToCount: 16 << 10), !chunk.isEmpty else { break }
            data.append(chunk)
            if data.range(of: Data("\n\n".utf8)) != nil { break }
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The commit of the repository that holds the executable, read from its `.git` without running git.
public enum GitCommit {
    /// The running executable's resolved path (`/proc/self/exe`), else `argv[0]`.
    public static func executablePath() -> String {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
        }
        return URL(fileURLWithPath: CommandLine.arguments.first ?? "").standardizedFileURL.path
    }

    /// Walks up from the executable to the first `.git` (a directory, or a worktree's `gitdir:` file)
    /// and resolves HEAD (a branch through its loose ref or `packed-refs`, or a detached commit).
    /// `unknown` when there is no repository above the executable or it cannot be read.
    public static func find(fromExecutable executable: String) -> (commit: String, source: String) {
        let unknown = (commit: "unknown", source: "no git repository above the executable")
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent().standardizedFileURL
        for _ in 0..<16 {
            let dotGit = directory.appendingPathComponent(".git")
            if let gitDirectory = gitDirectory(dotGit) {
                guard let (commit, refFile) = resolveHEAD(gitDirectory) else {
                    return (commit: "unknown", source: "the repository's HEAD could not be resolved")
                }
                var source = "HEAD of the repository holding the executable, read at run time (uncommitted changes are not detected)"
                if let refDate = modified(refFile), let exeDate = modified(executable), exeDate < refDate {
                    source += "; the executable is older than this HEAD, so it may have been built from an earlier commit"
                }
                return (commit: commit, source: source)
            }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return unknown
    }

    /// `.git` as a directory, or the directory a `gitdir: PATH` file names.
    static func gitDirectory(_ dotGit: URL) -> URL? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue { return dotGit }
        guard let text = read(dotGit), text.hasPrefix("gitdir:") else { return nil }
        let path = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
            : dotGit.deletingLastPathComponent().appendingPathComponent(path)
        return url.standardizedFileURL
    }

    /// The commit HEAD names and the file that says so (for its date).
    static func resolveHEAD(_ gitDirectory: URL) -> (String, URL)? {
        let headFile = gitDirectory.appendingPathComponent("HEAD")
        guard let head = read(headFile)?.trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        if isCommit(head) { return (head, headFile) }
        guard head.hasPrefix("ref:") else { return nil }
        let ref = head.dropFirst("ref:".count).trimmingCharacters(in: .whitespaces)
        guard ref.hasPrefix("refs/"), !ref.contains("..") else { return nil }
        // A worktree keeps its HEAD but shares refs with the main repository (`commondir`).
        var directories = [gitDirectory]
        if let common = read(gitDirectory.appendingPathComponent("commondir"))?.trimmingCharacters(in: .whitespacesAndNewlines), !common.isEmpty {
            directories.append((common.hasPrefix("/") ? URL(fileURLWithPath: common)
                                : gitDirectory.appendingPathComponent(common)).standardizedFileURL)
        }
        for directory in directories {
            let refFile = directory.appendingPathComponent(ref)
            if let value = read(refFile)?.trimmingCharacters(in: .whitespacesAndNewlines), isCommit(value) {
                return (value, refFile)
            }
        }
        for directory in directories {
            let packed = directory.appendingPathComponent("packed-refs")
            guard let text = read(packed) else { continue }
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[1] == ref, isCommit(String(parts[0])) { return (String(parts[0]), packed) }
            }
        }
        return nil
    }

    /// 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
    static func isCommit(_ text: String) -> Bool {
        (text.utf8.count == 40 || text.utf8.count == 64) && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func read(_ url: URL) -> String? {
        guard let data = FileManager.default.contents(atPath: url.path), data.count < 1 << 22 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func modified(_ url: URL) -> Date? { modified(url.path) }
    static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
