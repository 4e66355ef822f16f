import Foundation
import Numerics

/// Text domains read from a fortunes tree: the domain `en` is the root folder's own files, any
/// other domain the subfolder of that name (`de`, `es`, `it`, `ru`, `pl`, `cs` in Debian's packages).
public enum TextCorpus {
    /// Debian's fortunes (`fortunes`, `fortunes-de`, `fortunes-es`, … installed by `make setup`).
    public static let defaultDirectory = "/usr/share/games/fortunes"
    /// Bytes of a held-out block: every `heldOutEvery`-th block of a domain's text is held out.
    public static let blockBytes = 4096

    /// The folder of `domain` under `root`.
    public static func folder(of domain: String, root: String) -> String {
        domain == "en" ? root : root + "/" + domain
    }

    /// The first `maximumBytes` bytes of the fortunes of `domain`: its folder's regular files (not
    /// symbolic links, not `.dat` indexes nor `.u8` copies) in name order, entries joined by a newline.
    /// Throws an `InputError` at `keyPath` when the folder is missing or holds no fortune.
    public static func load(domain: String, root: String, maximumBytes: Int, keyPath: String) throws -> [UInt8] {
        let dir = folder(of: domain, root: root)
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard !domain.isEmpty, !domain.contains("/"), !domain.hasPrefix("."),
              fm.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue,
              let names = try? fm.contentsOfDirectory(atPath: dir) else {
            throw InputError(.file(path: dir, reason: "no fortunes folder for the domain \"\(domain)\" (en is the root folder, other domains its subfolders; make setup installs Debian's fortunes)"),
                             at: keyPath)
        }
        var out: [UInt8] = []
        for name in names.sorted() where !name.hasPrefix(".") && !name.hasSuffix(".dat") && !name.hasSuffix(".u8") {
            let path = dir + "/" + name
            guard let attributes = try? fm.attributesOfItem(atPath: path), attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            guard let entries = try? FortuneFile.read(path, keyPath: keyPath) else { continue }
            for entry in entries {
                out += entry
                out.append(10)
                if out.count >= maximumBytes { return Array(out.prefix(maximumBytes)) }
            }
        }
        guard !out.isEmpty else {
            throw InputError(.file(path: dir, reason: "holds no fortune file for the domain \"\(domain)\""), at: keyPath)
        }
        return out
    }

    /// Splits `text` into training and held-out bytes: every `heldOutEvery`-th block of `blockBytes`
    /// (the 1st, the `heldOutEvery + 1`-th, …) is held out, the rest trains.
    public static func split(_ text: [UInt8], heldOutEvery: Int) -> (train: [UInt8], heldOut: [UInt8]) {
        var train: [UInt8] = [], held: [UInt8] = []
        var start = 0, block = 0
        while start < text.count {
            let end = min(text.count, start + blockBytes)
            if block % max(1, heldOutEvery) == 0 { held += text[start..<end] } else { train += text[start..<end] }
            start = end
            block += 1
        }
        return (train, held)
    }
}
