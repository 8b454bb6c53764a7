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

/// `--console-socket`: the client listens, runxl connects and sends the pty master.
public enum ConsoleSocket {
    public static func send(_ descriptor: Int32, to path: String) throws(RunxlError) {
        let socketFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else {
            let code = errno
            throw RunxlError(.io, "cannot pass the terminal over the console socket \(path)", cause: SystemCallError("socket", errno: code))
        }
        defer { Glibc.close(socketFD) }
        do {
            try UnixSocket.connect(socketFD, to: path)
            // runc sends the pty's name as the message; clients only take the descriptor.
            try UnixSocket.send(Array("/dev/ptmx".utf8), descriptors: [descriptor], over: socketFD)
        } catch {
            throw RunxlError(.io, "cannot pass the terminal over the console socket \(path)", cause: error)
        }
    }
}
