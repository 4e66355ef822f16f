import Codec
import EventKernel
import Foundation
import Learning
import Network
import Numerics

/// A federation run: every round's selection, downloads, local training, uploads, dropouts,
/// deadline and aggregation are timed events on one `Simulator`, with the payload sizes of each
/// arm's codec on the scenario's modelled model; with `workload.train`, the proxy model really
/// trains and every update passes through the codec (`LearningWorkload`, `ArmLearner`).
///
/// All arms share the population and every per-(round, client) draw (common random numbers): the
/// dropout draws are counter-based (`availability.dropout`, client, round), the on/off timelines
/// are per client, selection is drawn from a per-round stream. Arms can still select different
/// clients when their rounds start at different times (sessions) or have different availability.
public final class FederationRun {
    /// Rounds a run with only a time limit (`stop.time`, no `stop.rounds`) may take: beyond
    /// these, estimated from the first ten rounds, the run stops with an error naming `stop.time`.
    public static let maxRoundsByTime = 1_000_000
    /// The same with real training (each round trains clients for real).
    public static let maxTrainedRoundsByTime = 20_000

    public let config: FederationConfig
    public private(set) var population: Population

    /// The clients `config` draws under its seed, each with `samples` local samples when given
    /// (with real training, the partition's), else drawn.
    public static func population(of config: FederationConfig, samples: [Double]? = nil) -> Population {
        Population(config.population, network: config.network.profile, seed: config.seed, samples: samples)
    }
    /// The real training shared by every arm (nil: a time-only run).
    public let learning: LearningWorkload?

    /// Samples the population of `config` (or takes `population` if given); with
    /// `workload.train`, loads the data, partitions it among the clients (their sample counts then
    /// follow the partition) and pretrains (or reads from the cache) the frozen base.
    public init(config: FederationConfig, population: Population? = nil, cacheDirectory: String? = Pretraining.defaultCacheDirectory) throws {
        self.config = config
        if let training = config.workload.training {
            let workload = try LearningWorkload(training, clients: config.population.clients, seed: config.seed, cacheDirectory: cacheDirectory)
            let samples = workload.partition.map { Double($0.count) }
            if var given = population {
                given.samples = samples
                self.population = given
            } else {
                self.population = FederationRun.population(of: config, samples: samples)
            }
            learning = workload
        } else {
            learning = nil
            self.population = population ?? FederationRun.population(of: config)
        }
    }

    /// Runs one arm. `recordClients` keeps a row per selected client and round; `progress` is
    /// called after each round with (round, simulated seconds, current test accuracy when training).
    public func run(arm: FederationConfig.Arm, recordClients: Bool = true, progress: ((Int, Double, Double?) -> Void)? = nil) throws -> ArmResult {
        let codec = try CodecRegistry.make(arm.codec, options: arm.options)
        let shapes = config.workload.payload?.shapes ?? learning!.shapes
        let payload = PayloadSizes(codec: codec, shapes: shapes)
        let learner = learning.map { ArmLearner(workload: $0, codec: codec, seed: config.seed) }
        let run = ArmRun(config: config, population: population, payload: payload, codec: codec, shapes: shapes, learner: learner,
                         recordClients: recordClients, progress: progress)
        // With training, every BLAS call of the run is single-threaded (training and evaluation
        // spread over the cores themselves): OpenBLAS's threaded products can round differently,
        // and a run must give the same bytes whatever the number of cores.
        if learner != nil { try BLASThreads.singleThreaded { try run.start() } } else { try run.start() }
        var result = ArmResult(name: arm.name, codec: arm.codec, uploadBytesPerClient: run.meanUploadBytes, downloadBytesInSync: run.latestSizes.inSync,
                               downloadBytesDense: payload.dense, rounds: run.rounds, clients: run.clientRows, events: run.simulator.firedCount)
        if let learning {
            result.initialAccuracy = learning.baseAccuracy
            result.initialLoss = learning.baseLoss
            result.measuredUploadKept = run.uploadKeptMean
            result.measuredDownloadKept = run.downloadKeptMean
            result.learningSeconds = run.learningSeconds
            result.finalGlobal = learner?.global
        }
        return result
    }
}

/// The state of one arm's run.
final class ArmRun {
    let config: FederationConfig
    let population: Population
    let payload: PayloadSizes
    let codec: any Codec
    /// The shapes payloads are priced on (the catalogue model's, or the proxy's when measured).
    let shapes: [LoRALayerShape]
    let learner: ArmLearner?
    let measured: Bool
    /// Sizes at the latest measured kept fractions (= `payload` without training).
    var latestSizes: PayloadSizes
    /// Clients that can be selected (with training: those holding data).
    let eligible: [Int]?
    var uploadKept: [Double] = [], downloadKept: [Double] = []
    var learningSeconds = 0.0
    var failure: Error?
    let recordClients: Bool
    let progress: ((Int, Double, Double?) -> Void)?
    let simulator: Simulator
    let egress: SharedLink
    let ingress: SharedLink
    let tcp = TCPParameters()
    let model: TransferModel
    let flopsPerSample: Double
    let dropoutKey: UInt64
    let dropout: Double
    var timeline: SessionTimeline?

    /// Per client: the global version it holds, whether its connection is open.
    var version: [Int32]
    var connected: [Bool]
    var globalVersion: Int32 = 0

    private(set) var rounds: [RoundRecord] = []
    private(set) var clientRows: [ClientRecord] = []

    // The round in progress.
    struct Slot {
        var client: Int
        var active = true
        var outcome = ClientOutcome.late
        var stale: Int32 = 0
        var downloadBytes = 0
        var downloadStart = 0.0, downloadEnd = Double.nan, computeEnd = Double.nan, uploadEnd = Double.nan, end = Double.nan
        var timer = EventHandle.none
        var dropEvent = EventHandle.none
        var flow: SharedLink.FlowID?
        var flowOnEgress = true
        var uploadBytes = 0
        var encoded: [UInt8]?
    }
    var slots: [Slot] = []
    var round = 0
    var roundStart = 0.0
    var available = 0
    var arrivals = 0
    var dropped = 0
    var activeCount = 0
    var bytesUp = 0
    var bytesDown = 0
    var deadlineEvent = EventHandle.none
    var roundOpen = false

    init(config: FederationConfig, population: Population, payload: PayloadSizes, codec: any Codec, shapes: [LoRALayerShape],
         learner: ArmLearner?, recordClients: Bool, progress: ((Int, Double, Double?) -> Void)?) {
        self.config = config
        self.population = population
        self.payload = payload
        self.codec = codec
        self.shapes = shapes
        self.learner = learner
        latestSizes = payload
        if case .measured = config.workload.payloadModel { measured = true } else { measured = false }
        eligible = learner == nil ? nil : (0..<population.count).filter { population.samples[$0] > 0 }
        self.recordClients = recordClients
        self.progress = progress
        simulator = Simulator(expectedPendingEvents: 4 * config.selection.selected + 16)
        egress = SharedLink(capacity: config.server.downlink, simulator: simulator)
        ingress = SharedLink(capacity: config.server.uplink, simulator: simulator)
        model = config.network.model
        let w = config.workload
        if let p = w.payload {
            flopsPerSample = p.trainingFLOPs(samples: 1, tokensPerSample: w.tokensPerSample, epochs: w.epochs)
        } else {
            flopsPerSample = learner!.workload.proxyFLOPsPerSample * Double(learner!.workload.training.local.epochs)
        }
        dropoutKey = StreamKey(seed: config.seed, purpose: "availability.dropout").derivedKey
        dropout = config.availability.dropoutPerRound
        if case let .sessions(s) = config.availability {
            timeline = SessionTimeline(s, clients: population.count, seed: config.seed)
        }
        version = [Int32](repeating: 0, count: population.count)
        connected = [Bool](repeating: false, count: population.count)
    }

    func start() throws {
        _ = simulator.schedule(at: .zero) { [unowned self] in self.beginRound() }
        _ = simulator.run()
        if let failure { throw failure }
        if let timeline, timeline.exhausted {
            throw InputError(.invalidValue(expected: "sessions that change at most \(timeline.drawLimit) times over the run",
                                           found: "more changes (sessions too short for the run's length)"), at: "availability.sessions")
        }
    }

    /// Mean bytes of the uploads that arrived (the nominal upload when none did).
    var meanUploadBytes: Int {
        let count = rounds.reduce(0) { $0 + $1.completed }, bytes = rounds.reduce(0) { $0 + $1.bytesUp }
        return count == 0 ? payload.upload : Int((Double(bytes) / Double(count)).rounded())
    }

    /// Runs `body`, adding its wall-clock time to `learningSeconds` (the real work of a training run).
    func timedLearning<T>(_ body: () throws -> T) rethrows -> T {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { learningSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        return try body()
    }
    var uploadKeptMean: Double? { uploadKept.isEmpty ? nil : uploadKept.reduce(0, +) / Double(uploadKept.count) }
    var downloadKeptMean: Double? { downloadKept.isEmpty ? nil : downloadKept.reduce(0, +) / Double(downloadKept.count) }

    /// Stops the run on an error inside an event (a codec failure): the simulator stops and
    /// `start` rethrows.
    func fail(_ error: Error) {
        if failure == nil { failure = error }
        simulator.stop()
    }

    var now: Double { simulator.now.seconds }

    // MARK: rounds

    func beginRound() {
        round += 1
        roundStart = now
        arrivals = 0; dropped = 0; bytesUp = 0; bytesDown = 0
        roundOpen = true
        // Who can be selected.
        var candidates: [Int] = []
        let filtered = timeline != nil || eligible != nil
        if filtered {
            candidates.reserveCapacity(eligible?.count ?? population.count)
            func consider(_ i: Int) { if timeline?.isOnline(i, at: roundStart) ?? true { candidates.append(i) } }
            if let eligible { eligible.forEach(consider) } else { (0..<population.count).forEach(consider) }
        }
        let candidateCount = filtered ? candidates.count : population.count
        available = candidateCount
        let m = min(config.selection.selected, candidateCount)
        let stream = RandomStream(seed: config.seed, purpose: "selection", index: UInt64(round), algorithm: .taus2)
        let picked = stream.choose(m, from: candidateCount)
        slots = picked.map { Slot(client: filtered ? candidates[$0] : $0) }
        activeCount = slots.count
        guard !slots.isEmpty else {
            // Nobody online: try again a minute later.
            closeRound(.empty, retryAfter: 60)
            return
        }
        if let learner {
            do { try timedLearning { try learner.pretrain(clients: slots.map(\.client), round: round) } } catch {
                fail(error)
                return
            }
        }
        if let deadline = config.selection.deadline {
            deadlineEvent = simulator.schedule(at: SimTime(seconds: roundStart + deadline)) { [unowned self] in self.closeRound(.deadline) }
        }
        for s in slots.indices { startClient(s) }
    }

    /// Nominal (uncontended) time of a client's whole round, for placing a dropout inside it.
    func nominalWork(_ i: Int, downloadBytes: Int) -> Double {
        let down = downloadBytes == 0 ? 0 : model.timing(bytes: Double(downloadBytes), link: link(i, up: false),
                                                          connectionKept: keptConnection(i), tcp: tcp).totalSeconds
        let up = model.timing(bytes: Double(payload.upload), link: link(i, up: true),
                              connectionKept: config.network.keepConnections, tcp: tcp).totalSeconds
        return down + computeSeconds(i) + up
    }

    func link(_ i: Int, up: Bool) -> LinkConditions {
        LinkConditions(rateBitsPerSecond: up ? population.uplink[i] : population.downlink[i], rttSeconds: population.rtt[i], loss: population.loss[i])
    }

    func keptConnection(_ i: Int) -> Bool { config.network.keepConnections && connected[i] }

    func computeSeconds(_ i: Int) -> Double { population.samples[i] * flopsPerSample / population.speed[i] }

    func startClient(_ s: Int) {
        let i = slots[s].client
        let stale = Int(globalVersion - version[i])
        slots[s].stale = Int32(stale)
        slots[s].downloadBytes = learner != nil && measured ? learner!.measuredCatchUp(stale: stale) : latestSizes.download(stale: stale)
        slots[s].downloadStart = now
        // When (if at all) this client drops out this round.
        var dropAt = Double.infinity
        if dropout > 0 {
            let counter = UInt64(round) << 33 | UInt64(i) << 1
            if StreamKey.uniform(key: dropoutKey, counter: counter) < dropout {
                dropAt = now + StreamKey.uniform(key: dropoutKey, counter: counter | 1) * nominalWork(i, downloadBytes: slots[s].downloadBytes)
            }
        }
        if timeline != nil { dropAt = min(dropAt, timeline!.sessionEnd(i, after: now)) }
        if dropAt.isFinite {
            slots[s].dropEvent = simulator.schedule(at: SimTime(seconds: max(dropAt, now))) { [unowned self] in self.drop(s) }
        }
        if slots[s].downloadBytes == 0 {
            downloadDone(s)
        } else {
            transfer(s, bytes: slots[s].downloadBytes, up: false) { [unowned self] in self.downloadDone(s) }
        }
    }

    /// One transfer of the slot's client under the model: set-up and slow start as timers, the rest
    /// as a flow on the server link (capped by the client link and the loss-limited rate), then
    /// the last byte's propagation.
    func transfer(_ s: Int, bytes: Int, up: Bool, done: @escaping () -> Void) {
        let i = slots[s].client
        let l = link(i, up: up)
        let serverLink = up ? ingress : egress
        let propagation = l.rttSeconds / 2
        let finishFlow: (Double, Double) -> Void = { [unowned self] bits, cap in
            guard bits > 0 else {
                self.slots[s].timer = self.simulator.schedule(after: SimDuration(seconds: propagation)) { done() }
                return
            }
            self.slots[s].flowOnEgress = !up
            self.slots[s].flow = serverLink.start(bits: bits, cap: cap) { [unowned self] in
                self.slots[s].flow = nil
                self.slots[s].timer = self.simulator.schedule(after: SimDuration(seconds: propagation)) { done() }
            }
        }
        switch model {
        case .fluid:
            finishFlow(Double(bytes) * 8, l.rateBitsPerSecond)
        case .tcp:
            // Set-up and slow start as a timer; the rest as a flow capped at the model's steady rate,
            // so an uncontended transfer takes exactly the model's time.
            let timing = model.timing(bytes: Double(bytes), link: l, connectionKept: keptConnection(i), tcp: tcp)
            if config.network.keepConnections { connected[i] = true }
            let rest = max(0, Double(bytes) - timing.slowStartBytes) * 8
            let cap = timing.steadySeconds > 0 ? rest / timing.steadySeconds : l.rateBitsPerSecond
            let lead = timing.setupSeconds + timing.slowStartSeconds
            if lead > 0 {
                slots[s].timer = simulator.schedule(after: SimDuration(seconds: lead)) { finishFlow(rest, cap) }
            } else {
                finishFlow(rest, cap)
            }
        }
    }

    func downloadDone(_ s: Int) {
        guard slots[s].active else { return }
        let i = slots[s].client
        version[i] = globalVersion
        slots[s].downloadEnd = now
        bytesDown += slots[s].downloadBytes
        slots[s].uploadBytes = payload.upload
        if let learner {
            // The real work: encode the client's trained update; the message's size (or its kept
            // fractions, priced on the catalogue model) is what the upload carries.
            do {
                let encoded = try timedLearning { try learner.encode(client: i, round: round) }
                slots[s].encoded = encoded.bytes
                let f = ArmLearner.fractions(encoded.kept)
                uploadKept.append(encoded.keptFraction)
                slots[s].uploadBytes = measured ? encoded.bytes.count
                    : codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: f.a, uploadB: f.b, downloadA: 1, downloadB: 1)).upload
            } catch {
                fail(error)
                return
            }
        }
        slots[s].timer = simulator.schedule(after: SimDuration(seconds: computeSeconds(i))) { [unowned self] in self.computeDone(s) }
    }

    func computeDone(_ s: Int) {
        guard slots[s].active else { return }
        slots[s].computeEnd = now
        transfer(s, bytes: slots[s].uploadBytes, up: true) { [unowned self] in self.uploadDone(s) }
    }

    func uploadDone(_ s: Int) {
        guard slots[s].active else { return }
        slots[s].uploadEnd = now
        slots[s].end = now
        slots[s].outcome = .completed
        finish(s)
        arrivals += 1
        bytesUp += slots[s].uploadBytes
        if arrivals >= config.selection.perRound {
            closeRound(.quota)
        } else if activeCount == 0 {
            closeRound(.exhausted)
        }
    }

    func drop(_ s: Int) {
        guard roundOpen, slots[s].active else { return }
        slots[s].dropEvent = .none
        slots[s].outcome = .dropped
        slots[s].end = now
        stopWork(s)
        finish(s)
        dropped += 1
        if activeCount == 0 { closeRound(.exhausted) }
    }

    /// Cancels the slot's timer and flow.
    func stopWork(_ s: Int) {
        _ = simulator.cancel(slots[s].timer)
        slots[s].timer = .none
        if let flow = slots[s].flow {
            (slots[s].flowOnEgress ? egress : ingress).cancel(flow)
            slots[s].flow = nil
        }
    }

    func finish(_ s: Int) {
        slots[s].active = false
        activeCount -= 1
        _ = simulator.cancel(slots[s].dropEvent)
        slots[s].dropEvent = .none
    }

    func closeRound(_ reason: RoundClose, retryAfter: Double = 0) {
        guard roundOpen else { return }
        roundOpen = false
        let close = now
        _ = simulator.cancel(deadlineEvent)
        deadlineEvent = .none
        var late = 0
        for s in slots.indices where slots[s].active {
            slots[s].outcome = .late
            slots[s].end = close
            stopWork(s)
            finish(s)
            late += 1
        }
        let aggregated = arrivals >= config.selection.minCompletions && reason != .empty
        if aggregated { globalVersion += 1 }
        var accuracy: Double?, loss: Double?
        if let learner {
            let lastRound = config.stop.rounds.map { round >= $0 } ?? false
            let evaluate = round % learner.workload.training.evaluateEvery == 0 || lastRound
            if aggregated {
                let updates = slots.filter { $0.outcome == .completed }.map {
                    WeightedUpdate(bytes: $0.encoded!, weight: population.samples[$0.client])
                }
                do {
                    try timedLearning { try learner.aggregate(updates, round: round) }
                } catch {
                    fail(error)
                    return
                }
                let f = learner.broadcastFractions
                downloadKept.append((f.a + f.b) / 2)
                if !measured {
                    latestSizes = PayloadSizes(codec: codec, shapes: shapes,
                                               keptFraction: KeptFraction(uploadA: 1, uploadB: 1, downloadA: f.a, downloadB: f.b))
                }
            }
            if evaluate {
                timedLearning { learner.evaluate() }
                accuracy = learner.accuracy
                loss = learner.loss
            }
        }
        let end = close + (aggregated ? config.server.aggregationSeconds : retryAfter)
        rounds.append(RoundRecord(round: round, startSeconds: roundStart, closeSeconds: close, endSeconds: end, available: available,
                                  selected: slots.count, completed: arrivals, dropped: dropped, late: late, aggregated: aggregated,
                                  close: reason, bytesUp: bytesUp, bytesDown: bytesDown, version: Int(globalVersion),
                                  accuracy: accuracy, loss: loss))
        if recordClients {
            for slot in slots {
                func span(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : b - a }
                clientRows.append(ClientRecord(
                    round: Int32(round), client: Int32(slot.client), outcome: slot.outcome, staleRounds: slot.stale,
                    downloadBytes: slot.downloadBytes, uploadBytes: slot.outcome == .completed ? slot.uploadBytes : 0,
                    downloadSeconds: span(slot.downloadStart, slot.downloadEnd), computeSeconds: span(slot.downloadEnd, slot.computeEnd),
                    uploadSeconds: span(slot.computeEnd, slot.uploadEnd), endSeconds: slot.end))
            }
        }
        progress?(round, end, learner?.accuracy)
        let stop = config.stop
        if let r = stop.rounds, round >= r { return }
        if let t = stop.seconds, end >= t { return }
        if stop.rounds == nil, let t = stop.seconds, round >= 10 {
            // Only a time limit: refuse a run that could not finish, from the rounds so far.
            let limit = learner == nil ? FederationRun.maxRoundsByTime : FederationRun.maxTrainedRoundsByTime
            let estimate = end > 0 ? t / (end / Double(round)) : .infinity
            if estimate > Double(limit) {
                let perRound = end > 0 ? "a round lasts ≈ \(Quantity.humanReadable(end / Double(round), as: .duration)) here" : "rounds take no simulated time here"
                fail(InputError(.invalidValue(expected: "a time limit reachable in at most \(limit) rounds, or stop.rounds as well",
                                              found: "\(Quantity.humanReadable(t, as: .duration)), ≈ \(estimate.isFinite ? Quantity.significant(estimate, 3) : "infinitely many") rounds (\(perRound))"),
                                at: "stop.time"))
                return
            }
        }
        _ = simulator.schedule(at: SimTime(seconds: end)) { [unowned self] in self.beginRound() }
    }
}
