import Codec
import EventKernel
import Network
import Numerics

/// One arm's run, and its round policy: each round selects clients among those available, times
/// every participant's download, local training and upload (`ClientTransfers`), drops some out
/// (`RoundAvailability`), and closes at the quota, the deadline or when nobody is left working;
/// then the server aggregates and the next round starts. What the transfers carry and the real
/// learning are `ArmPayloads`'; what is recorded is `ArmRecords`'.
final class ArmRun {
    let config: FederationConfig
    let population: Population
    let simulator: Simulator
    let transfers: ClientTransfers
    private(set) var payloads: ArmPayloads
    private(set) var records: ArmRecords
    private var availability: RoundAvailability
    private var versions: ModelVersions
    private var current = RoundInProgress()
    /// Clients that can be selected (with training: those holding data).
    private let eligible: [Int]?
    /// Training FLOPs per local sample (all epochs).
    private let flopsPerSample: Double
    private let progress: ((Int, SimTime, Double?) -> Void)?
    private var failure: Error?

    init(config: FederationConfig, population: Population, payloads: ArmPayloads, recordClients: Bool,
         progress: ((Int, SimTime, Double?) -> Void)?) {
        self.config = config
        self.population = population
        self.payloads = payloads
        records = ArmRecords(keepClients: recordClients)
        self.progress = progress
        eligible = payloads.learner == nil ? nil : (0..<population.count).filter { population.samples[$0] > 0 }
        simulator = Simulator(expectedPendingEvents: 4 * config.selection.selected + 16)
        transfers = ClientTransfers(simulator: simulator, population: population, model: config.network.model, tcp: config.network.tcp,
                                    downlink: config.server.downlink, uplink: config.server.uplink,
                                    keepConnections: config.network.keepConnections)
        let w = config.workload
        if let p = w.payload {
            flopsPerSample = p.trainingFLOPs(samples: 1, tokensPerSample: w.tokensPerSample, epochs: w.epochs)
        } else if let learner = payloads.learner {
            flopsPerSample = learner.workload.flopsPerSample
        } else {
            preconditionFailure("a workload has a payload model or real training")
        }
        availability = RoundAvailability(config.availability, clients: population.count, seed: config.seed)
        versions = ModelVersions(clients: population.count)
    }

    /// Runs every round until the stop condition; rethrows an error raised inside an event.
    func start() throws {
        simulator.schedule(at: .zero) { [unowned self] in self.beginRound() }
        simulator.run()
        if let failure { throw failure }
        try availability.checkSessions()
    }

    /// Stops the run on an error inside an event (a codec failure): the simulator stops and
    /// `start` rethrows.
    private func fail(_ error: Error) {
        if failure == nil { failure = error }
        simulator.stop()
    }

    private var now: SimTime { simulator.now }

    // MARK: rounds

    private func beginRound() {
        let number = current.number + 1
        let start = now
        // Who can be selected.
        var candidates: [Int] = []
        let filtered = availability.hasSessions || eligible != nil
        if filtered {
            candidates.reserveCapacity(eligible?.count ?? population.count)
            func consider(_ i: Int) { if availability.isOnline(i, at: start) { candidates.append(i) } }
            if let eligible { eligible.forEach(consider) } else { (0..<population.count).forEach(consider) }
        }
        let candidateCount = filtered ? candidates.count : population.count
        let m = min(config.selection.selected, candidateCount)
        let stream = RandomStream(seed: config.seed, purpose: "selection", index: UInt64(number), algorithm: .taus2)
        let picked = stream.choose(m, from: candidateCount)
        current = RoundInProgress(number: number, start: start, available: candidateCount,
                                  participants: picked.map { Participant(client: filtered ? candidates[$0] : $0) })
        guard !current.participants.isEmpty else {
            // Nobody online: try again a minute later (with a window: when the next one opens).
            closeRound(.empty, retryAfter: availability.retryAfterEmpty(start))
            return
        }
        do { try payloads.pretrain(clients: current.participants.map(\.client), round: number) } catch {
            fail(error)
            return
        }
        if let deadline = config.selection.deadline {
            current.deadlineEvent = simulator.schedule(at: start + deadline) { [unowned self] in self.closeRound(.deadline) }
        }
        for s in current.participants.indices { startClient(s) }
    }

    /// Nominal (uncontended) time of a client's whole round, for placing a dropout inside it.
    private func nominalWork(_ i: Int, downloadBytes: Int) -> SimDuration {
        let down = downloadBytes == 0 ? 0
            : transfers.uncontendedDuration(client: i, bytes: downloadBytes, direction: .download, connectionKept: transfers.connectionKept(i)).seconds
        let up = transfers.uncontendedDuration(client: i, bytes: payloads.nominalUpload, direction: .upload,
                                               connectionKept: transfers.keepConnections).seconds
        return SimDuration(seconds: down + computeDuration(i).seconds + up)
    }

    /// Client `i`'s local training: its samples (or, from an external trainer, the samples its
    /// training this round reports) × FLOPs per sample ÷ its device speed.
    private func computeDuration(_ i: Int) -> SimDuration {
        let samples = payloads.learner?.samplesTrained(client: i, round: current.number).map(Double.init) ?? population.samples[i]
        return SimDuration(seconds: samples * flopsPerSample / population.speed[i])
    }

    private func startClient(_ s: Int) {
        let i = current.participants[s].client
        let stale = versions.staleness(of: i)
        let downloadBytes = payloads.downloadBytes(stale: stale)
        current.participants[s].stale = Int32(stale)
        current.participants[s].downloadBytes = downloadBytes
        current.participants[s].downloadStart = now
        if let dropAt = availability.dropTime(client: i, round: current.number, now: now, work: { nominalWork(i, downloadBytes: downloadBytes) }) {
            current.participants[s].dropEvent = simulator.schedule(at: dropAt) { [unowned self] in self.drop(s) }
        }
        if downloadBytes == 0 {
            downloadDone(s)
        } else {
            current.participants[s].transfer = transfers.start(client: i, bytes: downloadBytes, direction: .download) { [unowned self] in
                self.downloadDone(s)
            }
        }
    }

    private func downloadDone(_ s: Int) {
        guard current.participants[s].active else { return }
        let i = current.participants[s].client
        current.participants[s].transfer = nil
        versions.synchronise(i)
        current.participants[s].downloadEnd = now
        current.bytesDown += current.participants[s].downloadBytes
        do {
            let upload = try payloads.upload(client: i, round: current.number)
            current.participants[s].uploadBytes = upload.bytes
            current.participants[s].encoded = upload.encoded
            current.participants[s].extras = upload.extras
            current.participants[s].trainingFailed = upload.failure != nil
        } catch {
            fail(error)
            return
        }
        current.participants[s].computeTimer = simulator.schedule(after: computeDuration(i)) { [unowned self] in self.computeDone(s) }
    }

    private func computeDone(_ s: Int) {
        guard current.participants[s].active else { return }
        current.participants[s].computeEnd = now
        if current.participants[s].trainingFailed {
            current.participants[s].computeTimer = .none
            current.participants[s].outcome = .failed
            current.participants[s].end = now
            finish(s)
            current.failed += 1
            if current.activeCount == 0 { closeRound(.exhausted) }
            return
        }
        let participant = current.participants[s]
        current.participants[s].transfer = transfers.start(client: participant.client, bytes: participant.uploadBytes, direction: .upload) { [unowned self] in
            self.uploadDone(s)
        }
    }

    private func uploadDone(_ s: Int) {
        guard current.participants[s].active else { return }
        current.participants[s].transfer = nil
        current.participants[s].uploadEnd = now
        current.participants[s].end = now
        current.participants[s].outcome = .completed
        finish(s)
        current.arrivals += 1
        current.bytesUp += current.participants[s].uploadBytes
        if current.arrivals >= config.selection.perRound {
            closeRound(.quota)
        } else if current.activeCount == 0 {
            closeRound(.exhausted)
        }
    }

    private func drop(_ s: Int) {
        guard current.open, current.participants[s].active else { return }
        current.participants[s].dropEvent = .none
        current.participants[s].outcome = .dropped
        current.participants[s].end = now
        stopWork(s)
        finish(s)
        current.dropped += 1
        if current.activeCount == 0 { closeRound(.exhausted) }
    }

    /// Cancels the participant's training timer and transfer.
    private func stopWork(_ s: Int) {
        simulator.cancel(current.participants[s].computeTimer)
        current.participants[s].computeTimer = .none
        if let transfer = current.participants[s].transfer {
            transfers.cancel(transfer)
            current.participants[s].transfer = nil
        }
    }

    private func finish(_ s: Int) {
        current.participants[s].active = false
        current.activeCount -= 1
        simulator.cancel(current.participants[s].dropEvent)
        current.participants[s].dropEvent = .none
    }

    private func closeRound(_ reason: RoundClose, retryAfter: SimDuration = .zero) {
        guard current.open else { return }
        current.open = false
        let close = now
        simulator.cancel(current.deadlineEvent)
        current.deadlineEvent = .none
        var late = 0
        for s in current.participants.indices where current.participants[s].active {
            current.participants[s].outcome = .late
            current.participants[s].end = close
            stopWork(s)
            finish(s)
            late += 1
        }
        let round = current.number
        let aggregated = current.arrivals >= config.selection.minCompletions && reason != .empty
        if aggregated { versions.advance() }
        var evaluation: (accuracy: Double, loss: Double)?
        if let learner = payloads.learner {
            let lastRound = config.stop.rounds.map { round >= $0 } ?? false
            let evaluate = round % learner.workload.training.evaluateEvery == 0 || lastRound
            if aggregated {
                let arrived = current.participants.filter { $0.outcome == .completed }
                let updates = arrived.map { WeightedUpdate(bytes: $0.encoded ?? [], weight: population.samples[$0.client]) }
                do { try payloads.aggregate(updates, extras: arrived.map(\.extras), clients: arrived.map(\.client), round: round) } catch {
                    fail(error)
                    return
                }
            }
            if evaluate {
                do { evaluation = try payloads.evaluate(round: round) } catch {
                    fail(error)
                    return
                }
            }
        }
        let end = close + (aggregated ? config.server.aggregation : retryAfter)
        records.add(current, ArmRecords.Closing(reason: reason, close: close, end: end, late: late, aggregated: aggregated,
                                                version: versions.global, accuracy: evaluation?.accuracy, loss: evaluation?.loss,
                                                fidelity: aggregated ? payloads.learner?.fidelity : nil))
        progress?(round, end, payloads.learner?.accuracy)
        if stopsAfter(round: round, end: end) { return }
        simulator.schedule(at: end) { [unowned self] in self.beginRound() }
    }

    /// Whether the run ends after `round`, which ended at `end`. With only a time limit, a run
    /// that could not finish in `FederationRun.maxRoundsByTime` rounds (estimated from the rounds
    /// so far) fails naming `stop.time`.
    private func stopsAfter(round: Int, end: SimTime) -> Bool {
        let stop = config.stop
        if let r = stop.rounds, round >= r { return true }
        if let t = stop.time?.seconds, end.seconds >= t { return true }
        if stop.rounds == nil, let t = stop.time?.seconds, round >= 10 {
            let limit = payloads.learner == nil ? FederationRun.maxRoundsByTime : FederationRun.maxTrainedRoundsByTime
            let elapsed = end.seconds
            let estimate = elapsed > 0 ? t / (elapsed / Double(round)) : .infinity
            if estimate > Double(limit) {
                let perRound = elapsed > 0 ? "a round lasts ≈ \(Quantity.humanReadable(elapsed / Double(round), as: .duration)) here" : "rounds take no simulated time here"
                fail(InputError(.invalidValue(expected: "a time limit reachable in at most \(limit) rounds, or stop.rounds as well",
                                              found: "\(Quantity.humanReadable(t, as: .duration)), ≈ \(estimate.isFinite ? Quantity.significant(estimate, 3) : "infinitely many") rounds (\(perRound))"),
                                at: "stop.time"))
                return true
            }
        }
        return false
    }
}
