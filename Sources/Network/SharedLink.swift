import EventKernel

/// One direction of the server's link (ingress for uploads, egress for downloads), shared max-min
/// fairly by concurrent flows, each also capped by its own client link and TCP's loss-limited rate.
///
/// Max-min fairness with caps is water-filling: a level s with Σ min(cap_i, s) = capacity; flows
/// with cap < s run at their cap ("capped"), the others at s ("shared"). The set is kept
/// incrementally: capped flows have fixed finish times and one kernel event each; shared flows all
/// progress at s, so they are ordered by a virtual finish time on the common virtual clock V
/// (bits delivered to every shared flow), and only the earliest has a kernel event. A flow start
/// or end moves O(1) amortised flows between the sets and reschedules one event — O(log n), not a
/// recomputation of every flow.
public final class SharedLink {
    /// Capacity in bit/s (infinity: no shared bottleneck).
    public let capacity: Double
    private let simulator: Simulator

    /// Refers to a flow on this link.
    public struct FlowID: Hashable, Sendable { let slot: Int; let serial: UInt64 }

    private enum Mode { case capped(finish: Double, event: EventHandle), shared(virtualFinish: Double) }
    private struct Flow {
        var cap: Double
        var mode: Mode
        var generation: UInt32
        var serial: UInt64
        var onFinish: () -> Void
    }

    private var flows: [Flow?] = []
    /// Per slot, the generation the next flow there starts with: it survives reuse of the slot, so
    /// heap entries of an earlier occupant can never pass for the new one's.
    private var slotGenerations: [UInt32] = []
    private var free: [Int] = []
    private var nextSerial: UInt64 = 0
    private var capped = LazyHeap(max: true)        // by cap, largest first
    private var sharedByCap = LazyHeap()            // by cap, smallest first
    private var sharedByFinish = LazyHeap()         // by virtual finish, earliest first
    private var sumCapped = 0.0
    private var sharedCount = 0
    private var cappedCount = 0
    private var virtualClock = 0.0
    private var lastUpdate = 0.0
    private var sharedEvent: EventHandle?

    /// A link of `capacity` bit/s on `simulator`.
    public init(capacity: Double, simulator: Simulator) {
        precondition(capacity > 0, "link capacity must be positive")
        self.capacity = capacity
        self.simulator = simulator
    }

    /// Flows in progress.
    public var activeFlows: Int { sharedCount + cappedCount }

    /// The fair-share level s (infinity when no flow is limited by the link).
    public var level: Double { sharedCount == 0 ? .infinity : max(0, capacity - sumCapped) / Double(sharedCount) }

    /// The current rate of `id`, or nil if it finished.
    public func rate(of id: FlowID) -> Double? {
        guard let flow = flow(id) else { return nil }
        if case .capped = flow.mode { return flow.cap }
        return min(flow.cap, level)
    }

    /// (cap, rate) of every active flow, for tests.
    func ratesForTesting() -> [(cap: Double, rate: Double)] {
        flows.compactMap { f in
            guard let f else { return nil }
            if case .capped = f.mode { return (f.cap, f.cap) }
            return (f.cap, min(f.cap, level))
        }
    }

    private func flow(_ id: FlowID) -> Flow? {
        guard id.slot < flows.count, let f = flows[id.slot], f.serial == id.serial else { return nil }
        return f
    }

    /// Starts moving `bits` at up to `cap` bit/s; `onFinish` runs when the last bit is through.
    /// - Complexity: O(log n) amortised.
    @discardableResult
    public func start(bits: Double, cap: Double, onFinish: @escaping () -> Void) -> FlowID {
        precondition(cap > 0 && cap.isFinite && bits >= 0, "a flow needs a positive finite cap and non-negative size")
        advance()
        let slot = free.popLast() ?? { flows.append(nil); slotGenerations.append(0); return flows.count - 1 }()
        let generation = slotGenerations[slot]
        nextSerial += 1
        let now = simulator.now.seconds
        // Start capped with its own finish; rebalancing moves it if the link is the bottleneck.
        let finish = now + bits / cap
        let event = simulator.schedule(at: SimTime(seconds: finish)) { [unowned self] in self.cappedFinished(slot) }
        flows[slot] = Flow(cap: cap, mode: .capped(finish: finish, event: event), generation: generation, serial: nextSerial, onFinish: onFinish)
        sumCapped += cap
        cappedCount += 1
        capped.push(.init(key: cap, id: slot, generation: generation))
        rebalance()
        return FlowID(slot: slot, serial: nextSerial)
    }

    /// Stops `id` before it finishes (the client went away); returns the bits it had left, or nil.
    @discardableResult
    public func cancel(_ id: FlowID) -> Double? {
        guard let f = flow(id) else { return nil }
        advance()
        let left = remaining(f)
        remove(id.slot)
        rebalance()
        return left
    }

    /// Changes `id`'s cap to `cap` from now on (its client link's capacity changed mid-transfer):
    /// the bits it has left are kept, and the max-min shares of every flow are recomputed. The
    /// flow re-enters as a capped flow with its new cap, exactly as `start` enters a new one, and
    /// the rebalancing moves it (and others) between the sets. A stale id or an unchanged cap does
    /// nothing.
    /// - Complexity: O(log n) amortised.
    public func setCap(_ id: FlowID, to cap: Double) {
        precondition(cap > 0 && cap.isFinite, "a flow needs a positive finite cap")
        guard var f = flow(id), f.cap != cap else { return }
        advance()
        let left = remaining(f)
        detach(f)
        let slot = id.slot
        let finish = simulator.now.seconds + left / cap
        f.generation &+= 1
        f.cap = cap
        f.mode = .capped(finish: finish, event: simulator.schedule(at: SimTime(seconds: finish)) { [unowned self] in self.cappedFinished(slot) })
        flows[slot] = f
        sumCapped += cap
        cappedCount += 1
        capped.push(.init(key: cap, id: slot, generation: f.generation))
        rebalance()
    }

    /// The bits `id` has left, or nil when it finished.
    public func remainingBits(of id: FlowID) -> Double? {
        guard let f = flow(id) else { return nil }
        switch f.mode {
        case let .capped(finish, _): return max(0, (finish - simulator.now.seconds) * f.cap)
        case let .shared(virtualFinish):
            return max(0, virtualFinish - virtualClock - level * (simulator.now.seconds - lastUpdate))
        }
    }

    private func remaining(_ f: Flow) -> Double {
        switch f.mode {
        case let .capped(finish, _): return max(0, (finish - simulator.now.seconds) * f.cap)
        case let .shared(virtualFinish): return max(0, virtualFinish - virtualClock)
        }
    }

    private func advance() {
        let now = simulator.now.seconds
        if sharedCount > 0 { virtualClock += level * (now - lastUpdate) }
        lastUpdate = now
    }

    /// Takes `f` out of its mode's bookkeeping (a capped flow's finish event and cap sum, or the
    /// shared count), before it is removed or re-entered with another cap.
    private func detach(_ f: Flow) {
        switch f.mode {
        case let .capped(_, event):
            simulator.cancel(event)
            sumCapped -= f.cap
            cappedCount -= 1
        case .shared:
            sharedCount -= 1
        }
    }

    private func remove(_ slot: Int) {
        guard let f = flows[slot] else { return }
        detach(f)
        flows[slot] = nil
        slotGenerations[slot] = f.generation &+ 1
        free.append(slot)
        if sharedCount == 0 && cappedCount == 0 { sumCapped = 0 }  // no drift across busy periods
    }

    private func isLive(_ e: LazyHeap.Entry, shared: Bool) -> Bool {
        guard let f = flows[e.id], f.generation == e.generation else { return false }
        if case .shared = f.mode { return shared }
        return !shared
    }

    private func toShared(_ slot: Int) {
        guard var f = flows[slot], case let .capped(finish, event) = f.mode else { return }
        simulator.cancel(event)
        let left = max(0, (finish - simulator.now.seconds) * f.cap)
        f.generation &+= 1
        f.mode = .shared(virtualFinish: virtualClock + left)
        flows[slot] = f
        sumCapped -= f.cap
        cappedCount -= 1
        sharedCount += 1
        sharedByCap.push(.init(key: f.cap, id: slot, generation: f.generation))
        sharedByFinish.push(.init(key: virtualClock + left, id: slot, generation: f.generation))
    }

    private func toCapped(_ slot: Int) {
        guard var f = flows[slot], case let .shared(virtualFinish) = f.mode else { return }
        let left = max(0, virtualFinish - virtualClock)
        let finish = simulator.now.seconds + left / f.cap
        f.generation &+= 1
        f.mode = .capped(finish: finish, event: simulator.schedule(at: SimTime(seconds: finish)) { [unowned self] in self.cappedFinished(slot) })
        flows[slot] = f
        sharedCount -= 1
        cappedCount += 1
        sumCapped += f.cap
        capped.push(.init(key: f.cap, id: slot, generation: f.generation))
    }

    /// Restores the water-filling invariant: max cap of capped ≤ s ≤ min cap of shared.
    private func rebalance() {
        while true {
            if sharedCount == 0 {
                guard sumCapped > capacity, let top = capped.top(isLive: { isLive($0, shared: false) }) else { break }
                toShared(top.id)
                continue
            }
            let s = level
            if let low = sharedByCap.top(isLive: { isLive($0, shared: true) }), low.key < s {
                toCapped(low.id)
                continue
            }
            if let high = capped.top(isLive: { isLive($0, shared: false) }), high.key > s {
                toShared(high.id)
                continue
            }
            break
        }
        compactIfNeeded()
        rescheduleShared()
    }

    private func compactIfNeeded() {
        let live = activeFlows
        if capped.count > 64 && capped.count > 4 * live { capped.compact { isLive($0, shared: false) } }
        if sharedByCap.count > 64 && sharedByCap.count > 4 * live { sharedByCap.compact { isLive($0, shared: true) } }
        if sharedByFinish.count > 64 && sharedByFinish.count > 4 * live { sharedByFinish.compact { isLive($0, shared: true) } }
    }

    private func rescheduleShared() {
        guard sharedCount > 0, let first = sharedByFinish.top(isLive: { isLive($0, shared: true) }) else {
            if let e = sharedEvent { simulator.cancel(e); sharedEvent = nil }
            return
        }
        let s = level
        let when = simulator.now.seconds + max(0, first.key - virtualClock) / s
        if let e = sharedEvent, let moved = simulator.reschedule(e, to: SimTime(seconds: when)) {
            sharedEvent = moved
        } else {
            sharedEvent = simulator.schedule(at: SimTime(seconds: when)) { [unowned self] in self.sharedFinished() }
        }
    }

    private func cappedFinished(_ slot: Int) {
        guard let f = flows[slot], case .capped = f.mode else { return }
        advance()
        // The event already fired: forget its handle before `remove` cancels it.
        flows[slot]!.mode = .capped(finish: simulator.now.seconds, event: EventHandle.none)
        remove(slot)
        rebalance()
        f.onFinish()
    }

    private func sharedFinished() {
        sharedEvent = nil
        advance()
        var done: [() -> Void] = []
        // Everything within rounding of the virtual clock finishes now.
        let tolerance = 1e-9 * max(1, abs(virtualClock))
        while let first = sharedByFinish.top(isLive: { isLive($0, shared: true) }), first.key <= virtualClock + tolerance {
            sharedByFinish.pop()
            done.append(flows[first.id]!.onFinish)
            remove(first.id)
        }
        rebalance()
        for callback in done { callback() }
    }
}
