import Codec
import EventKernel
import Federation
import Foundation
import Network
import Numerics
import Scenario

// fedsim-validate [analytic] [maxmin] [ns3 [RESULTS.csv]]
// The checks of docs/VALIDATION.md; prints what it measured, exits 1 if a hard check fails.

func say(_ s: String) { print(s) }

/// A fluid scenario with constant links and a server that never binds, run for several
/// configurations; every round's duration against the formula.
func analytic() throws -> Bool {
    var worst = 0.0, checked = 0
    for (k, (down, up, rtt, samples, speed, aggregation)) in [("10Mbps", "5Mbps", "100ms", 100, "10TFLOPS", "1.5s"),
                                                              ("100Mbps", "20Mbps", "30ms", 1000, "50TFLOPS", "0s"),
                                                              ("2Mbps", "0.5Mbps", "600ms", 50, "2TFLOPS", "10s")].enumerated() {
        let json = """
        {"name": "analytic-\(k)", "seed": \(k + 1), "population": {"clients": 20, "samples": \(samples), "device_speed": "\(speed)"},
         "network": {"down": "\(down)", "up": "\(up)", "rtt": "\(rtt)", "loss": 0, "model": "fluid"},
         "server": {"down": "1Tbps", "up": "1Tbps", "aggregation": "\(aggregation)"},
         "selection": {"per_round": 20, "over_selection": 0},
         "workload": {"payload": {"model": "qwen2.5-0.5b", "rank": 8, "targets": ["q", "v"], "values": "bf16"}, "compute": {"tokens_per_sample": 256}},
         "arms": [{"codec": "lora"}, {"codec": "fedsrd", "sparsity": 0.9}, {"codec": "ffa-lora"}], "stop": {"rounds": 5}}
        """
        let s = try ScenarioParser.parse(try JSONValue.parse(Data(json.utf8), file: nil))
        let f = try FederationRun(config: s.config)
        let rDown = Quantity.parse(down, as: .bitRate)!, rUp = Quantity.parse(up, as: .bitRate)!, t = Quantity.parse(rtt, as: .duration)!
        let agg = Quantity.parse(aggregation, as: .duration)!
        let compute = Double(samples) * 256 * s.workload.payload!.model.trainingFLOPsPerToken(loraParameters: s.workload.payload!.loraParameters)
            / Quantity.parse(speed, as: .flopRate)!
        for arm in s.arms {
            let result = try f.run(arm: arm, recordClients: false)
            let sizes = try CodecRegistry.make(arm.codec, options: arm.options).payloadBytes(shapes: s.workload.payload!.shapes)
            for (i, round) in result.rounds.enumerated() {
                let download = i == 0 ? 0 : Double(sizes.download) * 8 / rDown + t / 2
                let expected = download + compute + Double(sizes.upload) * 8 / rUp + t / 2 + agg
                worst = max(worst, abs(round.endSeconds - round.startSeconds - expected) / expected)
                checked += 1
            }
        }
    }
    let ok = worst <= 1e-9
    defer { say("analytic  fluid rounds vs hand-computed: \(checked) rounds, worst relative error \(String(format: "%.2e", worst)) (goal ≤ 1e-9: \(ok ? "met" : "NOT met"))") }
    return ok
}

/// The incremental shared link against the brute-force reference on random flow sets.
func maxmin() -> Bool {
    var rng = SplitMix64(seed: 42)
    var worst = 0.0, flows = 0
    for trial in 0..<300 {
        let n = Int(rng.next() % 200) + 1
        let starts = (0..<n).map { _ in Double(rng.next() % 1000) / 10 }
        let bits = (0..<n).map { _ in Double(rng.next() % 1_000_000 + 1) }
        let caps = (0..<n).map { _ in Double(rng.next() % 50_000 + 100) }
        let capacity = Double(rng.next() % 400_000 + 1000)
        let sim = Simulator()
        let link = SharedLink(capacity: capacity, simulator: sim)
        var finish = [Double](repeating: .nan, count: n)
        for i in 0..<n {
            _ = sim.schedule(at: SimTime(seconds: starts[i])) { _ = link.start(bits: bits[i], cap: caps[i]) { finish[i] = sim.now.seconds } }
        }
        _ = sim.run()
        let reference = MaxMinReference.bruteForce(capacity: capacity, starts: starts, bits: bits, caps: caps)
        for i in 0..<n { worst = max(worst, abs(finish[i] - reference[i]) / max(1e-9, reference[i] - starts[i])) }
        flows += n
        _ = trial
    }
    let ok = worst <= 1e-6
    defer { say("max-min   incremental shared link vs brute force: 300 random flow sets, \(flows) flows, worst relative error of a flow's duration \(String(format: "%.2e", worst)) (≤ 1e-6: \(ok ? "met" : "NOT met"))") }
    return ok
}

/// Our tcp model against ns-3 bulk transfers (Validation/ns3/results.csv).
func ns3(_ path: String) throws -> Bool {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        say("ns-3      \(path) not found: run Validation/ns3/run.sh first (installs ns-3, ~minutes)")
        return false
    }
    // One line per ns-3 run: the point's figure is the median over its runs (a few lossy runs
    // fall into a storm of thousands of retransmission timeouts; the median is robust to them).
    var lines = text.split(separator: "\n").map(String.init)
    let header = lines.removeFirst().split(separator: ",").map(String.init)
    func column(_ name: String) -> Int { header.firstIndex(of: name)! }
    let cRate = column("rate_mbps"), cRTT = column("rtt_ms"), cLoss = column("loss"), cBytes = column("bytes"), cSeconds = column("seconds")
    let cRTOs = column("rtos"), cDrops = column("random_drops"), cQueueDrops = column("queue_drops")
    // The congestion control ns-3 ran (first column): CUBIC, or NewReno for the Reno cross-check.
    let variant = lines.first.map { String($0.split(separator: ",")[0]) } ?? "Cubic"
    let reno = variant.lowercased().contains("reno")
    var order: [[Double]] = []
    var storms = 0, total = 0
    var runs: [[Double]: [Double]] = [:]
    for line in lines where !line.isEmpty {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) ?? .nan }
        let key = [f[cRate], f[cRTT], f[cLoss], f[cBytes]]
        if runs[key] == nil { order.append(key) }
        total += 1
        // A timeout storm: far more retransmission timeouts than packets ever lost (ns-3.37 keeps
        // re-arming the timer after recovery; Linux's F-RTO would undo them). Not TCP: left out.
        if f[cRTOs] > 10 * max(1, f[cDrops] + f[cQueueDrops]) { storms += 1; runs[key, default: []] += []; continue }
        runs[key, default: []].append(f[cSeconds])
    }
    var rows: [(rate: Double, rtt: Double, loss: Double, bytes: Double, ns3: Double, ours: Double, error: Double)] = []
    var withinRange = 0
    for key in order {
        let seconds = runs[key]!.sorted()
        guard !seconds.isEmpty else { say("          (every run of \(key) was a timeout storm: point left out)"); continue }
        let median = seconds.count % 2 == 1 ? seconds[seconds.count / 2] : (seconds[seconds.count / 2 - 1] + seconds[seconds.count / 2]) / 2
        let link = LinkConditions(rateBitsPerSecond: key[0] * 1e6, rttSeconds: key[1] / 1e3, loss: key[2])
        let tcp = TCPParameters.ns3(reno ? .reno : .cubic)
        // ns-3 measures from the SYN to the last byte at the receiver: set-up (1 RTT), slow start,
        // steady state, and the last byte's one-way delay — exactly the model's phases.
        let ours = TransferModel.tcp.timing(bytes: key[3], link: link, tcp: tcp).totalSeconds
        rows.append((key[0], key[1], key[2], key[3], median, ours, (ours - median) / median))
        if ours >= seconds.first! * 0.99 && ours <= seconds.last! * 1.01 { withinRange += 1 }
    }
    let errors = rows.map { abs($0.error) }.sorted()
    let median = errors[errors.count / 2], worst = errors.last!
    var out = "rate_mbps,rtt_ms,loss,bytes,ns3_seconds,model_seconds,relative_error\n"
    for r in rows { out += "\(r.rate),\(r.rtt),\(r.loss),\(Int(r.bytes)),\(r.ns3),\(r.ours),\(r.error)\n" }
    let comparison = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(reno ? "comparison_\(variant).csv" : "comparison.csv")
    try out.write(to: comparison, atomically: true, encoding: .utf8)
    say("ns-3      \(variant): \(total) ns-3 runs, \(storms) left out as timeout storms (rtos > 10 × packets lost)")
    say("ns-3      tcp model vs ns-3 TCP bulk transfers: \(rows.count) points; |error| median \(String(format: "%.1f%%", median * 100)) (goal ≤ 10%: \(median <= 0.1 ? "met" : "NOT met")), worst \(String(format: "%.1f%%", worst * 100)) (goal ≤ 25%: \(worst <= 0.25 ? "met" : "NOT met"))")
    say("          the model lies within ns-3's own spread over its runs (min…max, ±1%) at \(withinRange) of \(rows.count) points")
    // Breakdown by loss rate and the worst points.
    for loss in Set(rows.map(\.loss)).sorted() {
        let e = rows.filter { $0.loss == loss }.map { abs($0.error) }.sorted()
        say(String(format: "          loss %-7g %3d points: median %5.1f%%, worst %5.1f%%", loss, e.count, e[e.count / 2] * 100, e.last! * 100))
    }
    say("          worst points (rate Mbps, RTT ms, loss, bytes: ns-3 s vs model s):")
    for r in rows.sorted(by: { abs($0.error) > abs($1.error) }).prefix(8) {
        say(String(format: "            %6g  %5g  %-7g %9.0f: %9.3f vs %9.3f (%+.1f%%)", r.rate, r.rtt, r.loss, r.bytes, r.ns3, r.ours, r.error * 100))
    }
    say("          per point: \(comparison.path.replacingOccurrences(of: FileManager.default.currentDirectoryPath + "/", with: ""))")
    // Each fix of the model, added one after the other, against the same medians.
    let points = rows.map { (LinkConditions(rateBitsPerSecond: $0.rate * 1e6, rttSeconds: $0.rtt / 1e3, loss: $0.loss), $0.bytes, $0.ns3) }
    let losses = Set(rows.map(\.loss)).sorted()
    say("          each model fix in turn (|error| median / worst, all points, then per loss \(losses.map { String(format: "%g", $0) }.joined(separator: ", "))):")
    for (name, tcp) in modelSteps(reno ? .reno : .cubic) {
        var errors: [Double: [Double]] = [:]
        for (link, bytes, truth) in points {
            let ours = TransferModel.tcp.timing(bytes: bytes, link: link, tcp: tcp).totalSeconds
            errors[link.loss, default: []].append(abs(ours - truth) / truth)
        }
        func summary(_ e: [Double]) -> String {
            let e = e.sorted()
            return String(format: "%5.1f%% / %6.1f%%", e[e.count / 2] * 100, e[e.count - 1] * 100)
        }
        let perLoss = losses.map { summary(errors[$0] ?? [0]) }.joined(separator: "  ")
        say("            \(name.padding(toLength: 60, withPad: " ", startingAt: 0)) \(summary(errors.values.flatMap { $0 }))   \(perLoss)")
    }
    // The ns-3 goals are reported, not enforced: the outliers are explained in docs/VALIDATION.md.
    return true
}

/// The model before this issue's fixes, then with each added in turn, ending at `TCPParameters.ns3`.
func modelSteps(_ cc: CongestionControl) -> [(String, TCPParameters)] {
    var tcp = TCPParameters()
    tcp.congestionControl = cc
    tcp.tlsRoundTrips = 0
    tcp.hyStart = false
    tcp.frameBytes = tcp.mssBytes
    tcp.limitedTransmit = false
    tcp.lossSpacing = .even
    var steps = [("Linux CUBIC/Reno (HyStart off), no frame overhead, even loss", tcp)]
    tcp.frameBytes = 1502
    steps.append(("+ payload rate × MSS/frame (1448/1502)", tcp))
    tcp.limitedTransmit = true
    steps.append(("+ limited transmit (RFC 3042)", tcp))
    if cc == .cubic {
        tcp.renoFriendly = false
        steps.append(("+ no Reno-friendly region (ns-3.37)", tcp))
    } else {
        tcp.renoFriendly = false   // CUBIC's only: no effect on Reno
        tcp.ackCounting = .perACK
        steps.append(("+ window grows per ACK (ns-3.37)", tcp))
    }
    tcp.lossSpacing = .geometric
    tcp.lossPatterns = 1
    steps.append(("+ geometric loss gaps (one pattern)", tcp))
    tcp.lossPatterns = 5
    steps.append(("+ median of 5 loss patterns (= ns-3.37 preset)", tcp))
    precondition(tcp == TCPParameters.ns3(cc), "the last step is the ns-3 preset")
    return steps
}

var args = Array(CommandLine.arguments.dropFirst())
if args.isEmpty { args = ["analytic", "maxmin", "ns3"] }
var i = 0
var failed = false
while i < args.count {
    switch args[i] {
    case "analytic": failed = try !analytic() || failed
    case "maxmin": failed = !maxmin() || failed
    case "ns3":
        var path = "Validation/ns3/results_runs.csv"
        if i + 1 < args.count, args[i + 1].hasSuffix(".csv") { path = args[i + 1]; i += 1 }
        failed = try !ns3(path) || failed
        // The Reno cross-check, when its results are there (`TCP=NewReno Validation/ns3/run.sh`).
        let renoPath = path.replacingOccurrences(of: "results_runs.csv", with: "results_NewReno_runs.csv")
        if renoPath != path, FileManager.default.fileExists(atPath: renoPath) { failed = try !ns3(renoPath) || failed }
    default:
        FileHandle.standardError.write(Data("usage: fedsim-validate [analytic] [maxmin] [ns3 [RESULTS.csv]]\n".utf8))
        exit(2)
    }
    i += 1
}
exit(failed ? 1 : 0)
