/// A coding key for formats whose keys are checked by hand (unknown keys are errors, not ignored).
public struct DynamicKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?
    /// A string key.
    public init(_ string: String) { stringValue = string }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Key-path rendering and value description shared by every hand-checked decoder.
public enum KeyPathText {
    /// `[a, b, 1, c]` → `a.b[1].c`.
    public static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }

    /// `path` followed by `key`.
    public static func render(_ path: [any CodingKey], _ key: String) -> String {
        render(path + [DynamicKey(key)])
    }

    /// A short description of the JSON value under `key`, for "found …" in errors.
    public static func describe(_ container: KeyedDecodingContainer<DynamicKey>, _ key: DynamicKey) -> String {
        if (try? container.decodeNil(forKey: key)) == true { return "null" }
        if let v = try? container.decode(Double.self, forKey: key) { return Quantity.shortest(v) }
        if let v = try? container.decode(String.self, forKey: key) { return "\"\(v)\"" }
        if let v = try? container.decode(Bool.self, forKey: key) { return String(v) }
        if (try? container.nestedUnkeyedContainer(forKey: key)) != nil { return "an array" }
        return "an object"
    }

    /// Throws `unknownKey` for the first key of `container` not in `allowed`, suggesting the nearest.
    public static func rejectUnknownKeys(_ container: KeyedDecodingContainer<DynamicKey>, allowed: [String]) throws {
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !allowed.contains(key.stringValue) {
            throw InputError(.unknownKey(key.stringValue, suggestion: Suggestion.nearest(to: key.stringValue, in: allowed)),
                             at: render(container.codingPath))
        }
    }
}
