#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writing a whole buffer to a descriptor, for every writer of runxl and runxl-init.
///
/// A single `write(2)` may stop short: on a pipe or socket when a signal arrives midway, or on a
/// non-blocking descriptor (a pty master, a console) whose buffer is full. The callers' streams
/// (a verb's JSON on stdout, a hook's state on its stdin, console frames) are only whole when
/// every byte goes, so one loop handles all three cases instead of one copy per module.
public enum Descriptors {
    /// How long one wait for a full non-blocking descriptor lasts before writing again.
    static let fullWaitMilliseconds: Int32 = 1000

    /// Writes every byte: retries after EINTR, waits for room on a full non-blocking descriptor,
    /// and throws the failing call otherwise (EPIPE when the reader is gone, EBADF...).
    public static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, base + offset, bytes.count - offset)
            if written > 0 {
                offset += written
                continue
            }
            // Nothing written without an error: the device takes no more (the copy this replaced
            // in runxl-init gave up there too, where looping would hang PID 1).
            if written == 0 { throw SystemCallError("write", errno: EIO) }
            let err = errno
            switch err {
            case EINTR:
                continue
            case EAGAIN:
                var waiting = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&waiting, 1, fullWaitMilliseconds)
            default:
                throw SystemCallError("write", errno: err)
            }
        }
    }

    public static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) throws(SystemCallError) {
        // `withUnsafeBytes` rethrows untyped errors: the typed one travels out as a value.
        let failure = bytes.withUnsafeBytes { buffer -> SystemCallError? in
            do throws(SystemCallError) {
                try writeAll(descriptor, buffer)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// `writeAll` for writers of a named file: a failure is `.io` "cannot write PATH".
    public static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(RunxlError) {
        do {
            try writeAll(descriptor, bytes)
        } catch {
            throw RunxlError(.io, "cannot write \(path)", cause: error)
        }
    }

    /// For writers with no one to tell (a console whose reader left, a client that hung up):
    /// true when every byte went.
    @discardableResult
    public static func writeAllIfPossible(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        do {
            try writeAll(descriptor, bytes)
            return true
        } catch {
            return false
        }
    }
}
