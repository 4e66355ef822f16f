import Foundation

/// How long moving `bytes` over a client's link takes, phase by phase. Formulas and sources in
/// docs/NETWORK-MODEL.md.
public enum TransferModel: String, Sendable, Codable, CaseIterable {
    /// Connection set-up, slow start from an initial window of 10 segments, then the rate
    /// min(link, loss-limited (Padhye et al. 1998), fair share of the server link).
    case tcp
    /// RTT/2 + bytes / rate: what simpler simulators assume.
    case fluid
}

/// TCP constants of the `tcp` model.
public struct TCPParameters: Sendable, Equatable, Codable {
    /// Maximum segment size in bytes (1448: a 1500-byte MTU minus IP, TCP and timestamp headers).
    public var mssBytes: Double = 1448
    /// Initial congestion window in segments (RFC 6928).
    public var initialWindowSegments: Double = 10
    /// Round trips of the TLS handshake before data (TLS 1.3: 1; 0 for plain TCP).
    public var tlsRoundTrips: Double = 1
    /// Minimum retransmission timeout in seconds (Linux: 0.2 s), the T0 floor of Padhye's formula.
    public var minRTOSeconds: Double = 0.2
    /// Segments acknowledged by one ACK in Padhye's formula (b; 1 with appropriate byte counting).
    public var segmentsPerAck: Double = 1
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
    /// The loss-limited TCP throughput of Padhye, Firoiu, Towsley & Kurose (SIGCOMM 1998), in bit/s:
    /// MSS / (RTT·√(2bp/3) + T0·min(1, 3√(3bp/8))·p·(1 + 32p²)); infinite without loss.
    public static func lossLimitedRate(rttSeconds rtt: Double, loss p: Double, tcp: TCPParameters) -> Double {
        guard p > 0 else { return .infinity }
        let b = tcp.segmentsPerAck
        let t0 = max(tcp.minRTOSeconds, 2 * rtt)
        let denominator = rtt * (2 * b * p / 3).squareRoot() + t0 * min(1, 3 * (3 * b * p / 8).squareRoot()) * p * (1 + 32 * p * p)
        return tcp.mssBytes * 8 / denominator
    }

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
            let lossRate = TransferModel.lossLimitedRate(rttSeconds: rtt, loss: link.loss, tcp: tcp)
            let rate = min(link.rateBitsPerSecond, lossRate, shareBitsPerSecond)
            let limitedBy = rate == link.rateBitsPerSecond ? "link" : rate == lossRate ? "loss" : "share"
            let setup = connectionKept ? 0 : rtt * (1 + tcp.tlsRoundTrips)
            let slow = TransferModel.slowStart(bytes: bytes, rate: rate, rtt: rtt, tcp: tcp)
            let steady = max(0, bytes - slow.bytes) * 8 / rate
            return TransferTiming(setupSeconds: setup, slowStartSeconds: slow.seconds, steadySeconds: steady, propagationSeconds: rtt / 2,
                                  slowStartBytes: min(bytes, slow.bytes), rateBitsPerSecond: rate, limitedBy: limitedBy)
        }
    }

    /// Slow start from W0 = IW·MSS, doubling each round trip until the window covers the
    /// bandwidth-delay product R·RTT: round k sends W0·2^k bytes, starting at k·RTT. Returns the time
    /// until the window covers the BDP (or until the last byte leaves, if the transfer is shorter)
    /// and the bytes sent by then.
    public static func slowStart(bytes: Double, rate: Double, rtt: Double, tcp: TCPParameters) -> (seconds: Double, bytes: Double) {
        let w0 = tcp.initialWindowSegments * tcp.mssBytes
        let bdp = rate * rtt / 8
        guard bdp > w0, rtt > 0 else { return (0, 0) }
        // Rounds until the window reaches the BDP.
        let rounds = (log2(bdp / w0)).rounded(.up)
        let bytesInSlowStart = w0 * (pow(2, rounds) - 1)
        if bytes > bytesInSlowStart { return (rounds * rtt, bytesInSlowStart) }
        // The transfer ends during slow start, in round m − 1 (0-based).
        let m = max(1, (log2(bytes / w0 + 1)).rounded(.up))
        let before = w0 * (pow(2, m - 1) - 1)
        return ((m - 1) * rtt + (bytes - before) * 8 / rate, bytes)
    }
}
