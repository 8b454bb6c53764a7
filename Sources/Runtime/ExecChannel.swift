internal import FoundationEssentials
public import GuestProtocol
public import RunxlBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How `runxl exec` reaches a running container: through its supervisor, the one process that
/// holds the guest console. `runxl exec` connects to `<root>/<id>/exec.sock` and sends, in one
/// message, the length-prefixed `ProcessDescription` and its stdio descriptors (SCM_RIGHTS: stdin,
/// stdout, stderr, or one pty replica with a terminal). The supervisor answers `ok` once the request
/// is on its way to the guest, and `exit:<GuestExitStatus>` when the process has ended.
///
/// Why the supervisor writes to the exec's descriptors itself: the output needs no second copy
/// through the exec process, and `runxl exec --detach` can leave a small waiter as the pid
/// conmon and the shim watch.
public enum ExecChannel {
    public static let socketName = "exec.sock"
    /// A description larger than this is refused (the guest's process file has the same limit).
    static let maxRequest = ProcessDescription.maxEncodedSize

    /// The client side: sends the request, waits for `ok`; returns the connected socket, on which
    /// `waitForExit` later reads the end.
    public static func send(
        _ description: ProcessDescription, descriptors: [Int32], socketPath: String
    ) throws(RunxlError) -> Int32 {
        let connection = try connect(to: socketPath)
        do throws(RunxlError) {
            let body = description.encoded()
            let length = UInt32(body.count)
            let message = [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8(length >> 24)] + body
            try UnixSocket.send(message, descriptors: descriptors, over: connection)
            let answer = readLine(connection)
            guard answer == "ok" else {
                throw RunxlError(.spawnFailed, "the container's supervisor refused the exec: \(answer.isEmpty ? "no answer" : answer)")
            }
            return connection
        } catch {
            close(connection)
            throw error
        }
    }

    /// Blocks until the supervisor reports the end; the process's shell-style exit code.
    public static func waitForExit(_ connection: Int32) -> Int32 {
        waitForStatus(connection).shellExitCode
    }

    /// The same, as the guest reported it.
    public static func waitForStatus(_ connection: Int32) -> GuestExitStatus {
        let line = readLine(connection)
        guard line.hasPrefix("exit:"), let status = try? GuestExitStatus.decode(String(line.dropFirst(5))) else {
            // The supervisor went away with the container: the process was killed with it.
            return .signaled(SIGKILL)
        }
        return status
    }

    /// A connected socket to a supervisor's `path` (its exec channel, a pod member's socket).
    static func connect(to path: String) throws(RunxlError) -> Int32 {
        let connection = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard connection >= 0 else { throw failure("socket", path) }
        do {
            try UnixSocket.connect(connection, to: path)
        } catch {
            close(connection)
            throw RunxlError(.io, "cannot reach the container's supervisor at \(path)", cause: error)
        }
        return connection
    }

    /// Asks for `signal` to be delivered to the process of the session on `connection`. Closing
    /// the connection before the process's end kills it (`ExecServer`).
    public static func signal(_ connection: Int32, _ signal: Int32) throws(RunxlError) {
        guard Descriptors.writeAllIfPossible(connection, Array((signalRequest(signal) + "\n").utf8)) else {
            let code = errno
            throw RunxlError(.io, "cannot pass signal \(signal) to the exec session", cause: SystemCallError("write", errno: code))
        }
    }

    /// How a signal is asked for on a line, on an exec's connection and a pod member's socket.
    static func signalRequest(_ signal: Int32) -> String { signalPrefix + String(signal) }

    private static let signalPrefix = "signal:"

    /// The signal a `signalRequest` line asks for; nil for any other line or a signal Linux lacks.
    static func signalNumber(inRequest line: String) -> Int32? {
        guard line.hasPrefix(signalPrefix), let number = Int32(line.dropFirst(signalPrefix.count)),
            ExecFrames.signalNumbers.contains(number)
        else { return nil }
        return number
    }

    static func readLine(_ descriptor: Int32) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 65536 {
            let count = read(descriptor, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 || byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func failure(_ call: String, _ path: String) -> RunxlError {
        let code = errno
        return RunxlError(.io, "cannot reach the container's supervisor at \(path)", cause: SystemCallError(call, errno: code))
    }
}

/// The supervisor's side: accepts exec requests, numbers them, writes them to the guest, and
/// routes each session's output and end back (`ConsolePump` calls `deliver` and `finish`).
final class ExecServer: @unchecked Sendable {
    struct Session {
        let connection: Int32
        /// stdin, stdout, stderr; or one pty replica for all three.
        let descriptors: [Int32]
    }

    private let console: ConsoleWriter
    private let sessions = Mutex<[UInt32: Session]>([:])
    private let nextSession = Atomic<UInt32>(1)
    private let log: @Sendable (String) -> Void

    init(console: ConsoleWriter, log: @escaping @Sendable (String) -> Void) {
        self.console = console
        self.log = log
    }

    /// Listens at `path` (replacing a stale socket) and serves requests on a thread of its own,
    /// once `untilGuestReady` returns: before init has put the console in raw mode the guest's
    /// tty would mangle the frames. Requests made meanwhile wait in the listen queue.
    func listen(at path: String, untilGuestReady: @escaping @Sendable () -> Void = {}) throws(RunxlError) {
        let listener = try UnixSocket.listening(at: path, backlog: 16)
        try startDetachedThread { [self] in
            untilGuestReady()
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                serve(connection)
            }
        }
    }

    private func serve(_ connection: Int32) {
        guard let (body, descriptors) = UnixSocket.receiveRequest(connection, maxLength: ExecChannel.maxRequest),
            descriptors.count == 3 || descriptors.count == 1
        else {
            reply(connection, "error: a malformed exec request")
            close(connection)
            return
        }
        let session = nextSession.wrappingAdd(1, ordering: .relaxed).oldValue
        sessions.withLock { $0[session] = Session(connection: connection, descriptors: descriptors) }
        // "ok" before the request reaches the guest: a session that ends at once (a program
        // that is not there) is finished by the console pump, which replies its exit and closes
        // the connection; an "ok" after that would reach the client after its exit, or a
        // descriptor that reused the closed number.
        reply(connection, "ok")
        log("exec session \(session): \(body.count) bytes of description to the guest")
        console.write(ExecFrames.start(session: session, description: body))
        let input = descriptors[0]
        let console = self.console
        let isTerminal = descriptors.count == 1
        do {
            try startDetachedThread {
                var buffer = [UInt8](repeating: 0, count: ExecFrames.chunkSize)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    console.write(ExecFrames.input(session: session, buffer[0..<count]))
                }
                // A pty replica reads EIO once the session has closed it; nothing to pass on.
                if !isTerminal { console.write(ExecFrames.inputEnd(session: session)) }
            }
        } catch {
            log("exec session \(session): no input forwarding: \(error.message)")
        }
        if isTerminal { followWindowSize(session: session, terminal: input) }
        followRequests(session: session, connection: connection)
    }

    /// Reads what the client sends after its request: `signal:N` lines go to the session's
    /// process. A client that goes away before the process ends (a killed `runxl exec`, a pod
    /// member's supervisor killed by delete) takes the process with it, as runc's exec'd
    /// process dies with it: nothing is left running in the guest for nobody.
    private func followRequests(session: UInt32, connection: Int32) {
        // A descriptor of its own: `end` closes the connection's, and a number reused meanwhile
        // must never be read here.
        let own = fcntl(connection, F_DUPFD_CLOEXEC, 3)
        guard own >= 0 else { return }
        let console = self.console
        do {
            try startDetachedThread { [self] in
                defer { close(own) }
                while let number = ExecChannel.signalNumber(inRequest: ExecChannel.readLine(own)) {
                    console.write(ExecFrames.signal(session: session, number))
                }
                if sessions.withLock({ $0[session] != nil }) {
                    console.write(ExecFrames.signal(session: session, SIGKILL))
                }
            }
        } catch {
            close(own)
            log("exec session \(session): no signal forwarding: \(error.message)")
        }
    }

    /// How often an exec's terminal size is compared with what the guest was last told.
    static let windowSizePollMicroseconds: UInt32 = 200_000

    /// The client resizes the exec's pty master (conmon, the shim, runxl's own bridge); the
    /// replica is no controlling terminal of the supervisor, so no SIGWINCH says so: its size is
    /// polled while the session lasts, and each change goes to the guest's pty of the session.
    private func followWindowSize(session: UInt32, terminal: Int32) {
        let console = self.console
        do {
            try startDetachedThread { [self] in
                var last: (UInt16, UInt16) = (0, 0)
                while sessions.withLock({ $0[session] != nil }) {
                    var size = winsize()
                    if ioctl(terminal, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, (size.ws_row, size.ws_col) != last {
                        last = (size.ws_row, size.ws_col)
                        console.write(ExecFrames.resize(session: session, rows: size.ws_row, columns: size.ws_col))
                    }
                    usleep(Self.windowSizePollMicroseconds)
                }
            }
        } catch {
            log("exec session \(session): no window-size forwarding: \(error.message)")
        }
    }

    /// Output of a session, from the guest.
    func deliver(session: UInt32, stream: UInt8, _ bytes: ArraySlice<UInt8>) {
        guard let entry = sessions.withLock({ $0[session] }) else { return }
        let target = entry.descriptors.count == 1 ? entry.descriptors[0] : entry.descriptors[stream == 2 ? 2 : 1]
        Descriptors.writeAllIfPossible(target, Array(bytes))
    }

    /// The end of a session: told to its client, then its descriptors are let go.
    func finish(session: UInt32, status: String) {
        guard let entry = sessions.withLock({ $0.removeValue(forKey: session) }) else { return }
        end(entry, status: status)
    }

    /// The container ended: every session's client learns it (as a SIGKILL, like runc's exec).
    func finishAll() {
        let all = sessions.withLock { current -> [UInt32: Session] in
            defer { current.removeAll() }
            return current
        }
        for entry in all.values { end(entry, status: GuestExitStatus.signaled(SIGKILL).encoded) }
    }

    private func end(_ entry: Session, status: String) {
        reply(entry.connection, "exit:\(status)")
        for descriptor in Set(entry.descriptors) { close(descriptor) }
        // Ends the request reader's read (`followRequests`), which holds a descriptor of its own.
        _ = shutdown(entry.connection, Int32(SHUT_RD))
        close(entry.connection)
    }

    private func reply(_ connection: Int32, _ text: String) {
        Descriptors.writeAllIfPossible(connection, Array((text + "\n").utf8))
    }
}

/// Whole frames onto the guest console from several threads (stdin, exec input): a frame cut by
/// another thread's write would fail its checksum in the guest.
final class ConsoleWriter: Sendable {
    let descriptor: Int32
    private let lock = Mutex(())

    init(descriptor: Int32) { self.descriptor = descriptor }

    /// Escaped on the way (`ConsoleInputEscaping`: the guest's hvc driver would eat 0x0F).
    func write(_ frames: [UInt8]) {
        let wire = ConsoleInputEscaping.escaped(frames)
        lock.withLock { _ in _ = Descriptors.writeAllIfPossible(descriptor, wire) }
    }
}
