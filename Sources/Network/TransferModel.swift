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
    /// NewReno (RFC 6582): W ← W/2 after a loss, then one segment more per round trip (or per
    /// round trip and ACK ratio, with `TCPParameters.ackCounting` = `.perACK`).
    case reno
    /// BBR v1 (Cardwell et al. 2016; as ns-3.37's TcpBbr): startup at gain 2/ln 2, drain,
    /// probe-bandwidth at the bottleneck rate whatever the random loss, probe-RTT every 10 s
    /// (`bbrRounds`).
    case bbr
}

/// How a Reno window counts what is acknowledged.
public enum AckCounting: String, Sendable, Codable, CaseIterable {
    /// By acknowledged segments (Linux; RFC 3465 byte counting): slow start doubles the window per
    /// round trip, congestion avoidance adds one segment per round trip.
    case perSegment = "per-segment"
    /// By ACKs (ns-3.37's TcpNewReno): with an ACK every `segmentsPerACK` segments, slow start grows
    /// the window 1 + 1/b per round trip and congestion avoidance adds 1/b segment.
    case perACK = "per-ack"
}

/// How random packet losses fall on the segments sent.
public enum LossSpacing: String, Sendable, Codable, CaseIterable {
    /// Gaps between losses follow the geometric distribution of independent losses, taken at the
    /// points of a van der Corput sequence (deterministic, every stretch of 2^k losses a stratified
    /// sample): short and long gaps as a real lossy link has them.
    case geometric
    /// A loss every 1/p segments exactly (the earlier model; a lower bound on CUBIC's throughput,
    /// whose growth is convex in the time since the last loss).
    case even
}

/// TCP constants of the `tcp` model.
public struct TCPParameters: Sendable, Equatable, Codable {
    /// Maximum segment size in bytes (1448: a 1500-byte MTU minus IP, TCP and timestamp headers).
    public var mssBytes: Double = 1448
    /// Bytes a full segment takes on the link: the MSS plus TCP/IP headers (52 with timestamps) and
    /// the link layer's (14 for Ethernet II; ns-3's point-to-point link: 2). The payload moves at
    /// rate × mssBytes / frameBytes.
    public var frameBytes: Double = 1514
    /// Initial congestion window in segments (RFC 6928).
    public var initialWindowSegments: Double = 10
    /// Round trips of the TLS handshake before data (TLS 1.3: 1; 0 for plain TCP).
    public var tlsRoundTrips: Double = 1
    /// Minimum retransmission timeout in seconds (Linux: 0.2 s): a timeout costs RTT + this.
    public var minRTOSeconds: Double = 0.2
    /// The receiver's delayed-ACK timeout in seconds (Linux's minimum, 40 ms): a round trip that
    /// sends fewer than `segmentsPerACK` segments waits this long for its ACK.
    public var delayedAckSeconds: Double = 0.04
    /// Segments per ACK of the receiver (2: RFC 1122's delayed ACKs).
    public var segmentsPerACK: Double = 2
    /// Limited transmit (RFC 3042) with SACK: a loss is repaired by fast retransmit whenever at
    /// least one segment of the window survives (each survivor's ACK releases a new segment, whose
    /// ACK is another duplicate). Off: a window with fewer than 3 survivors times out.
    public var limitedTransmit: Bool = true
    /// CUBIC's fast convergence (RFC 8312 §4.6; Linux and ns-3): a loss below the last maximum
    /// lowers the remembered maximum to W·(1 + β)/2.
    public var fastConvergence: Bool = true
    /// How Reno counts acknowledgements (`.perSegment`: Linux; `.perACK`: ns-3.37).
    public var ackCounting: AckCounting = .perSegment
    /// How random losses are spaced over the segments.
    public var lossSpacing: LossSpacing = .geometric
    /// Under `.geometric` spacing, a lossy transfer's time is the median over this many loss
    /// patterns (the sequence rotated by k/n, k = 0…n−1): a typical transfer, as the median of
    /// repeated runs is.
    public var lossPatterns: Int = 5
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

    /// Bits on the link per payload bit: frame / MSS.
    public var wireFactor: Double { max(frameBytes, mssBytes) / mssBytes }

    /// The settings of the ns-3.37 stack `Validation/ns3/tcp_bulk.cc` runs, with `congestionControl`:
    /// plain TCP (no TLS), 1502-byte point-to-point frames, CUBIC without the Reno-friendly region,
    /// NewReno counting ACKs and without HyStart.
    public static func ns3(_ congestionControl: CongestionControl) -> TCPParameters {
        var tcp = TCPParameters()
        tcp.congestionControl = congestionControl
        tcp.tlsRoundTrips = 0
        tcp.frameBytes = 1502
        tcp.renoFriendly = false
        // ns-3.37's HyStart does not end slow start in Validation/ns3's runs (slow start fills the
        // one-BDP buffer and overflows it even without random loss), so the model's is off too.
        tcp.hyStart = false
        if congestionControl == .reno { tcp.ackCounting = .perACK }
        return tcp
    }
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
    static let windowLossEvents = 64
    /// Random losses (under geometric spacing) of a steady cycle window.
    static let windowLosses: UInt64 = 1024

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
        if tcp.congestionControl == .bbr { return bbrRounds(bytes: bytes, rate: rate, rtt: rtt, loss: p, tcp: tcp) }
        // Random losses: the median of `lossPatterns` stratified patterns (docs/NETWORK-MODEL.md),
        // unless the first already sees so many loss events that the pattern no longer matters.
        let patterns = p > 0 && tcp.lossSpacing == .geometric ? max(1, tcp.lossPatterns) : 1
        let first = windowPath(bytes: bytes, rate: rate, rtt: rtt, loss: p, tcp: tcp, exactRounds: exactRounds, roundLimit: roundLimit, rotation: 0)
        guard patterns > 1, first.lossEvents < TransferModel.patternLossEvents else { return first.timing }
        var paths = [first.timing]
        for r in 1..<patterns {
            paths.append(windowPath(bytes: bytes, rate: rate, rtt: rtt, loss: p, tcp: tcp, exactRounds: exactRounds, roundLimit: roundLimit,
                                    rotation: Double(r) / Double(patterns)).timing)
        }
        // Sorted by total time, ties by pattern: the middle one (the lower middle of an even count).
        let order = paths.indices.sorted { (paths[$0].slowStartSeconds + paths[$0].steadySeconds, $0) < (paths[$1].slowStartSeconds + paths[$1].steadySeconds, $1) }
        return paths[order[(patterns - 1) / 2]]
    }

    /// Loss events after which a transfer's time is taken from one loss pattern: the patterns'
    /// spread has averaged out (and long lossy transfers cost one path, not five).
    static let patternLossEvents = 256

    /// One path of the window (`windowRounds`) under the loss pattern rotated by `rotation` ∈ [0, 1).
    static func windowPath(bytes: Double, rate: Double, rtt: Double, loss p: Double, tcp: TCPParameters,
                           exactRounds: Int, roundLimit: Int, rotation: Double)
        -> (timing: (slowStartSeconds: Double, slowStartBytes: Double, steadySeconds: Double), lossEvents: Int) {
        guard bytes > 0 else { return ((0, 0, 0), 0) }
        guard bytes.isFinite, rate > 0, !rtt.isNaN, rtt < .infinity, p >= 0, p < 1 else { return ((.infinity, 0, .infinity), 0) }
        let mss = tcp.mssBytes, frame = max(tcp.frameBytes, mss)
        // Each segment takes a whole frame on the link: the payload moves at rate × MSS / frame.
        let payloadRate = rate * mss / frame
        guard rtt > 0 else { return ((bytes * 8 / payloadRate, bytes, 0), 0) }
        let bdp = payloadRate * rtt / 8 / mss                            // segments in flight that fill the pipe
        let capacity = bdp + max(tcp.bufferBDP * bdp, tcp.minimumBufferSegments)
        let beta = tcp.congestionControl == .reno ? 0.5 : 0.7, c = 0.4
        let perACK = tcp.congestionControl == .reno && tcp.ackCounting == .perACK
        let ackRatio = max(1, tcp.segmentsPerACK)
        let slowStartGrowth = perACK ? 1 + 1 / ackRatio : tcp.slowStartGrowth
        let renoIncrease = perACK ? 1 / ackRatio : 1
        let survivorsNeeded = tcp.limitedTransmit ? 1.0 : 3.0
        var randomLosses = LossSchedule(loss: p, spacing: tcp.lossSpacing, rotation: rotation)
        var w = tcp.initialWindowSegments, slowStart = true
        var t = 0.0, delivered = 0.0
        // CUBIC's state in whole segments, as Linux's bictcp and ns-3 keep it: the last maximum
        // (0: none since the start or a timeout), the curve's origin and K, the epoch's start.
        var lastMax = 0.0, origin = 0.0, ssthresh = Double.infinity, epoch = 0.0, k = 0.0, wEpoch = 0.0
        var slowStartEnd: (t: Double, bytes: Double)?
        var rounds = 0, lossEvents = 0
        var protectedSegments = 0.0
        // Past `exactRounds`: where the long-run measurement starts, and the current cycle window.
        var longRun: (t: Double, delivered: Double, rounds: Int)?
        var cycle: (t: Double, delivered: Double, losses: Int)?
        var cycleMark = UInt64.max
        /// A new congestion-avoidance epoch at window `w` (CUBIC's K from the remembered maximum).
        func startEpoch() {
            epoch = t
            wEpoch = w
            let segments = w.rounded(.down)
            if lastMax <= segments { k = 0; origin = segments } else { k = cbrt((lastMax - segments) / c); origin = lastMax }
        }
        while true {
            let remaining = bytes - delivered
            let sent = min(w * mss, remaining)
            let segments = sent / mss
            let serialisation = segments * frame * 8 / rate
            let overflow = max(0, segments - capacity)
            let random = randomLosses.draw(segments: segments, protected: protectedSegments)
            let lost = min(segments, overflow + random.count)
            // A loss among the round's first `protectedSegments` (sent before the last loss was
            // detected) is repaired in that recovery; a later one, or a full buffer, starts another.
            let event = overflow > 0 || random.unprotected > 0
            // Segments of the round sent before the loss that starts the event: their ACKs grew the
            // window (in slow start) and released new segments before the loss was seen.
            let beforeLoss = min(random.firstUnprotected, overflow > 0 ? capacity : segments)
            var protectedNext = 0.0
            if lost == 0 && sent >= remaining {
                t += serialisation
                break
            }
            delivered += sent - lost * mss
            t += max(rtt, serialisation)
            // Fewer segments than the receiver ACKs at once: the ACK waits for its delayed-ACK timer.
            if lost == 0 && segments < ackRatio { t += tcp.delayedAckSeconds }
            if event {
                lossEvents += 1
                let grewBy = slowStart ? slowStartGrowth : 1
                if slowStart { slowStartEnd = slowStartEnd ?? (t, delivered) }
                let window = min(slowStart ? w + (slowStartGrowth - 1) * beforeLoss : w, capacity)
                // Fast convergence: a loss below the last maximum remembers less.
                let segments = window.rounded(.down)
                lastMax = (tcp.fastConvergence && segments < lastMax ? segments * (1 + beta) / 2 : segments).rounded(.down)
                ssthresh = max(2, (beta * segments).rounded(.down))
                slowStart = false
                if window - lost < survivorsNeeded {
                    // Too few segments left in flight to raise duplicate ACKs: a retransmission timeout
                    // (which also makes CUBIC forget its maximum).
                    t += rtt + tcp.minRTOSeconds
                    w = 1
                    lastMax = 0
                    slowStart = true
                } else {
                    // Fast recovery (SACK): the lost segments are resent with the rest. The segments
                    // sent while the loss was on its way to being detected open the next round.
                    w = ssthresh
                    startEpoch()
                    protectedNext = min(w, beforeLoss * grewBy)
                }
            } else if lost > 0 {
                // Losses repaired within the recovery in progress: the window holds.
            } else if slowStart {
                w *= slowStartGrowth
                if w >= ssthresh {
                    // Slow start after a timeout ends at the threshold.
                    w = ssthresh
                    slowStart = false
                    startEpoch()
                } else if tcp.hyStart && w >= bdp * 1.125 {
                    slowStart = false
                    slowStartEnd = slowStartEnd ?? (t, delivered)
                    ssthresh = w
                    startEpoch()
                }
                if slowStartEnd == nil && w >= bdp { slowStartEnd = (t, delivered) }
            } else {
                switch tcp.congestionControl {
                case .reno, .bbr:     // (BBR never gets here: `bbrRounds`)
                    w += renoIncrease
                case .cubic:
                    // Linux's bictcp_update (and ns-3's TcpCubic::Update) per round trip: the target
                    // is the origin ± C·|t − K|³ truncated to whole segments; the window grows by
                    // one segment per `cnt` acknowledged, cnt = ⌊W / (target − W)⌋ ≥ 2 (at most 1.5×
                    // per round trip), 100·W at or above the target, at most 20 with no maximum known.
                    let since = t - epoch + rtt
                    let delta = (c * pow(abs(since - k), 3)).rounded(.down)
                    let target = since < k ? origin - delta : origin + delta
                    let segments = max(1, w.rounded(.down))
                    var cnt = target > segments ? max(2, (segments / (target - segments)).rounded(.down)) : 100 * segments
                    if lastMax == 0 { cnt = min(cnt, 20) }
                    var goal = target
                    if tcp.renoFriendly {
                        // The Reno-friendly region (RFC 8312 §4.2): never slower than Reno's estimate.
                        let estimate = wEpoch + 3 * (1 - beta) / (1 + beta) * since / rtt
                        if estimate > segments { cnt = max(2, min(cnt, (segments / (estimate - segments)).rounded(.down))); goal = max(goal, estimate) }
                    }
                    // Per ACK, cnt is recomputed as the window grows: over a round trip the window
                    // reaches the goal and no further (but never grows slower than the clamp allows).
                    let grown = w + w / cnt
                    let floor = w + w / (lastMax == 0 ? 20 : 100 * segments)
                    w = max(1, goal > w ? min(grown, max(goal, floor)) : grown)
                }
            }
            protectedSegments = protectedNext
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
            guard event else { continue }
            // Just after a loss event: a point of the sawtooth. Skip whole windows of cycles: under
            // geometric spacing a window is a block of `windowLosses` random losses (aligned in the
            // sequence, so its gaps are a stratified sample of the distribution), else
            // `windowLossEvents` loss events.
            let mark = tcp.lossSpacing == .geometric && p > 0 ? randomLosses.losses / TransferModel.windowLosses : UInt64(lossEvents / windowLossEvents)
            guard mark != cycleMark else { continue }
            cycleMark = mark
            guard let open = cycle else { cycle = (t, delivered, 0); continue }
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
        return ((end.t, min(end.bytes, bytes), t - end.t), lossEvents)
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

/// Where random losses fall (`LossSpacing`): the number lost among each round's segments.
struct LossSchedule {
    let loss: Double
    let spacing: LossSpacing
    /// `.even`: expected losses not yet counted. `.geometric`: segments until the next loss.
    private var carry = 0.0
    private var index: UInt64 = 0

    /// The pattern: every point of the sequence shifted by this, modulo 1 (a Cranley–Patterson rotation).
    let rotation: Double

    init(loss: Double, spacing: LossSpacing, rotation: Double = 0) {
        self.loss = loss
        self.spacing = spacing
        self.rotation = rotation
        if spacing == .geometric { carry = loss > 0 ? nextGap() : .infinity }
    }

    /// Point k ≥ 1 of the base-2 van der Corput sequence, in (0, 1).
    static func vanDerCorput(_ k: UInt64) -> Double {
        var x = k
        x = (x & 0x5555_5555_5555_5555) << 1 | (x >> 1) & 0x5555_5555_5555_5555
        x = (x & 0x3333_3333_3333_3333) << 2 | (x >> 2) & 0x3333_3333_3333_3333
        x = (x & 0x0F0F_0F0F_0F0F_0F0F) << 4 | (x >> 4) & 0x0F0F_0F0F_0F0F_0F0F
        x = x.byteSwapped
        return min(Double(x >> 11) * 0x1p-53, 1 - 0x1p-53)
    }

    /// Segments up to and including the next loss: the geometric distribution's quantile (mean 1/p)
    /// at the next point of the sequence.
    private mutating func nextGap() -> Double {
        index &+= 1
        var u = LossSchedule.vanDerCorput(index) + rotation
        if u >= 1 { u -= 1 }
        u = max(u, 0x1p-53)
        return max(1, (log1p(-u) / log1p(-loss)).rounded(.up))
    }

    /// Random losses drawn so far (geometric spacing).
    var losses: UInt64 { index &- 1 }

    /// Random losses among the next `segments` segments sent; of them, those at or after the first
    /// `protected` segments, and how many segments precede the first of those (`segments` when none).
    mutating func draw(segments: Double, protected: Double = 0) -> (count: Double, unprotected: Double, firstUnprotected: Double) {
        switch spacing {
        case .even:
            let before = carry
            carry += segments * loss
            let whole = carry.rounded(.down)
            carry -= whole
            guard whole > 0 else { return (0, 0, segments) }
            // The losses fall at (k − before)/p − 1, k = 1…whole.
            var unprotected = 0.0, first = segments
            for k in stride(from: 1.0, through: whole, by: 1) {
                let at = max(0, (k - before) / loss - 1)
                if at >= protected { unprotected += 1; first = min(first, at) }
            }
            return (whole, unprotected, first)
        case .geometric:
            var left = segments, n = 0.0, unprotected = 0.0
            var first = segments
            while carry <= left {
                let at = max(0, segments - left + carry - 1)
                if at >= protected {
                    if unprotected == 0 { first = at }
                    unprotected += 1
                }
                left -= carry
                n += 1
                carry = nextGap()
            }
            carry -= left
            return (n, unprotected, first)
        }
    }
}
