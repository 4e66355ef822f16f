import Foundation
import Numerics

/// The columns of one CSV file, each with its header name, how it formats a row's field and how
/// it reads that field back typed: the single description a file is written from and read by.
public struct CSVTable<Row> {
    /// One column.
    public struct Column {
        public let name: String
        let format: (Row) -> String
        /// Stores the field in the row, or returns what a valid field would have been.
        let parse: (inout Row, String) -> String?
        /// Whether a file without this column still reads (the field keeps the blank row's value):
        /// for columns added after files were written.
        public private(set) var optional = false

        public init(_ name: String, format: @escaping (Row) -> String, parse: @escaping (inout Row, String) -> String?) {
            self.name = name
            self.format = format
            self.parse = parse
        }

        /// The same column, readable from files written before it existed.
        public func mayBeAbsent() -> Column {
            var c = self
            c.optional = true
            return c
        }
    }

    public let columns: [Column]
    /// The row that reading starts from before each column fills its field.
    let blank: Row

    public init(columns: [Column], blank: Row) {
        self.columns = columns
        self.blank = blank
    }

    public var header: [String] { columns.map(\.name) }

    /// The file: the header line, then one line per row.
    public func text<S: Sequence>(_ rows: S) -> String where S.Element == Row {
        var out = CSV.row(header)
        for r in rows { out += CSV.row(columns.map { $0.format(r) }) }
        return out
    }

    /// The rows of `text` (the contents of `file`). The header must name every column (in any
    /// order; columns it does not know are ignored) and every record have as many fields as the
    /// header; a field that does not read as its column's type is an `InputError` naming the
    /// file, the line, the column, what was expected and what was found.
    public func read(_ text: String, file: String) throws -> [Row] {
        let records = try CSV.records(text, file: file)
        guard let head = records.first else {
            throw InputError(.invalidValue(expected: "the header line (\(InputError.clipped(header.joined(separator: ","), 120)))", found: "an empty file"),
                             at: "line 1", file: file)
        }
        var index: [String: Int] = [:]
        for (i, name) in head.fields.enumerated() {
            guard index[name] == nil else {
                throw InputError(.invalidValue(expected: "each column once in the header", found: "'\(InputError.clipped(name, 40))' twice"),
                                 at: "line \(head.line)", file: file)
            }
            index[name] = i
        }
        let positions: [(Column, Int)] = try columns.compactMap { column in
            guard let i = index[column.name] else {
                if column.optional { return nil }
                throw InputError(.invalidValue(expected: "the column '\(column.name)' in the header",
                                               found: "the header '\(InputError.clipped(head.fields.joined(separator: ","), 120))'"),
                                 at: "line \(head.line)", file: file)
            }
            return (column, i)
        }
        var rows: [Row] = []
        rows.reserveCapacity(records.count - 1)
        for record in records.dropFirst() {
            guard record.fields.count == head.fields.count else {
                throw InputError(.invalidValue(expected: "\(head.fields.count) fields, as the header has", found: "\(record.fields.count)"),
                                 at: "line \(record.line)", file: file)
            }
            var row = blank
            for (column, i) in positions {
                let field = record.fields[i]
                if let expected = column.parse(&row, field) {
                    throw InputError(.invalidValue(expected: expected, found: field.isEmpty ? "nothing" : "'\(InputError.clipped(field, 40))'"),
                                     at: "line \(record.line), column '\(column.name)'", file: file)
                }
            }
            rows.append(row)
        }
        return rows
    }
}

extension CSVTable.Column {
    /// Text as it is.
    public static func text(_ name: String, _ key: WritableKeyPath<Row, String>) -> Self {
        Self(name, format: { $0[keyPath: key] }, parse: { row, s in row[keyPath: key] = s; return nil })
    }

    /// An integer in decimal.
    public static func integer<I: FixedWidthInteger>(_ name: String, _ key: WritableKeyPath<Row, I>) -> Self {
        Self(name, format: { String($0[keyPath: key]) }, parse: { row, s in
            guard let v = I(s) else { return "an integer in \(I.min)…\(I.max)" }
            row[keyPath: key] = v
            return nil
        })
    }

    /// A number, shortest round-trip text (`CSVTable.number`); nothing for NaN.
    public static func number(_ name: String, _ key: WritableKeyPath<Row, Double>) -> Self {
        Self(name, format: { CSVTable.number($0[keyPath: key]) }, parse: { row, s in
            guard let v = CSVTable.number(s) else { return "a number, or nothing (not a number)" }
            row[keyPath: key] = v ?? .nan
            return nil
        })
    }

    /// A number that may be absent (nothing in the file; NaN is written as nothing too).
    public static func optionalNumber(_ name: String, _ key: WritableKeyPath<Row, Double?>) -> Self {
        Self(name, format: { CSVTable.number($0[keyPath: key]) }, parse: { row, s in
            guard let v = CSVTable.number(s) else { return "a number, or nothing (none)" }
            row[keyPath: key] = v
            return nil
        })
    }

    /// An integer written as a number (`Quantity.shortest`), so very large values read back.
    public static func count(_ name: String, _ key: WritableKeyPath<Row, Int>) -> Self {
        Self(name, format: { Quantity.shortest(Double($0[keyPath: key])) }, parse: { row, s in
            guard let d = Double(s), let v = Int(exactly: d) else { return "a whole number" }
            row[keyPath: key] = v
            return nil
        })
    }

    /// An integer written as a number that may be absent (nothing).
    public static func optionalCount(_ name: String, _ key: WritableKeyPath<Row, Int?>) -> Self {
        Self(name, format: { $0[keyPath: key].map { Quantity.shortest(Double($0)) } ?? "" }, parse: { row, s in
            if s.isEmpty { row[keyPath: key] = nil; return nil }
            guard let d = Double(s), let v = Int(exactly: d) else { return "a whole number, or nothing (none)" }
            row[keyPath: key] = v
            return nil
        })
    }

    /// A flag written 1 or 0.
    public static func flag(_ name: String, _ key: WritableKeyPath<Row, Bool>) -> Self {
        Self(name, format: { $0[keyPath: key] ? "1" : "0" }, parse: { row, s in
            guard s == "1" || s == "0" else { return "1 or 0" }
            row[keyPath: key] = s == "1"
            return nil
        })
    }

    /// One of an enumeration's raw values.
    public static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ key: WritableKeyPath<Row, E>) -> Self where E.RawValue == String {
        Self(name, format: { $0[keyPath: key].rawValue }, parse: { row, s in
            guard let v = E(rawValue: s) else { return "one of " + E.allCases.map(\.rawValue).joined(separator: ", ") }
            row[keyPath: key] = v
            return nil
        })
    }

    /// A number computed from the other fields: written, and on reading only checked to be a
    /// number (or nothing), since the row holds what it is computed from.
    public static func derived(_ name: String, _ value: @escaping (Row) -> Double) -> Self {
        Self(name, format: { CSVTable.number(value($0)) }, parse: { _, s in CSVTable.number(s) == nil ? "a number, or nothing" : nil })
    }
}

extension CSVTable {
    /// Shortest round-trip text for a number (`Quantity.shortest`); empty for NaN or nil.
    public static func number(_ x: Double?) -> String {
        guard let x, !x.isNaN else { return "" }
        return Quantity.shortest(x)
    }

    /// A number field read back: nil when it is not a number, .some(nil) when empty.
    static func number(_ s: String) -> Double?? {
        if s.isEmpty { return .some(nil) }
        guard let d = Double(s) else { return nil }
        return .some(d)
    }
}
