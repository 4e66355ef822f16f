import Foundation

/// The `tcp` model against the ns-3.37 bulk transfers of `Validation/ns3` (docs/VALIDATION.md):
/// one file of runs (`results_<variant>_runs.csv`), each point's median over its usable runs, and
/// the model's time for it under `TCPParameters.ns3`.
public struct NS3Comparison: Sendable {
    /// One grid point and its ns-3 runs.
    public struct Point: Sendable {
        public let rateMbps: Double, rttMs: Double, loss: Double, bytes: Double
        /// The seconds of its usable runs, sorted.
        public let runs: [Double]
        /// Their median.
        public var ns3Seconds: Double { NS3Comparison.median(sorted: runs) }
        public var link: LinkConditions { LinkConditions(rateBitsPerSecond: rateMbps * 1e6, rttSeconds: rttMs / 1e3, loss: loss) }
    }

    /// The point's model time and the relative error against ns-3's median.
    public struct Row: Sendable {
        public let point: Point
        public let modelSeconds: Double
        public var error: Double { (modelSeconds - point.ns3Seconds) / point.ns3Seconds }
    }

    /// ns-3's name of the congestion control (the first column: Cubic, NewReno, Bbr).
    public let variant: String
    /// The model's counterpart.
    public let congestionControl: CongestionControl
    /// Points with at least one usable run, in file order.
    public let points: [Point]
    /// Points every run of which was left out.
    public let emptyPoints: Int
    /// Runs in the file, and those left out: timeout storms (far more timeouts than packets lost:
    /// ns-3.37 re-arming its timer after recovery), unfinished (stopped at run.sh's wall-clock limit,
    /// seconds −1) and, for BBR only, collapses (slower than 3 × the payload-rate time plus 20 round
    /// trips: ns-3.37's TcpBbr pacing at a bandwidth sample of a few kbit/s for good).
    public let runs: Int, storms: Int, unfinished: Int, collapses: Int

    /// Reads a runs file; nil when it has no runs or lacks a column.
    public init?(csv text: String) {
        var lines = text.split(separator: "\n").map(String.init)
        guard !lines.isEmpty else { return nil }
        let header = lines.removeFirst().split(separator: ",").map(String.init)
        func column(_ name: String) -> Int? { header.firstIndex(of: name) }
        guard let cRate = column("rate_mbps"), let cRTT = column("rtt_ms"), let cLoss = column("loss"), let cBytes = column("bytes"),
              let cSeconds = column("seconds"), let cRTOs = column("rtos"), let cDrops = column("random_drops"),
              let cQueue = column("queue_drops"), let first = lines.first else { return nil }
        variant = String(first.split(separator: ",").first ?? "Cubic")
        let name = variant.lowercased()
        congestionControl = name.contains("bbr") ? .bbr : name.contains("reno") ? .reno : .cubic
        var order: [[Double]] = [], kept: [[Double]: [Double]] = [:]
        var total = 0, storms = 0, unfinished = 0, collapses = 0
        let width = max(cRate, cRTT, cLoss, cBytes, cSeconds, cRTOs, cDrops, cQueue)
        for line in lines where !line.isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) ?? .nan }
            guard f.count > width else { continue }
            let key = [f[cRate], f[cRTT], f[cLoss], f[cBytes]]
            if kept[key] == nil { order.append(key); kept[key] = [] }
            total += 1
            if f[cSeconds] < 0 { unfinished += 1; continue }
            if f[cRTOs] > 10 * max(1, f[cDrops] + f[cQueue]) { storms += 1; continue }
            if congestionControl == .bbr,
               f[cSeconds] > 3 * (f[cBytes] * 8 / (f[cRate] * 1e6 * 1448 / 1502) + 20 * f[cRTT] / 1e3) { collapses += 1; continue }
            kept[key, default: []].append(f[cSeconds])
        }
        let all = order.map { Point(rateMbps: $0[0], rttMs: $0[1], loss: $0[2], bytes: $0[3], runs: (kept[$0] ?? []).sorted()) }
        points = all.filter { !$0.runs.isEmpty }
        emptyPoints = all.count - points.count
        (runs, self.storms, self.unfinished, self.collapses) = (total, storms, unfinished, collapses)
    }

    /// The model's time for every point under `tcp` (default: the ns-3 preset of this variant):
    /// set-up (the handshake: ns-3 runs no TLS), slow start, steady state and RTT/2 — what ns-3
    /// measures from the SYN to the last byte at the receiver.
    public func rows(tcp: TCPParameters? = nil) -> [Row] {
        let tcp = tcp ?? TCPParameters.ns3(congestionControl)
        return points.map { Row(point: $0, modelSeconds: TransferModel.tcp.timing(bytes: $0.bytes, link: $0.link, tcp: tcp).totalSeconds) }
    }

    /// Median and worst |error| of `rows`.
    public static func summary(_ rows: [Row]) -> (median: Double, worst: Double) {
        let e = rows.map { abs($0.error) }.sorted()
        guard let worst = e.last else { return (0, 0) }
        return (median(sorted: e), worst)
    }

    /// The median of sorted, non-empty `values` (the mean of the middle two of an even count).
    static func median(sorted values: [Double]) -> Double {
        values.count % 2 == 1 ? values[values.count / 2] : (values[values.count / 2 - 1] + values[values.count / 2]) / 2
    }

    /// `summary` per loss rate, in increasing loss.
    public static func byLoss(_ rows: [Row]) -> [(loss: Double, points: Int, median: Double, worst: Double)] {
        Set(rows.map(\.point.loss)).sorted().map { loss in
            let r = rows.filter { $0.point.loss == loss }
            let s = summary(r)
            return (loss, r.count, s.median, s.worst)
        }
    }
}
