import Foundation

/// Where an experiment reports its progress. The library never prints: the caller (the CLI's
/// console, a test, a notebook) decides what to show and how, e.g. a rewritten progress line on a
/// terminal and a few plain lines in a log.
///
/// Events arrive on the thread that runs the experiment, in order. An error thrown by `experiment(_:)`
/// stops the experiment and is rethrown by the call that runs it.
public protocol ExperimentObserver: AnyObject {
    /// Whether `.round` events are wanted (one per simulated round: a terminal's progress line
    /// wants them, a log does not).
    var wantsRounds: Bool { get }
    /// Called for every event of the experiment.
    func experiment(_ event: ExperimentEvent) throws
}

/// A sweep point's place in its sweep: `index` counts from 0, `count` is the sweep's number of points.
public struct PointPosition: Sendable, Equatable {
    /// The point's index in the sweep (0-based).
    public var index: Int
    /// How many points the sweep has.
    public var count: Int
    /// A position.
    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }
}

/// Which seed of which run an event is about.
public struct SeedContext: Sendable, Equatable {
    /// The sweep point the run belongs to (nil for a plain run).
    public var point: PointPosition?
    /// The seed.
    public var seed: UInt64
    /// The seed's place among the run's seeds (0-based).
    public var seedIndex: Int
    /// How many seeds the run has.
    public var seedCount: Int
    /// A context.
    public init(point: PointPosition?, seed: UInt64, seedIndex: Int, seedCount: Int) {
        self.point = point
        self.seed = seed
        self.seedIndex = seedIndex
        self.seedCount = seedCount
    }
}

/// What an experiment reports while it runs.
public enum ExperimentEvent: Sendable {
    /// A seed's base model is ready (training runs only): taken from the cache or pretrained now,
    /// with its test accuracy.
    case baseModel(SeedContext, cached: Bool, testAccuracy: Double)
    /// A seed was taken from the checkpoint of an earlier, interrupted run instead of run again.
    case seedResumed(SeedContext)
    /// An arm finished a round (only when `wantsRounds`): `rounds` is the round cap if any.
    case round(SeedContext, arm: String, round: Int, rounds: Int?, simulatedSeconds: Double, accuracy: Double?)
    /// An arm finished: its number of rounds, simulated time and last measured accuracy;
    /// `trained` when the workload really trains.
    case armFinished(SeedContext, arm: String, rounds: Int, simulatedSeconds: Double, accuracy: Double?, trained: Bool)
    /// An arm stopped with an error (which the run then throws).
    case armFailed(SeedContext, arm: String)
    /// A sweep point was run and written.
    case pointFinished(PointFinished)
}

/// A sweep point that was run and written, with the shard's progress.
public struct PointFinished: Sendable {
    /// The point.
    public var position: PointPosition
    /// Its data files (summary.json, rounds.csv), as written.
    public var files: [(name: String, contents: Data)]
    /// Points of this shard done so far (run now or found done).
    public var done: Int
    /// Points in this shard.
    public var inShard: Int
    /// The estimated wall time left for the shard's remaining points, in seconds.
    public var secondsLeft: Double
    /// The point's one-screen answer (`Report.headline`).
    public var headline: String
    /// A report.
    public init(position: PointPosition, files: [(name: String, contents: Data)], headline: String, done: Int, inShard: Int, secondsLeft: Double) {
        self.position = position
        self.files = files
        self.headline = headline
        self.done = done
        self.inShard = inShard
        self.secondsLeft = secondsLeft
    }
}
