import Foundation

// BBR v1 (Cardwell et al., "BBR: Congestion-Based Congestion Control", ACM Queue 2016;
// draft-cardwell-iccrg-bbr-congestion-control-00; Linux net/ipv4/tcp_bbr.c), as ns-3.37's TcpBbr
// implements it. Formulas, the differences between ns-3 and Linux, and the validation:
// docs/NETWORK-MODEL.md ("BBR") and docs/VALIDATION.md.

extension TransferModel {
    /// BBR's startup pacing and cwnd gain, 2/ln 2 (the smallest gain that doubles the delivery rate
    /// every round trip); ns-3.37 uses 2.89, Linux 2.885.
    public static let bbrHighGain = 2 / log(2.0)
    /// The probe_bw cwnd gain: in flight at most twice the estimated bandwidth-delay product.
    public static let bbrCwndGain = 2.0
    /// Without a new minimum RTT for this long, BBR enters probe_rtt (10 s).
    public static let bbrProbeRTTInterval = 10.0
    /// How long probe_rtt holds the window at `bbrMinPipeSegments` (at least one round trip).
    public static let bbrProbeRTTSeconds = 0.2
    /// The window in probe_rtt, segments.
    public static let bbrMinPipeSegments = 4.0
    /// Startup rounds after which a transfer is forced out of startup (the bandwidth stops growing
    /// far earlier: doubling from 10 segments covers any finite rate in ~1000 rounds).
    static let bbrStartupRoundLimit = 4096

    /// BBR v1 round trip by round trip (docs/NETWORK-MODEL.md, "BBR"): startup doubles the delivery
    /// rate each round (pacing and cwnd gain 2/ln 2, cwnd += acked, packet conservation after a
    /// buffer overflow) until the bandwidth estimate has grown less than 25 % for 3 rounds; drain
    /// and probe_bw keep the bottleneck busy (pacing gains 1.25, 0.75, 1 × 6 average 1; in flight ≤
    /// 2 × BDP), so the steady state sends at the payload rate, minus random losses (BBR does not
    /// back off for them: each lost segment is simply sent again) and minus probe_rtt, which every
    /// `bbrProbeRTTInterval` holds the window at 4 segments for max(200 ms, 1 RTT) plus the round
    /// trip it takes to drain. Same contract as `windowRounds`: the time from the first data
    /// segment until the last one leaves, split at the end of startup; bounded work (at most
    /// `bbrStartupRoundLimit` rounds, the steady state in closed form); non-finite or non-positive
    /// rates and losses outside [0, 1) give infinite times.
    public static func bbrRounds(bytes: Double, rate: Double, rtt: Double, loss p: Double,
                                 tcp: TCPParameters) -> (slowStartSeconds: Double, slowStartBytes: Double, steadySeconds: Double) {
        guard bytes > 0 else { return (0, 0, 0) }
        guard bytes.isFinite, rate > 0, !rtt.isNaN, rtt < .infinity, p >= 0, p < 1 else {
            return (.infinity, 0, .infinity)
        }
        let mss = tcp.mssBytes
        let payloadRate = rate / tcp.wireFactor                             // bit/s of payload
        let goodput = payloadRate / 8 * (1 - p)                             // bytes/s that arrive
        guard rtt > 0 else { return (bytes / goodput, bytes, 0) }
        let segmentRate = payloadRate / 8 / mss                             // segments/s the bottleneck serves
        let bdp = segmentRate * rtt                                         // segments that fill the pipe
        let capacity = bdp + max(tcp.bufferBDP * bdp, tcp.minimumBufferSegments)

        // Startup, round by round.
        var w = tcp.initialWindowSegments, t = 0.0, delivered = 0.0, expectedLosses = 0.0
        var maxBandwidth = 0.0, fullBandwidth = 0.0, flatRounds = 0, overflowLost = 0.0, timedOut = false
        for round in 0..<bbrStartupRoundLimit {
            let remaining = bytes - delivered
            let sent = min(w * mss, remaining)
            let segments = sent / mss
            let serialisation = segments / segmentRate
            // Drops: what exceeds the pipe plus the bottleneck buffer, and the random ones (an
            // expected count, a loss each time it passes a whole number, as in `windowRounds`).
            let overflow = max(0, segments - capacity)
            expectedLosses += segments * p
            let random = expectedLosses.rounded(.down)
            expectedLosses -= random
            let lost = min(segments, overflow + random)
            if lost == 0 && sent >= remaining {
                // The transfer ends in startup: its last round only needs serialising.
                return (t + serialisation, bytes, 0)
            }
            let duration = max(rtt, serialisation)
            delivered += sent - lost * mss
            t += duration
            overflowLost += min(lost, overflow)
            if !timedOut && overflowLost >= 0.1 * capacity {
                // An overshoot that drops a tenth of the pipe plus buffer loses retransmissions too (the
                // queue stays full while startup paces at 2.89 ×): one retransmission timeout.
                timedOut = true
                t += rtt + tcp.minRTOSeconds
            }
            // The delivery-rate sample of the round and the windowed maximum (no sample ages out
            // within startup: the filter spans 10 rounds and the bandwidth only grows).
            let bandwidth = (segments - lost) / duration
            maxBandwidth = max(maxBandwidth, bandwidth)
            if maxBandwidth >= 1.25 * fullBandwidth {
                fullBandwidth = maxBandwidth
                flatRounds = 0
            } else {
                flatRounds += 1
            }
            if flatRounds >= 3 { break }                                    // the pipe is full
            let target = bbrHighGain * maxBandwidth * rtt + 3               // InFlight(high gain) + 3 quanta
            if lost > 0 {
                // Recovery: packet conservation for a round, the window cut by what was lost.
                w = max(bbrMinPipeSegments, min(w, capacity) - lost)
            } else if round == 0 {
                // ns-3.37: the initial window's ACKs grow the window by one segment only.
                w += 1
            } else {
                // cwnd += acked while below the target: doubling, capped at the target.
                w = w < target ? min(2 * w, target) : w
            }
        }
        let startup = (t: t, bytes: delivered)

        // Drain and probe_bw: the bottleneck stays busy at the payload rate (the queue startup left
        // drains into the link; the probe_bw gains average 1 with in flight between 1 and 2 BDP),
        // every lost segment sent again. probe_rtt every `bbrProbeRTTInterval` of the connection.
        var left = bytes - delivered
        guard left > 0 else { return (startup.t, min(startup.bytes, bytes), 0) }
        let probeSeconds = max(bbrProbeRTTSeconds, rtt) + rtt               // drain to 4 segments, then hold
        let probeBytes = min(bbrMinPipeSegments / rtt, segmentRate) * mss * (1 - p) * probeSeconds
        let first = max(bbrProbeRTTInterval, t)                             // when the first probe_rtt starts
        if left <= (first - t) * goodput {
            t += left / goodput
        } else {
            left -= (first - t) * goodput
            t = first
            // Whole cycles (probe_rtt, then an interval at the payload rate) in closed form, the
            // last one (which may end inside its probe_rtt) apart.
            let cycleBytes = probeBytes + bbrProbeRTTInterval * goodput
            let cycles = max(0, (left / cycleBytes).rounded(.up) - 1)
            t += cycles * (probeSeconds + bbrProbeRTTInterval)
            left -= cycles * cycleBytes
            t += left <= probeBytes ? left / probeBytes * probeSeconds : probeSeconds + (left - probeBytes) / goodput
        }
        return (startup.t, min(startup.bytes, bytes), t - startup.t)
    }
}
