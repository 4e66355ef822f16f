import Codec
import EventKernel
import Federation
import Foundation
import Network
import Numerics
import Reporting
import Scenario
import XCTest

func scenario(_ json: String) throws -> Scenario {
    try ScenarioParser.parse(try JSONValue.parse(Data(json.utf8), file: nil))
}

/// An arm of `codec` at upload sparsity `sparsity`.
func arm(_ codec: String, sparsity: Double? = nil) -> FederationConfig.Arm {
    var options = CodecOptions()
    if let sparsity { options.sparsity = sparsity }
    return .init(codec: codec, options: options)
}

/// A constant-everything federation whose round times can be computed by hand, built in Swift.
func constantConfig(clients: Int = 4, perRound: Int = 4, model: TransferModel = .fluid, serverUp: Double = 1e12,
                    availability: AvailabilityModel = .always, arms: [FederationConfig.Arm] = [arm("lora"), arm("fedsrd", sparsity: 0.9)],
                    rounds: Int = 3) throws -> FederationConfig {
    let link = LinkDistributions(downlink: Distribution(.constant(10e6), dimension: .bitRate), uplink: Distribution(.constant(5e6), dimension: .bitRate),
                                 rtt: Distribution(.constant(0.1), dimension: .duration), loss: Distribution(.constant(0), dimension: .dimensionless))
    let profile = NetworkProfile(name: "inline", summary: "constant links", body: .link(link), sources: ["the test"])
    let payload = try FederationConfig.Payload(model: try ModelCatalog.named("gpt2"), rank: 8, targets: ["c_attn"], valueType: .f32)
    return FederationConfig(seed: 3,
                            population: .init(clients: clients, samples: Distribution(.constant(100), dimension: .dimensionless),
                                              deviceSpeed: Distribution(.constant(10e12), dimension: .flopRate)),
                            network: .init(profile: profile, model: model, keepConnections: true),
                            server: .init(downlink: 1e12, uplink: serverUp, aggregation: SimDuration(seconds: 1.5)), availability: availability,
                            selection: .init(perRound: perRound, overSelection: 0),
                            workload: .init(payload: payload, tokensPerSample: 128, epochs: 1), arms: arms, stop: .init(rounds: rounds))
}

final class FederationRunTests: XCTestCase {
    /// Fluid model, constant links, an uncontended server: every round time by hand, to 1e-9.
    func testFluidConstantRatesMatchHandComputedRoundTimes() throws {
        let s = try constantConfig()
        let federation = try FederationRun(config: s)
        for arm in s.arms {
            let r = try federation.run(arm: arm)
            let codec = try CodecRegistry.make(arm.codec, options: arm.options)
            let shapes = s.workload.payload!.shapes
            let up = Double(codec.payloadBytes(shapes: shapes).upload), down = Double(codec.payloadBytes(shapes: shapes).download)
            let flops = 100.0 * 128 * s.workload.payload!.model.trainingFLOPsPerToken(loraParameters: s.workload.payload!.loraParameters)
            let compute = flops / 10e12
            let upload = up * 8 / 5e6 + 0.05, download = down * 8 / 10e6 + 0.05
            // Round 1: everyone holds the initial adapter, so nothing to download.
            let expected = [compute + upload + 1.5, download + compute + upload + 1.5, download + compute + upload + 1.5]
            XCTAssertEqual(r.rounds.count, 3)
            for (k, x) in r.rounds.enumerated() {
                XCTAssertEqual(x.endSeconds - x.startSeconds, expected[k], accuracy: 1e-9 * expected[k], "\(arm.name) round \(k + 1)")
                XCTAssertEqual(x.completed, 4)
                XCTAssertEqual(x.close, .quota)
                XCTAssertEqual(x.bytesUp, 4 * Int(up))
                XCTAssertEqual(x.bytesDown, k == 0 ? 0 : 4 * Int(down))
            }
        }
    }

    /// Four 5 Mbps uploads through a 10 Mbps server ingress: max-min gives each 2.5 Mbps.
    func testSharedServerLinkSplitsUploadsFairly() throws {
        let s = try constantConfig(serverUp: 10e6, arms: [arm("lora")], rounds: 1)
        let r = try FederationRun(config: s).run(arm: s.arms[0])
        let codec = try CodecRegistry.make("lora")
        let up = Double(codec.payloadBytes(shapes: s.workload.payload!.shapes).upload)
        let flops = 100.0 * 128 * s.workload.payload!.model.trainingFLOPsPerToken(loraParameters: s.workload.payload!.loraParameters)
        let expected = flops / 10e12 + up * 8 / 2.5e6 + 0.05 + 1.5
        XCTAssertEqual(r.rounds[0].endSeconds, expected, accuracy: 1e-9 * expected)
    }

    /// One client, tcp model, no contention: the simulated round equals the transfer model's
    /// formula (set-up once, then the connection is kept for the upload).
    func testTCPRoundMatchesTransferModel() throws {
        let s = try constantConfig(clients: 1, perRound: 1, model: .tcp, arms: [arm("lora")], rounds: 2)
        let r = try FederationRun(config: s).run(arm: s.arms[0])
        let codec = try CodecRegistry.make("lora")
        let sizes = codec.payloadBytes(shapes: s.workload.payload!.shapes)
        let flops = 100.0 * 128 * s.workload.payload!.model.trainingFLOPsPerToken(loraParameters: s.workload.payload!.loraParameters)
        let upLink = LinkConditions(rateBitsPerSecond: 5e6, rttSeconds: 0.1, loss: 0)
        let downLink = LinkConditions(rateBitsPerSecond: 10e6, rttSeconds: 0.1, loss: 0)
        let round1 = flops / 10e12 + TransferModel.tcp.timing(bytes: Double(sizes.upload), link: upLink).totalSeconds + 1.5
        let round2 = TransferModel.tcp.timing(bytes: Double(sizes.download), link: downLink, connectionKept: true).totalSeconds
            + flops / 10e12 + TransferModel.tcp.timing(bytes: Double(sizes.upload), link: upLink, connectionKept: true).totalSeconds + 1.5
        XCTAssertEqual(r.rounds[0].endSeconds - r.rounds[0].startSeconds, round1, accuracy: 1e-9 * round1)
        XCTAssertEqual(r.rounds[1].endSeconds - r.rounds[1].startSeconds, round2, accuracy: 1e-9 * round2)
    }

    /// The round closes at K arrivals: the over-selected stragglers are late and discarded.
    func testOverSelectionKeepsTheFirstK() throws {
        var s = try constantConfig(clients: 50, perRound: 10, arms: [arm("lora")], rounds: 5)
        s.selection.overSelection = 0.3
        s.population.deviceSpeed = .lognormal(median: 10e12, p90: 40e12, dimension: .flopRate)
        let r = try FederationRun(config: s).run(arm: s.arms[0])
        for x in r.rounds {
            XCTAssertEqual(x.selected, 13)
            XCTAssertEqual(x.completed, 10)
            XCTAssertEqual(x.late, 3)
            XCTAssertEqual(x.close, .quota)
        }
        // The round closed with the 10th arrival: the latest completed client's end.
        let round1 = r.clients.filter { $0.round == 1 }
        let lastCompleted = round1.filter { $0.outcome == .completed }.map(\.endSeconds).max()!
        XCTAssertEqual(r.rounds[0].closeSeconds, lastCompleted, accuracy: 1e-12)
        XCTAssertTrue(round1.filter { $0.outcome == .late }.allSatisfy { $0.uploadSeconds.isNaN })
    }

    /// A deadline shorter than anyone's work: nothing arrives, the round fails and the global
    /// version does not move.
    func testDeadlineClosesAndFailsTheRound() throws {
        var s = try constantConfig(arms: [arm("lora")], rounds: 2)
        s.selection.deadline = SimDuration(seconds: 1)
        let r = try FederationRun(config: s).run(arm: s.arms[0])
        for x in r.rounds {
            XCTAssertEqual(x.close, .deadline)
            XCTAssertEqual(x.completed, 0)
            XCTAssertEqual(x.late, 4)
            XCTAssertFalse(x.aggregated)
            XCTAssertEqual(x.closeSeconds - x.startSeconds, 1, accuracy: 1e-12)
            XCTAssertEqual(x.version, 0)
        }
    }

    /// Dropouts happen at the configured rate, at the same (round, client) in every arm.
    func testDropoutRateAndCommonRandomNumbers() throws {
        let s = try constantConfig(clients: 200, perRound: 200, availability: .dropout(perRound: 0.1), rounds: 20)
        let f = try FederationRun(config: s)
        let a = try f.run(arm: s.arms[0]), b = try f.run(arm: s.arms[1])
        let droppedCount = a.clients.filter { $0.outcome == ClientOutcome.dropped }.count
        let rate = Double(droppedCount) / Double(a.clients.count)
        // 4,000 Bernoulli(0.1) draws: sd 0.0047; 5 sd.
        XCTAssertEqual(rate, 0.1, accuracy: 0.024)
        // Everyone is selected every round in both arms, so the dropped sets must coincide.
        func droppedSet(_ r: ArmResult) -> Set<String> {
            Set(r.clients.filter { $0.outcome == ClientOutcome.dropped }.map { (c: ClientRecord) -> String in "\(c.round):\(c.client)" })
        }
        let droppedA = droppedSet(a), droppedB = droppedSet(b)
        XCTAssertEqual(droppedA, droppedB)
        XCTAssertFalse(droppedA.isEmpty)
    }

    /// On/off sessions: the fraction of clients online at round starts is E[on]/(E[on] + E[off]).
    func testSessionsAvailability() throws {
        let sessions = AvailabilityModel.Sessions(online: Distribution(.exponential(mean: 1800), dimension: .duration),
                                                  offline: Distribution(.exponential(mean: 5400), dimension: .duration))
        let s = try constantConfig(clients: 2000, perRound: 10, availability: .sessions(sessions), arms: [arm("lora")], rounds: 30)
        let r = try FederationRun(config: s).run(arm: s.arms[0])
        let fraction = Double(r.rounds.map(\.available).reduce(0, +)) / Double(r.rounds.count * 2000)
        XCTAssertEqual(fraction, 0.25, accuracy: 0.03)
    }

    /// Stale clients: with 1 of 20 selected per round, most have missed broadcasts; fedsrd's
    /// catch-up grows with staleness but never exceeds the dense adapter; lora's is its broadcast.
    func testStaleClientsDownloadBytes() throws {
        let s = try constantConfig(clients: 20, perRound: 2, rounds: 30)
        let f = try FederationRun(config: s)
        let lora = try f.run(arm: s.arms[0]), fedsrd = try f.run(arm: s.arms[1])
        XCTAssertTrue(lora.clients.filter { $0.staleRounds > 0 }.allSatisfy { $0.downloadBytes == lora.downloadBytesInSync })
        let stale = fedsrd.clients.filter { $0.staleRounds > 1 }
        XCTAssertFalse(stale.isEmpty)
        for c in stale {
            XCTAssertGreaterThan(c.downloadBytes, fedsrd.downloadBytesInSync)
            XCTAssertLessThanOrEqual(c.downloadBytes, fedsrd.downloadBytesDense)
        }
        XCTAssertTrue(fedsrd.clients.filter { $0.staleRounds == 0 }.allSatisfy { $0.downloadBytes == 0 })
    }

    /// Same scenario and seed: byte-identical outputs; another seed: different.
    func testDeterministicOutputs() throws {
        var config = try constantConfig(clients: 300, perRound: 20, model: .tcp, availability: .dropout(perRound: 0.1), rounds: 10)
        config.network.profile = .webMix
        func files(_ seed: UInt64) throws -> [String: Data] {
            var s = Scenario(name: "constant", config: config)
            s.seed = seed
            let f = try FederationRun(config: s.config)
            let results = RunResults(scenario: s, population: f.population, arms: try s.arms.map { try f.run(arm: $0) })
            return Dictionary(uniqueKeysWithValues: RunOutput.files(results).map { ($0.name, $0.contents) })
        }
        let a = try files(5), b = try files(5), c = try files(6)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a["rounds.csv"], c["rounds.csv"])
    }
}

final class PayloadSizesTests: XCTestCase {
    /// Every sparse-broadcast codec prices catch-up by the merged fraction; full-broadcast codecs do not.
    func testCatchUpGrowsForSparseBroadcastsOnly() throws {
        let shapes = try ModelCatalog.named("llama-2-7b").loraShapes(rank: 16, targets: ["q", "v"])
        for name in CodecRegistry.names {
            var options = CodecOptions()
            options.sparsity = 0.9
            let sizes = PayloadSizes(codec: try CodecRegistry.make(name, options: options), shapes: shapes)
            XCTAssertEqual(sizes.download(stale: 0), 0, name)
            let one = sizes.download(stale: 1), three = sizes.download(stale: 3), far = sizes.download(stale: 1000)
            if name == "lora" || name == "ffa-lora" {
                XCTAssertEqual(one, three, name)
                XCTAssertEqual(one, far, name)
            } else {
                XCTAssertLessThan(one, three, name)
                XCTAssertLessThanOrEqual(three, sizes.dense, name)
                XCTAssertEqual(far, sizes.dense, name)
            }
        }
    }

    /// With measured merged fractions, catch-up is priced at them: supports identical every round
    /// merge to f, so k behind costs what one behind costs (not 1 − (1 − f)^k); k = 1 is priced as
    /// without them; a depth the history did not measure (nil, or past the array) is the dense adapter.
    func testMeasuredMergedFractionsReplaceIndependentSupports() throws {
        let shapes = try ModelCatalog.named("llama-2-7b").loraShapes(rank: 16, targets: ["q", "v"])
        var options = CodecOptions()
        options.sparsity = 0.9
        let codec = try CodecRegistry.make("fedsrd", options: options)
        let f = KeptFraction(uploadA: 0.1, uploadB: 0.1, downloadA: 0.1, downloadB: 0.1)
        let independent = PayloadSizes(codec: codec, shapes: shapes, keptFraction: f)
        let same = PayloadSizes(codec: codec, shapes: shapes, keptFraction: f, mergedKept: Array(repeating: (a: 0.1, b: 0.1), count: 8))
        XCTAssertEqual(same.download(stale: 1), independent.download(stale: 1), "k = 1 unchanged")
        for k in 2...8 {
            XCTAssertEqual(same.download(stale: k), same.download(stale: 1), "k = \(k)")
            XCTAssertLessThan(same.download(stale: k), independent.download(stale: k), "k = \(k)")
        }
        XCTAssertEqual(same.download(stale: 9), same.dense, "beyond the history")
        let partial = PayloadSizes(codec: codec, shapes: shapes, keptFraction: f, mergedKept: [(a: 0.1, b: 0.1), (a: 0.15, b: 0.18), nil])
        XCTAssertLessThan(partial.download(stale: 1), partial.download(stale: 2))
        XCTAssertEqual(partial.download(stale: 2), codec.payloadBytes(shapes: shapes, keptFraction: KeptFraction(uploadA: 0.1, uploadB: 0.1, downloadA: 0.15, downloadB: 0.18)).download)
        XCTAssertEqual(partial.download(stale: 3), partial.dense)
        XCTAssertEqual(partial.download(stale: 4), partial.dense)
    }
}
