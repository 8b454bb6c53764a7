import Glibc
import GuestProtocol

/// The signals init takes through a signalfd instead of handlers: SIGCHLD to reap, the others
/// (which reach PID 1 only from the kernel, or init in test mode from whoever runs it) to forward.
enum InitSignals {
    static let forwarded: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

    /// Blocks the signals and returns a descriptor that reads them. Done before fork; the child
    /// restores an empty mask.
    static func makeDescriptor() throws(InitFailure) -> Int32 {
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGCHLD)
        for signal in forwarded { sigaddset(&mask, signal) }
        try check(sigprocmask(SIG_BLOCK, &mask, nil), "block signals")
        return try check(c_signalfd(-1, &mask, O_CLOEXEC | O_NONBLOCK), "signalfd")
    }
}

/// Runs until the container process is gone: forwards its output as frames, reaps every
/// zombie (init is PID 1, the parent of every orphan), delivers signals the host asks for.
final class Supervisor {
    private let console: Console
    private let host: (any HostChannel)?
    private let child: pid_t
    private let signalDescriptor: Int32
    /// Guest: when the process ends, everything else in the VM is killed, as a PID namespace
    /// ends with its init. Test mode: only the process's own session.
    private let killEverythingAtEnd: Bool
    private var outputs: [(fd: Int32, stream: ConsoleStream, session: UInt32?)]
    private let execs: ExecSessions
    private let input: StdinForwarder?
    private var signalFilter = SignalRequestFilter()
    private var childStatus: GuestExitStatus?
    /// Holds the process before its exec until the host's `start`.
    private var startGate: StartGate?
    /// Why the held process's exec failed: its status, once it is reaped.
    private var execFailure: InitFailure?

    init(
        console: Console, host: (any HostChannel)?, child: pid_t, signalDescriptor: Int32,
        outputs: [(fd: Int32, stream: ConsoleStream)], input: StdinForwarder? = nil, startGate: StartGate? = nil,
        killEverythingAtEnd: Bool
    ) {
        self.input = input
        self.startGate = startGate
        let execs = ExecSessions(console: console, warn: { [console] in console.diagnostic($0) })
        self.execs = execs
        input?.onExecFrame = { execs.handle($0, $1) }
        self.console = console
        self.host = host
        self.child = child
        self.signalDescriptor = signalDescriptor
        self.outputs = outputs.map { ($0.fd, $0.stream, nil) }
        self.killEverythingAtEnd = killEverythingAtEnd
        for output in outputs { _ = fcntl(output.fd, F_SETFL, fcntl(output.fd, F_GETFL) | O_NONBLOCK) }
    }

    /// How long output may keep arriving after the process and its session were killed
    /// (a descendant that escaped the session could hold a pipe open forever).
    static let drainMilliseconds: Int32 = 2000

    func run() -> GuestExitStatus {
        var hostUsable = host != nil
        var drainDeadline: Int64?
        handleHostInput(readable: false, usable: &hostUsable)
        while true {
            if let status = childStatus {
                if drainDeadline == nil {
                    killRemaining()
                    drainDeadline = monotonicMilliseconds() + Int64(Self.drainMilliseconds)
                }
                if outputs.isEmpty { return status }
            }
            var descriptors = [pollfd(fd: signalDescriptor, events: Int16(POLLIN), revents: 0)]
            descriptors += outputs.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let hostIndex = descriptors.count
            if hostUsable, childStatus == nil, let fd = host?.pollDescriptor {
                descriptors.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            }
            let inputIndex = descriptors.count
            if let input, childStatus == nil {
                if input.wantsConsole { descriptors.append(pollfd(fd: input.consoleDescriptor, events: Int16(POLLIN), revents: 0)) }
                if input.wantsToWrite { descriptors.append(pollfd(fd: input.pipeDescriptor, events: Int16(POLLOUT), revents: 0)) }
            }
            var timeout: Int32 = -1
            if let drainDeadline {
                let remaining = drainDeadline - monotonicMilliseconds()
                if remaining <= 0, let status = childStatus {
                    console.diagnostic("output still open \(Self.drainMilliseconds) ms after the process exited; closing it")
                    return status
                }
                timeout = Int32(clamping: max(remaining, 0))
            }
            let ready = descriptors.withUnsafeMutableBufferPointer { buffer in
                retryingEINTR { Int(poll(buffer.baseAddress, nfds_t(buffer.count), timeout)) }
            }
            if ready < 0 {
                let code = errno
                console.diagnostic("poll: \(errnoText(code))")
                continue
            }
            // Reaping may drain and remove an exec session's outputs: match them by descriptor.
            let polledOutputs = outputs
            if descriptors[0].revents != 0 { handleSignals() }
            // Output before exit: a process's last words must reach the host before its status.
            var closed: [Int32] = []
            for (index, output) in polledOutputs.enumerated() where descriptors[index + 1].revents != 0 {
                guard outputs.contains(where: { $0.fd == output.fd }) else { continue }
                if !forward(output) { closed.append(output.fd) }
            }
            outputs.removeAll { closed.contains($0.fd) }
            for fd in closed { close(fd) }
            if descriptors.count > hostIndex && hostIndex < inputIndex && descriptors[hostIndex].revents != 0 {
                handleHostInput(readable: true, usable: &hostUsable)
            }
            if let input {
                for entry in descriptors[inputIndex...] where entry.revents != 0 {
                    if entry.fd == input.consoleDescriptor { input.readConsole() } else { input.flush() }
                }
                if childStatus != nil { input.close() }
                outputs += execs.takeNewOutputs()
            }
        }
    }

    /// Reads what is available and frames it; false at end-of-file or error.
    private func forward(_ output: (fd: Int32, stream: ConsoleStream, session: UInt32?)) -> Bool {
        var buffer = [UInt8](repeating: 0, count: ConsoleFraming.maxPayload)
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { read(output.fd, raw.baseAddress, raw.count) } }
            if count > 0 {
                if let session = output.session {
                    console.sendFramed(ExecFrames.output(session: session, stream: output.stream, buffer[..<count]))
                } else {
                    console.send(output.stream, Array(buffer[..<count]))
                }
                continue
            }
            if count < 0 && errno == EAGAIN { return true }
            return false
        }
    }

    private func handleSignals() {
        var info = [UInt8](repeating: 0, count: 128)  // sizeof(struct signalfd_siginfo)
        while true {
            let count = info.withUnsafeMutableBytes { raw in retryingEINTR { read(signalDescriptor, raw.baseAddress, raw.count) } }
            if count != 128 { break }
            let signal = Int32(bitPattern: UInt32(info[0]) | UInt32(info[1]) << 8 | UInt32(info[2]) << 16 | UInt32(info[3]) << 24)
            if signal == SIGCHLD {
                reap()
            } else if childStatus == nil {
                _ = kill(child, signal)
            }
        }
        // SIGCHLD coalesces: reap whatever is there even if the read raced with an exit.
        reap()
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            if pid == child {
                childStatus = execFailure?.status ?? Self.decodeWaitStatus(status)
            } else if let (session, _) = execs.finish(pid: pid) {
                // Its last output first, then its end; a descendant still holding the pipes
                // loses what it writes later (as with `docker exec`).
                for output in outputs where output.session == session {
                    _ = forward(output)
                    close(output.fd)
                }
                outputs.removeAll { $0.session == session }
                console.sendFramed(ExecFrames.exit(session: session, Self.decodeWaitStatus(status)))
            }
        }
    }

    static func decodeWaitStatus(_ status: Int32) -> GuestExitStatus {
        let signal = status & 0x7F
        if signal == 0 { return .exited((status >> 8) & 0xFF) }
        return .signaled(signal)
    }

    private func handleHostInput(readable: Bool, usable: inout Bool) {
        guard let host, usable else { return }
        do {
            let requests = try host.receiveRequests(readable: readable)
            if requests.start, let gate = startGate {
                startGate = nil
                let failure = gate.open()
                if let failure {
                    console.diagnostic(failure.message)
                    execFailure = failure
                }
                do {
                    try host.report(.started(execSucceeded: failure == nil))
                } catch {
                    // start waits a bounded time for this, then returns anyway.
                    console.diagnostic("cannot report the start: \(error.message)")
                }
            }
            for request in requests.signals where signalFilter.isNew(request) {
                guard childStatus == nil else { continue }
                if kill(child, request.signal) == -1 && errno != ESRCH {
                    let code = errno
                    console.diagnostic("deliver signal \(request.signal): \(errnoText(code))")
                }
            }
        } catch {
            console.diagnostic("\(error.message); signals from the host are no longer delivered")
            usable = false
        }
    }

    private func killRemaining() {
        if killEverythingAtEnd {
            _ = kill(-1, SIGKILL)
        } else {
            _ = kill(-child, SIGKILL)
        }
        reap()
    }
}

func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
