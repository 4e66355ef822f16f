import Codec
import LoRA

/// What happened to one selected client in one round.
public enum ClientOutcome: String, Sendable, CaseIterable, Codable {
    /// Its upload arrived before the round closed; the server used it.
    case completed
    /// Still working when the round closed (quota reached or deadline): its work is discarded.
    case late
    /// Went offline during the round: its work is lost.
    case dropped
    /// Its local training failed (an external trainer's call exited non-zero, timed out or
    /// returned a malformed adapter): it sent nothing.
    case failed
}

/// One selected client in one round (a row of `clients.csv`). Times are seconds of simulated time;
/// a phase that did not finish has NaN.
public struct ClientRecord: Sendable, Codable {
    public var round: Int32
    public var client: Int32
    public var outcome: ClientOutcome
    /// Rounds of broadcasts the client had missed (0: in sync, nothing to download).
    public var staleRounds: Int32
    public var downloadBytes: Int
    public var uploadBytes: Int
    /// Phase durations: download (set-up + slow start + transfer + propagation), local training, upload.
    public var downloadSeconds: Double
    public var computeSeconds: Double
    public var uploadSeconds: Double
    /// When the client's upload arrived, dropped out, or was cut off by the round's close.
    public var endSeconds: Double

    /// A record with every field given (what `clients.csv` holds of it, read back by the reports).
    public init(round: Int32, client: Int32, outcome: ClientOutcome, staleRounds: Int32, downloadBytes: Int, uploadBytes: Int,
                downloadSeconds: Double, computeSeconds: Double, uploadSeconds: Double, endSeconds: Double) {
        self.round = round
        self.client = client
        self.outcome = outcome
        self.staleRounds = staleRounds
        self.downloadBytes = downloadBytes
        self.uploadBytes = uploadBytes
        self.downloadSeconds = downloadSeconds
        self.computeSeconds = computeSeconds
        self.uploadSeconds = uploadSeconds
        self.endSeconds = endSeconds
    }
}

/// Why a round closed.
public enum RoundClose: String, Sendable, Codable {
    /// K uploads arrived.
    case quota
    /// The deadline passed first.
    case deadline
    /// Every selected client finished or dropped before K arrived (no deadline, or before it).
    case exhausted
    /// No client was available to select.
    case empty
}

/// One round of one arm (a row of `rounds.csv`).
public struct RoundRecord: Sendable, Codable {
    public var round: Int
    public var startSeconds: Double
    /// When the round closed (last counted upload, deadline, or exhaustion).
    public var closeSeconds: Double
    /// When the next round can start: close + aggregation (aggregation only when the round counted).
    public var endSeconds: Double
    public var available: Int
    public var selected: Int
    public var completed: Int
    public var dropped: Int
    public var late: Int
    /// Participants whose local training failed (external trainer).
    public var failed: Int = 0
    /// Whether enough uploads arrived for the server to aggregate (`min_completions`).
    public var aggregated: Bool
    public var close: RoundClose
    /// Bytes of the transfers that completed in this round.
    public var bytesUp: Int
    public var bytesDown: Int
    /// Version of the global adapter after this round (rounds that aggregated).
    public var version: Int
    /// Test accuracy and loss of the global adapter after this round (when training and evaluated).
    public var accuracy: Double? = nil
    public var loss: Double? = nil
    /// How faithfully the codec carried this round's updates (rounds that aggregated, with training;
    /// `UpdateFidelity`): the applied update's cosine and norm ratio against exact FedAvg of the same
    /// clients' true updates, the mean share of each update's energy its upload kept, and the median
    /// kurtosis of the updates' factor deltas.
    public var updateCosine: Double? = nil
    public var updateNormRatio: Double? = nil
    public var keptEnergy: Double? = nil
    public var updateKurtosis: Double? = nil

    /// A record with every field given (what `rounds.csv` holds of it, read back by the reports).
    public init(round: Int, startSeconds: Double, closeSeconds: Double, endSeconds: Double, available: Int, selected: Int,
                completed: Int, dropped: Int, late: Int, aggregated: Bool, close: RoundClose, bytesUp: Int, bytesDown: Int,
                version: Int, accuracy: Double? = nil, loss: Double? = nil, updateCosine: Double? = nil, updateNormRatio: Double? = nil,
                keptEnergy: Double? = nil, updateKurtosis: Double? = nil, failed: Int = 0) {
        self.round = round
        self.startSeconds = startSeconds
        self.closeSeconds = closeSeconds
        self.endSeconds = endSeconds
        self.available = available
        self.selected = selected
        self.completed = completed
        self.dropped = dropped
        self.late = late
        self.failed = failed
        self.aggregated = aggregated
        self.close = close
        self.bytesUp = bytesUp
        self.bytesDown = bytesDown
        self.version = version
        self.accuracy = accuracy
        self.loss = loss
        self.updateCosine = updateCosine
        self.updateNormRatio = updateNormRatio
        self.keptEnergy = keptEnergy
        self.updateKurtosis = updateKurtosis
    }
}

/// Everything one arm produced.
public struct ArmResult: Sendable, Codable {
    public var name: String
    public var codec: String
    public var uploadBytesPerClient: Int
    /// Download bytes for a client one round behind (the common case) and for a fully stale one.
    public var downloadBytesInSync: Int
    public var downloadBytesDense: Int
    public var rounds: [RoundRecord]
    public var clients: [ClientRecord]
    /// Events the kernel fired.
    public var events: UInt64
    /// Test accuracy and loss before the first round (the frozen base), when training.
    public var initialAccuracy: Double? = nil
    public var initialLoss: Double? = nil
    /// Mean kept fractions of A and B over the real uploads and broadcasts, when training.
    public var measuredUploadKept: Double? = nil
    public var measuredDownloadKept: Double? = nil
    /// Wall-clock seconds spent training, encoding, aggregating and evaluating (the real work).
    public var learningSeconds: Double = 0
    /// With an external trainer: its calls for this arm, the failures and the trainer's time.
    public var trainer: TrainerStatistics? = nil
    /// The global adapter at the end (what every in-sync client holds), when training.
    public var finalGlobal: LoRAAdapter? = nil
    /// The global extras at the end (the tensors that are not LoRA factors; none without them).
    public var finalGlobalExtras: [PEFTExtra] = []

    /// Everything but the final adapter and extras (which outputs do not contain) is kept when a finished
    /// seed is saved for resuming (`fedsim run --seeds`).
    enum CodingKeys: String, CodingKey {
        case name, codec, uploadBytesPerClient, downloadBytesInSync, downloadBytesDense, rounds, clients, events
        case initialAccuracy, initialLoss, measuredUploadKept, measuredDownloadKept, learningSeconds, trainer
    }

    public var simulatedSeconds: Double { rounds.last?.endSeconds ?? 0 }
    public var bytesUp: Int { rounds.reduce(0) { $0 + $1.bytesUp } }
    public var bytesDown: Int { rounds.reduce(0) { $0 + $1.bytesDown } }
}

extension ClientRecord: Equatable {}

extension RoundClose: CaseIterable {}

extension RoundRecord: Equatable {
    /// The round's duration: from its start to the start of the next (aggregation included).
    public var durationSeconds: Double { endSeconds - startSeconds }
}
