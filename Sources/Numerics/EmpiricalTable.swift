import Foundation

/// An observed sample used as a distribution: values (with optional weights) given inline or read
/// from a column of a CSV trace.
public struct EmpiricalTable: Sendable, Equatable {
    /// How draws are made.
    public enum Method: String, Sendable, CaseIterable, Codable {
        /// Draw one of the observed values, with probability proportional to its weight (`gsl_ran_discrete`).
        case resample
        /// Inverse CDF with linear interpolation between sorted values (numpy's default quantile rule).
        case interpolate
    }

    /// The observed values, in the order given.
    public let values: [Double]
    /// Per-value weights (only with `resample`); nil means equal weights.
    public let weights: [Double]?
    /// The sampling rule.
    public let method: Method
    /// Where the values came from, when read from a trace file (kept for the resolved scenario).
    public let source: TraceSource?
    /// `values` sorted ascending (with weights permuted alongside), for CDF and quantiles.
    public let sortedValues: [Double]
    let sortedCumulativeWeights: [Double]

    /// A reference to a CSV column.
    public struct TraceSource: Sendable, Equatable, Codable {
        /// The file, as written in the input (relative paths are relative to the input file's folder).
        public var file: String
        /// A column name from the header row, or a 0-based column index.
        public var column: String
        /// The unit of the column's bare numbers, e.g. `"Mbps"`; nil for the base unit.
        public var unit: String?
        /// Creates a source.
        public init(file: String, column: String, unit: String? = nil) {
            self.file = file
            self.column = column
            self.unit = unit
        }
    }

    /// Creates a table; `values` must be non-empty and finite, `weights` positive and as many.
    public init(values: [Double], weights: [Double]? = nil, method: Method = .resample, source: TraceSource? = nil) {
        self.values = values
        self.weights = weights
        self.method = method
        self.source = source
        let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        sortedValues = order.map { values[$0] }
        var cumulative: [Double] = []
        cumulative.reserveCapacity(values.count)
        var sum = 0.0
        for i in order {
            sum += weights?[i] ?? 1
            cumulative.append(sum)
        }
        sortedCumulativeWeights = cumulative.map { $0 / sum }
    }

    /// The mean of the distribution the table samples: the weighted mean of the values for
    /// `resample`, the mean of the piecewise-linear inverse CDF for `interpolate`.
    public var mean: Double {
        if method == .interpolate {
            let n = sortedValues.count
            guard n > 1 else { return sortedValues[0] }
            var sum = 0.0
            for i in 0..<(n - 1) { sum += (sortedValues[i] + sortedValues[i + 1]) / 2 }
            return sum / Double(n - 1)
        }
        guard let weights else { return values.reduce(0, +) / Double(values.count) }
        let total = weights.reduce(0, +)
        return zip(values, weights).reduce(0) { $0 + $1.0 * $1.1 } / total
    }

    /// P(X ≤ x): a step function for `resample`, piecewise linear for `interpolate`.
    public func cdf(_ x: Double) -> Double {
        let n = sortedValues.count
        switch method {
        case .resample:
            // Number of values ≤ x, by binary search.
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) / 2
                if sortedValues[mid] <= x { lo = mid + 1 } else { hi = mid }
            }
            return lo == 0 ? 0 : sortedCumulativeWeights[lo - 1]
        case .interpolate:
            if n == 1 { return x >= sortedValues[0] ? 1 : 0 }
            if x < sortedValues[0] { return 0 }
            if x >= sortedValues[n - 1] { return 1 }
            var lo = 0, hi = n - 1
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if sortedValues[mid] <= x { lo = mid } else { hi = mid }
            }
            let width = sortedValues[hi] - sortedValues[lo]
            let fraction = width > 0 ? (x - sortedValues[lo]) / width : 0
            return (Double(lo) + fraction) / Double(n - 1)
        }
    }

    /// The p-quantile under the table's method.
    public func quantile(_ p: Double) -> Double {
        let n = sortedValues.count
        switch method {
        case .resample:
            var lo = 0, hi = n - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if sortedCumulativeWeights[mid] >= p { hi = mid } else { lo = mid + 1 }
            }
            return sortedValues[lo]
        case .interpolate:
            let position = p * Double(n - 1)
            let i = min(Int(position.rounded(.down)), n - 1)
            let fraction = position - Double(i)
            return i + 1 < n ? sortedValues[i] + fraction * (sortedValues[i + 1] - sortedValues[i]) : sortedValues[i]
        }
    }

    /// Reads one numeric column of a CSV file with a header row.
    ///
    /// `column` is a header name or a 0-based index. Empty lines are skipped; any other cell that is
    /// not a finite number is an error naming its line.
    /// - Throws: `InputError` with `.file` problems at `keyPath`.
    public static func readColumn(file: String, column: String, relativeTo baseDirectory: String?,
                                  keyPath: String) throws -> [Double] {
        var lines = TraceFile.lines(try TraceFile.text(file, relativeTo: baseDirectory, keyPath: keyPath))
        guard !lines.isEmpty else { throw InputError(.file(path: file, reason: "is empty"), at: keyPath) }
        let header = lines.removeFirst().text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharactersInWhitespace() }
        let index = try TraceFile.columnIndex(column, in: header, file: file, keyPath: keyPath)
        var values: [Double] = []
        values.reserveCapacity(lines.count)
        for (number, line) in lines {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            let cell = index < cells.count ? cells[index].trimmingCharactersInWhitespace() : ""
            guard let value = Double(cell), value.isFinite else {
                throw InputError(.file(path: file, reason: "line \(number), column '\(InputError.clipped(header[index], 60))': expected a number, found '\(InputError.clipped(cell, 60))'"), at: keyPath)
            }
            values.append(value)
        }
        guard !values.isEmpty else { throw InputError(.file(path: file, reason: "has a header but no rows"), at: keyPath) }
        return values
    }
}
