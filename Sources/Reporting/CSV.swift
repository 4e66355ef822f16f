import Foundation
import Numerics

/// CSV as RFC 4180 says: fields with a comma, a double quote, CR or LF are quoted, quotes doubled;
/// the reader accepts exactly that (and LF or CRLF line ends). Every CSV FedSim writes goes
/// through `row` (by way of a `CSVTable`), every CSV it reads through `records`.
public enum CSV {
    /// One field, quoted when it needs to be.
    public static func field(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One record and its line end.
    public static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\n" }

    /// A record read back, with the line of the file it starts on (1-based; a quoted field may
    /// span lines).
    public struct Record: Sendable, Equatable {
        public var line: Int
        public var fields: [String]
    }

    /// The records of `text` (from `file`), the header first; empty lines are skipped. A quote
    /// left open or a stray quote inside an unquoted field is an `InputError` naming the line.
    public static func records(_ text: String, file: String) throws -> [Record] {
        var records: [Record] = []
        var record: [String] = []
        var field = ""
        var quoted = false, inQuotes = false, afterQuote = false
        var line = 1, recordLine = 1
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        func bad(_ what: String) -> InputError { InputError(.file(path: file, reason: "not valid CSV at line \(line): \(what)"), at: "") }
        func endField() { record.append(field); field = ""; quoted = false; afterQuote = false }
        func endRecord() {
            endField()
            if !(record.count == 1 && record[0].isEmpty) { records.append(Record(line: recordLine, fields: record)) }
            record = []
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = n }
                    } else {
                        inQuotes = false; afterQuote = true
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case ",": endField()
            case "\n": endRecord(); line += 1; recordLine = line
            case "\r":
                if let n = next(), n != "\n" { pending = n }
                endRecord(); line += 1; recordLine = line
            case "\"":
                guard field.isEmpty, !quoted else { throw bad("a double quote inside an unquoted field") }
                inQuotes = true; quoted = true
            default:
                if afterQuote { throw bad("text after a closing quote") }
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw bad("a quoted field is never closed") }
        if !field.isEmpty || !record.isEmpty || quoted { endRecord() }
        return records
    }
}
