import Foundation
import Numerics

/// One `fedsim` subcommand: one type, one file (after swift-argument-parser's conventions).
public protocol Command: Sendable {
    /// The word after `fedsim`.
    static var name: String { get }
    /// One line for the list of subcommands.
    static var abstract: String { get }
    /// The full help: USAGE, ARGUMENTS, OPTIONS (from `options`), examples.
    static var help: String { get }
    /// Every option, declared once: parsing and the help's OPTIONS list come from it.
    static var options: [OptionSpec] { get }
    /// Parses the arguments after the subcommand's name; throws `UsageError`.
    init(arguments: [String]) throws
    /// Checks the parsed values before running; throws `UsageError` or `InputError`.
    func validate() throws
    /// Does the work; returns the exit status. Throws `InputError` for bad input.
    func run(console: Console) throws -> Int32
}

extension Command {
    public func validate() throws {}
    /// The first line of `help` that starts with "USAGE:" and the one after.
    static var usage: String {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
        guard let at = lines.firstIndex(where: { $0.hasPrefix("USAGE:") }), at + 1 < lines.count else { return help }
        return lines[at...(at + 1)].joined(separator: "\n")
    }
}

/// JSON text for command output: sorted keys (deterministic), compact unless `pretty`.
func jsonText<T: Encodable>(_ value: T, pretty: Bool = false) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
