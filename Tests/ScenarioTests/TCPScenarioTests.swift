import Foundation
import Network
import Numerics
@testable import Scenario
import XCTest

/// `network.tcp`: the TCP stack in a scenario file, and its echo in the resolved scenario.
final class TCPScenarioTests: XCTestCase {
    func parse(_ tcp: JSONValue?) throws -> Scenario {
        var network: [String: JSONValue] = ["profile": "4g"]
        if let tcp { network["tcp"] = tcp }
        return try ScenarioParser.parse(["name": "x", "network": .object(network),
                                         "workload": ["payload": ["model": "llama-2-7b", "rank": 16, "targets": ["q", "v"]]]])
    }

    func testDefaultIsLinux() throws {
        XCTAssertEqual(try parse(nil).config.network.tcp, TCPParameters())
    }

    func testSettingsReachTheConfigAndRoundTrip() throws {
        let s = try parse(["stack": "ns-3.37", "congestion_control": "reno", "tls": true, "min_rto": "1s", "delayed_ack": "200ms",
                           "tcp_friendly": "on", "frame": 1500, "initial_window": 4])
        var expected = TCPParameters.ns3(.reno)
        expected.tlsRoundTrips = 1
        expected.minRTOSeconds = 1
        expected.delayedAckSeconds = 0.2
        expected.renoFriendly = true
        expected.frameBytes = 1500
        expected.initialWindowSegments = 4
        let tcp = s.config.network.tcp
        XCTAssertEqual(tcp.congestionControl, .reno)
        XCTAssertEqual(tcp.ackCounting, .perACK)
        XCTAssertEqual(tcp.delayedAckSeconds, 0.2, accuracy: 1e-12)
        expected.delayedAckSeconds = tcp.delayedAckSeconds
        XCTAssertEqual(tcp, expected)
        // The resolved scenario states every setting and reads back to the same stack.
        let again = try ScenarioParser.parse(s.resolved)
        XCTAssertEqual(again.config.network.tcp, tcp)
    }
}
