#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// File primitives for state that many runxl processes touch at once.
///
/// runxl is a runc-style CLI: podman, conmon and containerd start many runxl processes
/// concurrently, so a record must never be seen half-written. Every write goes to a temporary
/// file in the same directory, is fsynced and renamed over the target; readers see the old
/// record or the new one, never a mix.
public enum FileSystem {
    /// Suffix of in-flight temporary files; `gc` and tests look for leftovers by it.
    public static let temporarySuffix = ".runxl-tmp"

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The first `count` bytes of a file (fewer when it is shorter): for headers such as an
    /// ELF's. The caller names what the file is in its own error.
    public static func readPrefix(_ path: String, count: Int) throws(SystemCallError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", errno: errno) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
        return got > 0 ? Array(bytes[0..<got]) : []
    }

    /// The target of a symbolic link (or of a /proc magic link: `/proc/self/exe`, a pty's
    /// `/proc/self/fd/N`), as the kernel gives it. The caller names what the link is in its
    /// own error.
    public static func readLink(_ path: String) throws(SystemCallError) -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = buffer.withUnsafeMutableBufferPointer { pointer -> Int in
            guard let base = pointer.baseAddress else { return -1 }
            return readlink(path, base, 4096)
        }
        guard count >= 0 else { throw SystemCallError("readlink", errno: errno) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads a whole file. Throws `.io` naming the path when it cannot, or when it holds more
    /// than `limit` bytes (runxl-init bounds what it reads, so that no file exhausts its memory).
    public static func read(_ path: String, limit: Int = .max) throws(RunxlError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot read \(path)", cause: SystemCallError("open", errno: err))
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let err = errno
                if err == EINTR { continue }
                throw RunxlError(.io, "cannot read \(path)", cause: SystemCallError("read", errno: err))
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit { throw RunxlError(.io, "\(path) is larger than \(limit) bytes") }
        }
        return result
    }

    /// Replaces `path` with `bytes` atomically: temp file in the same directory, fsync, rename.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644) throws(RunxlError) {
        let temporary = "\(path).\(getpid())\(temporarySuffix)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot write \(path)", cause: SystemCallError("open", errno: err))
        }
        var failure: SystemCallError?
        do {
            try Descriptors.writeAll(fd, bytes)
        } catch {
            failure = error
        }
        if failure == nil, fsync(fd) != 0 { failure = SystemCallError("fsync", errno: errno) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = SystemCallError("rename", errno: errno) }
        if let failure {
            unlink(temporary)
            throw RunxlError(.io, "cannot write \(path)", cause: failure)
        }
    }

    /// Creates a directory; returns false when it already exists (the atomic "claim a name" step).
    public static func makeDirectory(_ path: String, mode: UInt32 = 0o711) throws(RunxlError) -> Bool {
        if mkdir(path, mode) == 0 { return true }
        let err = errno
        if err == EEXIST { return false }
        throw RunxlError(.io, "cannot create directory \(path)", cause: SystemCallError("mkdir", errno: err))
    }

    /// `mkdir -p`: an existing directory (or symlink to one) is fine, an existing file is not.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o711) throws(RunxlError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 {
                let err = errno
                if err == EEXIST && isDirectory(prefix) { continue }
                throw RunxlError(.io, "cannot create directory \(prefix)", cause: SystemCallError("mkdir", errno: err))
            }
        }
    }

    /// Removes a file or a whole tree without following symlinks. Absent paths are fine.
    public static func removeTree(_ path: String) throws(RunxlError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            if rmdir(path) != 0, errno != ENOENT {
                let err = errno
                throw RunxlError(.io, "cannot remove \(path)", cause: SystemCallError("rmdir", errno: err))
            }
        } else if unlink(path) != 0, errno != ENOENT {
            let err = errno
            throw RunxlError(.io, "cannot remove \(path)", cause: SystemCallError("unlink", errno: err))
        }
    }

    /// Entry names of a directory, without `.` and `..`, sorted.
    public static func listDirectory(_ path: String) throws(RunxlError) -> [String] {
        guard let dir = opendir(path) else {
            let err = errno
            throw RunxlError(.io, "cannot list \(path)", cause: SystemCallError("opendir", errno: err))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// An exclusive advisory lock on a file (flock), held until `unlock()` or deinit.
///
/// flock locks die with the process, so a runxl killed while holding one never wedges others.
public final class FileLock {
    private var fd: Int32

    /// Blocks until the lock is held, up to `timeoutSeconds`. `create: false` fails with
    /// `LockFileMissing` instead of creating the file: a lock taken on a container that is being
    /// removed must not put a file back into the directory the remover is about to rmdir.
    public init(path: String, timeoutSeconds: Double = 30, create: Bool = true) throws(RunxlError) {
        fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0o600)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT && !create { throw RunxlError(.io, "lock \(path) does not exist", cause: LockFileMissing()) }
            throw RunxlError(.io, "cannot open lock \(path)", cause: SystemCallError("open", errno: err))
        }
        let deadline = Clock.monotonicSeconds() + timeoutSeconds
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            guard err == EWOULDBLOCK || err == EINTR else {
                close(fd)
                throw RunxlError(.io, "cannot lock \(path)", cause: SystemCallError("flock", errno: err))
            }
            if Clock.monotonicSeconds() > deadline {
                close(fd)
                throw RunxlError(.lockTimeout, "another runxl process holds \(path); try again")
            }
            usleep(2000)
        }
    }

    /// Whether `path` still names the locked file: a remover may have unlinked it (and a new
    /// container of the same id made another) while this process waited for the lock.
    public func isFile(at path: String) -> Bool {
        var held = stat(), named = stat()
        guard fd >= 0, fstat(fd, &held) == 0, stat(path, &named) == 0 else { return false }
        return held.st_dev == named.st_dev && held.st_ino == named.st_ino
    }

    public func unlock() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}

/// The cause of the error `FileLock(path:create: false)` throws when there is no lock file.
public struct LockFileMissing: Error, Sendable {}

public enum Clock {
    public static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// RFC 3339 UTC with nanoseconds, as runc writes `created`.
    public static func rfc3339Now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let nanos = String(now.tv_nsec)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
    }
}
