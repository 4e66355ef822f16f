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

    /// Bytes of the extras message beside every upload and every download (0: the adapter has no
    /// extras, or nothing trains). They are the real message's bytes whatever prices the LoRA
    /// factors: a catalogue model has no notion of the proxy adapter's extras.
    var extrasBytes: Int { learner?.extrasBroadcastBytes ?? 0 }

    /// The nominal upload with the extras message (what a dropout's placement assumes).
    var nominalUpload: Int { nominal.upload + extrasBytes }

    /// Bytes a client `stale` broadcasts behind downloads: the codec's catch-up, and (if it is
    /// behind at all) the current global extras whole.
    func downloadBytes(stale: Int) -> Int {
        let extras = stale > 0 ? extrasBytes : 0
        if let learner, measured { return learner.measuredCatchUp(stale: stale) + extras }
        return latest.download(stale: stale) + extras
    }

    /// With training: trains the round's selected clients (their updates wait for `upload`).
    mutating func pretrain(clients: [Int], round: Int) throws {
        guard let learner else { return }
        try timed { try learner.pretrain(clients: clients, round: round) }
    }

    /// What client `i` uploads this round: the nominal size, or with training its encoded update
    /// and the message's size (or its kept fractions priced on the catalogue model), plus its
    /// extras message (`extras`, empty without extras), counted as its real bytes.
    /// A client whose training failed uploads nothing (`failure` says why).
    mutating func upload(client i: Int, round: Int) throws -> (bytes: Int, encoded: [UInt8]?, extras: [UInt8], failure: TrainingFailure?) {
        guard let learner else { return (nominal.upload, nil, [], nil) }
        if let f = learner.failure(client: i, round: round) { return (0, nil, [], f) }
        let (encoded, extras) = try timed { (try learner.encode(client: i, round: round), learner.encodeExtras(client: i, round: round)) }
        let f = ArmLearner.fractions(encoded.kept)
        uploadKept.append(encoded.keptFraction)
        let bytes = measured ? encoded.bytes.count
            : codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: f.a, uploadB: f.b, downloadA: 1, downloadB: 1)).upload
        return (bytes + extras.count, encoded.bytes, extras, nil)
    }

    /// Aggregates the round's updates into the next global adapter; later downloads are priced at
    /// the broadcast's kept fractions, and a stale client's at the merged fractions the broadcast
    /// history measures on the proxy's real supports.
    /// `extras[k]`: the extras message `clients[k]` sent beside `updates[k]`.
    mutating func aggregate(_ updates: [WeightedUpdate], extras: [[UInt8]], clients: [Int], round: Int) throws {
        guard let learner else { return }
        try timed { try learner.aggregate(updates, extras: extras, clients: clients, round: round) }
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
