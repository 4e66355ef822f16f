import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading a file named by the user (a scenario, sweep, trace, adapter, dataset or a run's data
/// files): only regular files are opened — a directory, FIFO, socket or device gets a clear
/// message instead of an unclear failure or a read that never returns — and files over a size
/// limit are refused before they are read.
public enum InputFile {
    /// The default limit (1 GiB): far above any scenario, trace or report file.
    public static let defaultMaxBytes = 1 << 30

    /// Why a path cannot be read as an input file, in plain words; nil when it can.
    public static func problem(_ path: String, maxBytes: Int = defaultMaxBytes) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            switch errno {
            case ENOENT: return "no such file"
            case EACCES: return "permission denied"
            case ENOTDIR: return "a part of the path is not a directory"
            case ENAMETOOLONG: return "the path is too long"
            default: return "cannot be read (\(String(cString: strerror(errno))))"
            }
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return "is a directory, not a file"
        case S_IFIFO: return "is a FIFO (named pipe), not a regular file"
        case S_IFSOCK: return "is a socket, not a regular file"
        case S_IFCHR, S_IFBLK: return "is a device, not a regular file"
        default: return "is not a regular file"
        }
        if Int(st.st_size) > maxBytes {
            return "is \(Quantity.humanReadable(Double(st.st_size), as: .bytes)), over the \(Quantity.humanReadable(Double(maxBytes), as: .bytes)) limit for this kind of file"
        }
        guard access(path, R_OK) == 0 else { return "permission denied" }
        return nil
    }

    /// The contents of `path`, or an `InputError` (at `keyPath` of `file` when given) saying why not.
    public static func read(_ path: String, maxBytes: Int = defaultMaxBytes, keyPath: String = "", file: String? = nil) throws -> Data {
        if let reason = problem(path, maxBytes: maxBytes) {
            throw InputError(.file(path: path, reason: reason), at: keyPath, file: file)
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw InputError(.file(path: path, reason: "cannot be read (\(Self.plain(error)))"), at: keyPath, file: file)
        }
    }

    /// An error from Foundation's file APIs in plain words (the POSIX reason, not an NSError dump).
    public static func plain(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        switch ns.code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or directory"
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "permission denied"
        case NSFileWriteOutOfSpaceError: return "no space left on the device"
        case NSFileWriteVolumeReadOnlyError: return "read-only file system"
        case NSFileWriteFileExistsError: return "a file of that name exists"
        default: return ns.localizedDescription
        }
    }
}
