import Federation
import Foundation
import Learning
import Numerics

/// `workload.train.external`: the user's own trainer (docs/EXTERNAL-TRAINER.md).
extension TrainingSection {
    static let externalKeys = ["command", "evaluate", "directory", "timeout", "parallel", "max_consecutive_failures", "local_steps",
                               "metrics", "exchange_directory", "keep_files"]

    static func externalSchema() -> JSONValue {
        let d = ExternalTrainer(command: ["trainer"], directory: ".")
        let argv: JSONValue = ["type": "array", "minItems": 1, "items": ["type": "string", "minLength": 1]]
        return ["type": "object", "additionalProperties": false, "required": ["command"],
                "description": "The user's own trainer (docs/EXTERNAL-TRAINER.md): fedsim runs it per client call from an argv list (never a shell), the request's path appended.",
                "properties": [
                    "command": SchemaVocabulary.with(argv, ["description": "The trainer's argv: an executable (a path with '/' relative to directory, or a name on PATH or beside fedsim) and its arguments."]),
                    "evaluate": SchemaVocabulary.with(argv, ["description": "The evaluation command's argv (default: command; the request's kind tells them apart)."]),
                    "directory": ["type": "string", "minLength": 1, "description": "Working directory of every call, relative to the scenario file (default: its folder)."],
                    "timeout": SchemaVocabulary.ref("quantity-duration-positive", "Wall-clock limit of one call (default \(Quantity.humanReadable(d.timeout, as: .duration))); past it the call's processes are killed and the client fails."),
                    "parallel": SchemaVocabulary.integer(1...256, "Client trainings run at once, 1 … 256 (default \(d.parallel))."),
                    "max_consecutive_failures": SchemaVocabulary.integer(1...1_000_000, "Failed client calls in a row after which the run stops with exit 1 (default \(d.maxConsecutiveFailures))."),
                    "local_steps": SchemaVocabulary.integer(1...10_000_000, "Local steps sent in every train request (default: null, the trainer's own)."),
                    "metrics": ["type": "object", "additionalProperties": false, "properties": [
                        "accuracy": ["type": "string", "minLength": 1], "loss": ["type": "string", "minLength": 1]],
                                "description": "Which reported metric fills the accuracy column (higher is better) and the loss column (lower is better); default \"accuracy\" and \"loss\"."],
                    "exchange_directory": ["type": "string", "minLength": 1, "description": "Where the exchange files live, relative to the scenario file (default: the system's temporary folder)."],
                    "keep_files": ["type": "boolean", "description": "Keep the exchange files after the run (default false)."],
                ]]
    }

    static func parseExternal(_ node: Node) throws -> FederationConfig.Training {
        _ = try node.object(allowed: ["external", "evaluate_every"])
        let x = try node.required("external")
        _ = try x.object(allowed: externalKeys)
        let base = node.baseDirectory ?? FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String { URL(fileURLWithPath: p.hasPrefix("/") ? p : base + "/" + p).standardizedFileURL.path }
        var directory = base, written = "."
        if let d = x.member("directory") {
            written = try d.string()
            directory = absolute(written)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw d.invalid("an existing directory (relative to the scenario file)")
            }
        }
        func argv(_ n: Node) throws -> [String] {
            let items = try n.elements()
            guard !items.isEmpty else { throw n.invalid("a non-empty list of strings: the program and its arguments") }
            let strings = try items.map { item -> String in
                guard case let .string(s) = item.value else { throw item.invalid("a string (each argument is one string; no shell splits them)") }
                guard !s.contains("\0") else { throw item.invalid("a string without NUL characters") }
                return s
            }
            guard !strings[0].isEmpty, let resolved = Subprocess.resolve(strings[0], directory: directory) else {
                let problem = strings[0].contains("/") ? "no executable file there (relative to \(directory))" : "not found on PATH or beside fedsim"
                throw InputError(.invalidValue(expected: "an executable file", found: "'\(InputError.clipped(strings[0]))' (\(problem))"), at: items[0].path)
            }
            _ = resolved
            return strings
        }
        let command = try argv(try x.required("command"))
        var trainer = ExternalTrainer(command: command, evaluate: try x.member("evaluate").map(argv), directory: directory)
        trainer.directoryAsWritten = written
        if let t = x.member("timeout") { trainer.timeout = try t.positiveQuantity(.duration, "a positive duration such as \"10min\"") }
        trainer.parallel = try x.member("parallel")?.integer(1...256, "a number of concurrent calls in 1…256") ?? trainer.parallel
        trainer.maxConsecutiveFailures = try x.member("max_consecutive_failures")?.integer(1...1_000_000, "a positive number of failures") ?? trainer.maxConsecutiveFailures
        trainer.localSteps = try x.member("local_steps")?.integer(1...10_000_000, "a positive number of steps")
        if let m = x.member("metrics") {
            _ = try m.object(allowed: ["accuracy", "loss"])
            func name(_ key: String) throws -> String? {
                guard let n = m.member(key) else { return nil }
                let s = try n.string()
                guard !s.isEmpty else { throw n.invalid("a metric name") }
                return s
            }
            trainer.accuracyMetric = try name("accuracy") ?? trainer.accuracyMetric
            trainer.lossMetric = try name("loss") ?? trainer.lossMetric
        }
        if let e = x.member("exchange_directory") {
            trainer.exchangeDirectoryAsWritten = try e.string()
            trainer.exchangeDirectory = absolute(try e.string())
        }
        trainer.keepFiles = try x.member("keep_files")?.bool() ?? false
        var t = FederationConfig.Training(data: .fashionMNIST(directory: FashionMNIST.defaultDirectory))
        t.model = .external(trainer)
        t.evaluateEvery = try node.member("evaluate_every")?.integer(1...100_000, "a positive number of rounds") ?? t.evaluateEvery
        return t
    }

    static func resolvedExternal(_ t: FederationConfig.Training, _ x: ExternalTrainer) -> JSONValue {
        var o: [String: JSONValue] = [
            "command": .array(x.command.map { .string($0) }), "evaluate": .array(x.evaluate.map { .string($0) }),
            "directory": .string(x.directoryAsWritten), "timeout": Resolved.quantity(x.timeout, .duration), "parallel": Resolved.integer(x.parallel),
            "max_consecutive_failures": Resolved.integer(x.maxConsecutiveFailures),
            "metrics": ["accuracy": .string(x.accuracyMetric), "loss": .string(x.lossMetric)], "keep_files": .bool(x.keepFiles),
        ]
        if let s = x.localSteps { o["local_steps"] = Resolved.integer(s) }
        if let e = x.exchangeDirectoryAsWritten { o["exchange_directory"] = .string(e) }
        return ["external": .object(o), "evaluate_every": Resolved.integer(t.evaluateEvery)]
    }
}
