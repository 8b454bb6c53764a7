#if canImport(Glibc)
import Glibc
#endif

/// rtnetlink requests runxl makes itself, as bytes on an AF_NETLINK socket (the kernel's ABI,
/// host byte order), so that no C shim is needed for one message.
public enum Netlink {
    private static let newLink: UInt16 = 16  // RTM_NEWLINK
    private static let errorMessage: UInt16 = 2  // NLMSG_ERROR
    private static let requestAndAck: UInt16 = 1 | 4  // NLM_F_REQUEST | NLM_F_ACK
    private static let netNamespaceFD: UInt16 = 28  // IFLA_NET_NS_FD

    /// RTM_NEWLINK with IFLA_NET_NS_FD: moves the link with `index` into the network namespace
    /// open at `namespace`. iproute2's `ip link set ... netns` takes only a pid or a name under
    /// /run/netns; this takes any namespace a descriptor can name. The kernel's refusal comes
    /// back as the call "RTM_NEWLINK" with its errno.
    public static func moveLink(index: UInt32, toNamespace namespace: Int32) throws(SystemCallError) {
        let socketFD = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard socketFD >= 0 else { throw SystemCallError("socket(AF_NETLINK)", errno: errno) }
        defer { close(socketFD) }

        // nlmsghdr (16) + ifinfomsg (16) + rtattr (4) + u32 (4).
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
        guard sent == message.count else { throw SystemCallError("send", errno: errno) }
        var reply = [UInt8](repeating: 0, count: 4096)
        var received = 0
        repeat {
            received = reply.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
        } while received < 0 && errno == EINTR
        guard received >= 20 else { throw SystemCallError("recv", errno: received < 0 ? errno : EPROTO) }
        let type = UInt16(reply[4]) | UInt16(reply[5]) << 8
        let code = Int32(bitPattern: UInt32(reply[16]) | UInt32(reply[17]) << 8 | UInt32(reply[18]) << 16 | UInt32(reply[19]) << 24)
        guard type == errorMessage else { throw SystemCallError("RTM_NEWLINK", errno: EPROTO) }
        guard code == 0 else { throw SystemCallError("RTM_NEWLINK", errno: -code) }
    }
}
