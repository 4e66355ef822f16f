#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Where a command writes: standard output for results, standard error for messages and progress.
/// Tests pass a capturing console; `fedsim` uses `Console.standard`.
public final class Console {
    private let writeOut: (String) -> Void
    private let writeErr: (String) -> Void
    /// Whether standard error is a terminal (progress is shown only then).
    public let stderrIsTerminal: Bool

    /// A console with the given sinks.
    public init(stderrIsTerminal: Bool = false, out: @escaping (String) -> Void, err: @escaping (String) -> Void) {
        self.stderrIsTerminal = stderrIsTerminal
        writeOut = out
        writeErr = err
    }

    /// The process's standard output and error.
    public static func standard() -> Console {
        Console(stderrIsTerminal: isatty(2) == 1,
                out: { FileHandle.standardOutput.write(Data($0.utf8)) },
                err: { FileHandle.standardError.write(Data($0.utf8)) })
    }

    /// Writes `text` and a newline to standard output.
    public func print(_ text: String = "") { writeOut(text + "\n") }
    /// Writes `text` and a newline to standard error.
    public func error(_ text: String) { writeErr(text + "\n") }
    /// Rewrites the progress line on standard error (nil clears it); only call when it is a terminal.
    public func progress(_ text: String?) { writeErr("\r\u{1B}[K" + (text ?? "")) }
}

/// A console that keeps what was written, for tests.
public final class CapturedConsole {
    /// Everything written to standard output.
    public private(set) var out = ""
    /// Everything written to standard error.
    public private(set) var err = ""
    /// The console to hand to a command.
    public private(set) lazy var console = Console(out: { [unowned self] in self.out += $0 }, err: { [unowned self] in self.err += $0 })
    /// An empty capture.
    public init() {}
}
