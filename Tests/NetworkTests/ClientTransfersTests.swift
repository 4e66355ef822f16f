import EventKernel
import Network
import Numerics
import XCTest

final class ClientTransfersTests: XCTestCase {
    /// Clients on one constant link: 10 Mbit/s down, 5 Mbit/s up, 100 ms RTT, optional loss.
    func population(clients: Int, loss: Double = 0) -> Population {
        let link = LinkDistributions(downlink: Distribution(.constant(10e6)), uplink: Distribution(.constant(5e6)),
                                     rtt: Distribution(.constant(0.1)), loss: Distribution(.constant(loss)))
        let network = NetworkProfile(name: "test", summary: "constant", body: .link(link), sources: [])
        return Population(PopulationSpec(clients: clients), network: network, seed: 1)
    }

    /// When `done` ran, per transfer started by `body`.
    func finishTimes(_ transfers: ClientTransfers, _ sim: Simulator, _ body: (ClientTransfers, @escaping (Int) -> () -> Void) -> Void) -> [Int: Double] {
        var finished: [Int: Double] = [:]
        body(transfers) { n in { finished[n] = sim.now.seconds } }
        sim.run()
        return finished
    }

    /// An uncontended transfer takes exactly the model's time, under both models and with loss.
    func testUncontendedTransfersTakeTheModelsTime() {
        for model in TransferModel.allCases {
            for loss in [0, 1e-3] {
                let sim = Simulator()
                let people = population(clients: 2, loss: loss)
                let transfers = ClientTransfers(simulator: sim, population: people, model: model, downlink: .infinity, uplink: .infinity,
                                                keepConnections: false)
                let times = finishTimes(transfers, sim) { t, done in
                    t.start(client: 0, bytes: 2_000_000, direction: .download, done: done(0))
                    t.start(client: 1, bytes: 300_000, direction: .upload, done: done(1))
                }
                let down = model.timing(bytes: 2e6, link: people.link(0, .download)).totalSeconds
                let up = model.timing(bytes: 3e5, link: people.link(1, .upload)).totalSeconds
                XCTAssertEqual(times[0] ?? -1, down, accuracy: 1e-9 * down, "\(model) loss \(loss)")
                XCTAssertEqual(times[1] ?? -1, up, accuracy: 1e-9 * up, "\(model) loss \(loss)")
                XCTAssertEqual(transfers.uncontendedDuration(client: 0, bytes: 2_000_000, direction: .download, connectionKept: false).seconds, down)
                XCTAssertEqual(transfers.activeTransfers, 0)
            }
        }
    }

    /// With kept connections, a client's second TCP transfer skips the set-up; without, it does not.
    func testKeptConnectionsSkipTheSetUp() {
        for keep in [false, true] {
            let sim = Simulator()
            let people = population(clients: 1)
            let transfers = ClientTransfers(simulator: sim, population: people, model: .tcp, downlink: .infinity, uplink: .infinity,
                                            keepConnections: keep)
            XCTAssertFalse(transfers.connectionKept(0))
            var second = 0.0
            transfers.start(client: 0, bytes: 1_000_000, direction: .download) {
                let start = sim.now.seconds
                transfers.start(client: 0, bytes: 1_000_000, direction: .upload) { second = sim.now.seconds - start }
            }
            sim.run()
            XCTAssertEqual(transfers.connectionKept(0), keep)
            let expected = TransferModel.tcp.timing(bytes: 1e6, link: people.link(0, .upload), connectionKept: keep).totalSeconds
            XCTAssertEqual(second, expected, accuracy: 1e-9 * expected, "keep \(keep)")
            XCTAssertNotEqual(TransferModel.tcp.timing(bytes: 1e6, link: people.link(0, .upload), connectionKept: !keep).totalSeconds,
                              expected, "the two cases differ")
        }
    }

    /// Two downloads through a server egress narrower than one client link share it max-min fairly;
    /// cancelling one (during its flow) gives the other the whole link, and its `done` never runs.
    func testContentionAndCancellation() {
        let bytes = 1_250_000  // 10 Mbit
        func run(cancelAt: Double?) -> [Int: Double] {
            let sim = Simulator()
            let transfers = ClientTransfers(simulator: sim, population: population(clients: 2), model: .fluid, downlink: 4e6, uplink: .infinity,
                                            keepConnections: false)
            return finishTimes(transfers, sim) { t, done in
                t.start(client: 0, bytes: bytes, direction: .download, done: done(0))
                let other = t.start(client: 1, bytes: bytes, direction: .download, done: done(1))
                if let cancelAt { sim.schedule(at: SimTime(seconds: cancelAt)) { t.cancel(other) } }
            }
        }
        // Both at 2 Mbit/s: 5 s, plus 50 ms propagation.
        let shared = run(cancelAt: nil)
        XCTAssertEqual(shared[0] ?? -1, 5.05, accuracy: 1e-9)
        XCTAssertEqual(shared[1] ?? -1, 5.05, accuracy: 1e-9)
        // Cancelled at 1 s (2 Mbit done): the rest, 8 Mbit at 4 Mbit/s, takes 2 s more.
        let cancelled = run(cancelAt: 1)
        XCTAssertEqual(cancelled[0] ?? -1, 3.05, accuracy: 1e-9)
        XCTAssertNil(cancelled[1], "a cancelled transfer does not finish")
    }

    /// Cancelling during the set-up timer stops the transfer; a stale id is harmless.
    func testCancelDuringSetUpAndStaleIDs() {
        let sim = Simulator()
        let transfers = ClientTransfers(simulator: sim, population: population(clients: 1), model: .tcp, downlink: .infinity, uplink: .infinity,
                                        keepConnections: false)
        var fired = 0
        let id = transfers.start(client: 0, bytes: 1_000_000, direction: .download) { fired += 1 }
        sim.schedule(at: SimTime(seconds: 0.05)) { transfers.cancel(id) }
        sim.run()
        XCTAssertEqual(fired, 0)
        XCTAssertEqual(transfers.activeTransfers, 0)
        XCTAssertEqual(sim.pendingCount, 0)
        // The slot is reused by the next transfer; the old id must not cancel it.
        transfers.start(client: 0, bytes: 1000, direction: .download) { fired += 10 }
        transfers.cancel(id)
        sim.run()
        XCTAssertEqual(fired, 10)
    }
}
