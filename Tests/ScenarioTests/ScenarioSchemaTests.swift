import Federation
import Foundation
import Numerics
@testable import Scenario
import XCTest

/// The schema is generated from the readers' key tables; these check that it stays committed,
/// that its defaults are the reader's, and that every key it lists is one the reader takes.
final class ScenarioSchemaTests: XCTestCase {
    let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let payload: JSONValue = ["model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]]

    func testCommittedSchemaIsTheEmittedOne() throws {
        let committed = try String(contentsOf: repoRoot.appendingPathComponent("Scenarios/schema.json"), encoding: .utf8)
        XCTAssertEqual(committed, ScenarioSchema.text, "regenerate: fedsim schema > Scenarios/schema.json")
    }

    func scenario(_ members: [String: JSONValue]) throws -> Scenario {
        var root: [String: JSONValue] = ["name": "x", "workload": ["payload": payload]]
        root.merge(members) { $1 }
        return try ScenarioParser.parse(.object(root))
    }

    /// Writing every default the schema states explicitly gives the scenario that omits them.
    func testSchemaDefaultsAreTheReadersDefaults() throws {
        func defaults(_ keys: [ScenarioKey]) -> [String: JSONValue] {
            var out: [String: JSONValue] = [:]
            for key in keys { if case let .object(o) = key.schema, let d = o["default"] { out[key.name] = d } }
            return out
        }
        let implicit = try scenario([:])
        let explicit = try scenario([
            "seed": defaults(ScenarioParser.rootKeys)["seed"] ?? .null,
            "population": .object(defaults(PopulationSection.keys)),
            "server": .object(defaults(ServerSection.keys)),
            "network": .object(defaults(NetworkSection.keys)),
            "availability": .object(defaults(AvailabilitySection.keys)),
            "selection": .object(defaults(SelectionSection.keys)),
            "workload": ["payload": payload, "compute": .object(defaults(WorkloadSection.computeKeys))],
            "arms": defaults(ScenarioParser.rootKeys)["arms"] ?? .null,
            "stop": defaults(ScenarioParser.rootKeys)["stop"] ?? .null,
        ])
        XCTAssertEqual(explicit.resolved, implicit.resolved)
        XCTAssertEqual(defaults(ServerSection.keys).count, 3)
        XCTAssertEqual(defaults(SelectionSection.keys).keys.sorted(), ["min_completions", "over_selection", "per_round"])
        // A diurnal cycle given its stated defaults equals one that omits them.
        let sessions: JSONValue = ["online": "1h", "offline": "1h"]
        func withDiurnal(_ d: [String: JSONValue]) throws -> JSONValue {
            var cycle: [String: JSONValue] = ["amplitude": 0.5]
            cycle.merge(d) { $1 }
            guard case var .object(s) = sessions else { return .null }
            s["diurnal"] = .object(cycle)
            return try scenario(["availability": ["sessions": .object(s)]]).resolved
        }
        XCTAssertEqual(try withDiurnal(defaults(AvailabilitySection.diurnalKeys)), try withDiurnal([:]))
    }

    /// Every key a section's schema lists is accepted by its reader, and a key it does not list is refused.
    func testSchemaKeysAreTheReadersKeys() throws {
        let document = ScenarioSchema.document
        guard case let .object(root) = document, case let .object(defs)? = root["$defs"], case let .object(top)? = root["properties"] else {
            return XCTFail("schema shape")
        }
        XCTAssertEqual(top.keys.sorted(), ScenarioParser.topKeys.sorted())
        for section in ScenarioSchema.sections {
            guard case let .object(def)? = defs[section.name], case let .object(properties)? = def["properties"] else {
                return XCTFail("no $defs/\(section.name)")
            }
            XCTAssertEqual(properties.keys.sorted(), section.keys.names.sorted(), section.name)
        }
        XCTAssertThrowsError(try scenario(["server": ["donw": "1Gbps"]])) { error in
            XCTAssertTrue("\(error)".contains("did you mean 'down'"), "\(error)")
        }
        // Units in the schema's patterns are the reader's units.
        guard case let .object(rate)? = defs["quantity-rate-positive"], case let .string(pattern)? = rate["pattern"] else { return XCTFail("rate") }
        let regex = try NSRegularExpression(pattern: pattern)
        for text in ["10Mbps", "1.5Gbps", "12MB/s", "3kbps"] {
            XCTAssertNotNil(regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), text)
            XCTAssertNotNil(Quantity.parse(text, as: .bitRate), text)
        }
        for text in ["10mbps", "10", "1Mb"] { XCTAssertNil(regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), text) }
    }
}
