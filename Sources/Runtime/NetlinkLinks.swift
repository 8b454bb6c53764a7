import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The one rtnetlink request runxl makes itself: moving a dom0 interface into a namespace given
/// by path. iproute2's `ip link set ... netns` only takes a pid or a name under /run/netns, and
/// the runtime-spec allows any path; RTM_NEWLINK with IFLA_NET_NS_FD takes a descriptor.
enum NetlinkLinks {
    private static let newLink: UInt16 = 16  // RTM_NEWLINK
    private static let errorMessage: UInt16 = 2  // NLMSG_ERROR
    private static let requestAndAck: UInt16 = 1 | 4  // NLM_F_REQUEST | NLM_F_ACK
    private static let netNamespaceFD: UInt16 = 28  // IFLA_NET_NS_FD

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
        let socketFD = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard socketFD >= 0 else {
            throw RunxlError(.networkFailed, "cannot open a netlink socket", cause: SystemCallError("socket", errno: errno))
        }
        defer { close(socketFD) }

        // nlmsghdr (16) + ifinfomsg (16) + rtattr (4) + u32 (4), host byte order.
        var message: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { message += $0 }
        }
        append(UInt32(40))  // nlmsg_len
        append(newLink)
        append(requestAndAck)
        append(UInt32(1))  // nlmsg_seq
        append(UInt32(0))  // nlmsg_pid: the kernel
        append(UInt8(AF_UNSPEC))  // ifi_family
        append(UInt8(0))
        append(UInt16(0))  // ifi_type
        append(Int32(bitPattern: index))
        append(UInt32(0))  // ifi_flags
        append(UInt32(0))  // ifi_change
        append(UInt16(8))  // rta_len
        append(netNamespaceFD)
        append(UInt32(bitPattern: namespace))
        let sent = message.withUnsafeBytes { send(socketFD, $0.baseAddress, $0.count, 0) }
        guard sent == message.count else {
            throw RunxlError(.networkFailed, "cannot ask the kernel to move \(interface)", cause: SystemCallError("send", errno: errno))
        }
        var reply = [UInt8](repeating: 0, count: 4096)
        var received = 0
        repeat {
            received = reply.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
        } while received < 0 && errno == EINTR
        guard received >= 20 else {
            throw RunxlError(.networkFailed, "no answer from the kernel to moving \(interface)", cause: SystemCallError("recv", errno: errno))
        }
        let type = UInt16(reply[4]) | UInt16(reply[5]) << 8
        let code = Int32(bitPattern: UInt32(reply[16]) | UInt32(reply[17]) << 8 | UInt32(reply[18]) << 16 | UInt32(reply[19]) << 24)
        guard type == errorMessage, code == 0 else {
            throw RunxlError(
                .networkFailed, "the kernel refused to move \(interface) into network namespace \(path)",
                cause: SystemCallError("RTM_NEWLINK", errno: -code))
        }
    }
}
