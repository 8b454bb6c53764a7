import Hypervisor
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The 9pfs backend of a share-mode guest is a QEMU process libxl started in dom0. If it dies
/// while the guest runs (killed, out of memory), the guest has lost its rootfs and binds, and
/// Linux's Xen 9p transport has no way to fail the requests already on the ring: the container's
/// processes would wait on their next file access forever, with nothing on the host saying why.
/// The supervisor watches the backend and, as Kata's shim does when virtiofsd dies, ends the
/// container with the reason, so the user sees a stopped container and an error, not a hang.
enum ShareBackendWatch {
    static let pollSeconds: UInt32 = 1

    /// Starts watching the backend of `domain`, if it has one; `died` gets the reason once.
    /// `isEnding` tells that the container is ending anyway (its exit was reported): the
    /// backend then goes with the guest's power-off or the domain's destroy.
    static func start(
        domain: DomainID, hypervisor: any Hypervisor, isEnding: @escaping @Sendable () -> Bool,
        died: @escaping @Sendable (String) -> Void
    ) {
        guard let backend = backendPID(of: domain) else { return }
        try? startDetachedThread {
            while kill(backend, 0) == 0 || errno == EPERM { sleep(pollSeconds) }
            // libxl stops the backend when it destroys the domain, and a guest's power-off ends it:
            // only a guest that still runs, with no exit reported, has lost it.
            sleep(2)
            guard !isEnding(), let info = try? hypervisor.domainInfo(domain), info.state == .running || info.state == .paused
            else { return }
            died(
                "the 9pfs backend of domain \(domain) (QEMU, pid \(backend)) exited while the container ran: its rootfs and "
                    + "bind mounts were gone from the guest, whose file accesses would have waited forever, so runxl stopped it; "
                    + "start the container again (the host's files are intact)")
        }
    }

    /// The QEMU libxl runs for `domain` (`xen-qemu-system-i386 -xen-domid N ...`), found in /proc.
    static func backendPID(of domain: DomainID) -> Int32? {
        guard let directory = opendir("/proc") else { return nil }
        defer { closedir(directory) }
        let wanted = String(domain.rawValue)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), let words = commandLine(of: pid), let program = words.first,
                program.hasSuffix("qemu-system-i386"),
                let flag = words.firstIndex(of: "-xen-domid"), flag + 1 < words.count, words[flag + 1] == wanted
            else { continue }
            return pid
        }
        return nil
    }

    private static func commandLine(of pid: Int32) -> [String]? {
        let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return buffer[..<count].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
