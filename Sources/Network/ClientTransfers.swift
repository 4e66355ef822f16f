import EventKernel

/// The transfers between the server and its clients as events on a simulator: the transfer
/// model's timing bridged onto the server's two shared links.
///
/// Under `tcp`, connection set-up and slow start are a timer; the rest of the bytes, in frames
/// (payload × frame / MSS), are a flow on the server link (egress for downloads, ingress for
/// uploads), capped at the model's steady rate,
/// so an uncontended transfer takes exactly the model's time and a contended one gets its max-min
/// share; the last byte's propagation (RTT/2) is a timer again. Under `fluid` the whole transfer
/// is a flow at the client link's rate. With `keepConnections`, a client's connection stays open
/// after its first `tcp` transfer, and later ones skip the set-up.
///
/// A client whose link follows a trace (`Population.capacityTimeline`) has its flow's cap changed
/// at each of the trace's breakpoints while the flow is on the link (`SharedLink.setCap`): one
/// pending event per flow in progress, none for idle clients. Under `fluid` the cap is the trace's
/// rate; under `tcp` the set-up and slow start are priced at the rate in force when the transfer
/// starts, and the steady flow's cap is, at every moment, the model's steady rate for this
/// transfer at the rate then in force (docs/NETWORK-MODEL.md, "Time-varying links").
public final class ClientTransfers {
    /// Which way a transfer goes.
    public enum Direction: Sendable {
        /// Server to client, on the server's egress link and the client's downlink.
        case download
        /// Client to server, on the server's ingress link and the client's uplink.
        case upload
    }

    /// Refers to a transfer in progress. Stale ids (finished or cancelled) are harmless.
    public struct TransferID: Hashable, Sendable {
        let slot: Int
        let serial: UInt64
    }

    /// How transfers are timed.
    public let model: TransferModel
    /// The TCP constants of the `tcp` model.
    public let tcp: TCPParameters
    /// Whether connections stay open between a client's transfers.
    public let keepConnections: Bool

    private let simulator: Simulator
    private let egress: SharedLink
    private let ingress: SharedLink
    private let population: Population
    /// Per client: whether its connection is open.
    private var connected: [Bool]

    /// A transfer in progress: the timer of its current phase (set-up and slow start, or the
    /// propagation) or its flow on the server link.
    private struct Transfer {
        var serial: UInt64
        var timer = EventHandle.none
        var flow: SharedLink.FlowID?
        let direction: Direction
        /// The pending change of the flow's cap at the trace's next breakpoint (traced links only).
        var breakpoint = EventHandle.none
        var traced = false
    }
    private var transfers: [Transfer?] = []
    private var free: [Int] = []
    private var nextSerial: UInt64 = 0

    /// Transfers of `population`'s clients on `simulator`, through a server with `downlink` bit/s
    /// of egress and `uplink` bit/s of ingress (infinity: no shared bottleneck).
    public init(simulator: Simulator, population: Population, model: TransferModel, tcp: TCPParameters = TCPParameters(),
                downlink: Double, uplink: Double, keepConnections: Bool) {
        self.simulator = simulator
        self.population = population
        self.model = model
        self.tcp = tcp
        self.keepConnections = keepConnections
        egress = SharedLink(capacity: downlink, simulator: simulator)
        ingress = SharedLink(capacity: uplink, simulator: simulator)
        connected = [Bool](repeating: false, count: population.count)
    }

    /// Whether client `i`'s next transfer finds its connection open.
    public func connectionKept(_ i: Int) -> Bool { keepConnections && connected[i] }

    /// How long `bytes` to or from client `i` take under the model on an uncontended server link,
    /// with the connection open or not.
    public func uncontendedDuration(client i: Int, bytes: Int, direction: Direction, connectionKept: Bool) -> SimDuration {
        let timing = model.timing(bytes: Double(bytes), link: population.link(i, direction), connectionKept: connectionKept, tcp: tcp)
        return SimDuration(seconds: timing.totalSeconds)
    }

    /// Starts moving `bytes` to or from client `i`; `done` runs when the last byte has arrived,
    /// unless the transfer is cancelled first.
    @discardableResult
    public func start(client i: Int, bytes: Int, direction: Direction, done: @escaping () -> Void) -> TransferID {
        let id = allocate(direction)
        let l = population.link(i, direction)
        if let timeline = population.capacityTimeline(i, downlink: direction == .download) {
            startTraced(id, client: i, bytes: bytes, link: l, timeline: timeline, done: done)
            return id
        }
        switch model {
        case .fluid:
            startFlow(id, bits: Double(bytes) * 8, cap: l.rateBitsPerSecond, propagation: l.rttSeconds / 2, done: done)
        case .tcp:
            // Set-up and slow start as a timer; the rest as a flow capped at the model's steady rate.
            let timing = model.timing(bytes: Double(bytes), link: l, connectionKept: connectionKept(i), tcp: tcp)
            if keepConnections { connected[i] = true }
            // On the server link the flow is counted in frames: payload × frame / MSS.
            let rest = max(0, Double(bytes) - timing.slowStartBytes) * 8 * tcp.wireFactor
            let cap = timing.steadySeconds > 0 ? rest / timing.steadySeconds : l.rateBitsPerSecond
            let lead = timing.setupSeconds + timing.slowStartSeconds
            let propagation = l.rttSeconds / 2
            if lead > 0 {
                transfers[id.slot]?.timer = simulator.schedule(after: SimDuration(seconds: lead)) { [unowned self] in
                    self.startFlow(id, bits: rest, cap: cap, propagation: propagation, done: done)
                }
            } else {
                startFlow(id, bits: rest, cap: cap, propagation: propagation, done: done)
            }
        }
        return id
    }

    /// Stops `id`'s transfer (its timer or its flow); `done` will not run.
    public func cancel(_ id: TransferID) {
        guard let transfer = transfer(id) else { return }
        _ = simulator.cancel(transfer.timer)
        if transfer.traced { _ = simulator.cancel(transfer.breakpoint) }
        if let flow = transfer.flow { (transfer.direction == .download ? egress : ingress).cancel(flow) }
        release(id)
    }

    /// A transfer on a link that follows a trace. `fluid`: the whole transfer is a flow capped at
    /// the trace's rate. `tcp`: set-up and slow start as a timer priced at the rate in force now;
    /// then the rest as a flow whose cap is the model's steady rate for `bytes` at the rate in
    /// force, re-evaluated at each breakpoint.
    private func startTraced(_ id: TransferID, client i: Int, bytes: Int, link base: LinkConditions,
                             timeline: CapacityTimeline, done: @escaping () -> Void) {
        transfers[id.slot]?.traced = true
        let propagation = base.rttSeconds / 2
        let now = simulator.now.seconds
        switch model {
        case .fluid:
            let cursor = timeline.cursor(at: now)
            startFlow(id, bits: Double(bytes) * 8, cap: cursor.rate, propagation: propagation, done: done)
            follow(id, cursor) { $0 }
        case .tcp:
            let r0 = timeline.cursor(at: now).rate
            var l0 = base
            l0.rateBitsPerSecond = r0
            let timing = model.timing(bytes: Double(bytes), link: l0, connectionKept: connectionKept(i), tcp: tcp)
            if keepConnections { connected[i] = true }
            // In frames on the server link, as for a constant link (`start`).
            let wire = tcp.wireFactor
            let rest = max(0, Double(bytes) - timing.slowStartBytes) * 8 * wire
            let lead = timing.setupSeconds + timing.slowStartSeconds
            let model = self.model, tcp = self.tcp
            let steadyCap: (Double) -> Double = { rate in
                let cap: Double
                if rate == r0 {
                    cap = timing.steadySeconds > 0 ? rest / timing.steadySeconds : r0
                } else {
                    var l = base
                    l.rateBitsPerSecond = rate
                    let t = model.timing(bytes: Double(bytes), link: l, connectionKept: true, tcp: tcp)
                    cap = t.steadySeconds > 0 ? max(0, Double(bytes) - t.slowStartBytes) * 8 * wire / t.steadySeconds : rate
                }
                return cap > 0 && cap.isFinite ? cap : CapacityTrace.minimumRate
            }
            let begin: () -> Void = { [unowned self] in
                let cursor = timeline.cursor(at: self.simulator.now.seconds)
                self.startFlow(id, bits: rest, cap: steadyCap(cursor.rate), propagation: propagation, done: done)
                self.follow(id, cursor, steadyCap)
            }
            if lead > 0 {
                transfers[id.slot]?.timer = simulator.schedule(after: SimDuration(seconds: lead)) { begin() }
            } else {
                begin()
            }
        }
    }

    /// While `id`'s flow is on the link, changes its cap to `capFor(rate)` at the trace's next
    /// breakpoint, and so on: one pending event per flow.
    private func follow(_ id: TransferID, _ cursor: TraceCursor, _ capFor: @escaping (Double) -> Double) {
        guard let transfer = transfer(id), transfer.flow != nil else { return }
        let next = cursor.nextChange
        guard next.isFinite else { return }
        transfers[id.slot]?.breakpoint = simulator.schedule(at: SimTime(seconds: max(next, simulator.now.seconds))) { [unowned self] in
            guard let t = self.transfer(id), let flow = t.flow else { return }
            var c = cursor
            c.advance()
            (t.direction == .download ? self.egress : self.ingress).setCap(flow, to: capFor(c.rate))
            self.follow(id, c, capFor)
        }
    }

    /// Transfers in progress.
    public var activeTransfers: Int { transfers.count - free.count }

    /// The flow phase: `bits` on the server link at up to `cap` bit/s, then the propagation.
    private func startFlow(_ id: TransferID, bits: Double, cap: Double, propagation: Double, done: @escaping () -> Void) {
        guard let transfer = transfer(id) else { return }
        guard bits > 0 else {
            transfers[id.slot]?.timer = propagate(id, propagation, done)
            return
        }
        let link = transfer.direction == .download ? egress : ingress
        transfers[id.slot]?.flow = link.start(bits: bits, cap: cap) { [unowned self] in
            self.transfers[id.slot]?.flow = nil
            if let t = self.transfers[id.slot], t.traced {
                _ = self.simulator.cancel(t.breakpoint)
                self.transfers[id.slot]?.breakpoint = .none
            }
            self.transfers[id.slot]?.timer = self.propagate(id, propagation, done)
        }
    }

    /// The last byte's propagation; then the transfer is over.
    private func propagate(_ id: TransferID, _ propagation: Double, _ done: @escaping () -> Void) -> EventHandle {
        simulator.schedule(after: SimDuration(seconds: propagation)) { [unowned self] in
            self.release(id)
            done()
        }
    }

    private func transfer(_ id: TransferID) -> Transfer? {
        guard id.slot < transfers.count, let t = transfers[id.slot], t.serial == id.serial else { return nil }
        return t
    }

    private func allocate(_ direction: Direction) -> TransferID {
        let serial = nextSerial
        nextSerial += 1
        let transfer = Transfer(serial: serial, direction: direction)
        if let slot = free.popLast() {
            transfers[slot] = transfer
            return TransferID(slot: slot, serial: serial)
        }
        transfers.append(transfer)
        return TransferID(slot: transfers.count - 1, serial: serial)
    }

    private func release(_ id: TransferID) {
        guard transfer(id) != nil else { return }
        transfers[id.slot] = nil
        free.append(id.slot)
    }
}

extension Population {
    /// Client `i`'s access link in `direction`, as the transfer model sees it.
    public func link(_ i: Int, _ direction: ClientTransfers.Direction) -> LinkConditions {
        LinkConditions(rateBitsPerSecond: direction == .upload ? uplink[i] : downlink[i], rttSeconds: rtt[i], loss: loss[i])
    }
}
