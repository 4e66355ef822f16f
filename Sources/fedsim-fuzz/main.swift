// fedsim-fuzz: seeded, time-bounded fuzzing of FedSim's input readers (issue 9, docs/FUZZING.md).
//
// The parent never runs a case itself: it re-launches this executable as a worker (`--worker`), which
// runs cases in order and reports `S <n>` before and `D <n> <µs>` after each one on its stdout. A
// worker that dies mid-case is a crash; a case that has not finished after --timeout is a hang (the
// worker is killed). Either way the parent regenerates the case from (seed, target, n), saves it
// under Tests/Fixtures/fuzz/<target>/ and starts a new worker at n + 1.
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
  --targets       Targets to run (default all): \(["scenario", "sweep", "safetensors", "wire", "idx", "trace", "report"].joined(separator: ", ")).
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

/// Writes to a file descriptor without buffering (the worker's protocol, progress).
func writeFD(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { return }
        done += n
    }
}

func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

struct Options {
    var targets: [String] = []
    var cases = 10_000
    var timeLimit = 900.0
    var seed: UInt64 = 1
    var timeout = 1.0
    var jobs = 1
    var root = "."
    var fixtures: String?
    var save = true
    var minimise = true
}

/// Saved cases of a target: files `<hash>-<name>` and folders `<hash>/`, in name order.
func loadFixtures(_ dir: String) -> [(path: String, input: FuzzCase)] {
    let fm = FileManager.default
    var out: [(String, FuzzCase)] = []
    for entry in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where !entry.hasPrefix(".") && !entry.hasSuffix(".trap.txt") && !entry.hasPrefix("README") {
        let path = dir + "/" + entry
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { continue }
        if isDir.boolValue {
            let files = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().compactMap { name in readBytes(path + "/" + name).map { (name: name, bytes: $0) } }
            out.append((path, FuzzCase(files)))
        } else if let bytes = readBytes(path) {
            out.append((path, FuzzCase(name: fileName(entry), bytes: bytes)))
        }
    }
    return out
}

/// The input's own name in a saved file name `<16 hex digits>-<name>`.
func fileName(_ entry: String) -> String {
    let parts = entry.split(separator: "-", maxSplits: 1)
    guard parts.count == 2, parts[0].count == 16, parts[0].allSatisfy(\.isHexDigit) else { return entry }
    return String(parts[1])
}

/// Reads a saved case (a file or a folder).
func loadCase(_ path: String) -> FuzzCase? {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
    if isDir.boolValue {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().compactMap { name in readBytes(path + "/" + name).map { (name: name, bytes: $0) } }
        return FuzzCase(files)
    }
    return readBytes(path).map { FuzzCase(name: fileName((path as NSString).lastPathComponent), bytes: $0) }
}

func scratchDirectory(_ label: String) -> String {
    let dir = FileManager.default.temporaryDirectory.path + "/fedsim-fuzz-\(label)-\(getpid())"
    try? FileManager.default.removeItem(atPath: dir)
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func makeTarget(named name: String, env: FuzzEnvironment) throws -> any FuzzTarget {
    guard let t = makeTargets(env: env).first(where: { $0.name == name }) else {
        throw FuzzUsage("unknown target '\(name)'; targets: \(makeTargets(env: env).map(\.name).joined(separator: ", "))")
    }
    return t
}

// MARK: worker

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

// MARK: parent

/// What one worker launch ended with.
enum WorkerEnd {
    case finished(next: Int)                       // exited normally; `next` is the first case not run
    case crashed(at: Int, status: String, stderr: String)
    case hung(at: Int)
    case failedToStart(String)
}

/// A finding of one target.
struct Finding {
    var kind: String          // "crash" or "hang"
    var caseLabel: String     // "case 123 (seed 1)" or the fixture path
    var signature: String
    var detail: String
    var saved: String?
}

struct TargetSummary {
    var name: String
    var cases = 0
    /// Cases the code under test accepted (no error thrown).
    var accepted = 0
    var seconds = 0.0
    var slowestMicros: UInt64 = 0
    var slowestLabel = ""
    var findings: [Finding] = []
    var stoppedByTime = false
    var error: String?
    var started = Date()
    var ended = Date()

    /// The shards of one target as one summary (time from the first start to the last end).
    static func merged(_ parts: [TargetSummary]) -> TargetSummary {
        var out = parts[0]
        for p in parts.dropFirst() {
            out.cases += p.cases
            out.accepted += p.accepted
            out.findings += p.findings
            out.stoppedByTime = out.stoppedByTime || p.stoppedByTime
            out.error = out.error ?? p.error
            out.started = min(out.started, p.started)
            out.ended = max(out.ended, p.ended)
            if p.slowestMicros > out.slowestMicros { out.slowestMicros = p.slowestMicros; out.slowestLabel = p.slowestLabel }
        }
        out.seconds = out.ended.timeIntervalSince(out.started)
        return out
    }
}

/// Runs the workers of one target and collects what they find.
final class Supervisor: @unchecked Sendable {
    let options: Options
    let name: String
    let fixtureDir: String
    let executable: String
    let scratch: String
    var target: (any FuzzTarget)!
    var corpus: [FuzzCase] = []
    var saved: [(path: String, input: FuzzCase)] = []
    /// Signatures already saved, shared by the shards of all targets.
    static let signatures = SignatureRegistry()

    /// This supervisor runs generated cases `shard.index`/`shard.count` of the target (fixtures in shard 0).
    let shard: (index: Int, count: Int)

    init(options: Options, name: String, executable: String, shard: (index: Int, count: Int) = (0, 1)) {
        self.options = options
        self.name = name
        self.shard = shard
        fixtureDir = (options.fixtures ?? options.root + "/Tests/Fixtures/fuzz") + "/" + name
        self.executable = executable
        scratch = scratchDirectory("parent-\(name)-\(shard.index)")
    }

    func label(_ n: Int) -> String { n < saved.count ? relative(saved[n].path) : "case \(n - saved.count) (seed \(options.seed))" }

    func input(_ n: Int) -> FuzzCase { n < saved.count ? saved[n].input : target.generate(n - saved.count, seed: options.seed, corpus: corpus) }

    /// `path` relative to the repository root (no machine paths in output that may be committed).
    func relative(_ path: String) -> String {
        let root = URL(fileURLWithPath: options.root).standardizedFileURL.path + "/"
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        return full.hasPrefix(root) ? String(full.dropFirst(root.count)) : path
    }

    /// Launches a worker and follows it until it ends.
    func launch(_ arguments: [String], backtrace: Bool = true, waitAfterCrash: Double = 60) -> WorkerEnd {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = backtrace ? "enable=yes,interactive=no,color=no,output-to=stderr,symbolicate=full" : "enable=no"
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        let errPath = scratch + "/worker-stderr.txt"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        guard let errHandle = FileHandle(forWritingAtPath: errPath) else { return .failedToStart("cannot create \(errPath)") }
        p.standardError = errHandle
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return .failedToStart("cannot launch \(executable): \(error)") }
        try? errHandle.close()
        let fd = out.fileHandleForReading.fileDescriptor
        var buffer: [UInt8] = [], current: Int?, startedAt = nowNanos(), next = -1
        let limit = UInt64(options.timeout * 1e9)
        var chunk = [UInt8](repeating: 0, count: 4096)
        func stderrText() -> String { String(decoding: (readBytes(errPath) ?? []).suffix(60_000), as: UTF8.self) }
        while true {
            var wait: Int32 = 60_000   // a worker builds its corpus before its first case
            if current != nil {
                let elapsed = nowNanos() - startedAt
                if elapsed >= limit {
                    kill(p.processIdentifier, SIGKILL)
                    p.waitUntilExit()
                    try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.path + "/fedsim-fuzz-worker-\(name)-\(p.processIdentifier)")
                    return .hung(at: current!)
                }
                wait = Int32(max(1, (limit - elapsed) / 1_000_000 + 1))
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, wait)
            if ready == 0 {
                if current == nil { kill(p.processIdentifier, SIGKILL); p.waitUntilExit(); return .failedToStart("no output for 60 s: \(stderrText().suffix(500))") }
                continue
            }
            if ready < 0 { if errno == EINTR { continue }; break }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            buffer += chunk[0..<n]
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                let parts = line.split(separator: " ")
                guard parts.count >= 2, let k = Int(parts[1]) else { continue }
                if parts[0] == "S" {
                    current = k
                    startedAt = nowNanos()
                } else if parts[0] == "D", parts.count == 4, let us = UInt64(parts[2]) {
                    current = nil
                    next = k + 1
                    onDone(k, micros: us, accepted: parts[3] == "1")
                }
            }
        }
        // End of output: the worker exited or died. Give a dying worker time to finish its backtrace.
        let deadline = Date().addingTimeInterval(waitAfterCrash)
        while p.isRunning, Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        // A worker that trapped or was killed could not remove its scratch folder.
        try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.path + "/fedsim-fuzz-worker-\(name)-\(p.processIdentifier)")
        let status = p.terminationReason == .uncaughtSignal ? "signal \(p.terminationStatus)" : "exit \(p.terminationStatus)"
        if let current { return .crashed(at: current, status: status, stderr: stderrText()) }
        if p.terminationReason == .exit, p.terminationStatus == 0 { return .finished(next: next) }
        return .failedToStart("worker \(status) outside a case: \(stderrText().suffix(800))")
    }

    var summary = TargetSummary(name: "")
    var onDoneHook: ((Int, UInt64, Bool) -> Void)?
    func onDone(_ k: Int, micros: UInt64, accepted: Bool) { onDoneHook?(k, micros, accepted) }

    /// Runs one case alone in a fresh worker.
    func replay(_ input: FuzzCase, backtrace: Bool) -> WorkerEnd {
        let dir = scratch + "/replay-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do { try input.write(into: dir) } catch { return .failedToStart("cannot write \(dir): \(error)") }
        let saved = onDoneHook
        onDoneHook = nil
        defer { onDoneHook = saved }
        return launch(["--worker", name, "--root", options.root, "--case", dir], backtrace: backtrace)
    }

    /// The trap message and the first frame in FedSim's sources, from a worker's stderr (Swift's
    /// backtracer: message, then the crashed thread's frames), and that part of the text.
    func signature(from stderr: String, status: String) -> (String, String) {
        let root = URL(fileURLWithPath: options.root).standardizedFileURL.path + "/"
        let text = stderr.replacingOccurrences(of: root, with: "")
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let end = lines.firstIndex(where: { $0.hasPrefix("Registers:") || $0.hasPrefix("Thread 1") || $0.hasPrefix("Images") }) {
            lines = Array(lines[..<end])
        }
        let fatal = lines.first { $0.contains("Fatal error") || $0.contains("runtime failure") }
        let crashed = lines.first { $0.contains("Program crashed") }
        var message = (fatal ?? crashed ?? status).trimmingCharacters(in: .whitespaces)
        if fatal == nil, let c = crashed, let at = c.range(of: " at 0x") { message = String(c[..<at.lowerBound]).trimmingCharacters(in: .whitespaces) }
        // Frames: "  N [ra]  0xADDR function + OFFSET in image at Sources/Module/File.swift:LINE:COL"
        func frame(_ line: String) -> (function: String, location: String)? {
            guard let at = line.range(of: " at Sources/"), !line.contains("Sources/fedsim-fuzz/"),
                  let address = line.range(of: "0x") else { return nil }
            let afterAddress = line[address.upperBound...].drop { $0.isHexDigit }.drop { $0 == " " }
            let function = afterAddress.components(separatedBy: " + ").first ?? ""
            return (function, String(line[line.index(at.lowerBound, offsetBy: 4)...]))
        }
        let frames = lines.compactMap(frame)
        let best = frames.first { $0.location.contains(".swift:") } ?? frames.first
        let signature = message + (best.map { " @ \($0.function) (\($0.location))" } ?? "")
        return (signature, lines.prefix(60).joined(separator: "\n"))
    }

    /// Shrinks the largest file of a crashing case while the replay still crashes with the same message.
    func minimise(_ input: FuzzCase, message: String) -> FuzzCase {
        guard options.minimise, let largest = input.files.indices.max(by: { input.files[$0].bytes.count < input.files[$1].bytes.count }) else { return input }
        var best = input
        var attempts = 0
        let start = Date()
        var chunk = max(1, best.files[largest].bytes.count / 2)
        while chunk >= 1, attempts < 48, Date().timeIntervalSince(start) < 12 {
            var offset = 0
            var shrunk = false
            while offset < best.files[largest].bytes.count, attempts < 48, Date().timeIntervalSince(start) < 12 {
                var candidate = best
                let end = min(offset + chunk, candidate.files[largest].bytes.count)
                candidate.files[largest].bytes.removeSubrange(offset..<end)
                attempts += 1
                if case let .crashed(_, status, stderr) = replay(candidate, backtrace: true), signature(from: stderr, status: status).0 == message {
                    best = candidate
                    shrunk = true
                } else {
                    offset += chunk
                }
            }
            if !shrunk { chunk /= 2 }
        }
        return best
    }

    /// Writes a new crasher or hanger under the fixture folder; returns its path.
    func save(_ input: FuzzCase, detail: String) -> String? {
        guard options.save else { return nil }
        let hash = hashName(input.files.flatMap { [Array($0.name.utf8), $0.bytes] })
        let fm = FileManager.default
        try? fm.createDirectory(atPath: fixtureDir, withIntermediateDirectories: true)
        let path: String
        if input.files.count == 1 {
            path = fixtureDir + "/" + hash + "-" + input.files[0].name
            try? Data(input.files[0].bytes).write(to: URL(fileURLWithPath: path))
        } else {
            path = fixtureDir + "/" + hash
            try? input.write(into: path)
        }
        try? Data(detail.utf8).write(to: URL(fileURLWithPath: fixtureDir + "/" + hash + ".trap.txt"))
        return relative(path)
    }

    func handleCrash(_ n: Int, status: String, stderr: String) {
        let input = input(n)
        let (sig, detail) = signature(from: stderr, status: status)
        var finding = Finding(kind: "crash", caseLabel: label(n), signature: sig, detail: detail, saved: nil)
        if n < saved.count {
            finding.saved = relative(saved[n].path)
        } else if Self.signatures.insert(name + " " + sig) {
            let small = minimise(input, message: sig)
            finding.saved = save(small, detail: "fedsim-fuzz \(name): \(label(n)), \(status)\n\(sig)\n\n\(detail)\n")
        }
        summary.findings.append(finding)
    }

    func handleHang(_ n: Int) {
        let input = input(n)
        // Confirm alone: the machine may just have been busy.
        guard case .hung = replay(input, backtrace: false) else {
            writeFD(2, "fedsim-fuzz \(name): \(label(n)) took over \(options.timeout) s once but not when run alone; not counted as a hang\n")
            return
        }
        var finding = Finding(kind: "hang", caseLabel: label(n), signature: "over \(options.timeout) s", detail: "", saved: nil)
        if n < saved.count {
            finding.saved = relative(saved[n].path)
        } else if Self.signatures.insert(name + " hang") || summary.findings.filter({ $0.kind == "hang" }).count < 3 {
            finding.saved = save(input, detail: "fedsim-fuzz \(name): \(label(n)): still running after \(options.timeout) s\n")
        }
        summary.findings.append(finding)
    }

    func run() -> TargetSummary {
        summary = TargetSummary(name: name)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do {
            target = try makeTarget(named: name, env: FuzzEnvironment(root: options.root, work: scratch + "/work"))
            corpus = try target.corpus()
        } catch {
            summary.error = "\(error)"
            return summary
        }
        saved = loadFixtures(fixtureDir)
        let lo = options.cases * shard.index / shard.count, hi = options.cases * (shard.index + 1) / shard.count
        let total = saved.count + hi
        let start = Date()
        summary.started = start
        let until = start.timeIntervalSince1970 + options.timeLimit
        onDoneHook = { [unowned self] k, us, accepted in
            summary.cases += 1
            if accepted { summary.accepted += 1 }
            if us > summary.slowestMicros { summary.slowestMicros = us; summary.slowestLabel = label(k) }
        }
        var next = shard.index == 0 ? 0 : saved.count + lo
        while next < total {
            if Date().timeIntervalSince1970 > until { summary.stoppedByTime = true; break }
            let end = launch(["--worker", name, "--seed", String(options.seed), "--from", String(next), "--to", String(total),
                              "--until", String(until), "--root", options.root, "--fixtures", options.fixtures ?? options.root + "/Tests/Fixtures/fuzz"])
            switch end {
            case let .finished(n):
                if n >= total { next = total } else if Date().timeIntervalSince1970 > until { summary.stoppedByTime = true } else if n > next { next = n } else {
                    summary.error = "a worker exited without running case \(next)"
                    next = total
                }
            case let .crashed(at, status, stderr):
                summary.cases += 1
                handleCrash(at, status: status, stderr: stderr)
                next = at + 1
            case let .hung(at):
                summary.cases += 1
                handleHang(at)
                next = at + 1
            case let .failedToStart(reason):
                summary.error = reason
                next = total
            }
            if summary.stoppedByTime { break }
        }
        summary.seconds = Date().timeIntervalSince(start)
        summary.ended = Date()
        return summary
    }
}

func parseOptions(_ args: [String]) throws -> Options {
    var o = Options()
    var i = 0
    func value() throws -> String {
        guard i + 1 < args.count else { throw FuzzUsage("\(args[i]) needs a value") }
        i += 1
        return args[i]
    }
    while i < args.count {
        switch args[i] {
        case "--targets": o.targets = try value().split(separator: ",").map(String.init).filter { $0 != "all" }
        case "--cases": guard let n = Int(try value()), n >= 0 else { throw FuzzUsage("--cases: expected a count") }; o.cases = n
        case "--time-limit": guard let s = Double(try value()), s > 0 else { throw FuzzUsage("--time-limit: expected seconds") }; o.timeLimit = s
        case "--seed": guard let s = UInt64(try value()) else { throw FuzzUsage("--seed: expected an unsigned integer") }; o.seed = s
        case "--timeout": guard let s = Double(try value()), s > 0 else { throw FuzzUsage("--timeout: expected seconds") }; o.timeout = s
        case "--jobs": guard let j = Int(try value()), j >= 1 else { throw FuzzUsage("--jobs: expected at least 1") }; o.jobs = j
        case "--root": o.root = try value()
        case "--fixtures": o.fixtures = try value()
        case "--no-save": o.save = false
        case "--no-minimise": o.minimise = false
        default: throw FuzzUsage("unknown argument '\(args[i])'")
        }
        i += 1
    }
    return o
}

func format(_ s: TargetSummary) -> String {
    let rate = s.seconds > 0 ? Double(s.cases) / s.seconds : 0
    let crashes = s.findings.filter { $0.kind == "crash" }.count, hangs = s.findings.filter { $0.kind == "hang" }.count
    let slowest = String(format: "%.1f ms", Double(s.slowestMicros) / 1000) + (s.slowestLabel.isEmpty ? "" : " (\(s.slowestLabel))")
    let accepted = s.cases > 0 ? 100 * Double(s.accepted) / Double(s.cases) : 0
    return s.name.padding(toLength: 12, withPad: " ", startingAt: 0)
        + String(format: "%7d %9.1f %8.1f%% %7d %6d %7.1f s  ", s.cases, rate, accepted, crashes, hangs, s.seconds)
        + slowest + (s.stoppedByTime ? "  [time limit]" : "") + (s.error.map { "  ERROR: \($0)" } ?? "")
}

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

final class SignatureRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var seen = Set<String>()
    /// True the first time `signature` is inserted.
    func insert(_ signature: String) -> Bool { lock.lock(); defer { lock.unlock() }; return seen.insert(signature).inserted }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [TargetSummary?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ s: TargetSummary) { lock.lock(); values[i] = s; lock.unlock() }
}

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
