import Foundation
import Network
import Numerics

/// The restricted pickle reader and FedScale's trace decoding on mutated pickles (modules
/// Numerics and Network): any input must end in a value or an `InputError`, never a crash, a hang
/// or unbounded memory.
final class PickleTarget: FuzzTarget {
    let name = "pickle"
    let summary = "FedScale trace pickles: PickleReader.read, FedScaleTrace.devices/behaviours/trace (modules Numerics, Network)"
    let env: FuzzEnvironment
    init(env: FuzzEnvironment) { self.env = env }

    func corpus() throws -> [FuzzCase] {
        let dir = env.root + "/Tests/Fixtures/fedscale"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasSuffix(".py") }.sorted()
        var out = names.compactMap { readBytes(dir + "/" + $0) }.map { FuzzCase(name: "trace.pkl", bytes: $0) }
        // Hand-built: every container opcode once, memo and DUP.
        out.append(FuzzCase(name: "trace.pkl", bytes: [0x80, 4, 0x7D, 0x94, 0x28, 0x4B, 1, 0x5D, 0x94, 0x28, 0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0,
                                                          0x8C, 1, 0x61, 0x88, 0x89, 0x4E, 0x65, 0x4B, 2, 0x68, 1, 0x75, 0x2E]))
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = input.primary
        if rng.chance(0.3), bytes.count > 2 {
            // An opcode from the accepted or refused sets at a random place.
            let ops: [UInt8] = [0x28, 0x29, 0x2E, 0x30, 0x31, 0x32, 0x42, 0x43, 0x47, 0x4A, 0x4B, 0x4D, 0x4E, 0x52, 0x58, 0x5D, 0x61, 0x62,
                                0x63, 0x64, 0x65, 0x68, 0x6A, 0x6C, 0x71, 0x72, 0x73, 0x74, 0x75, 0x7D, 0x85, 0x86, 0x87, 0x88, 0x89,
                                0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x93, 0x94, 0x95, 0x96]
            bytes.insert(rng.pick(ops), at: rng.int(2...(bytes.count - 1)))
        } else {
            ByteMutator.mutate(&bytes, &rng, others: corpus.map(\.primary))
        }
        input = FuzzCase(name: "trace.pkl", bytes: bytes)
    }

    func run(_ input: FuzzCase) throws {
        let value = try PickleReader.read(Data(input.primary), file: "trace.pkl")
        _ = try? FedScaleTrace.devices(value, file: "trace.pkl")
        if let behaviours = try? FedScaleTrace.behaviours(value, file: "trace.pkl"),
           let trace = try? FedScaleTrace.trace(behaviours, file: "trace.pkl", source: "trace.pkl") {
            for i in 0..<min(8, trace.entries.count) {
                for t in [0.0, 1, 3599, 86_399.5, 1e7] where trace.isActive(i, at: t) { _ = trace.activeUntil(i, after: t) }
            }
        }
    }
}
