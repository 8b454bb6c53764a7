import GuestProtocol
import Synchronization
import Hypervisor
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The per-container process whose pid podman, conmon and containerd see as the container's.
///
/// It lives exactly as long as the container: it pumps the guest console onto the stdio it
/// inherited from `create`, waits for the domain to end through the hypervisor's events, reads
/// the exit status runxl-init left in xenstore, records it, destroys the domain and exits with
/// the container's status (128+N for a signal), which is what podman reports.
public struct Supervisor {
    let engine: ContainerEngine
    let id: ContainerID
    let log: @Sendable (String) -> Void
    /// The replica of the container's host pty (`TerminalPair`), for a process with a terminal.
    let terminal: Int32?
    /// Whether fd 0 is the container's stdin: true for `create` (conmon and the shims give it
    /// /dev/null or the user's input) and `launch`.
    let forwardsStdin: Bool

    public init(
        engine: ContainerEngine, id: ContainerID, terminal: Int32? = nil, forwardsStdin: Bool = true,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.engine = engine
        self.id = id
        self.terminal = terminal
        self.forwardsStdin = forwardsStdin
        self.log = log
    }

    /// How long the console may lag behind the domain's shutdown before output is given up on.
    static let consoleDrainSeconds = 3.0

    /// Runs until the container ends; returns the exit code for the supervisor process.
    /// `readyDescriptor` is written "ok" (or the error) and closed once the supervisor is
    /// listening, so `create` returns only when no output can be lost.
    public func run(readyDescriptor: Int32?) -> Int32 {
        let attached: Attached
        do {
            attached = try attach()
        } catch {
            SupervisorProcess.answerReady(readyDescriptor, "error: \(error.message)")
            return 255
        }
        SupervisorProcess.answerReady(readyDescriptor, "ok")
        return waitForEnd(attached)
    }

    /// For `launch`, which supervises its own container in-process: a second runxl process,
    /// with its own libxl context, would cost a process start and a context on every launch.
    /// `afterAttaching` (the unpause) runs once no output can be lost.
    public func run(afterAttaching: () throws(RunxlError) -> Void) throws(RunxlError) -> Int32 {
        let attached = try attach()
        try afterAttaching()
        return waitForEnd(attached)
    }

    /// The domain being supervised and the descriptor that turns readable when the console
    /// pump has copied the guest's last frame (-1 for a backend without consoles).
    struct Attached {
        let domain: DomainID
        let pumpDone: Int32
        let exec: ExecServer?
        /// A unikernel's console is raw text with no exit frame: writing here tells its pump
        /// that the domain has ended, so it stops once the console has gone quiet.
        var pumpStop: Int32 = -1
        var unikernel = false
        /// What the guest printed outside the container's streams, for a guest that fails.
        var tail: ConsoleTail? = nil
        /// Where the container's stderr goes: fd 2, or the host pty's replica.
        var errors: Int32 = 2
    }

    private func attach() throws(RunxlError) -> Attached {
        let record = try engine.store.load(id)
        let domain = try engine.domainID(of: record)
        let unikernel = record.unikernel != nil
        let tail = ConsoleTail()
        let pump = try startConsolePump(domain, raw: unikernel, tail: tail)
        let attached = Attached(
            domain: domain, pumpDone: pump.done, exec: pump.exec, pumpStop: pump.stop, unikernel: unikernel,
            tail: tail, errors: terminal ?? 2)
        engine.trace.mark("supervisor of \(id): console attached")
        return attached
    }

    private func waitForEnd(_ attached: Attached) -> Int32 {
        let domain = attached.domain
        let reported = ReportedExit()
        if !attached.unikernel && attached.pumpDone >= 0 { endAtExitReport(attached, into: reported) }
        if !attached.unikernel {
            let (log, id, hypervisor) = (self.log, self.id, engine.hypervisor)
            ShareBackendWatch.start(domain: domain, hypervisor: hypervisor, isEnding: { reported.status != nil }) { message in
                log("supervisor of \(id): \(message)")
                // The reason becomes the exit status (explained on stderr below); the destroy
                // ends the wait for the domain.
                reported.status = .failed(message)
                try? hypervisor.destroy(domain)
            }
        }
        let end: DomainEnd
        do {
            end = try engine.hypervisor.waitForEnd(domain, timeoutSeconds: nil)
        } catch {
            log("supervisor of \(id): waiting for domain \(domain) failed: \(error)")
            end = .gone
        }
        if attached.pumpStop >= 0 { _ = write(attached.pumpStop, "x", 1) }
        if attached.pumpDone >= 0 {
            Self.waitReadable(attached.pumpDone, seconds: Self.consoleDrainSeconds)
        }
        attached.exec?.finishAll()
        let status: GuestExitStatus
        var explanation: String?
        if attached.unikernel {
            let written = writtenStatus(domain)
            status = UnikernelExit.status(after: end, written: written)
            explanation = UnikernelExit.explanation(after: end, written: written)
        } else {
            status = exitStatus(after: end, domain: domain, reported: reported)
        }
        if case .failed(let message) = status { explanation = message }
        if let explanation { explainFailure(explanation, attached) }
        do {
            try engine.recordExit(id, status: status)
        } catch {
            // delete --force may have removed the record already: the exit still counts.
            log("supervisor of \(id): cannot record the exit: \(error)")
        }
        try? engine.hypervisor.destroy(domain)
        engine.trace.mark("supervisor of \(id): container ended")
        return stored(status).shellExitCode
    }

    /// A guest that failed before its process could end normally (init could not mount or start
    /// it, the kernel panicked or ran out of memory, the guest crashed) would otherwise show only
    /// exit status 127: the reason and the end of what the guest printed go to the container's
    /// stderr, where podman's logs and a `launch` user see them.
    private func explainFailure(_ message: String, _ attached: Attached) {
        var text = "runxl: container \(id) failed: \(message)\n"
        if let console = attached.tail?.text, !console.isEmpty {
            text += "runxl: the guest console's last lines:\n\(console)\n"
        }
        Descriptors.writeAllIfPossible(attached.errors, Array(text.utf8))
    }

    /// Once init has written the exit status and its exit frame has been copied, nothing the
    /// guest still does matters: its power-off can take seconds (the kernel waits up to 5 s for
    /// each Xen device's backend to close, a vif in a network namespace among them), so the
    /// domain is destroyed at once and the container ends as soon as its process did.
    /// The status is kept in `reported`: destroying the domain removes its xenstore keys.
    private func endAtExitReport(_ attached: Attached, into reported: ReportedExit) {
        let hypervisor = engine.hypervisor
        let domain = attached.domain
        guard let guest = try? GuestLink(hypervisor, domain: domain) else { return }
        let log = self.log
        try? startDetachedThread {
            guard case .exit(let status)? = try? guest.waitFor(.exit, timeoutSeconds: nil) else { return }
            reported.status = status
            Self.waitReadable(attached.pumpDone, seconds: Self.consoleDrainSeconds)
            do throws(RunxlError) {
                try hypervisor.destroy(domain)
            } catch {
                // Not found: it powered off and was destroyed meanwhile.
                if error.code != .domainNotFound {
                    log("supervisor: destroying domain \(domain) after its exit report failed: \(error)")
                }
            }
        }
    }

    /// What ended the container, from the domain's end and the key runxl-init writes.
    func exitStatus(after end: DomainEnd, domain: DomainID, reported: ReportedExit? = nil) -> GuestExitStatus {
        // `reported` is read again after the store: the thread that takes init's exit report
        // sets it and then destroys the domain, keys and all (`endAtExitReport`), so a store
        // read that finds nothing after that thread ran means `reported` is set by now. Read
        // only before the store, the status could be lost between the two reads on a busy host
        // (the likely cause of a unit test's status 127 in one CI run).
        let written = reported?.status ?? writtenStatus(domain) ?? reported?.status
        switch end {
        case .shutdown(.poweroff):
            return written ?? .failed("the guest powered off without reporting an exit status")
        case .shutdown(.crash):
            return written ?? .failed("the guest crashed")
        case .shutdown(let reason):
            return written ?? .failed("the guest shut down (\(reason))")
        case .gone, .timedOut:
            return written ?? .signaled(SIGKILL)
        }
    }

    /// The exit status the guest reported, if any.
    func writtenStatus(_ domain: DomainID) -> GuestExitStatus? {
        (try? GuestLink(engine.hypervisor, domain: domain))?.reportedExit()
    }

    /// A kill that destroyed the domain recorded its signal first; that one is the truth.
    func stored(_ status: GuestExitStatus) -> GuestExitStatus {
        guard let record = try? engine.store.load(id), let recorded = record.exit else { return status }
        return recorded
    }

    /// Starts copying the guest console to fds 1 and 2, or to the terminal (`raw`: everything
    /// to fd 1, for a unikernel); returns a descriptor that becomes readable when the guest's
    /// last output has been copied (-1 for a backend without consoles), for `raw` the descriptor
    /// that tells the pump the domain has ended, and the exec channel of a Linux guest.
    private func startConsolePump(
        _ domain: DomainID, raw: Bool, tail: ConsoleTail
    ) throws(RunxlError) -> (done: Int32, stop: Int32, exec: ExecServer?) {
        let path: String
        do {
            path = try engine.hypervisor.consolePath(domain)
        } catch where error.code == .unsupported {
            return (-1, -1, nil)
        }
        let console = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard console >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot open the console \(path) of domain \(domain)", cause: SystemCallError("open", errno: err))
        }
        var settings = termios()
        if tcgetattr(console, &settings) == 0 {
            cfmakeraw(&settings)
            tcsetattr(console, TCSANOW, &settings)
        }
        let pipeEnds: (read: Int32, write: Int32)
        do {
            pipeEnds = try Processes.makePipe()
        } catch {
            close(console)
            throw error
        }
        let signalEnd = pipeEnds.write
        let log = self.log
        if raw {
            let stopEnds = try Processes.makePipe()
            try startDetachedThread {
                RawConsolePump(console: console, stop: stopEnds.read).run()
                _ = write(signalEnd, "x", 1)
            }
            return (pipeEnds.read, stopEnds.write, nil)
        }
        if terminal != nil {
            // Before any thread starts, so every thread inherits the mask and only the sigwait
            // thread takes SIGWINCH (an unblocked thread would take and ignore it).
            var mask = sigset_t()
            sigemptyset(&mask)
            sigaddset(&mask, SIGWINCH)
            pthread_sigmask(SIG_BLOCK, &mask, nil)
        }
        // The console is framed with or without a terminal: init carries the guest pty's bytes
        // as stdout and input frames, so exec sessions share the console either way.
        let writer = ConsoleWriter(descriptor: console)
        let server = ExecServer(console: writer, log: log)
        let waitForReady = try guestReadiness(domain)
        try server.listen(at: "\(engine.store.directory(id))/\(ExecChannel.socketName)") { _ = waitForReady() }
        let (output, errors) = terminal.map { ($0, $0) } ?? (1, 2)
        try startDetachedThread {
            ConsolePump(console: console, exec: server, log: log, output: output, errors: errors, tail: tail).run()
            _ = write(signalEnd, "x", 1)
        }
        if let terminal {
            try startInputForwarding(after: waitForReady) { StdinPump(console: writer, source: terminal).run() }
            try startWindowSizeForwarding(domain, terminal: terminal)
        } else if forwardsStdin {
            // Before the unpause: init decides on its process's stdin from this key.
            try GuestLink(engine.hypervisor, domain: domain).send(.stdinForwarded)
            try startInputForwarding(after: waitForReady) { StdinPump(console: writer).run() }
        }
        return (pipeEnds.read, -1, server)
    }

    /// Blocks until init reports the process started (true), or the wait fails (false). Before
    /// that the guest's console may still be in the kernel's cooked mode, which would echo
    /// frames back and act on control bytes inside them: nothing is written to it until then.
    private func guestReadiness(_ domain: DomainID) throws(RunxlError) -> @Sendable () -> Bool {
        let guest = try GuestLink(engine.hypervisor, domain: domain)
        return { (try? guest.waitFor(.ready, timeoutSeconds: nil)) != nil }
    }

    /// Input starts flowing once the guest is ready (`guestReadiness`).
    private func startInputForwarding(after waitForReady: @escaping @Sendable () -> Bool, _ body: @escaping @Sendable () -> Void) throws(RunxlError) {
        try startDetachedThread {
            guard waitForReady() else { return }
            body()
        }
    }

    /// The client resizes the pty master; the supervisor, whose controlling terminal the replica
    /// is, gets SIGWINCH and passes the size to init through xenstore. The first size is written
    /// at once (conmon sets it before `start`), so init applies it before the process starts.
    private func startWindowSizeForwarding(_ domain: DomainID, terminal: Int32) throws(RunxlError) {
        let guest = try GuestLink(engine.hypervisor, domain: domain)
        if setsid() >= 0 { _ = ioctl(terminal, UInt(TIOCSCTTY), 0) }
        try startDetachedThread {
            var lastSize: HostMessage?
            while true {
                var size = winsize()
                if ioctl(terminal, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 {
                    let message = HostMessage.windowSize(rows: size.ws_row, columns: size.ws_col)
                    if message != lastSize, (try? guest.send(message)) != nil {
                        lastSize = message
                    }
                }
                var waitMask = sigset_t()
                sigemptyset(&waitMask)
                sigaddset(&waitMask, SIGWINCH)
                var received: Int32 = 0
                sigwait(&waitMask, &received)
            }
        }
    }

    static func waitReadable(_ descriptor: Int32, seconds: Double) {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, Int32(seconds * 1000))
    }
}

/// Copies framed console output to stdout and stderr until init's exit frame or end of file.
struct ConsolePump {
    let console: Int32
    var exec: ExecServer? = nil
    let log: @Sendable (String) -> Void
    /// The container's stdout and stderr: fds 1 and 2, or both the host pty's replica.
    var output: Int32 = 1
    var errors: Int32 = 2
    /// Keeps the kernel's text and init's diagnostics, for `Supervisor.explainFailure`.
    var tail: ConsoleTail? = nil

    func run() {
        var decoder = ConsoleFrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(console, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            for event in decoder.feed(buffer[0..<count]) {
                switch event {
                case .frame(.stdout, let bytes): Descriptors.writeAllIfPossible(output, bytes)
                case .frame(.stderr, let bytes): Descriptors.writeAllIfPossible(errors, bytes)
                case .frame(.exit, _): return
                case .frame(.diagnostics, let bytes):
                    log("guest: \(String(decoding: bytes, as: UTF8.self))")
                    tail?.append(bytes + [0x0A])
                case .frame(.execOutput, let payload):
                    if let (session, rest) = ExecFrames.split(payload), let stream = rest.first {
                        exec?.deliver(session: session, stream: stream, rest.dropFirst())
                    }
                case .frame(.execExit, let payload):
                    if let (session, rest) = ExecFrames.split(payload) {
                        exec?.finish(session: session, status: String(decoding: rest, as: UTF8.self))
                    }
                case .unframed(let bytes): tail?.append(bytes)
                case .frame: break
                }
            }
        }
    }
}

/// Frames the supervisor's stdin onto the guest console as `input`, then `inputEnd` at its end.
struct StdinPump {
    let console: ConsoleWriter
    /// fd 0, or the host pty's replica (whose end, when the client closes the master, init ignores).
    var source: Int32 = 0

    func run() {
        var buffer = [UInt8](repeating: 0, count: ConsoleFraming.maxPayload)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(source, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            console.write(ConsoleFraming.encode(stream: .input, payload: buffer[0..<count]))
        }
        console.write(ConsoleFraming.encode(stream: .inputEnd, payload: [0]))
    }
}

/// A unikernel's console: its bytes as they are, to stdout. There is no exit frame, so once the
/// supervisor says the domain has ended (`stop` readable) the pump goes on until the console has
/// been quiet for `quietMilliseconds`: xenconsoled may still be moving the last ring contents.
struct RawConsolePump {
    let console: Int32
    let stop: Int32
    static let quietMilliseconds: Int32 = 250

    func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var ending = false
        while true {
            var entries = [pollfd(fd: console, events: Int16(POLLIN), revents: 0), pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&entries, ending ? 1 : 2, ending ? Self.quietMilliseconds : -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if ready == 0 { return }
            if !ending, entries[1].revents != 0 { ending = true }
            guard entries[0].revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(console, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            Descriptors.writeAllIfPossible(1, Array(buffer[0..<count]))
        }
    }
}

/// The exit status init reported, handed from the thread that saw it to the one that records it.
final class ReportedExit: Sendable {
    private let value = Mutex<GuestExitStatus?>(nil)
    var status: GuestExitStatus? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// The last bytes a guest printed outside the container's own streams: kernel messages (a
/// panic, the OOM killer) and init's diagnostics. Bounded, so a chatty kernel costs nothing.
final class ConsoleTail: Sendable {
    static let limit = 2048
    private let bytes = Mutex<[UInt8]>([])

    func append(_ more: [UInt8]) {
        bytes.withLock { kept in
            kept += more
            if kept.count > Self.limit { kept.removeFirst(kept.count - Self.limit) }
        }
    }

    /// Printable text, whole lines where the limit cut one, without blank lines.
    var text: String {
        let kept = bytes.withLock { $0 }
        let printable = kept.map { byte -> UInt8 in
            byte == 0x0A || (0x20..<0x7F).contains(byte) ? byte : (byte == 0x0D ? 0x0A : 0x3F)
        }
        var lines = String(decoding: printable, as: UTF8.self).split(separator: "\n").map(String.init)
        if kept.count >= Self.limit, lines.count > 1 { lines.removeFirst() }
        return lines.filter { !$0.allSatisfy { $0 == " " } }.joined(separator: "\n")
    }
}
