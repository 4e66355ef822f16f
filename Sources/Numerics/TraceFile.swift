import Foundation

/// Time series read from trace files: a time column and a value column of a CSV file, each with a
/// mandatory unit (named in the header, `time_s,down_mbps` or `time (s),down (Mbps)`, or given
/// by the caller), or a Mahimahi packet-delivery trace. Used for time-varying link capacities
/// (docs/NETWORK-MODEL.md, "Time-varying links").
///
/// Every problem is an `InputError` `.file` naming the file as the input wrote it, with the line
/// and the column's header name where there is one.
public enum TraceFile {
    /// A time series: strictly increasing times (seconds, as in the file) and one value per time
    /// (in the base unit of its dimension).
    public struct Series: Sendable, Equatable {
        /// Sample times, seconds, strictly increasing.
        public var times: [Double]
        /// The value from each time until the next.
        public var values: [Double]
        /// The series' length when the format fixes it (Mahimahi: whole bins); nil: the reader's
        /// caller decides (`CapacityTrace`: the last interval repeated).
        public var length: Double?
        /// Creates a series.
        public init(times: [Double], values: [Double], length: Double? = nil) {
            self.times = times
            self.values = values
            self.length = length
        }
    }

    /// Units a header may name in lower case (`down_mbps`, `time_ms`), besides `Quantity`'s own
    /// case-sensitive ones (`down_Mbps`, `up (kbps)`). Only all-lower-case suffixes are looked up
    /// here, so `MBps` (megabytes) is never read as megabits.
    static let lowerCaseUnits: [Quantity.Dimension: [String: Double]] = [
        .bitRate: ["bps": 1, "kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12,
                   "bit/s": 1, "kbit/s": 1e3, "mbit/s": 1e6, "gbit/s": 1e9],
        .duration: ["s": 1, "sec": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "min": 60, "h": 3600],
    ]

    /// Spelled-out SI bit rates (case-sensitive), common in trace headers.
    static let spelledUnits: [Quantity.Dimension: [String: Double]] = [
        .bitRate: ["bit/s": 1, "kbit/s": 1e3, "Mbit/s": 1e6, "Gbit/s": 1e9, "Tbit/s": 1e12],
    ]

    /// The factor to the base unit of `unit` in `dimension`, or nil when it is not one of its units.
    public static func unitFactor(_ unit: String, _ dimension: Quantity.Dimension) -> Double? {
        let u = unit.trimmingCharactersInWhitespace()
        guard !u.isEmpty else { return nil }
        if Quantity.hasUnit("1" + u), let v = Quantity.parse("1" + u, as: dimension), v.isFinite, v > 0 { return v }
        if let f = spelledUnits[dimension]?[u] { return f }
        if u == u.lowercased(), let f = lowerCaseUnits[dimension]?[u] { return f }
        return nil
    }

    /// The unit a header cell names: inside brackets (`down (Mbps)`, `down [Mbit/s]`) or after the
    /// last underscore (`down_mbps`); nil when it names none.
    public static func headerUnit(_ header: String) -> String? {
        let h = header.trimmingCharactersInWhitespace()
        for (open, close) in [("(", ")"), ("[", "]")] where h.hasSuffix(close) {
            if let start = h.lastIndex(of: Character(open)) {
                return String(h[h.index(after: start)..<h.index(before: h.endIndex)]).trimmingCharactersInWhitespace()
            }
        }
        if let underscore = h.lastIndex(of: "_") {
            let suffix = String(h[h.index(after: underscore)...])
            return suffix.isEmpty ? nil : suffix
        }
        return nil
    }

    /// Resolves `file` against `baseDirectory` and reads it as UTF-8 text (regular files only,
    /// `InputFile`); errors name the file as the input wrote it.
    static func text(_ file: String, relativeTo baseDirectory: String?, keyPath: String) throws -> String {
        var resolved = file
        if !file.hasPrefix("/"), let baseDirectory { resolved = baseDirectory + "/" + file }
        let data: Data
        do {
            data = try InputFile.read(resolved, keyPath: keyPath)
        } catch let error as InputError {
            if case let .file(_, reason) = error.problem { throw InputError(.file(path: file, reason: reason), at: keyPath) }
            throw error
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw InputError(.file(path: file, reason: "is not UTF-8 text"), at: keyPath)
        }
        return text
    }

    /// The index of `column` (a header name, or a 0-based index) in `header`; an unknown one is an
    /// error naming the file, the nearest name and the columns there are.
    static func columnIndex(_ column: String, in header: [String], file: String, keyPath: String) throws -> Int {
        if let named = header.firstIndex(of: column) { return named }
        if let number = Int(column), number >= 0, number < header.count { return number }
        let hint = Suggestion.nearest(to: column, in: header).map { " (did you mean '\($0)'?)" } ?? ""
        throw InputError(.file(path: file, reason: "has no column '\(InputError.clipped(column, 60))'\(hint); columns: \(InputError.clipped(header.joined(separator: ", ")))"),
                         at: keyPath)
    }

    /// Non-blank lines with their 1-based line numbers (`\n` or `\r\n` line ends).
    static func lines(_ text: String) -> [(number: Int, text: Substring)] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .enumerated().compactMap { $0.element.trimmingCharactersInWhitespace().isEmpty ? nil : ($0.offset + 1, $0.element) }
    }

    /// Reads a time column and a value column of a CSV file with a header row.
    ///
    /// - `valueColumn`: a header name or 0-based index; its unit is `valueUnit` when given (it
    ///   must then agree with the header's, if the header names one), else the header's; a column
    ///   with neither is refused.
    /// - `timeColumn`: likewise (nil: the first column), with `timeUnit`.
    /// - Times must be finite and strictly increasing, values finite and ≥ 0, and there must be
    ///   at least one row.
    /// Errors: at `keyPath` for the file's problems, `unitsAt.unit` / `unitsAt.time_unit` for a
    /// unit given by the caller that is not one (or contradicts the header).
    public static func readCSV(file: String, relativeTo baseDirectory: String?, keyPath: String, unitsAt: String,
                               valueColumn: String, valueUnit: String?, valueDimension: Quantity.Dimension,
                               timeColumn: String?, timeUnit: String?) throws -> Series {
        func fail(_ reason: String) -> InputError { InputError(.file(path: file, reason: reason), at: keyPath) }
        var rows = lines(try text(file, relativeTo: baseDirectory, keyPath: keyPath))
        guard !rows.isEmpty else { throw fail("is empty") }
        let headerLine = rows.removeFirst()
        let header = headerLine.text.split(separator: ",", omittingEmptySubsequences: false).map { cell -> String in
            var c = cell.trimmingCharactersInWhitespace()
            if c.count >= 2, c.hasPrefix("\""), c.hasSuffix("\"") { c = String(c.dropFirst().dropLast()) }
            return c
        }
        if header.allSatisfy({ Double($0) != nil }) {
            throw fail("line \(headerLine.number): expected a header row naming each column with its unit (e.g. 'time_s,down_mbps'), found '\(InputError.clipped(String(headerLine.text), 60))'")
        }
        func index(_ column: String) throws -> Int { try columnIndex(column, in: header, file: file, keyPath: keyPath) }
        let valueIndex = try index(valueColumn)
        let timeIndex = try timeColumn.map(index) ?? 0
        guard timeIndex != valueIndex else {
            throw fail("line \(headerLine.number): expected a time column beside the rate column '\(InputError.clipped(header[valueIndex], 60))' (name it with \"time_column\"), found none")
        }
        /// The factor of a column: the caller's unit, else the header's, else refused.
        func factor(_ column: Int, given: String?, key: String, dimension: Quantity.Dimension, example: String) throws -> Double {
            let name = InputError.clipped(header[column], 60)
            let named = headerUnit(header[column])
            let fromHeader = named.flatMap { unitFactor($0, dimension) }
            if let given {
                guard let f = unitFactor(given, dimension) else {
                    throw InputError(.invalidValue(expected: "a \(dimension.rawValue) unit (\(dimension.unitList))", found: "\"\(InputError.clipped(given, 40))\""),
                                     at: unitsAt + "." + key)
                }
                if let fromHeader, fromHeader != f, let named {
                    throw InputError(.invalidValue(expected: "the unit the header of column '\(name)' names ('\(InputError.clipped(named, 20))') or no \"\(key)\"",
                                                   found: "\"\(InputError.clipped(given, 40))\""), at: unitsAt + "." + key)
                }
                return f
            }
            guard let fromHeader else {
                let what = named.map { "'\(InputError.clipped($0, 20))', which is not a \(dimension.rawValue) unit" } ?? "no unit"
                throw fail("line \(headerLine.number), column '\(name)': expected a header naming the column's \(dimension.rawValue) unit (e.g. '\(example)'), or \"\(key)\" in the scenario; found \(what)")
            }
            return fromHeader
        }
        let valueFactor = try factor(valueIndex, given: valueUnit, key: "unit", dimension: valueDimension, example: valueDimension == .bitRate ? "down_mbps" : "value_unit")
        let timeFactor = try factor(timeIndex, given: timeUnit, key: "time_unit", dimension: .duration, example: "time_s")
        var series = Series(times: [], values: [])
        series.times.reserveCapacity(rows.count)
        series.values.reserveCapacity(rows.count)
        for (number, line) in rows {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            func cell(_ i: Int) -> String { i < cells.count ? cells[i].trimmingCharactersInWhitespace() : "" }
            let tText = cell(timeIndex), vText = cell(valueIndex)
            guard let t = Double(tText), t.isFinite else {
                throw fail("line \(number), column '\(InputError.clipped(header[timeIndex], 60))': expected a finite time, found '\(InputError.clipped(tText, 60))'")
            }
            let time = t * timeFactor
            if let previous = series.times.last, !(time > previous) {
                throw fail("line \(number), column '\(InputError.clipped(header[timeIndex], 60))': expected a time after the previous row's \(Quantity.shortest(previous / timeFactor)) (times must increase), found '\(InputError.clipped(tText, 60))'")
            }
            guard let v = Double(vText), v.isFinite, v >= 0 else {
                throw fail("line \(number), column '\(InputError.clipped(header[valueIndex], 60))': expected a finite capacity ≥ 0, found '\(InputError.clipped(vText, 60))'")
            }
            series.times.append(time)
            series.values.append(v * valueFactor)
        }
        guard !series.times.isEmpty else { throw fail("has a header but no rows") }
        return series
    }

    /// The packet size of a Mahimahi trace's delivery opportunity: 1500 bytes.
    public static let mahimahiPacketBytes = 1500.0

    /// Reads a Mahimahi packet-delivery trace (one integer millisecond timestamp per line, each a
    /// delivery opportunity for one 1500-byte packet; Netravali et al., USENIX ATC 2015) as a
    /// capacity series of `bin`-second bins: a bin's rate is its opportunities × 12,000 bits ÷
    /// `bin`. The series' length is the last timestamp rounded up to whole bins (Mahimahi repeats
    /// a trace after its last timestamp).
    public static func readMahimahi(file: String, relativeTo baseDirectory: String?, keyPath: String, bin: Double) throws -> Series {
        func fail(_ reason: String) -> InputError { InputError(.file(path: file, reason: reason), at: keyPath) }
        let rows = lines(try text(file, relativeTo: baseDirectory, keyPath: keyPath))
        guard !rows.isEmpty else { throw fail("is empty") }
        var previous = -1.0
        var stamps: [Double] = []
        stamps.reserveCapacity(rows.count)
        for (number, line) in rows {
            let cell = line.trimmingCharactersInWhitespace()
            guard let ms = Double(cell), ms.isFinite, ms >= 0, ms == ms.rounded() else {
                throw fail("line \(number), column 1: expected a whole number of milliseconds ≥ 0, found '\(InputError.clipped(cell, 60))'")
            }
            guard ms >= previous else {
                throw fail("line \(number), column 1: expected a timestamp ≥ the previous line's \(Quantity.shortest(previous)) ms (timestamps must not decrease), found '\(InputError.clipped(cell, 60))'")
            }
            previous = ms
            stamps.append(ms)
        }
        guard let last = stamps.last, last > 0 else { throw fail("line \(rows[0].number), column 1: expected a last timestamp after 0 ms, found 0") }
        let binMs = bin * 1000
        let bins = max(1, Int((last / binMs).rounded(.up)))
        guard bins <= 100_000_000 else { throw fail("spans \(bins) bins of \(Quantity.humanReadable(bin, as: .duration)); expected at most 1e8 (choose a longer \"bin\")") }
        var counts = [Double](repeating: 0, count: bins)
        for ms in stamps {
            // An opportunity at ms delivers during (ms − 1, ms]: bin ⌊(ms − 1) / bin⌋, in whole milliseconds.
            let k = min(bins - 1, max(0, Int(((ms - 1) / binMs).rounded(.down))))
            counts[k] += 1
        }
        let bitsPerPacket = mahimahiPacketBytes * 8
        return Series(times: (0..<bins).map { Double($0) * bin }, values: counts.map { $0 * bitsPerPacket / bin }, length: Double(bins) * bin)
    }
}
