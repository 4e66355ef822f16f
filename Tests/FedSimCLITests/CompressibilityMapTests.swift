import Foundation
@testable import Reporting
import XCTest

/// The sweep's compressibility map: the crossover fitted where the speedup over lora crosses 1,
/// stated in words per network setting, and arms that missed the target counted, not dropped.
final class CompressibilityMapTests: XCTestCase {
    func row(_ profile: String, _ arm: String, kept: Double?, speedup: Double?) -> SweepRow {
        let blank = RunSummary.Arm(name: arm, codec: arm == "lora" ? "lora" : "fedsrd", rounds: 1, aggregatedRounds: 1, simulatedSeconds: 1, bytesUp: 0,
                                   bytesDown: 0, uploadBytesPerClient: 0, downloadBytesInSync: 0, downloadBytesDense: 0, completed: 0, dropped: 0,
                                   late: 0, meanRoundSeconds: 0, medianRoundSeconds: 0)
        var r = SweepRow(point: 1, values: [profile, "1"], seed: "1", arm: blank)
        r.keptEnergy = kept
        r.speedupVsLora = speedup
        return r
    }

    func testTheCrossoverIsWhereTheFittedSpeedupCrossesOne() throws {
        // ln speedup = 2·(kept − 0.6): crosses 1 at 60% kept energy on 4g; always sooner on 3g.
        var rows = [row("4g", "lora", kept: 1, speedup: nil), row("3g", "lora", kept: 1, speedup: nil)]
        for kept in [0.3, 0.4, 0.5, 0.7, 0.8, 0.9] {
            rows.append(row("4g", "fedsrd", kept: kept, speedup: exp(2 * (kept - 0.6))))
            rows.append(row("3g", "fedsrd", kept: kept, speedup: 2 + kept))
        }
        rows.append(row("4g", "fedsrd", kept: 0.2, speedup: nil))
        let map = try XCTUnwrap(CompressibilityMap(rows, axes: ["network.profile", "seed"]))
        XCTAssertEqual(map.series.map(\.label), ["network.profile = 4g", "network.profile = 3g"])
        XCTAssertEqual(try XCTUnwrap(map.series[0].crossover), 0.6, accuracy: 1e-9)
        XCTAssertTrue(map.series[0].sentence.contains("when its uploads keep more than 60% of the update's energy"), map.series[0].sentence)
        XCTAssertTrue(map.series[0].sentence.contains("1 of 7 arm-points did not reach the target"), map.series[0].sentence)
        XCTAssertTrue(map.series[0].sentence.contains("median uplink 5 Mbit/s") || map.series[0].sentence.contains("median uplink"), map.series[0].sentence)
        XCTAssertNil(map.series[1].crossover)
        XCTAssertTrue(map.series[1].sentence.contains("sooner than lora at every measured kept energy 30%–90%"), map.series[1].sentence)
    }

    func testNoKeptEnergyNoMap() {
        XCTAssertNil(CompressibilityMap([row("4g", "fedsrd", kept: nil, speedup: 1.2)], axes: ["network.profile", "seed"]))
    }
}
