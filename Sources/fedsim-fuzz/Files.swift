import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes to a file descriptor without buffering (the worker's protocol, progress).
func writeFD(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { return }
        done += n
    }
}

func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func readBytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

func listFiles(_ dir: String, suffix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(suffix) }.sorted().map { dir + "/" + $0 }
}

func scratchDirectory(_ label: String) -> String {
    let dir = FileManager.default.temporaryDirectory.path + "/fedsim-fuzz-\(label)-\(getpid())"
    try? FileManager.default.removeItem(atPath: dir)
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Saved cases of a target: files `<hash>-<name>` and folders `<hash>/`, in name order.
func loadFixtures(_ dir: String) -> [(path: String, input: FuzzCase)] {
    let fm = FileManager.default
    var out: [(String, FuzzCase)] = []
    for entry in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where !entry.hasPrefix(".") && !entry.hasSuffix(".trap.txt") && !entry.hasPrefix("README") {
        let path = dir + "/" + entry
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { continue }
        if isDir.boolValue {
            let files = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().compactMap { name in readBytes(path + "/" + name).map { (name: name, bytes: $0) } }
            out.append((path, FuzzCase(files)))
        } else if let bytes = readBytes(path) {
            out.append((path, FuzzCase(name: fileName(entry), bytes: bytes)))
        }
    }
    return out
}

/// The input's own name in a saved file name `<16 hex digits>-<name>`.
func fileName(_ entry: String) -> String {
    let parts = entry.split(separator: "-", maxSplits: 1)
    guard parts.count == 2, parts[0].count == 16, parts[0].allSatisfy(\.isHexDigit) else { return entry }
    return String(parts[1])
}

/// Reads a saved case (a file or a folder).
func loadCase(_ path: String) -> FuzzCase? {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
    if isDir.boolValue {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().compactMap { name in readBytes(path + "/" + name).map { (name: name, bytes: $0) } }
        return FuzzCase(files)
    }
    return readBytes(path).map { FuzzCase(name: fileName((path as NSString).lastPathComponent), bytes: $0) }
}
