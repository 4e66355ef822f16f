import EventKernel
import Network

/// One selected client in the round in progress: what it carries, where it is in its work, and
/// the events that belong to it.
struct Participant {
    let client: Int
    /// Still working (not yet arrived, dropped or cut off).
    var active = true
    var outcome = ClientOutcome.late
    /// Broadcasts it had missed when the round began.
    var stale: Int32 = 0
    var downloadBytes = 0
    var uploadBytes = 0
    /// With training, its encoded update, and its extras message (empty: the adapter has none).
    var encoded: [UInt8]?
    var extras: [UInt8] = []
    /// Its training failed (an external trainer's call): it sends nothing and fails when its
    /// local training would have ended.
    var trainingFailed = false
    /// Phase boundaries (nil: not reached).
    var downloadStart = SimTime.zero
    var downloadEnd: SimTime?, computeEnd: SimTime?, uploadEnd: SimTime?, end: SimTime?
    /// The transfer in progress, the local training's timer, and the dropout.
    var transfer: ClientTransfers.TransferID?
    var computeTimer = EventHandle.none
    var dropEvent = EventHandle.none

    init(client: Int) { self.client = client }

    /// The record of its round.
    func record(round: Int) -> ClientRecord {
        func span(_ a: SimTime?, _ b: SimTime?) -> Double {
            guard let a, let b else { return .nan }
            return (b - a).seconds
        }
        return ClientRecord(round: Int32(round), client: Int32(client), outcome: outcome, staleRounds: stale,
                            downloadBytes: downloadBytes, uploadBytes: outcome == .completed ? uploadBytes : 0,
                            downloadSeconds: span(downloadStart, downloadEnd), computeSeconds: span(downloadEnd, computeEnd),
                            uploadSeconds: span(computeEnd, uploadEnd), endSeconds: end?.seconds ?? .nan)
    }
}

/// The global adapter's version and the version every client holds (4 bytes a client).
struct ModelVersions {
    private(set) var global: Int32 = 0
    private var held: [Int32]

    init(clients: Int) { held = [Int32](repeating: 0, count: clients) }

    /// Broadcasts client `i` has missed.
    func staleness(of i: Int) -> Int { Int(global - held[i]) }

    /// Client `i` now holds the global version.
    mutating func synchronise(_ i: Int) { held[i] = global }

    /// The server aggregated: a new global version.
    mutating func advance() { global += 1 }
}

/// The round in progress: its participants and running counts.
struct RoundInProgress {
    var number = 0
    var start = SimTime.zero
    /// Clients that could be selected.
    var available = 0
    var participants: [Participant] = []
    var arrivals = 0
    var dropped = 0
    /// Participants whose training failed.
    var failed = 0
    /// Participants still working.
    var activeCount = 0
    /// Bytes of the transfers that completed.
    var bytesUp = 0
    var bytesDown = 0
    var deadlineEvent = EventHandle.none
    var open = false

    /// Round `number`, starting at `start` with `participants` chosen among `available`.
    init(number: Int, start: SimTime, available: Int, participants: [Participant]) {
        self.number = number
        self.start = start
        self.available = available
        self.participants = participants
        activeCount = participants.count
        open = true
    }

    init() {}
}
