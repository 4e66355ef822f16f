import Numerics

/// The byte-level tokenizer: a text's UTF-8 bytes are its tokens (vocabulary 256, no merges).
public enum ByteTokenizer {
    /// Vocabulary size.
    public static let vocabulary = 256

    /// The UTF-8 bytes of `text`.
    public static func encode(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The text of `tokens` (invalid UTF-8 sequences become U+FFFD).
    public static func decode(_ tokens: [UInt8]) -> String { String(decoding: tokens, as: UTF8.self) }
}

/// Windows of `context + 1` consecutive tokens from a token sequence: the model reads the first
/// `context` and predicts each next one.
public struct WindowBatcher: Sendable {
    /// The tokens.
    public let tokens: [UInt8]
    /// Tokens the model reads per window (the window holds one more).
    public let context: Int

    /// A batcher over `tokens`; throws an `InputError` at `keyPath` when the text is shorter than one window.
    public init(tokens: [UInt8], context: Int, keyPath: String = "corpus") throws {
        guard context >= 1 else {
            throw InputError(.invalidValue(expected: "a positive context", found: String(context)), at: keyPath)
        }
        guard tokens.count >= context + 1 else {
            throw InputError(.invalidValue(expected: "a text of at least \(context + 1) bytes (one window)",
                                           found: "\(tokens.count) bytes"), at: keyPath)
        }
        self.tokens = tokens
        self.context = context
    }

    /// `count` windows at uniform random starts (0 … tokens − context − 1, from `stream`), concatenated.
    public func batch(_ count: Int, stream: RandomStream) -> [Int32] {
        let w = context + 1, starts = tokens.count - w + 1
        var out = [Int32](repeating: 0, count: max(count, 0) * w)
        tokens.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for k in 0..<max(count, 0) {
                    let s = stream.uniformInt(below: starts)
                    for i in 0..<w { dst[k * w + i] = Int32(src[s + i]) }
                }
            }
        }
        return out
    }

    /// Consecutive non-overlapping windows from the start (at most `limit`), concatenated, and their count:
    /// the held-out set of an evaluation.
    public func sequentialWindows(limit: Int = .max) -> (windows: [Int32], count: Int) {
        let w = context + 1
        let n = min(max(limit, 0), tokens.count / w)
        return (tokens.prefix(n * w).map { Int32($0) }, n)
    }
}
