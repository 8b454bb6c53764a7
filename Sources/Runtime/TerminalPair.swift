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

    public static func open() throws(RunxlError) -> TerminalPair {
        let pair: Pseudoterminal
        do {
            pair = try Pseudoterminal.allocate()
        } catch {
            throw RunxlError(.io, "cannot allocate a terminal for the container", cause: error)
        }
        pair.makeReplicaRaw()
        return TerminalPair(master: pair.master, replica: pair.replica)
    }

    /// Sends the master over the AF_UNIX socket at `path` (SCM_RIGHTS, with the pty's name as the
    /// message, as runc does), the contract of `--console-socket`.
    public func sendMaster(to path: String) throws(RunxlError) {
        try ConsoleSocket.send(master, to: path)
    }

    /// A second descriptor of the master, close-on-exec, for a caller that keeps it past this
    /// pair's `close`.
    public func duplicateMaster() throws(RunxlError) -> Int32 {
        let duplicate = fcntl(master, F_DUPFD_CLOEXEC, 3)
        guard duplicate >= 0 else {
            let code = errno
            throw RunxlError(.io, "cannot keep the container's terminal", cause: SystemCallError("fcntl(F_DUPFD_CLOEXEC)", errno: code))
        }
        return duplicate
    }

    public func close() {
        Glibc.close(master)
        Glibc.close(replica)
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
