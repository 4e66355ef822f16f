import Foundation
import Numerics

/// How long moving `bytes` over a client's link takes, phase by phase. Formulas and sources in
/// docs/NETWORK-MODEL.md.
public enum TransferModel: String, Sendable, Codable, CaseIterable {
    /// Connection set-up, then the congestion window round trip by round trip (slow start from 10
    /// segments, HyStart, CUBIC or Reno after losses, bottleneck buffer overflow), at most the link
    /// rate or the fair share of the server link.
    case tcp
    /// RTT/2 + bytes / rate: what simpler simulators assume.
    case fluid
}

/// The congestion controller the `tcp` model follows.
public enum CongestionControl: String, Sendable, Codable, CaseIterable {
    /// CUBIC (RFC 8312; Linux's default): after a loss W ← β·W with β = 0.7, then
    /// W(t) = C·(t − K)³ + W_max with C = 0.4, never below the Reno-friendly estimate.
    case cubic
    /// NewReno (RFC 6582): W ← W/2 after a loss, then one segment more per round trip.
    case reno
}

/// TCP constants of the `tcp` model.
public struct TCPParameters: Sendable, Equatable, Codable {
    /// Maximum segment size in bytes (1448: a 1500-byte MTU minus IP, TCP and timestamp headers).
    public var mssBytes: Double = 1448
    /// Initial congestion window in segments (RFC 6928).
    public var initialWindowSegments: Double = 10
    /// Round trips of the TLS handshake before data (TLS 1.3: 1; 0 for plain TCP).
    public var tlsRoundTrips: Double = 1
    /// Minimum retransmission timeout in seconds (Linux: 0.2 s): a timeout costs RTT + this.
    public var minRTOSeconds: Double = 0.2
    /// The congestion controller.
    public var congestionControl: CongestionControl = .cubic
    /// Window growth per round trip in slow start (2: Linux, with appropriate byte counting).
    public var slowStartGrowth: Double = 2
    /// CUBIC's Reno-friendly region (RFC 8312 §4.2; in Linux, not in ns-3.37's TcpCubic).
    public var renoFriendly: Bool = true
    /// Leave slow start without a loss once the queue adds an eighth of the RTT (HyStart, on in Linux's CUBIC).
    public var hyStart: Bool = true
    /// The bottleneck buffer in bandwidth-delay products (1: the classic rule of thumb) …
    public var bufferBDP: Double = 1
    /// … but at least this many packets.
    public var minimumBufferSegments: Double = 100
    /// Defaults.
    public init() {}
}

/// One transfer's timing under a model.
public struct TransferTiming: Sendable, Equatable, Codable {
    /// Connection set-up (TCP handshake + TLS), 0 when the connection is kept.
    public var setupSeconds: Double
    /// Slow start: from the first data segment until the window covers the bandwidth-delay product
    /// (or the transfer ends, if it ends first).
    public var slowStartSeconds: Double
    /// Steady state at `rateBitsPerSecond`.
    public var steadySeconds: Double
    /// Propagation of the last byte to the receiver: RTT/2.
    public var propagationSeconds: Double
    /// Bytes sent during slow start.
    public var slowStartBytes: Double
    /// The steady-state rate.
    public var rateBitsPerSecond: Double
    /// What set the rate: "link", "loss" or "share".
    public var limitedBy: String

    /// The whole transfer.
    public var totalSeconds: Double { setupSeconds + slowStartSeconds + steadySeconds + propagationSeconds }
}

/// A client link in one direction, as the transfer model sees it.
public struct LinkConditions: Sendable, Equatable {
    /// The access link's rate in this direction, bit/s.
    public var rateBitsPerSecond: Double
    /// Round-trip time, s.
    public var rttSeconds: Double
    /// Packet loss probability in [0, 1).
    public var loss: Double
    public init(rateBitsPerSecond: Double, rttSeconds: Double, loss: Double) {
        self.rateBitsPerSecond = rateBitsPerSecond
        self.rttSeconds = rttSeconds
        self.loss = loss
    }
}

extension TransferModel {
    /// The timing of `bytes` over `link`, with the steady rate further capped at `shareBitsPerSecond`
    /// (a fair share of the server link; infinity when uncontended).
    public func timing(bytes: Double, link: LinkConditions, connectionKept: Bool = false,
                       shareBitsPerSecond: Double = .infinity, tcp: TCPParameters = TCPParameters()) -> TransferTiming {
        let rtt = link.rttSeconds
        switch self {
        case .fluid:
            let rate = min(link.rateBitsPerSecond, shareBitsPerSecond)
            return TransferTiming(setupSeconds: 0, slowStartSeconds: 0, steadySeconds: bytes * 8 / rate, propagationSeconds: rtt / 2,
                                  slowStartBytes: 0, rateBitsPerSecond: rate, limitedBy: rate < link.rateBitsPerSecond ? "share" : "link")
        case .tcp:
            let rate = min(link.rateBitsPerSecond, shareBitsPerSecond)
            let setup = connectionKept ? 0 : rtt * (1 + tcp.tlsRoundTrips)
            let w = TransferModel.windowRounds(bytes: bytes, rate: rate, rtt: rtt, loss: link.loss, tcp: tcp)
            let steadyRate = w.steadySeconds > 0 ? (bytes - w.slowStartBytes) * 8 / w.steadySeconds : rate
            let limitedBy = steadyRate >= 0.9 * rate ? (rate < link.rateBitsPerSecond ? "share" : "link") : (link.loss > 0 ? "loss" : "congestion")
            return TransferTiming(setupSeconds: setup, slowStartSeconds: w.slowStartSeconds, steadySeconds: w.steadySeconds, propagationSeconds: rtt / 2,
                                  slowStartBytes: w.slowStartBytes, rateBitsPerSecond: steadyRate, limitedBy: limitedBy)
        }
    }

    /// Rounds simulated one by one before a long transfer is extrapolated (`windowRounds`): a
    /// transfer of fewer rounds (at a 10 ms RTT, 43 minutes of sending) gets the exact round-by-round
    /// answer, bit for bit as before the bound.
    public static let exactRounds = 1 << 18
    /// Rounds after which the rest of a transfer is estimated in closed form, whatever its state.
    public static let roundLimit = 1 << 20
    /// Loss events of a steady cycle window after `exactRounds` before whole windows are skipped.
    static let windowLossEvents = 16

    /// The congestion window round trip by round trip (docs/NETWORK-MODEL.md): slow start, HyStart,
    /// losses — random ones as an expected count accumulated over the segments sent (a loss event
    /// each time it passes a whole number), and drops when the window exceeds the pipe plus the
    /// bottleneck buffer — each answered by CUBIC's or Reno's decrease, or by a timeout when the
    /// window is too small for fast retransmit. Returns the time from the first data segment until
    /// the last one leaves, split at the end of slow start.
    ///
    /// Bounded: after `exactRounds` rounds the window is in its loss sawtooth; a window of
    /// `windowLossEvents` whole loss cycles is measured (bytes, seconds) and repeated as many times as
    /// fit, and the last few cycles are simulated again. After `roundLimit` rounds (a transfer that
    /// barely delivers, e.g. at loss 0.9999999) the rest is the rate measured since `exactRounds`, or,
    /// with nothing delivered, one segment per 1/(1 − p) rounds of the measured length. Non-finite or
    /// non-positive rates and losses outside [0, 1) give infinite times.
    public static func windowRounds(bytes: Double, rate: Double, rtt: Double, loss p: Double,
                                    tcp: TCPParameters, exactRounds: Int = TransferModel.exactRounds,
                                    roundLimit: Int = TransferModel.roundLimit) -> (slowStartSeconds: Double, slowStartBytes: Double, steadySeconds: Double) {
        guard bytes > 0 else { return (0, 0, 0) }
        guard bytes.isFinite, rate > 0, !rtt.isNaN, rtt < .infinity, p >= 0, p < 1 else { return (.infinity, 0, .infinity) }
        let mss = tcp.mssBytes
        guard rtt > 0 else { return (bytes * 8 / rate, bytes, 0) }
        let bdp = rate * rtt / 8 / mss                                   // segments in flight that fill the pipe
        let capacity = bdp + max(tcp.bufferBDP * bdp, tcp.minimumBufferSegments)
        let beta = tcp.congestionControl == .cubic ? 0.7 : 0.5, c = 0.4
        var w = tcp.initialWindowSegments, slowStart = true
        var t = 0.0, delivered = 0.0, expectedLosses = 0.0
        var wMax = 0.0, epoch = 0.0, k = 0.0
        var slowStartEnd: (t: Double, bytes: Double)?
        var rounds = 0
        // Past `exactRounds`: where the long-run measurement starts, and the current cycle window.
        var longRun: (t: Double, delivered: Double, rounds: Int)?
        var cycle: (t: Double, delivered: Double, losses: Int)?
        while true {
            let remaining = bytes - delivered
            let sent = min(w * mss, remaining)
            let serialisation = sent * 8 / rate
            let segments = sent / mss
            let overflow = max(0, segments - capacity)
            expectedLosses += segments * p
            let random = expectedLosses.rounded(.down)
            expectedLosses -= random
            let lost = min(segments, overflow + random)
            if lost == 0 && sent >= remaining {
                t += serialisation
                break
            }
            delivered += sent - lost * mss
            t += max(rtt, serialisation)
            if lost > 0 {
                if slowStart { slowStartEnd = slowStartEnd ?? (t, delivered) }
                slowStart = false
                let window = min(w, capacity)
                if window - lost < 3 {
                    // Too few segments left in flight for three duplicate ACKs: a retransmission timeout.
                    t += rtt + tcp.minRTOSeconds
                    wMax = window
                    w = 1
                    slowStart = true
                    epoch = t
                    k = cbrt(wMax * (1 - beta) / c)
                } else {
                    // Fast recovery (SACK): the lost segments are resent with the rest.
                    wMax = window
                    w = max(2, beta * window)
                    epoch = t
                    k = cbrt(wMax * (1 - beta) / c)
                }
            } else if slowStart {
                w *= tcp.slowStartGrowth
                if wMax > 0 && w >= beta * wMax {
                    // Slow start after a timeout ends at the threshold.
                    w = beta * wMax
                    slowStart = false
                    epoch = t
                } else if tcp.hyStart && w >= bdp * 1.125 {
                    slowStart = false
                    slowStartEnd = slowStartEnd ?? (t, delivered)
                    wMax = w
                    epoch = t
                    k = 0
                }
                if slowStartEnd == nil && w >= bdp { slowStartEnd = (t, delivered) }
            } else {
                switch tcp.congestionControl {
                case .reno:
                    w += 1
                case .cubic:
                    let since = t - epoch + rtt
                    let cubic = c * pow(since - k, 3) + wMax
                    let friendly = tcp.renoFriendly ? wMax * beta + 3 * (1 - beta) / (1 + beta) * since / rtt : 0
                    w = max(1, min(max(cubic, friendly), 1.5 * w))
                }
            }
            rounds += 1
            guard rounds >= exactRounds else { continue }
            if longRun == nil { longRun = (t, delivered, rounds) }
            if rounds >= roundLimit, let start = longRun {
                // The rest in closed form, at the rate measured since `exactRounds`.
                let rest = max(0, bytes - delivered)
                let dD = delivered - start.delivered, dT = t - start.t
                if dD > 0 {
                    t += rest / dD * dT
                } else {
                    // Nothing delivered in the measurement: one segment gets through every 1/(1 − p) rounds.
                    t += (rest / mss).rounded(.up) * (dT / Double(rounds - start.rounds)) / (1 - p)
                }
                break
            }
            guard lost > 0 else { continue }
            // Just after a loss event: a point of the sawtooth. Skip whole windows of cycles.
            guard let open = cycle else { cycle = (t, delivered, 0); continue }
            let losses = open.losses + 1
            guard losses >= windowLossEvents else { cycle = (open.t, open.delivered, losses); continue }
            let dD = delivered - open.delivered, dT = t - open.t
            let repeats = ((bytes - delivered) / dD - 2).rounded(.down)
            if dD > 0, repeats >= 1 {
                delivered += repeats * dD
                t += repeats * dT
                epoch += repeats * dT
            }
            cycle = nil
        }
        let end = slowStartEnd ?? (t, bytes)
        return (end.t, min(end.bytes, bytes), t - end.t)
    }

}

extension TransferModel {
    /// The longest transfer the model is asked to answer: 1e9 s (≈ 31.7 years). `checkedTiming`
    /// refuses a longer one, with its estimate; nothing in a federated round is near it.
    public static let horizonSeconds = 1e9

    /// `timing(…)`, refused with an `InputError` at `keyPath` when the transfer would take longer than
    /// `horizonSeconds` (a loss rate near 1, a huge payload or a tiny rate), stating the estimate.
    public func checkedTiming(bytes: Double, link: LinkConditions, connectionKept: Bool = false,
                              shareBitsPerSecond: Double = .infinity, tcp: TCPParameters = TCPParameters(),
                              keyPath: String = "") throws -> TransferTiming {
        let t = timing(bytes: bytes, link: link, connectionKept: connectionKept, shareBitsPerSecond: shareBitsPerSecond, tcp: tcp)
        guard t.totalSeconds <= TransferModel.horizonSeconds else {
            throw InputError(.invalidValue(expected: "a transfer that ends within the model's horizon of \(TransferModel.describe(seconds: TransferModel.horizonSeconds))",
                                           found: "≈ \(TransferModel.describe(seconds: t.totalSeconds)) for \(TransferModel.describe(bytes: bytes, link: link)) (\(rawValue) model)"),
                             at: keyPath)
        }
        return t
    }

    /// "3.2e9 years (1.0e17 s)", "2 h (7200 s)": a long duration in words.
    static func describe(seconds: Double) -> String {
        guard seconds.isFinite else { return "forever (no segment gets through)" }
        let year = 365.25 * 86_400
        if seconds >= year { return "\(scientific(seconds / year)) years (\(scientific(seconds)) s)" }
        return "\(Quantity.humanReadable(seconds, as: .duration)) (\(scientific(seconds)) s)"
    }

    /// Two significant digits, in scientific notation outside [10⁻³, 10⁴): "3.2e9", "870", "1.0e-300".
    static func scientific(_ x: Double) -> String {
        guard x.isFinite, x != 0, abs(x) >= 1e4 || abs(x) < 1e-3 else { return Quantity.significant(x, 2) }
        let text = String(format: "%.1e", x)               // "3.2e+09", "1.0e-300"
        guard let e = text.firstIndex(of: "e") else { return text }
        var exponent = text[text.index(after: e)...]
        let negative = exponent.first == "-"
        exponent = exponent.drop { $0 == "+" || $0 == "-" || $0 == "0" }
        return text[..<e] + "e" + (negative ? "-" : "") + exponent
    }

    /// `value` for a message: human-readable in ordinary ranges, else scientific in the base unit.
    static func describe(_ value: Double, _ dimension: Quantity.Dimension) -> String {
        guard value.isFinite, value >= 1e-3, value < 1e15 else { return "\(scientific(value)) \(dimension.baseUnit)" }
        return Quantity.humanReadable(value, as: dimension)
    }

    static func describe(bytes: Double, link: LinkConditions) -> String {
        "\(describe(bytes, .bytes)) at \(describe(link.rateBitsPerSecond, .bitRate)), RTT \(describe(link.rttSeconds, .duration)), loss \(Quantity.shortest(link.loss))"
    }
}
