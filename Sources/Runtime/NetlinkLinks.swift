import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Moving a dom0 interface (the guest's vif) into the network namespace a spec names by path,
/// with the errors a user can act on; the netlink message itself is RunxlBase's `Netlink`.
enum NetlinkLinks {
    static func move(_ interface: String, toNamespaceAt path: String) throws(RunxlError) {
        let index = if_nametoindex(interface)
        guard index != 0 else {
            throw RunxlError(
                .networkFailed,
                "the guest's vif \(interface) is not in dom0: is the xen-netback module loaded (modprobe xen-netback)?",
                cause: SystemCallError("if_nametoindex", errno: errno))
        }
        let namespace = open(path, O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else {
            throw RunxlError(.networkFailed, "cannot open network namespace \(path)", cause: SystemCallError("open", errno: errno))
        }
        defer { close(namespace) }
        do {
            try Netlink.moveLink(index: index, toNamespace: namespace)
        } catch {
            throw RunxlError(.networkFailed, "the kernel refused to move \(interface) into network namespace \(path)", cause: error)
        }
    }
}
