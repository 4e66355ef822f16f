import CNumerics
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A problem writing an output (unwritable, read-only, full disk, a path under /proc): not bad
/// input but a run-time failure, so `fedsim` exits 1 with the path and the reason in plain words.
public struct OutputError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String {
        let shown = path.count > 200 ? String(path.prefix(100)) + "…" + String(path.suffix(99)) : path
        return "cannot write '\(shown)': \(reason)"
    }
}

/// File-system operations the output writer needs beyond Foundation's.
public enum FileSystem {
    /// Swaps `a` and `b` in one atomic step (both must exist); false where the kernel or the file
    /// system cannot (the caller then falls back to two renames).
    public static func exchange(_ a: String, _ b: String) -> Bool { fedsim_rename_exchange(a, b) == 0 }

    /// Whether process `pid` is alive on this machine.
    public static func processAlive(_ pid: Int32) -> Bool { pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) }

    /// This machine's host name (for temporary names that say who made them).
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "host" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let safe = name.filter { $0.isLetter || $0.isNumber || $0 == "-" }
        return safe.isEmpty ? "host" : String(safe.prefix(40))
    }

    /// Why nothing can be written under `path` (which need not exist yet), checked without
    /// leaving anything behind: the nearest existing ancestor must be a writable directory on a
    /// file system with room; nil when writing looks possible.
    public static func unwritableReason(_ path: String) -> String? {
        var ancestor = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory) {
            let up = ancestor.deletingLastPathComponent()
            if up.path == ancestor.path { break }
            ancestor = up
        }
        if ancestor.path != URL(fileURLWithPath: path).standardizedFileURL.path, !isDirectory.boolValue {
            return "'\(ancestor.path)' is a file, not a directory"
        }
        let probeParent = isDirectory.boolValue && ancestor.path == URL(fileURLWithPath: path).standardizedFileURL.path
            ? ancestor.deletingLastPathComponent() : ancestor
        let probe = probeParent.appendingPathComponent(".fedsim-probe-\(hostName)-\(getpid())").path
        if mkdir(probe, 0o700) != 0 {
            let code = errno
            switch code {
            case EACCES, EPERM: return "permission denied"
            case EROFS: return "read-only file system"
            case ENOSPC, EDQUOT: return "no space left on the device"
            case ENOENT, ENOTDIR: return "'\(probeParent.path)' does not take new files (\(String(cString: strerror(code))); a virtual file system such as /proc?)"
            default: return String(cString: strerror(code))
            }
        }
        rmdir(probe)
        var fs = statvfs()
        if statvfs(probeParent.path, &fs) == 0 {
            let free = Double(fs.f_bavail) * Double(fs.f_frsize)
            if free < 4 * 1024 * 1024 { return "no space left on the device (\(Quantity.humanReadable(free, as: .bytes)) free)" }
        }
        return nil
    }
}
