import Numerics

/// `workload.train.external`: the user's own trainer drives the learning (docs/EXTERNAL-TRAINER.md).
/// fedsim writes the global adapter and a request per call, runs the command (an argv list, never
/// through a shell), reads the trained adapter and result back and passes the update through the
/// arm's codec as real bytes.
public struct ExternalTrainer: Sendable, Equatable {
    /// The training command as the scenario gives it: the program (a path with a slash, relative
    /// to `directory`, or a name looked up on PATH, then beside fedsim) and its arguments; the
    /// request's path is appended as the last argument.
    public var command: [String]
    /// The evaluation command (default: the training command; the request's `kind` tells them apart).
    public var evaluate: [String]
    /// The working directory of every call (absolute), and as the scenario wrote it (relative to
    /// its file; what the resolved scenario shows, so outputs name no machine's folders).
    public var directory: String
    public var directoryAsWritten = "."
    public var exchangeDirectoryAsWritten: String?
    /// Wall-clock limit of one call, seconds.
    public var timeout: Double
    /// Client trainings run at once.
    public var parallel: Int
    /// Failed calls in a row after which the run stops (exit 1).
    public var maxConsecutiveFailures: Int
    /// An initial adapter to start from (nil: the trainer's `initialize` call writes it).
    public var initialAdapter: String?
    /// Local steps sent in every train request (nil: the trainer's own setting).
    public var localSteps: Int?
    /// The evaluation metrics filling the accuracy (higher is better) and loss (lower is better) columns.
    public var accuracyMetric: String
    public var lossMetric: String
    /// Where the exchange files live (nil: a fresh directory under the system's temporary directory).
    public var exchangeDirectory: String?
    /// Keep the exchange files after the run (for debugging a trainer).
    public var keepFiles: Bool

    public init(command: [String], evaluate: [String]? = nil, directory: String, timeout: Double = 3600, parallel: Int = 1,
                maxConsecutiveFailures: Int = 5, initialAdapter: String? = nil, localSteps: Int? = nil,
                accuracyMetric: String = "accuracy", lossMetric: String = "loss", exchangeDirectory: String? = nil, keepFiles: Bool = false) {
        self.command = command
        self.evaluate = evaluate ?? command
        self.directory = directory
        self.timeout = timeout
        self.parallel = parallel
        self.maxConsecutiveFailures = maxConsecutiveFailures
        self.initialAdapter = initialAdapter
        self.localSteps = localSteps
        self.accuracyMetric = accuracyMetric
        self.lossMetric = lossMetric
        self.exchangeDirectory = exchangeDirectory
        self.keepFiles = keepFiles
    }

    /// How reports name a command: its program's file name, and the script it runs when the
    /// program is an interpreter (`python train.py`), never a folder of this machine.
    public static func programName(_ argv: [String]) -> String {
        func file(_ s: String) -> String { String(s.split(separator: "/").last ?? Substring(s)) }
        guard let first = argv.first else { return "" }
        if argv.count > 1, !argv[1].hasPrefix("-") { return file(first) + " " + file(argv[1]) }
        return file(first)
    }

    /// The protocol's name and version, written in every request and expected in every result.
    public static let protocolVersion = "fedsim.trainer/1"
}
