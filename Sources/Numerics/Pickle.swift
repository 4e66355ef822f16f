import Foundation

/// A value of a Python pickle restricted to plain data.
public indirect enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// A dict's items in insertion order (Python 3.7+ keeps it; FedScale's client order).
    case dict([Pair])

    /// One key/value item of a dict.
    public struct Pair: Sendable, Equatable {
        public var key: PickleValue
        public var value: PickleValue
        public init(_ key: PickleValue, _ value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    /// The value for `key` of a dict with string keys.
    public subscript(key: String) -> PickleValue? {
        guard case let .dict(items) = self else { return nil }
        return items.last { $0.key == .string(key) }?.value
    }

    /// An int or float as a Double (bools are not numbers here).
    public var number: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .float(d): return d
        default: return nil
        }
    }

    /// The elements of a list or tuple.
    public var elements: [PickleValue]? {
        switch self {
        case let .list(a), let .tuple(a): return a
        default: return nil
        }
    }

    /// A short description of the value's Python type, for messages.
    public var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        }
    }

    /// A key as text for messages and files: a str as is, an int in decimal.
    public var keyText: String {
        switch self {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .float(d): return Quantity.shortest(d)
        case let .bytes(b): return String(decoding: b, as: UTF8.self)
        default: return typeName
        }
    }
}

/// A safe reader of Python pickles (protocols 2–5) that holds only data: None, bools, ints (up
/// to 64 bits), floats, str, bytes, lists, tuples, dicts and sets (read as lists), with the memo.
/// Every opcode that names or calls code — GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ,
/// NEWOBJ, NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID, buffers — and every unknown byte is refused
/// with the file and byte offset: the input is data, never code, and nothing in it is ever
/// imported or called. Bounded: lengths are checked against the bytes left before anything is
/// allocated, the stack and memo cannot outgrow the file, nesting is limited to `maxDepth` and
/// the values a memo reference may copy to `maxNodes`.
public struct PickleReader {
    /// Deepest nesting of containers accepted.
    public static let maxDepth = 100

    private let bytes: [UInt8]
    private let file: String
    private let keyPath: String
    private var pos = 0
    private let maxNodes: Int

    /// The default limit on values built (copies through memo references count): 64 per byte of
    /// input plus a margin, so a "billion laughs" pickle cannot expand without bound.
    public static func nodeLimit(bytes: Int) -> Int { 64 * bytes + 10_000 }

    private init(_ data: Data, file: String, keyPath: String, maxNodes: Int?) {
        bytes = [UInt8](data)
        self.file = file
        self.keyPath = keyPath
        self.maxNodes = maxNodes ?? PickleReader.nodeLimit(bytes: data.count)
    }

    /// Reads the one pickled value in `data` (from `file`, named in errors at `keyPath`).
    public static func read(_ data: Data, file: String, keyPath: String = "", maxNodes: Int? = nil) throws -> PickleValue {
        var reader = PickleReader(data, file: file, keyPath: keyPath, maxNodes: maxNodes)
        return try reader.run()
    }

    /// Reads the pickle in file `path` (regular files up to 1 GiB).
    public static func read(file path: String, shownAs name: String? = nil, keyPath: String = "") throws -> PickleValue {
        let data = try InputFile.read(path, keyPath: keyPath)
        return try read(data, file: name ?? path, keyPath: keyPath)
    }

    /// Whether `data` starts like a pickle of protocol 2 or later (the PROTO opcode, 0x80).
    public static func looksLikePickle(_ data: Data) -> Bool { data.first == 0x80 }

    // MARK: the machine

    /// Containers are references while the pickle is read (a memoized empty dict is filled
    /// afterwards, and a memo reference sees the filled one), values at the end.
    private final class Box {
        enum Kind { case list, dict, set }
        let kind: Kind
        var items: [Item] = []
        init(_ kind: Kind) { self.kind = kind }
    }

    private enum Item {
        case value(PickleValue)
        case box(Box)
        case tuple([Item])
        case mark
    }

    private func fail(_ offset: Int, _ what: String) -> InputError {
        InputError(.file(path: file, reason: "is not a pickle FedSim reads: at byte \(offset), \(what)"), at: keyPath)
    }

    private mutating func take(_ n: Int, at op: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - pos else {
            throw fail(op, "the file ends early (\(n) more byte(s) needed, \(bytes.count - pos) left): truncated")
        }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }

    private mutating func byte(at op: Int) throws -> UInt8 { try take(1, at: op).first ?? 0 }

    private mutating func unsigned(_ n: Int, at op: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (k, b) in try take(n, at: op).enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        return v
    }

    private mutating func length(_ n: Int, at op: Int) throws -> Int {
        let v = try unsigned(n, at: op)
        guard v <= UInt64(bytes.count - pos) else {
            throw fail(op, "a length of \(v) bytes, more than the \(bytes.count - pos) left: truncated or corrupt")
        }
        return Int(v)
    }

    private mutating func line(at op: Int) throws -> String {
        guard let end = bytes[pos...].firstIndex(of: 0x0A) else { throw fail(op, "a text argument without its newline: truncated") }
        defer { pos = end + 1 }
        return String(decoding: bytes[pos..<end], as: UTF8.self)
    }

    private func utf8(_ slice: ArraySlice<UInt8>, at op: Int) throws -> String {
        guard let s = String(validating: slice, as: UTF8.self) else { throw fail(op, "a str that is not valid UTF-8") }
        return s
    }

    private static let refused: [UInt8: String] = [
        0x63: "GLOBAL (imports a Python object)", 0x93: "STACK_GLOBAL (imports a Python object)",
        0x52: "REDUCE (calls a Python object)", 0x62: "BUILD (sets an object's state)", 0x69: "INST (creates an object)",
        0x6F: "OBJ (creates an object)", 0x81: "NEWOBJ (creates an object)", 0x92: "NEWOBJ_EX (creates an object)",
        0x82: "EXT1 (an extension-registry object)", 0x83: "EXT2 (an extension-registry object)", 0x84: "EXT4 (an extension-registry object)",
        0x50: "PERSID (a persistent object)", 0x51: "BINPERSID (a persistent object)",
        0x97: "NEXT_BUFFER (an out-of-band buffer)", 0x98: "READONLY_BUFFER (an out-of-band buffer)",
    ]

    private mutating func run() throws -> PickleValue {
        var stack: [Item] = []
        var memo: [Int: Item] = [:]
        func pop(_ op: Int) throws -> Item {
            guard let top = stack.popLast() else { throw fail(op, "an opcode needs a value but the stack is empty: corrupt") }
            if case .mark = top { throw fail(op, "an opcode needs a value but finds a MARK: corrupt") }
            return top
        }
        func popToMark(_ op: Int) throws -> [Item] {
            guard let m = stack.lastIndex(where: { if case .mark = $0 { return true }; return false }) else {
                throw fail(op, "an opcode needs a MARK but there is none: corrupt")
            }
            let items = Array(stack[(m + 1)...])
            stack.removeSubrange(m...)
            return items
        }
        func box(_ item: Item?, _ op: Int, _ kinds: Set<String>) throws -> Box {
            guard case let .box(b)? = item, kinds.contains("\(b.kind)") else { throw fail(op, "an opcode adds items to something that is not a \(kinds.sorted().joined(separator: " or ")): corrupt") }
            return b
        }
        func add(_ items: [Item], to b: Box, _ op: Int) throws {
            if b.kind == .dict, items.count % 2 != 0 { throw fail(op, "SETITEMS with an odd number of keys and values: corrupt") }
            b.items += items
        }
        guard bytes.first == 0x80 else {
            throw fail(0, bytes.isEmpty ? "the file is empty" : "it does not start with PROTO (0x80): not a pickle of protocol 2 or later")
        }
        while true {
            let op = pos
            let code = try byte(at: op)
            if let why = PickleReader.refused[code] {
                throw fail(op, "opcode \(why) refused: FedSim reads pickles of plain data (dicts, lists, numbers, strings) and never runs code from a file")
            }
            switch code {
            case 0x80: // PROTO
                let v = try byte(at: op)
                guard (2...5).contains(v) else { throw fail(op, "pickle protocol \(v); FedSim reads protocols 2 to 5") }
            case 0x95: _ = try unsigned(8, at: op) // FRAME: a length hint only
            case 0x2E: // STOP
                let top = try pop(op)
                guard stack.isEmpty else { throw fail(op, "STOP with \(stack.count) more values on the stack: corrupt") }
                var nodes = 0
                return try value(top, depth: 0, nodes: &nodes, op: op)
            case 0x28: stack.append(.mark)
            case 0x7D: stack.append(.box(Box(.dict))) // EMPTY_DICT
            case 0x5D: stack.append(.box(Box(.list))) // EMPTY_LIST
            case 0x8F: stack.append(.box(Box(.set))) // EMPTY_SET
            case 0x29: stack.append(.tuple([])) // EMPTY_TUPLE
            case 0x85: stack.append(.tuple([try pop(op)])) // TUPLE1
            case 0x86: let b = try pop(op), a = try pop(op); stack.append(.tuple([a, b])) // TUPLE2
            case 0x87: let c = try pop(op), b = try pop(op), a = try pop(op); stack.append(.tuple([a, b, c])) // TUPLE3
            case 0x74: stack.append(.tuple(try popToMark(op))) // TUPLE
            case 0x6C: let b = Box(.list); b.items = try popToMark(op); stack.append(.box(b)) // LIST
            case 0x64: let b = Box(.dict); try add(try popToMark(op), to: b, op); stack.append(.box(b)) // DICT
            case 0x91: let b = Box(.set); b.items = try popToMark(op); stack.append(.box(b)) // FROZENSET
            case 0x61: let v = try pop(op); try box(stack.last, op, ["list"]).items.append(v) // APPEND
            case 0x65: let items = try popToMark(op); try box(stack.last, op, ["list"]).items += items // APPENDS
            case 0x90: let items = try popToMark(op); try box(stack.last, op, ["set"]).items += items // ADDITEMS
            case 0x73: let v = try pop(op), k = try pop(op); try box(stack.last, op, ["dict"]).items += [k, v] // SETITEM
            case 0x75: let items = try popToMark(op); try add(items, to: try box(stack.last, op, ["dict"]), op) // SETITEMS
            case 0x4E: stack.append(.value(.none))
            case 0x88: stack.append(.value(.bool(true)))
            case 0x89: stack.append(.value(.bool(false)))
            case 0x4A: stack.append(.value(.int(Int64(Int32(bitPattern: UInt32(try unsigned(4, at: op))))))) // BININT
            case 0x4B: stack.append(.value(.int(Int64(try unsigned(1, at: op))))) // BININT1
            case 0x4D: stack.append(.value(.int(Int64(try unsigned(2, at: op))))) // BININT2
            case 0x8A, 0x8B: // LONG1, LONG4
                let n = try length(code == 0x8A ? 1 : 4, at: op)
                let raw = try take(n, at: op)
                guard n <= 8 else { throw fail(op, "an int of \(n) bytes, beyond the 64-bit integers FedSim reads") }
                var v: UInt64 = 0
                for (k, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
                if n > 0, n < 8, raw.last.map({ $0 & 0x80 != 0 }) == true { v |= ~0 << (8 * UInt64(n)) }
                stack.append(.value(.int(Int64(bitPattern: v))))
            case 0x49: // INT (text)
                let t = try line(at: op)
                if t == "01" { stack.append(.value(.bool(true))) } else if t == "00" { stack.append(.value(.bool(false))) } else {
                    guard let v = Int64(t) else { throw fail(op, "INT with '\(InputError.clipped(t, 40))', not a 64-bit integer") }
                    stack.append(.value(.int(v)))
                }
            case 0x4C: // LONG (text)
                var t = try line(at: op)
                if t.hasSuffix("L") { t.removeLast() }
                guard let v = Int64(t) else { throw fail(op, "LONG with '\(InputError.clipped(t, 40))', not a 64-bit integer") }
                stack.append(.value(.int(v)))
            case 0x47: stack.append(.value(.float(Double(bitPattern: UInt64(bigEndian: try unsigned(8, at: op)))))) // BINFLOAT
            case 0x46: // FLOAT (text)
                let t = try line(at: op)
                guard let v = Double(t) else { throw fail(op, "FLOAT with '\(InputError.clipped(t, 40))', not a number") }
                stack.append(.value(.float(v)))
            case 0x8C: let n = try length(1, at: op); stack.append(.value(.string(try utf8(try take(n, at: op), at: op)))) // SHORT_BINUNICODE
            case 0x58: let n = try length(4, at: op); stack.append(.value(.string(try utf8(try take(n, at: op), at: op)))) // BINUNICODE
            case 0x8D: let n = try length(8, at: op); stack.append(.value(.string(try utf8(try take(n, at: op), at: op)))) // BINUNICODE8
            case 0x55: let n = try length(1, at: op); stack.append(.value(.bytes(Array(try take(n, at: op))))) // SHORT_BINSTRING
            case 0x54: let n = try length(4, at: op); stack.append(.value(.bytes(Array(try take(n, at: op))))) // BINSTRING
            case 0x43: let n = try length(1, at: op); stack.append(.value(.bytes(Array(try take(n, at: op))))) // SHORT_BINBYTES
            case 0x42: let n = try length(4, at: op); stack.append(.value(.bytes(Array(try take(n, at: op))))) // BINBYTES
            case 0x8E, 0x96: let n = try length(8, at: op); stack.append(.value(.bytes(Array(try take(n, at: op))))) // BINBYTES8, BYTEARRAY8
            case 0x94: // MEMOIZE
                guard let top = stack.last else { throw fail(op, "MEMOIZE with an empty stack: corrupt") }
                memo[memo.count] = top
            case 0x71, 0x72, 0x70: // BINPUT, LONG_BINPUT, PUT
                let index: Int
                if code == 0x70 {
                    let t = try line(at: op)
                    guard let v = Int(t), v >= 0 else { throw fail(op, "PUT with '\(InputError.clipped(t, 40))', not a memo index") }
                    index = v
                } else {
                    index = Int(try unsigned(code == 0x71 ? 1 : 4, at: op))
                }
                guard let top = stack.last else { throw fail(op, "PUT with an empty stack: corrupt") }
                guard memo.count <= bytes.count else { throw fail(op, "more memo entries than bytes: corrupt") }
                memo[index] = top
            case 0x68, 0x6A, 0x67: // BINGET, LONG_BINGET, GET
                let index: Int
                if code == 0x67 {
                    let t = try line(at: op)
                    guard let v = Int(t) else { throw fail(op, "GET with '\(InputError.clipped(t, 40))', not a memo index") }
                    index = v
                } else {
                    index = Int(try unsigned(code == 0x68 ? 1 : 4, at: op))
                }
                guard let item = memo[index] else { throw fail(op, "a memo reference \(index) that was never stored: corrupt") }
                stack.append(item)
            case 0x30: _ = try pop(op) // POP
            case 0x31: _ = try popToMark(op) // POP_MARK
            case 0x32: // DUP
                guard let top = stack.last else { throw fail(op, "DUP with an empty stack: corrupt") }
                stack.append(top)
            default:
                throw fail(op, String(format: "opcode 0x%02X", code) + (code >= 0x20 && code < 0x7F ? " ('\(Character(Unicode.Scalar(code)))')" : "")
                           + " is not one FedSim reads (only plain data: dicts, lists, tuples, numbers, strings, bytes, None, bools)")
            }
            guard stack.count <= bytes.count else { throw fail(op, "more values than bytes: corrupt") }
        }
    }

    private func value(_ item: Item, depth: Int, nodes: inout Int, op: Int) throws -> PickleValue {
        nodes += 1
        guard nodes <= maxNodes else {
            throw fail(op, "more than \(maxNodes) values once memo references are expanded (a value shared too often, or a self-referencing structure)")
        }
        guard depth <= PickleReader.maxDepth else {
            throw fail(op, "containers nested deeper than \(PickleReader.maxDepth) levels (or a self-referencing structure)")
        }
        switch item {
        case let .value(v): return v
        case .mark: throw fail(op, "a MARK left on the stack: corrupt")
        case let .tuple(items): return .tuple(try items.map { try value($0, depth: depth + 1, nodes: &nodes, op: op) })
        case let .box(b):
            let items = try b.items.map { try value($0, depth: depth + 1, nodes: &nodes, op: op) }
            switch b.kind {
            case .list, .set: return .list(items)
            case .dict: return .dict(stride(from: 0, to: items.count - 1, by: 2).map { PickleValue.Pair(items[$0], items[$0 + 1]) })
            }
        }
    }
}
