public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The host pty of a container with `process.terminal`: its master goes to the client over
/// `--console-socket` (conmon and the containerd shim read and write the user's terminal through
/// it), its replica to the supervisor, which bridges it to the guest's console. The guest's hvc0
/// is the process's real terminal (echo, line editing, ^C), so the host side is kept raw: two
/// line disciplines would echo every key twice.
public struct TerminalPair {
    public let master: Int32
    public let replica: Int32

    /// posix_openpt and friends need _XOPEN_SOURCE, which Swift's Glibc module does not define:
    /// the same through /dev/ptmx and the Linux ioctls (asm-generic/ioctls.h values for x86 and arm).
    static let unlockRequest: UInt = 0x4004_5431  // TIOCSPTLCK
    static let peerRequest: UInt = 0x5441  // TIOCGPTPEER, Linux 4.13

    public static func open() throws(RunxlError) -> TerminalPair {
        let master = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw failure("open /dev/ptmx") }
        var unlock: Int32 = 0
        guard ioctl(master, unlockRequest, &unlock) == 0 else {
            let error = failure("ioctl(TIOCSPTLCK)")
            Glibc.close(master)
            throw error
        }
        let replica = ioctl(master, peerRequest, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard replica >= 0 else {
            let error = failure("ioctl(TIOCGPTPEER)")
            Glibc.close(master)
            throw error
        }
        var settings = termios()
        if tcgetattr(replica, &settings) == 0 {
            cfmakeraw(&settings)
            tcsetattr(replica, TCSANOW, &settings)
        }
        return TerminalPair(master: master, replica: replica)
    }

    /// Sends the master over the AF_UNIX socket at `path` (SCM_RIGHTS, with the pty's name as the
    /// message, as runc does), the contract of `--console-socket`.
    public func sendMaster(to path: String) throws(RunxlError) {
        try ConsoleSocket.send(master, to: path)
    }

    public func close() {
        Glibc.close(master)
        Glibc.close(replica)
    }

    private static func failure(_ call: String) -> RunxlError {
        let code = errno
        return RunxlError(.io, "cannot allocate a terminal for the container", cause: SystemCallError(call, errno: code))
    }
}

/// Passing a descriptor over an AF_UNIX socket.
public enum ConsoleSocket {
    public static func send(_ descriptor: Int32, to path: String) throws(RunxlError) {
        let socketFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { throw failure("socket", path) }
        defer { Glibc.close(socketFD) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw RunxlError(.usage, "the console socket path \(path) is too long for an AF_UNIX address")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw failure("connect", path) }
        try sendDescriptor(descriptor, over: socketFD, message: Array("/dev/ptmx".utf8), path: path)
    }

    /// One sendmsg with one SCM_RIGHTS control message. The cmsg layout is built by hand
    /// (CMSG_* are macros Swift cannot call): a `cmsghdr`, then the int, padded to size_t.
    static func sendDescriptor(_ descriptor: Int32, over socketFD: Int32, message: [UInt8], path: String) throws(RunxlError) {
        let headerSize = MemoryLayout<cmsghdr>.size
        let alignment = MemoryLayout<Int>.size
        let space = headerSize + ((MemoryLayout<Int32>.size + alignment - 1) / alignment) * alignment
        var control = [UInt8](repeating: 0, count: space)
        control.withUnsafeMutableBytes { raw in
            var header = cmsghdr()
            header.cmsg_len = headerSize + MemoryLayout<Int32>.size
            header.cmsg_level = SOL_SOCKET
            header.cmsg_type = Int32(SCM_RIGHTS)
            raw.storeBytes(of: header, as: cmsghdr.self)
            raw.storeBytes(of: descriptor, toByteOffset: headerSize, as: Int32.self)
        }
        var payload = message.isEmpty ? [0] : message
        let sent = payload.withUnsafeMutableBytes { payloadRaw in
            control.withUnsafeMutableBytes { controlRaw in
                var vector = iovec(iov_base: payloadRaw.baseAddress, iov_len: payloadRaw.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlRaw.baseAddress
                    header.msg_controllen = controlRaw.count
                    return sendmsg(socketFD, &header, 0)
                }
            }
        }
        guard sent >= 0 else { throw failure("sendmsg", path) }
    }

    private static func failure(_ call: String, _ path: String) -> RunxlError {
        let code = errno
        return RunxlError(.io, "cannot pass the terminal over the console socket \(path)", cause: SystemCallError(call, errno: code))
    }
}
