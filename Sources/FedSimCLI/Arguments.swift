/// A command-line usage mistake: printed with the command's usage on standard error, exit 2.
public struct UsageError: Error, Equatable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The arguments after a subcommand's name, parsed against the options it declares.
///
/// Accepts `--name value`, `--name=value`, boolean flags, and `--` to end options. Unknown
/// options are usage errors that suggest the nearest declared one.
public struct ParsedArguments {
    /// Positional arguments, in order.
    public private(set) var positional: [String] = []
    private var values: [String: String] = [:]
    private var flags: Set<String> = []

    /// Parses `arguments` given the names of options taking a value and of flags (without `--`).
    public init(_ arguments: [String], options: [String], flags allowedFlags: [String]) throws {
        var i = 0
        var optionsEnded = false
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard !optionsEnded, argument.hasPrefix("-"), argument != "-" else {
                positional.append(argument)
                continue
            }
            if argument == "--" { optionsEnded = true; continue }
            // A negative number is a value, not an option.
            if Double(argument) != nil { positional.append(argument); continue }
            var name = String(argument.drop(while: { $0 == "-" }))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if allowedFlags.contains(name) {
                guard inlineValue == nil else { throw UsageError("option --\(name) takes no value") }
                flags.insert(name)
            } else if options.contains(name) {
                if let inlineValue {
                    values[name] = inlineValue
                } else {
                    guard i < arguments.count else { throw UsageError("option --\(name) needs a value") }
                    values[name] = arguments[i]
                    i += 1
                }
            } else {
                let hint = Suggestion.nearest(to: name, in: options + allowedFlags).map { " (did you mean --\($0)?)" } ?? ""
                throw UsageError("unknown option '\(argument)'\(hint)")
            }
        }
    }

    /// Whether `--name` was given.
    public func flag(_ name: String) -> Bool { flags.contains(name) }
    /// The value of `--name`, if given.
    public func value(_ name: String) -> String? { values[name] }

    /// The value of `--name` as an integer within `range`, or `defaultValue` when absent.
    public func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError("--\(name) expects an integer in \(range.lowerBound)...\(range.upperBound), found '\(text)'")
        }
        return value
    }
}

import Numerics

/// One command-line option, declared once: it feeds both the parser (`ParsedArguments(_:spec:)`)
/// and the OPTIONS list of the command's help (`[OptionSpec].helpText`), as swift-argument-parser's
/// option declarations do.
public struct OptionSpec: Sendable {
    /// The name without `--`.
    public var name: String
    /// The value's placeholder in help (e.g. `DIR`); nil for a flag.
    public var value: String?
    /// What it does; further lines after `\n`.
    public var help: String

    public init(_ name: String, _ value: String? = nil, _ help: String) {
        self.name = name
        self.value = value
        self.help = help
    }
}

extension Array where Element == OptionSpec {
    /// The help's OPTIONS section: every option, then `-h, --help`, aligned.
    public var helpText: String {
        let rows = map { ("--" + $0.name + ($0.value.map { " " + $0 } ?? ""), $0.help) } + [("-h, --help", "Show this help.")]
        let width = (rows.map { $0.0.count }.max() ?? 0) + 2
        return "OPTIONS:\n" + rows.map { left, help in
            let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
            return "  " + left.padding(toLength: width, withPad: " ", startingAt: 0) + lines.joined(separator: "\n  " + String(repeating: " ", count: width))
        }.joined(separator: "\n")
    }
}

extension ParsedArguments {
    /// Parses `arguments` against a command's declared options.
    public init(_ arguments: [String], spec: [OptionSpec]) throws {
        try self.init(arguments, options: spec.filter { $0.value != nil }.map(\.name), flags: spec.filter { $0.value == nil }.map(\.name))
    }
}
