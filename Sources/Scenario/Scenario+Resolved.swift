import Federation
import Numerics

extension Scenario {
    /// The scenario in its JSON form with every default filled in: what `fedsim validate` prints,
    /// and what `summary.json` records. Parsing it again gives the same scenario. Each section
    /// writes its own part (`Sections/`).
    public var resolved: JSONValue {
        var root: [String: JSONValue] = [
            "name": .string(name), "seed": .number(Double(config.seed)),
            "population": PopulationSection.resolved(config.population),
            "network": NetworkSection.resolved(config.network, form: networkForm, userProfiles: userProfiles),
            "server": ServerSection.resolved(config.server),
            "availability": AvailabilitySection.resolved(config.availability),
            "selection": SelectionSection.resolved(config.selection),
            "workload": WorkloadSection.resolved(config.workload),
            "arms": ArmsSection.resolved(config.arms),
            "stop": StopSection.resolved(config.stop),
        ]
        if let t = config.target { root["target"] = TargetSection.resolved(t) }
        return .object(root)
    }
}
