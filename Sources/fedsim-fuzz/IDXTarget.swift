import CZlib
import Foundation
import Learning

/// `IDX.read` on plain and gzip files (module Learning).
final class IDXTarget: FuzzTarget {
    let name = "idx"
    let summary = "IDX reader on plain and gzip files: IDX.read (module Learning)"
    let env: FuzzEnvironment
    init(env: FuzzEnvironment) { self.env = env }
    var dir: String { env.work + "/idx" }

    static func idx(_ dims: [Int], fill: (Int) -> UInt8) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        let count = dims.reduce(1, *)
        out += (0..<count).map(fill)
        return out
    }

    /// gzip of `bytes` through zlib, via a file in `dir`.
    func gzip(_ bytes: [UInt8]) -> [UInt8] {
        let path = dir + "/compress.gz"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard let file = gzopen(path, "wb") else { return bytes }
        bytes.withUnsafeBytes { _ = gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        gzclose(file)
        return readBytes(path) ?? bytes
    }

    func corpus() throws -> [FuzzCase] {
        var out: [FuzzCase] = []
        for path in listFiles(env.root + "/Tests/Fixtures/corrupt-idx", suffix: ".gz") {
            if let bytes = readBytes(path) { out.append(FuzzCase(name: "data.idx.gz", bytes: bytes)) }
        }
        let plain = [Self.idx([50]) { UInt8($0 % 10) }, Self.idx([5, 4, 4]) { UInt8($0 * 37 % 256) },
                     Self.idx([3, 7]) { UInt8($0) }, Self.idx([2, 2, 2, 2]) { UInt8($0 * 9) }, Self.idx([0]) { _ in 0 }]
        for p in plain {
            out.append(FuzzCase(name: "data.idx", bytes: p))
            out.append(FuzzCase(name: "data.idx.gz", bytes: gzip(p)))
        }
        return out
    }

    /// Uncompressed bytes of a corpus file (the corpus' gzip ones are decompressed through a file).
    func plainBytes(_ c: FuzzCase) -> [UInt8] {
        guard c.files.first?.name.hasSuffix(".gz") == true else { return c.primary }
        let path = dir + "/inflate.gz"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard (try? Data(c.primary).write(to: URL(fileURLWithPath: path))) != nil, let f = gzopen(path, "rb") else { return c.primary }
        defer { gzclose(f) }
        var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(f, $0.baseAddress, UInt32($0.count)) }
            if n <= 0 { break }
            out += chunk[0..<Int(n)]
        }
        return out
    }

    func mutate(_ input: inout FuzzCase, _ rng: inout FuzzRandom, corpus: [FuzzCase]) {
        var bytes = plainBytes(input)
        switch rng.below(10) {
        case 0...3 where bytes.count >= 4:   // a dimension size
            let rank = min(Int(bytes[3]), max(0, (bytes.count - 4) / 4))
            if rank > 0 {
                let at = 4 + 4 * rng.below(rank)
                let value: UInt32 = rng.pick([0, 1, 2, 255, 256, 65535, 65536, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 24])
                for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * k)) }
            } else { bytes[3] = UInt8(rng.int(1...4)) }
        case 4 where bytes.count >= 4:   // the rank or type code
            if rng.chance(0.5) { bytes[3] = rng.pick([0, 1, 3, 4, 5, 16, 255]) } else { bytes[2] = rng.pick([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0, 0xFF]) }
        default:
            ByteMutator.mutate(&bytes, &rng, others: corpus.map { plainBytes($0) })
        }
        if rng.chance(0.5) {
            input = FuzzCase(name: "data.idx.gz", bytes: gzip(bytes))
            if rng.chance(0.1) { var z = input.primary; ByteMutator.mutate(&z, &rng, others: []); input = FuzzCase(name: "data.idx.gz", bytes: z) }
        } else {
            input = FuzzCase(name: "data.idx", bytes: bytes)
        }
    }

    func run(_ input: FuzzCase) throws {
        let name = input.files.first?.name.hasSuffix(".gz") == true ? "data.idx.gz" : "data.idx"
        let path = dir + "/case-" + name
        try Data(input.primary).write(to: URL(fileURLWithPath: path))
        _ = try IDX.read(path)
    }
}
