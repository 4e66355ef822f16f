import Federation
import Network

/// A scenario file, validated and with every default filled in (see docs/SCENARIOS.md): the
/// `FederationConfig` it maps onto, plus what only a file has (its name, how it named its network)
/// for reports and the resolved form (`resolved`).
///
/// Members of the configuration read through: `scenario.selection.perRound` is
/// `scenario.config.selection.perRound`.
@dynamicMemberLookup
public struct Scenario: Sendable {
    public var name: String
    /// What the federation runs on.
    public var config: FederationConfig
    /// How the file named its network (a profile name, a mix or inline), for the resolved form.
    public var networkForm: NetworkForm
    /// Profiles the file defined (`network.profiles`), by name.
    public var userProfiles: [NetworkProfile]

    public init(name: String, config: FederationConfig, networkForm: NetworkForm? = nil, userProfiles: [NetworkProfile] = []) {
        self.name = name
        self.config = config
        self.networkForm = networkForm ?? .named(config.network.profile.name)
        self.userProfiles = userProfiles
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<FederationConfig, T>) -> T {
        get { config[keyPath: path] }
        set { config[keyPath: path] = newValue }
    }

    /// How `network` was given.
    public enum NetworkForm: Sendable, Equatable {
        case named(String)
        case mix([(weight: Double, profile: String)])
        case inline

        public static func == (a: NetworkForm, b: NetworkForm) -> Bool {
            switch (a, b) {
            case let (.named(x), .named(y)): return x == y
            case let (.mix(x), .mix(y)): return x.map(\.weight) == y.map(\.weight) && x.map(\.profile) == y.map(\.profile)
            case (.inline, .inline): return true
            default: return false
            }
        }
    }

    public typealias Population = FederationConfig.Population
    public typealias Network = FederationConfig.Network
    public typealias Server = FederationConfig.Server
    public typealias Selection = FederationConfig.Selection
    public typealias Workload = FederationConfig.Workload
    public typealias PayloadModel = FederationConfig.PayloadModel
    public typealias Training = FederationConfig.Training
    public typealias Payload = FederationConfig.Payload
    public typealias Arm = FederationConfig.Arm
    public typealias Target = FederationConfig.Target
    public typealias Stop = FederationConfig.Stop
}
