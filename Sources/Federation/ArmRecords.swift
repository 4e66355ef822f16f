import EventKernel

/// The records an arm's run produces: one per round, and (unless left out) one per selected client
/// and round.
struct ArmRecords {
    /// Whether client rows are kept.
    let keepClients: Bool
    private(set) var rounds: [RoundRecord] = []
    private(set) var clients: [ClientRecord] = []

    init(keepClients: Bool) { self.keepClients = keepClients }

    /// How a round ended, as the round policy decided it.
    struct Closing {
        var reason: RoundClose
        var close: SimTime
        /// When the next round can start.
        var end: SimTime
        var late: Int
        var aggregated: Bool
        /// The global version after the round.
        var version: Int32
        var accuracy: Double?, loss: Double?
        /// How faithfully the aggregation carried the updates (rounds that aggregated, with training).
        var fidelity: RoundFidelity?
    }

    /// Records `round`, closed as `closing`, and its participants.
    mutating func add(_ round: RoundInProgress, _ closing: Closing) {
        rounds.append(RoundRecord(round: round.number, startSeconds: round.start.seconds, closeSeconds: closing.close.seconds,
                                  endSeconds: closing.end.seconds, available: round.available, selected: round.participants.count,
                                  completed: round.arrivals, dropped: round.dropped, late: closing.late, aggregated: closing.aggregated,
                                  close: closing.reason, bytesUp: round.bytesUp, bytesDown: round.bytesDown, version: Int(closing.version),
                                  accuracy: closing.accuracy, loss: closing.loss, updateCosine: closing.fidelity?.cosine,
                                  updateNormRatio: closing.fidelity?.normRatio, keptEnergy: closing.fidelity?.keptEnergy,
                                  updateKurtosis: closing.fidelity?.kurtosis, failed: round.failed))
        if keepClients {
            for participant in round.participants { clients.append(participant.record(round: round.number)) }
        }
    }

    /// Mean bytes of the uploads that arrived (`nominal` when none did).
    func meanUploadBytes(nominal: Int) -> Int {
        let count = rounds.reduce(0) { $0 + $1.completed }, bytes = rounds.reduce(0) { $0 + $1.bytesUp }
        return count == 0 ? nominal : Int((Double(bytes) / Double(count)).rounded())
    }
}
