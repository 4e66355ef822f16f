/// A problem with user input (a scenario file, a distribution, a command-line value), located by
/// the file it came from and the key path inside it.
///
/// Thrown, never printed deep inside; the command-line tool prints `description` and exits 2.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Problem: Equatable, Sendable {
        /// A key that the format does not know, with the nearest valid key when one is close.
        case unknownKey(String, suggestion: String?)
        /// A required key is absent.
        case missingKey(String)
        /// A value has the wrong type or form (`expected` says what would be right).
        case invalidValue(expected: String, found: String)
        /// A name (distribution, profile, codec, …) that is not registered.
        case unknownName(kind: String, name: String, suggestion: String?, valid: [String])
        /// A referenced file is missing, unreadable or malformed.
        case file(path: String, reason: String)
    }

    /// The file the input came from, when there is one.
    public var file: String?
    /// The key path inside the input, e.g. `network.downlink.p90`; empty for the top level.
    public var keyPath: String
    /// What is wrong.
    public var problem: Problem

    /// Creates an error at `keyPath`.
    public init(_ problem: Problem, at keyPath: String, file: String? = nil) {
        self.problem = problem
        self.keyPath = keyPath
        self.file = file
    }

    /// The same error, attributed to `file`.
    public func inFile(_ file: String) -> InputError {
        var copy = self
        copy.file = file
        return copy
    }

    /// The longest piece of input a message echoes (characters); longer pieces end in "…".
    public static let echoLimit = 200

    /// `text` cut to `limit` characters, with "…" when cut (and control characters shown as "?",
    /// so an echoed value cannot break the message's line).
    public static func clipped(_ text: String, _ limit: Int = echoLimit) -> String {
        var out = ""
        var count = 0
        for c in text {
            if count == limit { return out + "…" }
            out.append(c.isNewline || c.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true ? "?" : c)
            count += 1
        }
        return out
    }

    public var description: String {
        let clip = { (s: String) in InputError.clipped(s) }
        var where_ = keyPath.isEmpty ? "(top level)" : clip(keyPath)
        if let file { where_ = "\(clip(file)): \(where_)" }
        switch problem {
        case let .unknownKey(key, suggestion):
            let hint = suggestion.map { " (did you mean '\(clip($0))'?)" } ?? ""
            return "\(where_): unknown key '\(clip(key))'\(hint)"
        case let .missingKey(key):
            return "\(where_): missing key '\(clip(key))'"
        case let .invalidValue(expected, found):
            return "\(where_): expected \(InputError.clipped(expected, 2 * InputError.echoLimit)), found \(clip(found))"
        case let .unknownName(kind, name, suggestion, valid):
            let hint = suggestion.map { " (did you mean '\(clip($0))'?)" } ?? ""
            return "\(where_): unknown \(kind) '\(clip(name))'\(hint); valid: \(clip(valid.joined(separator: ", ")))"
        case let .file(path, reason):
            // A whole-file problem needs no key path; readers often name the file themselves.
            let reason = InputError.clipped(reason, 2 * InputError.echoLimit)
            if keyPath.isEmpty && file == nil { return reason.hasPrefix(path) ? reason : "\(clip(path)): \(reason)" }
            return "\(where_): file '\(clip(path))': \(reason)"
        }
    }
}

/// Spelling suggestions for unknown keys and names.
public enum Suggestion {
    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
    /// - Complexity: O(candidates × |word| × |candidate|).
    public static func nearest(to word: String, in candidates: [String]) -> String? {
        let lowered = word.lowercased()
        // A typed prefix of exactly one candidate ("interp" → "interpolate") is a clear intent.
        let prefixed = candidates.filter { $0.lowercased().hasPrefix(lowered) && lowered.count >= 3 }
        if prefixed.count == 1 { return prefixed[0] }
        var best: (String, Int)?
        for candidate in candidates {
            let d = editDistance(lowered, candidate.lowercased())
            if best == nil || d < best!.1 { best = (candidate, d) }
        }
        guard let (name, distance) = best else { return nil }
        let limit = max(2, min(word.count, name.count) / 3)
        return distance <= limit ? name : nil
    }

    /// Levenshtein distance between two strings (by Unicode scalars).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
