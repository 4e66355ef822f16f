import Federation
import Foundation
import Numerics

/// Reads scenario files: JSON → `Scenario`, every error an `InputError` naming the file, the key
/// path and what was expected. Each section is read by its own file under `Sections/` (which also
/// holds its schema and resolved form); the format and its defaults are in docs/SCENARIOS.md.
public enum ScenarioParser {
    /// The top-level keys, with their schemas (`ScenarioSchema`).
    static var rootKeys: [ScenarioKey] {
        [
            ScenarioKey("name", ["type": "string", "minLength": 1, "description": "Required: a non-empty label used in reports."]),
            ScenarioKey("seed", SchemaVocabulary.integer(0...Node.maxExactInteger,
                "An integer in 0 … 2^53 − 1 (what a JSON number holds exactly); default \(FederationConfig(workload: .init(payloadModel: .measured)).seed); every random stream derives from it.",
                default: .number(Double(FederationConfig(workload: .init(payloadModel: .measured)).seed)))),
            ScenarioKey(PopulationSection.name, SchemaVocabulary.ref(PopulationSection.name)),
            ScenarioKey(NetworkSection.name, SchemaVocabulary.ref(NetworkSection.name)),
            ScenarioKey(ServerSection.name, SchemaVocabulary.ref(ServerSection.name)),
            ScenarioKey(AvailabilitySection.name, SchemaVocabulary.ref(AvailabilitySection.name)),
            ScenarioKey(SelectionSection.name, SchemaVocabulary.ref(SelectionSection.name)),
            ScenarioKey(WorkloadSection.name, SchemaVocabulary.ref(WorkloadSection.name)),
            ArmsSection.arrayKey,
            ScenarioKey(TargetSection.name, SchemaVocabulary.ref(TargetSection.name)),
            ScenarioKey(StopSection.name, SchemaVocabulary.with(SchemaVocabulary.ref(StopSection.name), ["default": StopSection.resolved(FederationConfig.defaultStop)])),
            ScenarioKey("description", ["type": "string", "description": "Optional free text describing the scenario."]),
        ]
    }
    public static var topKeys: [String] { rootKeys.names }

    /// The largest scenario file read (64 MiB: far above any hand-written or generated scenario).
    public static let maxScenarioBytes = 64 << 20

    /// Reads (a regular file only, see `InputFile`) and parses `path`.
    public static func load(file path: String) throws -> Scenario {
        let data = try InputFile.read(path, maxBytes: maxScenarioBytes)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            return try parse(try JSONValue.parse(data, file: path), baseDirectory: base)
        } catch let error as InputError {
            if case .file = error.problem, error.keyPath.isEmpty { throw error }
            throw error.inFile(path)
        }
    }

    /// Parses a scenario document; relative trace paths resolve against `baseDirectory`.
    public static func parse(_ document: JSONValue, baseDirectory: String? = nil) throws -> Scenario {
        let root = Node(document, baseDirectory: baseDirectory)
        _ = try root.object(allowed: topKeys)
        let name = try root.required("name").string()
        guard !name.isEmpty else { throw try root.required("name").invalid("a non-empty name") }
        if let d = root.member("description") { _ = try d.string() }
        var config = FederationConfig(workload: .init(payloadModel: .measured))
        config.seed = try root.member("seed").map { try $0.seed() } ?? config.seed
        config.population = try PopulationSection.parse(root.member("population"))
        let (network, form, userProfiles) = try NetworkSection.parse(root.member("network"))
        config.network = network
        config.server = try ServerSection.parse(root.member("server"))
        config.availability = try AvailabilitySection.parse(root.member("availability"))
        config.selection = try SelectionSection.parse(root.member("selection"), clients: config.population.clients)
        config.workload = try WorkloadSection.parse(try root.required("workload"))
        config.arms = try ArmsSection.parse(root.member("arms"), defaultValueType: config.workload.payload?.valueType ?? .f32)
        config.target = try TargetSection.parse(root.member("target"))
        config.stop = try StopSection.parse(root.member("stop"))
        return Scenario(name: name, config: config, networkForm: form, userProfiles: userProfiles)
    }
}
