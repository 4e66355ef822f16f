import Numerics

/// The TCP settings a scenario (`network.tcp`) or `fedsim net transfer` may give, by name, each
/// read from text so both read them alike. `stack` picks the preset the others modify.
public enum TCPSetting: String, Sendable, CaseIterable {
    case stack
    case congestionControl = "congestion_control"
    case tls
    case tcpFriendly = "tcp_friendly"
    case minRTO = "min_rto"
    case delayedAck = "delayed_ack"
    case initialWindow = "initial_window"
    case mss
    case frame
    case hyStart = "hystart"
    case ackCounting = "ack_counting"
    case limitedTransmit = "limited_transmit"
    case lossSpacing = "loss_spacing"
    case bufferBDP = "buffer_bdp"
    case minimumBuffer = "min_buffer"

    /// The `fedsim net transfer` option that sets it, if any (`tls` is the --tls/--no-tls pair).
    public var option: String? {
        switch self {
        case .stack: return "stack"
        case .congestionControl: return "cc"
        case .tcpFriendly: return "tcp-friendly"
        case .minRTO: return "min-rto"
        case .delayedAck: return "delayed-ack"
        case .frame: return "frame"
        default: return nil
        }
    }

    /// What the setting's value must be, in words.
    public var expected: String {
        switch self {
        case .stack: return "one of \(TCPStack.allCases.map(\.rawValue).joined(separator: ", "))"
        case .congestionControl: return "one of \(CongestionControl.allCases.map(\.rawValue).joined(separator: ", "))"
        case .tls, .hyStart, .limitedTransmit: return "true or false"
        case .tcpFriendly: return "on or off (or true/false)"
        case .minRTO, .delayedAck: return "a duration from 0 to 60 s, e.g. 200ms"
        case .initialWindow: return "a number of segments from 1 to 1000"
        case .mss: return "a size from 100 B to 64 kB, e.g. 1448"
        case .frame: return "a size from the MSS to MSS + 1 kB, e.g. 1514"
        case .ackCounting: return "one of \(AckCounting.allCases.map(\.rawValue).joined(separator: ", "))"
        case .lossSpacing: return "one of \(LossSpacing.allCases.map(\.rawValue).joined(separator: ", "))"
        case .bufferBDP: return "a number of bandwidth-delay products from 0 to 100"
        case .minimumBuffer: return "a number of packets from 1 to 10^7"
        }
    }

    /// One-line description for help and the schema.
    public var summary: String {
        switch self {
        case .stack: return "The preset the other settings modify: \"linux\" (default) or \"ns-3.37\" (the stack of Validation/ns3)."
        case .congestionControl: return "Congestion control: \"cubic\" (default), \"reno\" or \"bbr\"."
        case .tls: return "A TLS 1.3 handshake (1 RTT) after TCP's on every new connection (default true)."
        case .tcpFriendly: return "CUBIC's Reno-friendly region (RFC 8312 §4.2): on in Linux (default), off in ns-3.37."
        case .minRTO: return "Minimum retransmission timeout (Linux: 200ms); a timeout costs RTT + this."
        case .delayedAck: return "The receiver's delayed-ACK timeout (Linux's minimum: 40ms)."
        case .initialWindow: return "Initial congestion window, segments (RFC 6928: 10)."
        case .mss: return "Maximum segment size, bytes (1448: a 1500-byte MTU with timestamps)."
        case .frame: return "Bytes a full segment takes on the link (1514: Ethernet II; ns-3's point-to-point link: 1502)."
        case .hyStart: return "HyStart: leave slow start when the queue starts to build (on in Linux's CUBIC)."
        case .ackCounting: return "Reno's window counts acknowledged segments (\"per-segment\": Linux) or ACKs (\"per-ack\": ns-3.37)."
        case .limitedTransmit: return "Limited transmit (RFC 3042): fast retransmit whenever one segment of the window survives."
        case .lossSpacing: return "Random losses spaced as independent losses are (\"geometric\", default) or every 1/p segments (\"even\")."
        case .bufferBDP: return "The bottleneck buffer in bandwidth-delay products (default 1)."
        case .minimumBuffer: return "The bottleneck buffer's minimum, packets (default 100)."
        }
    }
}

/// Presets of `TCPSetting.stack`.
public enum TCPStack: String, Sendable, CaseIterable {
    /// Linux's defaults (`TCPParameters()`).
    case linux
    /// The ns-3.37 stack of Validation/ns3 (`TCPParameters.ns3`).
    case ns3 = "ns-3.37"
}

/// A TCP setting whose text is not what it must be.
public struct TCPSettingError: Error, Sendable {
    public let setting: TCPSetting
    public let found: String
    public var expected: String { setting.expected }
}

extension TCPParameters {
    /// The parameters of `settings` (name and text, in order), over the `stack` among them (Linux's
    /// if none); the congestion control given decides the ns-3 preset's Reno details.
    public init(settings: [(TCPSetting, String)]) throws {
        func fail(_ s: TCPSetting, _ text: String) -> TCPSettingError { TCPSettingError(setting: s, found: text) }
        var stack = TCPStack.linux
        var congestionControl: CongestionControl?
        for (setting, text) in settings {
            if setting == .stack {
                guard let s = TCPStack(rawValue: text) else { throw fail(setting, text) }
                stack = s
            } else if setting == .congestionControl {
                guard let c = CongestionControl(rawValue: text.lowercased()) else { throw fail(setting, text) }
                congestionControl = c
            }
        }
        switch stack {
        case .linux:
            self.init()
            if let congestionControl { self.congestionControl = congestionControl }
        case .ns3:
            self = TCPParameters.ns3(congestionControl ?? .cubic)
        }
        func bool(_ s: TCPSetting, _ text: String) throws -> Bool {
            switch text.lowercased() {
            case "true", "on", "yes": return true
            case "false", "off", "no": return false
            default: throw fail(s, text)
            }
        }
        func quantity(_ s: TCPSetting, _ text: String, _ dimension: Quantity.Dimension, _ range: ClosedRange<Double>) throws -> Double {
            guard let v = Quantity.parse(text, as: dimension), v.isFinite, range.contains(v) else { throw fail(s, text) }
            return v
        }
        let overhead = frameBytes - mssBytes
        for (setting, text) in settings {
            switch setting {
            case .stack, .congestionControl: break
            case .tls: tlsRoundTrips = try bool(setting, text) ? 1 : 0
            case .tcpFriendly: renoFriendly = try bool(setting, text)
            case .minRTO: minRTOSeconds = try quantity(setting, text, .duration, 0...60)
            case .delayedAck: delayedAckSeconds = try quantity(setting, text, .duration, 0...60)
            case .initialWindow: initialWindowSegments = try quantity(setting, text, .dimensionless, 1...1000)
            case .mss: mssBytes = try quantity(setting, text, .bytes, 100...65_536)
            case .frame: frameBytes = try quantity(setting, text, .bytes, 1...1e9)
            case .hyStart: hyStart = try bool(setting, text)
            case .ackCounting:
                guard let a = AckCounting(rawValue: text.lowercased()) else { throw fail(setting, text) }
                ackCounting = a
            case .limitedTransmit: limitedTransmit = try bool(setting, text)
            case .lossSpacing:
                guard let l = LossSpacing(rawValue: text.lowercased()) else { throw fail(setting, text) }
                lossSpacing = l
            case .bufferBDP: bufferBDP = try quantity(setting, text, .dimensionless, 0...100)
            case .minimumBuffer: minimumBufferSegments = try quantity(setting, text, .dimensionless, 1...1e7)
            }
        }
        // The frame carries the segment: at least the MSS, at most 1 kB of headers more. A new MSS
        // alone keeps the stack's headers.
        if let frame = settings.last(where: { $0.0 == .frame }) {
            guard frameBytes >= mssBytes, frameBytes <= mssBytes + 1024 else { throw fail(.frame, frame.1) }
        } else {
            frameBytes = mssBytes + overhead
        }
    }
}
