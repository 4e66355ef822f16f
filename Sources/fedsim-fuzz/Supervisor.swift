import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one worker launch ended with.
enum WorkerEnd {
    case finished(next: Int)                       // exited normally; `next` is the first case not run
    case crashed(at: Int, status: String, stderr: String)
    case hung(at: Int)
    case failedToStart(String)
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
