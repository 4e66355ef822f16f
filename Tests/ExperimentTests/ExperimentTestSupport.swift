import Experiment
import Foundation
import XCTest

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// An observer that keeps every event (and can be told to fail at the n-th one).
final class RecordingObserver: ExperimentObserver {
    struct Stop: Error {}
    let wantsRounds: Bool
    var failAt: Int?
    private(set) var events: [ExperimentEvent] = []

    init(wantsRounds: Bool = false, failAt: Int? = nil) {
        self.wantsRounds = wantsRounds
        self.failAt = failAt
    }

    func experiment(_ event: ExperimentEvent) throws {
        events.append(event)
        if let failAt, events.count >= failAt { throw Stop() }
    }

    var rounds: Int { events.filter { if case .round = $0 { true } else { false } }.count }
    var resumed: [UInt64] { events.compactMap { if case let .seedResumed(c) = $0 { c.seed } else { nil } } }
    var finishedArms: [String] { events.compactMap { if case let .armFinished(c, arm, _, _, _, _) = $0 { "\(arm)@\(c.seed)" } else { nil } } }
    var finishedPoints: [PointFinished] { events.compactMap { if case let .pointFinished(p) = $0 { p } else { nil } } }
}

/// A temporary folder per test, with small time-only scenarios.
class ExperimentTestCase: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("fedsim-experiment-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func path(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: tmp.appendingPathComponent(name)) }

    /// A small time-only scenario (two arms, 4 rounds); `extra` is spliced into the top-level object.
    func scenario(_ extra: String = "") -> String {
        """
        {"name": "tiny", "population": {"clients": 30}, "selection": {"per_round": 5}, "network": {"profile": "4g"},
         "workload": {"payload": {"model": "gpt2", "rank": 4, "targets": ["c_attn"]}},
         "arms": [{"codec": "lora"}, {"codec": "fedsrd"}], "stop": {"rounds": 4}\(extra)}
        """
    }

    /// Every file under `root` by its path below it, but provenance.json (it records each
    /// process's threads and commit): what two ways of running a sweep must agree on.
    func outputFiles(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        let base = URL(fileURLWithPath: root)
        for case let url as URL in FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) ?? FileManager.DirectoryEnumerator() {
            guard !url.hasDirectoryPath, url.lastPathComponent != "provenance.json", let data = try? Data(contentsOf: url) else { continue }
            out[String(url.path.dropFirst(base.path.count))] = data
        }
        return out
    }

    func contents(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }
}
