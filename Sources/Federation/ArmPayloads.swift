import Codec
import Dispatch
import LoRA

/// What an arm's transfers carry and, with real training, the learning behind them: the run's
/// round policy asks it for download and upload sizes, and it trains, encodes, aggregates and
/// evaluates (timing that real work), keeping the measured kept fractions.
struct ArmPayloads {
    /// Sizes on the modelled model at the codec's nominal kept fractions.
    let nominal: PayloadSizes
    let codec: any Codec
    /// The shapes payloads are priced on (the catalogue model's, or the proxy's when measured).
    let shapes: [LoRALayerShape]
    let learner: ArmLearner?
    /// Whether payloads are the real messages' sizes (`workload.payload_model: measured`).
    let measured: Bool
    /// Sizes at the latest measured kept fractions (= `nominal` without training).
    private(set) var latest: PayloadSizes
    /// Kept fractions of every real upload and broadcast.
    private(set) var uploadKept: [Double] = [], downloadKept: [Double] = []
    /// Wall-clock seconds of the real work (training, encoding, aggregating, evaluating).
    private(set) var learningSeconds = 0.0

    init(nominal: PayloadSizes, codec: any Codec, shapes: [LoRALayerShape], learner: ArmLearner?, measured: Bool) {
        self.nominal = nominal
        self.codec = codec
        self.shapes = shapes
        self.learner = learner
        self.measured = measured
        latest = nominal
    }

    /// Bytes a client `stale` broadcasts behind downloads.
    func downloadBytes(stale: Int) -> Int {
        if let learner, measured { return learner.measuredCatchUp(stale: stale) }
        return latest.download(stale: stale)
    }

    /// With training: trains the round's selected clients (their updates wait for `upload`).
    mutating func pretrain(clients: [Int], round: Int) throws {
        guard let learner else { return }
        try timed { try learner.pretrain(clients: clients, round: round) }
    }

    /// What client `i` uploads this round: the nominal size, or with training its encoded update
    /// and the message's size (or its kept fractions priced on the catalogue model).
    /// A client whose training failed uploads nothing (`failure` says why).
    mutating func upload(client i: Int, round: Int) throws -> (bytes: Int, encoded: [UInt8]?, failure: TrainingFailure?) {
        guard let learner else { return (nominal.upload, nil, nil) }
        if let f = learner.failure(client: i, round: round) { return (0, nil, f) }
        let encoded = try timed { try learner.encode(client: i, round: round) }
        let f = ArmLearner.fractions(encoded.kept)
        uploadKept.append(encoded.keptFraction)
        let bytes = measured ? encoded.bytes.count
            : codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: f.a, uploadB: f.b, downloadA: 1, downloadB: 1)).upload
        return (bytes, encoded.bytes, nil)
    }

    /// Aggregates the round's updates into the next global adapter; later downloads are priced at
    /// the broadcast's kept fractions, and a stale client's at the merged fractions the broadcast
    /// history measures on the proxy's real supports.
    mutating func aggregate(_ updates: [WeightedUpdate], clients: [Int], round: Int) throws {
        guard let learner else { return }
        try timed { try learner.aggregate(updates, clients: clients, round: round) }
        let f = learner.broadcastFractions
        downloadKept.append((f.a + f.b) / 2)
        if !measured {
            latest = PayloadSizes(codec: codec, shapes: shapes, keptFraction: KeptFraction(uploadA: 1, uploadB: 1, downloadA: f.a, downloadB: f.b),
                                  mergedKept: learner.mergedKeptFractions)
        }
    }

    /// Evaluates the global adapter on the test set: (accuracy, loss).
    mutating func evaluate(round: Int) throws -> (accuracy: Double, loss: Double)? {
        guard let learner else { return nil }
        try timed { try learner.evaluate(round: round) }
        return (learner.accuracy, learner.loss)
    }

    var uploadKeptMean: Double? { uploadKept.isEmpty ? nil : uploadKept.reduce(0, +) / Double(uploadKept.count) }
    var downloadKeptMean: Double? { downloadKept.isEmpty ? nil : downloadKept.reduce(0, +) / Double(downloadKept.count) }

    /// Runs `body`, adding its wall-clock time to `learningSeconds`.
    private mutating func timed<T>(_ body: () throws -> T) rethrows -> T {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { learningSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        return try body()
    }
}
