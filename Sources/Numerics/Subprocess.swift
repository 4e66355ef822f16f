import CNumerics
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs an external program from an argv list — never through a shell — with its standard input
/// from /dev/null, its standard output and error into files, in a working directory, killed after
/// a timeout. Each call gets its own process group, so a timeout (or fedsim being interrupted)
/// stops the program and every process it started.
public enum Subprocess {
    /// How a call ended.
    public enum Ending: Sendable, Equatable, CustomStringConvertible {
        /// The program exited with this status.
        case exited(Int32)
        /// A signal ended it.
        case signalled(Int32)
        /// It ran past the timeout and was killed.
        case timedOut(seconds: Double)

        public var description: String {
            switch self {
            case let .exited(s): return "exited with status \(s)"
            case let .signalled(s): return "was killed by signal \(s)\(s == SIGKILL ? " (SIGKILL: out of memory?)" : "")"
            case let .timedOut(t): return "ran longer than its timeout (\(Quantity.humanReadable(t, as: .duration))) and was stopped"
            }
        }
    }

    /// A program that could not be started.
    public struct StartError: Error, Sendable, CustomStringConvertible {
        public var executable: String
        public var reason: String
        public var description: String { "cannot start '\(executable)': \(reason)" }
    }

    /// The result of one call: how it ended and its wall-clock seconds.
    public struct Outcome: Sendable {
        public var ending: Ending
        public var seconds: Double
        /// Whether the program exited with status 0.
        public var succeeded: Bool { ending == .exited(0) }
    }

    /// Runs `executable` (a path) with `arguments` (argv[1…]) in `directory`; its output goes to
    /// `standardOutput` and `standardError` (files, created or truncated), its environment is this
    /// process's plus `environment`. After `timeout` seconds the process group gets SIGTERM, and
    /// SIGKILL 3 s later.
    public static func run(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:],
                           standardOutput: String, standardError: String, timeout: Double) throws -> Outcome {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        fedsim_spawn_addchdir(&actions, directory)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.keys.sorted().map { strdup("\($0)=\(env[$0] ?? "")") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        ChildGroups.shared.installHandlers()
        let started = DispatchTime.now().uptimeNanoseconds
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard code == 0 else { throw StartError(executable: executable, reason: String(cString: strerror(code))) }
        ChildGroups.shared.add(pid)
        defer { ChildGroups.shared.remove(pid) }
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }

        var status: Int32 = 0
        var pause: UInt32 = 1_000
        var killedAt: Double?
        while true {
            let ended = fedsim_child_ended(pid)
            if ended == 1 { break }
            if ended < 0, errno != EINTR { break }
            let t = elapsed()
            if killedAt == nil, t > timeout {
                kill(-pid, SIGTERM)
                killedAt = t
            } else if let k = killedAt, t > k + 3 {
                kill(-pid, SIGKILL)
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        // Whatever the program left running in its group ends with the call. The child is not
        // reaped yet (a zombie), so its group's id still names this group.
        kill(-pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let seconds = elapsed()
        if killedAt != nil { return Outcome(ending: .timedOut(seconds: timeout), seconds: seconds) }
        let signalled = status & 0x7f
        if signalled != 0 { return Outcome(ending: .signalled(signalled), seconds: seconds) }
        return Outcome(ending: .exited((status >> 8) & 0xff), seconds: seconds)
    }

    /// The executable file `command` names: a path with a slash (relative to `directory`), else
    /// the first match on `PATH`, else beside the running executable (so `fedsim-train` is found
    /// next to `fedsim`). nil when there is none or it is not executable.
    public static func resolve(_ command: String, directory: String) -> String? {
        let fm = FileManager.default
        func executable(_ path: String) -> String? {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue, fm.isExecutableFile(atPath: path) else { return nil }
            return URL(fileURLWithPath: path).standardizedFileURL.path
        }
        if command.contains("/") {
            return executable(command.hasPrefix("/") ? command : directory + "/" + command)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            if let found = executable(String(dir) + "/" + command) { return found }
        }
        let me = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent().path
        return executable(me + "/" + command)
    }

    /// The last `lines` non-empty lines of a text file (a program's messages), clipped.
    public static func tail(of path: String, lines: Int = 5, limit: Int = 600) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        let text = String(decoding: data.suffix(16_384), as: UTF8.self)
        let kept = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.suffix(lines)
        return InputError.clipped(kept.joined(separator: " | "), limit)
    }
}

/// The process groups of the calls in flight; when fedsim is interrupted (SIGINT, SIGTERM,
/// SIGHUP) they are killed before fedsim ends as the signal says.
final class ChildGroups: @unchecked Sendable {
    static let shared = ChildGroups()
    private let lock = NSLock()
    private var groups: Set<pid_t> = []
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "fedsim.child-groups")

    func add(_ pid: pid_t) { lock.lock(); groups.insert(pid); lock.unlock() }
    func remove(_ pid: pid_t) { lock.lock(); groups.remove(pid); lock.unlock() }

    func installHandlers() {
        lock.lock(); defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for s in [SIGINT, SIGTERM, SIGHUP] {
            signal(s, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: s, queue: queue)
            source.setEventHandler { [unowned self] in
                self.lock.lock()
                let running = self.groups
                self.lock.unlock()
                for g in running { kill(-g, SIGKILL) }
                signal(s, SIG_DFL)
                raise(s)
            }
            source.resume()
            sources.append(source)
        }
    }
}
