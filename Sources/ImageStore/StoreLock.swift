import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// A shared or exclusive flock on one of the store's lock files, held until `unlock()` or deinit.
///
/// RunxlBase's FileLock is exclusive only; the store also needs shared holders: every pull,
/// import and unpack holds `gc.lock` shared for its whole run, so that garbage collection (which
/// takes it exclusively) never deletes a blob an operation is relying on, while those operations
/// still run side by side. flock locks die with their process, so a killed runxl never wedges
/// the store.
final class StoreLock {
    private var fd: Int32

    /// Blocks up to `timeoutSeconds` for the lock.
    convenience init(path: String, exclusive: Bool, timeoutSeconds: Double) throws(RunxlError) {
        guard let lock = try StoreLock(path: path, exclusive: exclusive, deadline: Clock.monotonicSeconds() + timeoutSeconds) else {
            throw RunxlError(
                .lockTimeout,
                "another runxl process holds \(path) (a pull, import or garbage collection of the image store); try again")
        }
        self.init(taking: lock)
    }

    /// Tries once; nil when another process holds the lock.
    static func attempt(path: String, exclusive: Bool) throws(RunxlError) -> StoreLock? {
        try StoreLock(path: path, exclusive: exclusive, deadline: nil)
    }

    private init(taking other: StoreLock) {
        fd = other.fd
        other.fd = -1
    }

    private init?(path: String, exclusive: Bool, deadline: Double?) throws(RunxlError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot open lock \(path)", cause: SystemCallError("open", errno: err))
        }
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB
        while flock(fd, operation) != 0 {
            let err = errno
            guard err == EWOULDBLOCK || err == EINTR else {
                close(fd)
                throw RunxlError(.io, "cannot lock \(path)", cause: SystemCallError("flock", errno: err))
            }
            guard let deadline, Clock.monotonicSeconds() < deadline else {
                close(fd)
                return nil
            }
            usleep(5000)
        }
    }

    func unlock() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
