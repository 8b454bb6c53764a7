internal import CXenLight
import Glibc
public import Hypervisor
public import RunxlBase
import Synchronization

/// Watch tokens unique within the process, for the log of xenstored and for debugging.
private let nextWatchToken = Atomic<UInt64>(1)

extension XenLightHypervisor {
    public func storePath(_ domain: DomainID) throws(RunxlError) -> String {
        guard let path = rx_xs_get_domain_path(store, domain.rawValue) else {
            let err = errno
            throw RunxlError(
                .xenstoreFailed, "cannot get the xenstore path of domain \(domain)",
                cause: SystemCallError("xs_get_domain_path", errno: err))
        }
        defer { free(path) }
        return String(cString: path)
    }

    public func readStore(_ path: String) throws(RunxlError) -> String? {
        try Self.read(store, path)
    }

    public func writeStore(_ path: String, _ value: String) throws(RunxlError) {
        let bytes = Array(value.utf8)
        let written = bytes.withUnsafeBytes { buffer in
            rx_xs_write(store, xs_transaction_t(XBT_NULL), path, buffer.baseAddress, UInt32(buffer.count))
        }
        guard written else {
            let err = errno
            throw RunxlError(
                .xenstoreFailed, "cannot write xenstore key '\(path)'", cause: SystemCallError("xs_write", errno: err))
        }
    }

    /// Waits with a xenstore watch on a connection of its own: watch events arrive on a
    /// connection's single queue, so waits sharing `store` would take each other's events.
    public func waitForStoreKey(_ path: String, timeoutSeconds: Double?) throws(RunxlError) -> String? {
        let deadline = timeoutSeconds.map { ContinuousClock.now + .milliseconds(Int64(max($0, 0) * 1000)) }
        guard let handle = rx_xs_open(0) else {
            let err = errno
            throw RunxlError(
                .xenstoreFailed, "cannot connect to xenstored to watch '\(path)'",
                cause: SystemCallError("xs_open", errno: err))
        }
        defer { rx_xs_close(handle) }
        let descriptor = rx_xs_fileno(handle)
        guard descriptor >= 0 else {
            let err = errno
            throw RunxlError(
                .xenstoreFailed, "cannot watch xenstore key '\(path)'", cause: SystemCallError("xs_fileno", errno: err))
        }
        let token = "runxl-\(getpid())-\(nextWatchToken.wrappingAdd(1, ordering: .relaxed).oldValue)"
        guard rx_xs_watch(handle, path, token) else {
            let err = errno
            throw RunxlError(
                .xenstoreFailed, "cannot watch xenstore key '\(path)'", cause: SystemCallError("xs_watch", errno: err))
        }
        defer { rx_xs_unwatch(handle, path, token) }

        while true {
            // Read after the watch is set, so a write between the two cannot be missed.
            if let value = try Self.read(handle, path) { return value }
            var timeout: Int32 = -1
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { return nil }
                let (seconds, attoseconds) = remaining.components
                timeout = Int32(clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            }
            var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            if poll(&descriptors, 1, timeout) < 0 {
                let err = errno
                guard err == EINTR else {
                    throw RunxlError(
                        .xenstoreFailed, "cannot wait for xenstore key '\(path)'",
                        cause: SystemCallError("poll", errno: err))
                }
            }
            // Drain the fired watches; what they say does not matter, the next read does.
            while let fired = rx_xs_check_watch(handle) { free(fired) }
        }
    }

    /// Waits until Xen has released a destroyed domain. libxl_domain_destroy returns while the
    /// domain may still be listed as dying (xenconsoled and backends still map its pages, its
    /// memory not yet free); a caller that destroys and then creates, or lists, must not see it.
    /// Driven by xenstored's `@releaseDomain` watch; past the deadline the domain is left to
    /// finish on its own, since it is already destroyed.
    func waitUntilReleased(_ domain: DomainID, timeoutSeconds: Double) {
        guard exists(domain), let handle = rx_xs_open(0) else { return }
        defer { rx_xs_close(handle) }
        let descriptor = rx_xs_fileno(handle)
        let token = "runxl-release-\(domain)"
        guard descriptor >= 0, rx_xs_watch(handle, "@releaseDomain", token) else { return }
        defer { rx_xs_unwatch(handle, "@releaseDomain", token) }
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeoutSeconds * 1000))
        while exists(domain) {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return }
            let (seconds, attoseconds) = remaining.components
            var descriptors = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
            _ = poll(&descriptors, 1, Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1))
            while let fired = rx_xs_check_watch(handle) { free(fired) }
        }
    }

    /// One key's value, nil when it does not exist.
    static func read(_ handle: OpaquePointer, _ path: String) throws(RunxlError) -> String? {
        var length: UInt32 = 0
        guard let value = rx_xs_read(handle, xs_transaction_t(XBT_NULL), path, &length) else {
            let err = errno
            if err == ENOENT { return nil }
            throw RunxlError(
                .xenstoreFailed, "cannot read xenstore key '\(path)'", cause: SystemCallError("xs_read", errno: err))
        }
        defer { free(value) }
        let bytes = UnsafeRawBufferPointer(start: value, count: Int(length))
        return String(decoding: bytes, as: UTF8.self)
    }
}
