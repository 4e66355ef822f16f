import EventKernel
import Foundation
import Network
import Numerics

/// `fedsim net transfer`: one transfer's time under the network model, phase by phase.
struct NetCommand: Command {
    static let name = "net"
    static let abstract = "Time one transfer under the tcp or fluid model, phase by phase."
    static let options: [OptionSpec] = [
        OptionSpec("bytes", "SIZE", "Payload, e.g. 16MB, 4.2MiB, 800kB (bytes if no unit)."),
        OptionSpec("rate", "RATE", "The client link's rate in the transfer's direction, e.g. 10Mbps."),
        OptionSpec("rtt", "TIME", "Round-trip time, e.g. 80ms."),
        OptionSpec("loss", "P", "Packet loss rate in [0, 1) (default 0)."),
        OptionSpec("model", "M", "tcp (default): handshake + TLS 1.3, then the congestion window round trip\nby round trip (slow start from 10 segments, HyStart, CUBIC after losses,\nbuffer overflow), capped by the link and --share. fluid: RTT/2 + bytes/rate."),
        OptionSpec("kept", nil, "The connection is kept from an earlier transfer: no set-up."),
        OptionSpec("stack", "S", "linux (default: Linux's CUBIC with its Reno-friendly region, Ethernet frames)\nor ns-3.37 (the stack of Validation/ns3: no TLS, 1502-byte frames, CUBIC\nwithout the Reno-friendly region, NewReno counting ACKs)."),
        OptionSpec("cc", "CC", "Congestion control: cubic (default), reno or bbr."),
        OptionSpec("tls", nil, "A TLS 1.3 handshake (1 RTT) after TCP's (the default)."),
        OptionSpec("no-tls", nil, "Plain TCP: the handshake is the only set-up."),
        OptionSpec("tcp-friendly", "on|off", "CUBIC's Reno-friendly region (on: Linux; off: ns-3.37)."),
        OptionSpec("min-rto", "TIME", "Minimum retransmission timeout (default 200ms)."),
        OptionSpec("delayed-ack", "TIME", "The receiver's delayed-ACK timeout (default 40ms)."),
        OptionSpec("trace", "FILE", "A CSV trace of the link's rate over time (a header naming each column with\nits unit: time_s,down_mbps): the transfer starts at its first row and\nfollows it, as a traced link of a run does (the trace loops). Replaces --rate."),
        OptionSpec("trace-column", "COL", "The trace's rate column: a header name or 0-based index (default 1)."),
        OptionSpec("trace-offset", "TIME", "Start this far into the trace (default 0s)."),
        OptionSpec("trace-format", "F", "csv (default) or mahimahi (one millisecond timestamp per 1500-byte\ndelivery opportunity, counted in bins of --trace-bin, default 1s)."),
        OptionSpec("trace-bin", "TIME", "Mahimahi bins (default 1s)."),
        OptionSpec("frame", "SIZE", "Bytes a full segment takes on the link (default 1514: MSS 1448 + TCP/IP\nheaders + Ethernet II; ns-3's point-to-point link: 1502)."),
        OptionSpec("share", "RATE", "A fair share of a busy server link capping the rate (default none)."),
        OptionSpec("json", nil, "Print one JSON object {\"seconds\": …, \"phases\": {…}, …}."),
    ]

    static let help = """
    Time one transfer under FedSim's network model (docs/NETWORK-MODEL.md), with its phases:
    connection set-up, slow start, steady state and the last byte's propagation.

    USAGE:
      fedsim net transfer --bytes SIZE (--rate RATE | --trace FILE [--trace-column COL] [--trace-offset TIME]
                          [--trace-format csv|mahimahi] [--trace-bin TIME])
                          --rtt TIME [--loss P]
                          [--model tcp|fluid] [--kept] [--share RATE] [--json]
                          [--stack linux|ns-3.37] [--cc cubic|reno|bbr] [--tls | --no-tls]
                          [--tcp-friendly on|off] [--min-rto TIME] [--delayed-ack TIME] [--frame SIZE]

    \(options.helpText)

    A transfer that would take longer than the model's horizon (1e9 s, about 31.7 years: a loss
    rate near 1, a tiny rate or a huge payload) is refused with its estimate (exit 2). Transfers
    of more than 262,144 round trips are extrapolated from their steady loss cycles
    (docs/NETWORK-MODEL.md).

    EXAMPLES:
      fedsim net transfer --bytes 16MB --rate 12Mbps --rtt 60ms --loss 0.002
      fedsim net transfer --bytes 16MB --rate 12Mbps --rtt 60ms --loss 0.002 --cc bbr --no-tls
      fedsim net transfer --bytes 40MB --trace Scenarios/traces/lte-drive.csv --trace-column up_mbps --rtt 50ms
    """

    let bytes: Double
    let link: LinkConditions
    let model: TransferModel
    let kept: Bool
    let share: Double
    let json: Bool
    /// The TCP stack's settings.
    let tcp: TCPParameters
    /// The transfer's timing, computed (and refused beyond the model's horizon) while parsing; with
    /// a trace, at the trace's mean rate.
    let timing: TransferTiming
    /// The `--trace`, if given, and the transfer's whole time following it.
    let trace: CapacityTrace?
    let tracedSeconds: Double?

    init(arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, spec: Self.options)
        guard parsed.positional.first == "transfer" else {
            throw UsageError(parsed.positional.isEmpty ? "missing the action: 'transfer'" : "unknown action '\(InputError.clipped(parsed.positional[0]))' (expected 'transfer')")
        }
        guard parsed.positional.count == 1 else { throw UsageError("unexpected argument '\(InputError.clipped(parsed.positional[1]))'") }
        func quantity(_ name: String, _ dimension: Quantity.Dimension, required: Bool = true, default value: Double = 0) throws -> Double {
            guard let text = parsed.value(name) else {
                if required { throw UsageError("missing --\(name) (e.g. \(dimension.example.replacingOccurrences(of: "\"", with: "")))") }
                return value
            }
            guard let v = Quantity.parse(text, as: dimension), v.isFinite else {
                throw UsageError("--\(name) expects a \(dimension.rawValue) such as \(dimension.example.replacingOccurrences(of: "\"", with: "")), found '\(InputError.clipped(text))'")
            }
            return v
        }
        bytes = try quantity("bytes", .bytes)
        if parsed.value("trace") != nil && parsed.value("rate") != nil { throw UsageError("give --rate or --trace, not both") }
        let traced = try parsed.value("trace").map { file -> (CapacityTrace, Double) in
            let series: TraceFile.Series
            switch parsed.value("trace-format") ?? "csv" {
            case "csv":
                if parsed.value("trace-bin") != nil { throw UsageError("--trace-bin is for --trace-format mahimahi") }
                series = try TraceFile.readCSV(file: file, relativeTo: nil, keyPath: "--trace", unitsAt: "--trace", valueColumn: parsed.value("trace-column") ?? "1",
                                               valueUnit: nil, valueDimension: .bitRate, timeColumn: nil, timeUnit: nil)
            case "mahimahi":
                if parsed.value("trace-column") != nil { throw UsageError("--trace-column is for CSV traces") }
                let bin = try quantity("trace-bin", .duration, required: false, default: 1)
                guard bin > 0 else { throw UsageError("--trace-bin must be positive") }
                series = try TraceFile.readMahimahi(file: file, relativeTo: nil, keyPath: "--trace", bin: bin)
            case let other:
                throw UsageError("--trace-format expects csv or mahimahi, found '\(InputError.clipped(other))'")
            }
            let trace = CapacityTrace(times: series.times, rates: series.values, length: series.length)
            guard trace.meanRate > 0 else { throw UsageError("--trace: '\(InputError.clipped(file))' has no capacity (its time-weighted mean is 0)") }
            return (trace, try quantity("trace-offset", .duration, required: false))
        }
        let rate = try traced.map { $0.0.meanRate } ?? quantity("rate", .bitRate), rtt = try quantity("rtt", .duration)
        let loss = try quantity("loss", .dimensionless, required: false)
        guard bytes > 0 else { throw UsageError("--bytes must be positive") }
        guard rate > 0 else { throw UsageError("--rate must be positive") }
        guard rtt >= 0 else { throw UsageError("--rtt must not be negative") }
        guard loss >= 0, loss < 1 else { throw UsageError("--loss expects a probability in [0, 1), found \(Quantity.shortest(loss))") }
        link = LinkConditions(rateBitsPerSecond: rate, rttSeconds: rtt, loss: loss)
        let modelName = parsed.value("model") ?? "tcp"
        guard let m = TransferModel(rawValue: modelName) else {
            throw UsageError("--model expects tcp or fluid, found '\(InputError.clipped(modelName))'")
        }
        model = m
        kept = parsed.flag("kept")
        tcp = try NetCommand.tcpParameters(parsed)
        share = parsed.value("share") == nil ? .infinity : try quantity("share", .bitRate)
        guard share > 0 else { throw UsageError("--share must be positive") }
        json = parsed.flag("json")
        timing = try model.checkedTiming(bytes: bytes, link: link, connectionKept: kept, shareBitsPerSecond: share, tcp: tcp, keyPath: "net transfer")
        if let (trace, offset) = traced {
            guard offset >= 0 else { throw UsageError("--trace-offset must not be negative") }
            self.trace = trace
            tracedSeconds = NetCommand.tracedTransfer(bytes: bytes, trace: trace, offset: offset, link: link, model: model, tcp: tcp,
                                                      kept: kept, share: share)
        } else {
            self.trace = nil
            tracedSeconds = nil
        }
    }

    /// One transfer from client 0 (downlink, a link that follows `trace` from `offset`) on a
    /// simulator, as a run times it (`ClientTransfers`); the server's link is `share`.
    static func tracedTransfer(bytes: Double, trace: CapacityTrace, offset: Double, link: LinkConditions, model: TransferModel,
                               tcp: TCPParameters, kept: Bool, share: Double) -> Double {
        func constant(_ x: Double, _ d: Quantity.Dimension) -> Distribution { Distribution(.constant(x), dimension: d) }
        let source = LinkTrace.Source(files: ["--trace"], list: false, format: "csv")
        let links = LinkDistributions(downlink: constant(trace.meanRate, .bitRate), uplink: constant(trace.meanRate, .bitRate),
                                      rtt: constant(link.rttSeconds, .duration), loss: constant(link.loss, .dimensionless),
                                      downlinkTrace: LinkTrace(traces: [trace], loop: true, offset: .fixed(offset), source: source))
        let profile = NetworkProfile(name: "trace", summary: "--trace", body: .link(links), sources: ["--trace"])
        let population = Population(PopulationSpec(clients: 1), network: profile, seed: 1)
        let simulator = Simulator()
        let transfers = ClientTransfers(simulator: simulator, population: population, model: model, tcp: tcp,
                                        downlink: share, uplink: share, keepConnections: true)
        if kept { transfers.start(client: 0, bytes: 0, direction: .download) {} }
        _ = simulator.run()
        let start = simulator.now.seconds
        var end = Double.nan
        transfers.start(client: 0, bytes: Int(min(bytes, 9e18)), direction: .download) { end = simulator.now.seconds }
        _ = simulator.run()
        return end - start
    }

    func run(console: Console) throws -> Int32 {
        if let trace, let total = tracedSeconds { return try runTraced(console: console, trace: trace, total: total) }
        let t = timing
        if json {
            console.print(try jsonText(TransferJSON(t, model: model, bytes: bytes, link: link, kept: kept)))
            return 0
        }
        func s(_ x: Double) -> String { Quantity.humanReadable(x, as: .duration) }
        func r(_ x: Double) -> String { Quantity.humanReadable(x, as: .bitRate) }
        let b = Quantity.humanReadable(bytes, as: .bytes)
        console.print("transfer      \(b) at \(r(link.rateBitsPerSecond)), RTT \(s(link.rttSeconds)), loss \(Quantity.shortest(link.loss)) (\(model.rawValue) model)")
        var table = TextTable(["phase", "seconds", "what"], left: [2])
        if model == .tcp {
            table.add(["set-up", fixed(t.setupSeconds), kept ? "none: connection kept" : tcp.tlsRoundTrips > 0 ? "TCP handshake + TLS 1.3 (2 RTT)" : "TCP handshake (1 RTT)"])
            table.add(["slow start", fixed(t.slowStartSeconds),
                       tcp.congestionControl == .bbr ? "\(Quantity.humanReadable(t.slowStartBytes, as: .bytes)) in BBR's startup (until the bandwidth stops growing)"
                           : "\(Quantity.humanReadable(t.slowStartBytes, as: .bytes)) while the window grows from \(Quantity.shortest(tcp.initialWindowSegments)) segments (to the BDP or a loss)"])
        }
        table.add(["steady state", fixed(t.steadySeconds), "at \(r(t.rateBitsPerSecond)), limited by \(t.limitedBy)"])
        table.add(["propagation", fixed(t.propagationSeconds), "the last byte's one-way delay (RTT/2)"])
        table.add(["total", fixed(t.totalSeconds), "goodput \(r(bytes * 8 / t.totalSeconds))"])
        console.print(table.rendered())
        return 0
    }

    /// The `--trace` form: the whole time as a run's traced link gives it.
    private func runTraced(console: Console, trace: CapacityTrace, total: Double) throws -> Int32 {
        func r(_ x: Double) -> String { Quantity.humanReadable(x, as: .bitRate) }
        if json {
            let o = TracedTransferJSON(model: model.rawValue, bytes: bytes, rtt_s: link.rttSeconds, loss: link.loss, connection_kept: kept,
                                       seconds: total, goodput_bps: bytes * 8 / total,
                                       trace: .init(mean_rate_bps: trace.meanRate, length_s: trace.length, steps: trace.rates.count))
            console.print(try jsonText(o))
            return 0
        }
        let b = Quantity.humanReadable(bytes, as: .bytes)
        console.print("transfer      \(b) over a traced link (mean \(r(trace.meanRate)), \(trace.rates.count) steps over \(Quantity.humanReadable(trace.length, as: .duration))), RTT \(Quantity.humanReadable(link.rttSeconds, as: .duration)), loss \(Quantity.shortest(link.loss)) (\(model.rawValue) model)")
        var table = TextTable(["", "seconds", "what"], left: [2])
        table.add(["total", fixed(total), "goodput \(r(bytes * 8 / total)); at the mean rate constant: \(fixed(timing.totalSeconds)) s"])
        console.print(table.rendered())
        return 0
    }

    private func fixed(_ x: Double) -> String { Quantity.formatFixed(x, decimals: 3) }

    /// The TCP settings of the command line, over the chosen `--stack`'s.
    static func tcpParameters(_ parsed: ParsedArguments) throws -> TCPParameters {
        var settings: [(TCPSetting, String)] = []
        for setting in TCPSetting.allCases {
            guard let option = setting.option, let text = parsed.value(option) else { continue }
            settings.append((setting, text))
        }
        if parsed.flag("tls") && parsed.flag("no-tls") { throw UsageError("--tls and --no-tls contradict each other") }
        if parsed.flag("tls") { settings.append((.tls, "true")) }
        if parsed.flag("no-tls") { settings.append((.tls, "false")) }
        do {
            return try TCPParameters(settings: settings)
        } catch let error as TCPSettingError {
            throw UsageError("--\(error.setting.option ?? error.setting.rawValue) expects \(error.expected), found '\(InputError.clipped(error.found))'")
        }
    }
}

/// The `--json` form of `fedsim net transfer`.
struct TransferJSON: Encodable {
    struct Phases: Encodable {
        let setup: Double
        let slow_start: Double
        let steady: Double
        let propagation: Double
    }
    let model: String
    let bytes: Double
    let rate_bps: Double
    let rtt_s: Double
    let loss: Double
    let connection_kept: Bool
    let seconds: Double
    let phases: Phases
    let slow_start_bytes: Double
    let steady_rate_bps: Double
    let limited_by: String

    init(_ t: TransferTiming, model: TransferModel, bytes: Double, link: LinkConditions, kept: Bool) {
        self.model = model.rawValue
        self.bytes = bytes
        rate_bps = link.rateBitsPerSecond
        rtt_s = link.rttSeconds
        loss = link.loss
        connection_kept = kept
        seconds = t.totalSeconds
        phases = Phases(setup: t.setupSeconds, slow_start: t.slowStartSeconds, steady: t.steadySeconds, propagation: t.propagationSeconds)
        slow_start_bytes = t.slowStartBytes
        steady_rate_bps = t.rateBitsPerSecond
        limited_by = t.limitedBy
    }
}

/// The `--json` form of `fedsim net transfer --trace`.
struct TracedTransferJSON: Encodable {
    struct Trace: Encodable {
        let mean_rate_bps: Double
        let length_s: Double
        let steps: Int
    }
    let model: String
    let bytes: Double
    let rtt_s: Double
    let loss: Double
    let connection_kept: Bool
    let seconds: Double
    let goodput_bps: Double
    let trace: Trace
}
