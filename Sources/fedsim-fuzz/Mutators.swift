/// Mutations: generic byte-level ones, JSON-aware ones, header-field ones for binary formats and CSV-aware ones.
enum ByteMutator {
    static let tokens: [[UInt8]] = [
        "\"", "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "\\ud800", "-", "e308", "e-400", ".", "\n", "\r\n", "\0",
        "null", "true", "1e999", "NaN", "\u{FEFF}", "\u{10FFFF}", "\u{FFFD}", "%", "//", "..", "/", "#", "\t",
    ].map { Array($0.utf8) }

    static let interestingWords: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
                                             0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max]

    /// One random byte-level mutation of `data`; `others` are the corpus, for splicing.
    static func mutate(_ data: inout [UInt8], _ rng: inout FuzzRandom, others: [[UInt8]]) {
        let n = data.count
        switch rng.below(10) {
        case 0 where n > 0:   // flip a bit
            let i = rng.below(n)
            data[i] ^= 1 << UInt8(rng.below(8))
        case 1 where n > 0:   // set a byte
            data[rng.below(n)] = UInt8(truncatingIfNeeded: rng.next())
        case 2:               // insert random bytes
            let count = rng.skewed(16)
            data.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: rng.below(n + 1))
        case 3 where n > 1:   // delete a range
            let start = rng.below(n), length = min(n - start, rng.skewed(max(1, n / 4)))
            data.removeSubrange(start..<(start + length))
        case 4 where n > 1:   // duplicate a range
            let start = rng.below(n), length = min(n - start, rng.skewed(max(1, n / 4)))
            data.insert(contentsOf: data[start..<(start + length)], at: rng.below(n + 1))
        case 5 where !others.isEmpty:   // splice: a prefix of this file, a suffix of another
            let other = rng.pick(others)
            let cut = rng.below(n + 1), from = rng.below(other.count + 1)
            data = Array(data[0..<cut]) + Array(other[from...])
        case 6:               // insert a token
            data.insert(contentsOf: rng.pick(tokens), at: rng.below(n + 1))
        case 7 where n > 0:   // overwrite with an interesting little- or big-endian integer
            var word = rng.pick(interestingWords)
            let width = rng.pick([1, 2, 4, 8])
            let bigEndian = rng.chance(0.5)
            let at = rng.below(n)
            var bytes: [UInt8] = []
            for _ in 0..<width { bytes.append(UInt8(truncatingIfNeeded: word)); word >>= 8 }
            if bigEndian { bytes.reverse() }
            for (k, b) in bytes.enumerated() where at + k < n { data[at + k] = b }
        case 8 where n > 0:   // truncate
            data.removeSubrange(rng.below(n)...)
        default:              // overwrite a range with one repeated byte
            guard n > 0 else { data = [UInt8(truncatingIfNeeded: rng.next())]; return }
            let start = rng.below(n), length = min(n - start, rng.skewed(64))
            let byte: UInt8 = rng.pick([0, 0xFF, 0x20, 0x30, 0x39, 0x22, 0x7B])
            for k in start..<(start + length) { data[k] = byte }
        }
    }
}

/// A value, key or member found in JSON text.
struct JSONSpan {
    enum Kind { case number, string, literal, object, array }
    var kind: Kind
    var start: Int
    var end: Int        // exclusive
    var isKey: Bool
}

/// A tolerant scanner: finds numbers, strings (keys or values), literals and matched containers
/// in text that may be broken; good enough to aim mutations.
enum JSONScanner {
    static func spans(_ b: [UInt8]) -> [JSONSpan] {
        var out: [JSONSpan] = []
        var stack: [(Int, UInt8)] = []
        var i = 0
        while i < b.count {
            let c = b[i]
            switch c {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < b.count, b[i] != UInt8(ascii: "\"") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
                i = min(i + 1, b.count)
                var j = i
                while j < b.count, [0x20, 0x09, 0x0A, 0x0D].contains(b[j]) { j += 1 }
                out.append(JSONSpan(kind: .string, start: start, end: i, isKey: j < b.count && b[j] == UInt8(ascii: ":")))
                continue
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = i
                while i < b.count, "0123456789+-.eE".utf8.contains(b[i]) { i += 1 }
                out.append(JSONSpan(kind: .number, start: start, end: i, isKey: false))
                continue
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                let start = i
                while i < b.count, b[i] >= UInt8(ascii: "a"), b[i] <= UInt8(ascii: "z") { i += 1 }
                out.append(JSONSpan(kind: .literal, start: start, end: i, isKey: false))
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append((i, c))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if let (start, open) = stack.popLast(), (open == UInt8(ascii: "{")) == (c == UInt8(ascii: "}")) {
                    out.append(JSONSpan(kind: open == UInt8(ascii: "{") ? .object : .array, start: start, end: i + 1, isKey: false))
                }
            default: break
            }
            i += 1
        }
        return out.sorted { $0.start < $1.start }
    }

    /// The value that follows the key at `keyIndex` in `spans`.
    static func value(after keyIndex: Int, in spans: [JSONSpan]) -> JSONSpan? {
        let key = spans[keyIndex]
        return spans.first { $0.start >= key.end && !$0.isKey }
    }
}

/// JSON-aware mutations: extreme numbers, huge or odd strings, deep nesting, duplicate keys, wrong
/// types, members deleted or copied between files. `dictionary` holds words of the format (codec
/// names, units, dtypes …) to put in strings.
enum JSONMutator {
    static let extremeNumbers = ["0", "-1", "1e308", "-1e308", "1e309", "9223372036854775807", "9223372036854775808",
                                 "18446744073709551615", "18446744073709551616", "-9223372036854775809", "4294967296",
                                 "2147483648", "1e-320", "5e-324", "-0", "0.5", "1.5", "1e15", "1e16", "1e19",
                                 "123456789012345678901234567890", "NaN", "Infinity", "-Infinity", "1e400", "0e0",
                                 "00", "1.", ".5", "+1", "0x10", "1e", "3"]
    static let extremeQuantityNumbers = ["1e308", "-1", "0", "-0", "NaN", "inf", "1e-308", "9223372036854775808",
                                         "18446744073709551616", "1e30", "1e400", "", " ", "1e15", "99999999999999999999"]
    static let wrongTypes = ["{}", "[]", "null", "true", "false", "\"\"", "\"x\"", "0", "[1,2,3]", "{\"a\":1}",
                             "[[]]", "\"NaN\"", "{\"dist\":\"constant\",\"value\":1}"]

    static func mutate(_ data: inout [UInt8], _ rng: inout FuzzRandom, others: [[UInt8]], dictionary: [String]) {
        let spans = JSONScanner.spans(data)
        guard !spans.isEmpty else { ByteMutator.mutate(&data, &rng, others: others); return }
        func replace(_ s: JSONSpan, with text: [UInt8]) { data.replaceSubrange(s.start..<s.end, with: text) }
        let values = spans.filter { !$0.isKey }
        let keys = spans.indices.filter { spans[$0].isKey }
        guard !values.isEmpty else { ByteMutator.mutate(&data, &rng, others: others); return }
        func attempt(_ op: Int) -> Bool {
        switch op {
        case 0, 1:   // a number to an extreme
            let numbers = values.filter { $0.kind == .number }
            guard let s = numbers.isEmpty ? nil : rng.pick(numbers) else { return false }
            replace(s, with: Array(rng.pick(extremeNumbers).utf8))
            return true
        case 2:      // a string value to something odd
            let strings = values.filter { $0.kind == .string }
            guard let s = strings.isEmpty ? nil : rng.pick(strings) else { return false }
            replace(s, with: Array(oddString(original: Array(data[s.start..<s.end]), &rng, dictionary: dictionary).utf8))
            return true
        case 3:      // a value to a wrong type
            let s = rng.pick(values)
            replace(s, with: Array(rng.pick(wrongTypes).utf8))
            return true
        case 4:      // a value to a value of another (or the same) file
            let source = others.isEmpty || rng.chance(0.3) ? data : rng.pick(others)
            let sourceSpans = JSONScanner.spans(source).filter { !$0.isKey }
            guard !sourceSpans.isEmpty else { return false }
            let from = rng.pick(sourceSpans)
            replace(rng.pick(values), with: Array(source[from.start..<from.end]))
            return true
        case 5:      // deep nesting around a value
            let s = rng.pick(values)
            let depth = min(rng.pick([10, 65, 100, 1000, 10000, 100_000]), max(1, (maxCaseBytes - data.count) / 6))
            let inner = Array(data[s.start..<s.end])
            if rng.chance(0.5) {
                replace(s, with: [UInt8](repeating: UInt8(ascii: "["), count: depth) + inner + [UInt8](repeating: UInt8(ascii: "]"), count: depth))
            } else {
                replace(s, with: Array(String(repeating: "{\"a\":", count: depth).utf8) + inner + [UInt8](repeating: UInt8(ascii: "}"), count: depth))
            }
            return true
        case 6:      // duplicate a member
            guard let k = keys.isEmpty ? nil : rng.pick(keys), let v = JSONScanner.value(after: k, in: spans) else { return false }
            let member = Array(data[spans[k].start..<v.end])
            data.insert(contentsOf: member + Array(",".utf8), at: spans[k].start)
            return true
        case 7:      // delete a member
            guard let k = keys.isEmpty ? nil : rng.pick(keys), let v = JSONScanner.value(after: k, in: spans) else { return false }
            var end = v.end
            while end < data.count, [0x20, 0x0A, 0x0D, 0x09].contains(data[end]) { end += 1 }
            if end < data.count, data[end] == UInt8(ascii: ",") { end += 1 }
            data.removeSubrange(spans[k].start..<end)
            return true
        case 8:      // rename a key
            guard let k = keys.isEmpty ? nil : rng.pick(keys) else { return false }
            let s = spans[k]
            var name = Array(data[(s.start + 1)..<max(s.start + 1, s.end - 1)])
            switch rng.below(4) {
            case 0 where !name.isEmpty: name.remove(at: rng.below(name.count))
            case 1 where !dictionary.isEmpty: name = Array(rng.pick(dictionary).utf8)
            case 2: name = name.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
            default: name += Array("x".utf8)
            }
            replace(s, with: [0x22] + name + [0x22])
            return true
        case 9:      // an array element repeated many times
            let arrays = values.filter { $0.kind == .array && $0.end - $0.start > 2 }
            guard let s = arrays.isEmpty ? nil : rng.pick(arrays) else { return false }
            let inner = Array(data[(s.start + 1)..<(s.end - 1)])
            let copies = min(rng.pick([2, 10, 100, 1000, 20000]), max(2, (maxCaseBytes - data.count) / max(1, inner.count + 1)))
            var body: [UInt8] = []
            body.reserveCapacity(copies * (inner.count + 1))
            for c in 0..<copies { if c > 0 { body.append(UInt8(ascii: ",")) }; body += inner }
            replace(s, with: [UInt8(ascii: "[")] + body + [UInt8(ascii: "]")])
            return true
        default:
            return false
        }
        }
        if !attempt(rng.below(11)) { ByteMutator.mutate(&data, &rng, others: others) }
    }

    /// A replacement for a string literal: huge, empty, escaped, unit-edited, a format word.
    static func oddString(original: [UInt8], _ rng: inout FuzzRandom, dictionary: [String]) -> String {
        let text = String(decoding: original.dropFirst().dropLast(), as: UTF8.self)
        switch rng.below(8) {
        case 0: return "\"" + String(repeating: "a", count: rng.pick([300, 5000, 200_000])) + "\""
        case 1: return "\"\""
        case 2: return rng.pick(["\"\\u0000\"", "\"\\ud800\"", "\"é\\n\\t\\\"\"", "\"\u{202E}x\"", "\"a,b\"", "\"a\\nb\"",
                                 "\"`rm -rf x`\"", "\"$(echo x)\"", "\"' system(\\\"echo\\\") '\"", "\"<script>\""])
        case 3, 4:
            // A quantity: keep the unit, change the number (or the unit's case)
            let digits = text.prefix { "0123456789.eE+-".contains($0) }
            let unit = String(text.dropFirst(digits.count))
            if rng.chance(0.3), !unit.isEmpty {
                let edited = rng.chance(0.5) ? unit.uppercased() : unit.lowercased()
                return "\"" + digits + edited + "\""
            }
            return "\"" + rng.pick(extremeQuantityNumbers) + (unit.isEmpty ? rng.pick(["s", "ms", "h", "MB", "Mbps", "bps", "B", "GB", "years", "%"]) : unit) + "\""
        case 5: return "\"" + text + text + "\""
        default: return "\"" + (dictionary.isEmpty ? "x" : rng.pick(dictionary)) + "\""
        }
    }
}

/// Little helpers for binary formats.
enum Binary {
    static func u64le(_ b: [UInt8], _ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<8 where at + k < b.count { v |= UInt64(b[at + k]) << UInt64(8 * k) }
        return v
    }
    static func putU64le(_ v: UInt64, into b: inout [UInt8], at: Int) {
        for k in 0..<8 where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: v >> UInt64(8 * k)) }
    }
    static func varint(_ value: UInt64) -> [UInt8] {
        var v = value, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }
    /// Reads a varint at `at`; returns its value and length, or nil past the end.
    static func readVarint(_ b: [UInt8], _ at: Int) -> (UInt64, Int)? {
        var result: UInt64 = 0, shift: UInt64 = 0, i = at
        while i < b.count, shift < 64 {
            result |= UInt64(b[i] & 0x7F) << shift
            i += 1
            if b[i - 1] & 0x80 == 0 { return (result, i - at) }
            shift += 7
        }
        return nil
    }
}

/// CSV-aware mutations: extreme cells, cells with commas, quotes or newlines, columns and rows removed or repeated.
enum CSVMutator {
    static let cells = ["", "NaN", "nan", "inf", "-inf", "1e308", "1e309", "-1", "0", "-0", "9223372036854775808", "18446744073709551616",
                        "1e-320", "x", "\"a,b\"", "\"", "a\"b", "12abc", "0x10", " 1 ", String(repeating: "9", count: 400),
                        String(repeating: "a", count: 5000), "null", "true", "-9223372036854775809", "4294967296"]

    static func mutate(_ data: inout [UInt8], _ rng: inout FuzzRandom, others: [[UInt8]]) {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        guard lines.count > 1, rng.chance(0.7) else { ByteMutator.mutate(&data, &rng, others: others); return }
        let row = rng.below(lines.count)
        var cellsOfRow = lines[row].split(separator: 0x2C, omittingEmptySubsequences: false).map(Array.init)
        switch rng.below(6) {
        case 0, 1:   // one cell
            let c = rng.below(max(1, cellsOfRow.count))
            if cellsOfRow.isEmpty { cellsOfRow = [[]] }
            cellsOfRow[c] = Array(rng.pick(cells).utf8)
            lines[row] = Array(cellsOfRow.joined(separator: [0x2C]))
        case 2:      // drop a column everywhere
            let c = rng.below(max(1, cellsOfRow.count))
            lines = lines.map { l in
                var cs = l.split(separator: 0x2C, omittingEmptySubsequences: false).map(Array.init)
                if c < cs.count { cs.remove(at: c) }
                return Array(cs.joined(separator: [0x2C]))
            }
        case 3:      // repeat a row many times
            let copies = min(rng.pick([2, 100, 5000]), max(1, maxCaseBytes / max(1, lines[row].count + 1) - lines.count))
            lines.insert(contentsOf: [[UInt8]](repeating: lines[row], count: copies), at: row)
        case 4:      // delete a row (maybe the header)
            lines.remove(at: row)
        default:     // an extra cell
            lines[row] += Array(("," + rng.pick(cells)).utf8)
        }
        data = Array(lines.joined(separator: [0x0A]))
    }
}
