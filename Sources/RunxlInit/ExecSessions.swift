import Glibc
import RunxlBase
import GuestProtocol

/// Processes `runxl exec` asked for, each a numbered session (GuestProtocol's `ExecFrames`):
/// started with the same `Launcher` as the container's process, their output framed with the
/// session number, their end reported once their output is drained.
final class ExecSessions {
    struct Session {
        var pid: pid_t
        /// Where the session's input goes: its stdin pipe, or the pty master with a terminal.
        var input: Int32
        var outputs: [Int32]
    }

    private let console: Console
    private let warn: (String) -> Void
    private(set) var sessions: [UInt32: Session] = [:]
    /// The process of each pod member running here (docs/pods.md), which an exec joins.
    private var podMembers: [String: pid_t] = [:]
    /// Descriptions arriving in several frames.
    private var partialStarts: [UInt32: [UInt8]] = [:]
    /// New output descriptors for the supervisor's poll loop, taken by `takeNewOutputs()`.
    private var newOutputs: [(fd: Int32, stream: ConsoleStream, session: UInt32?)] = []

    init(console: Console, warn: @escaping (String) -> Void) {
        self.console = console
        self.warn = warn
    }

    func takeNewOutputs() -> [(fd: Int32, stream: ConsoleStream, session: UInt32?)] {
        defer { newOutputs.removeAll() }
        return newOutputs
    }

    /// A host-to-guest frame on one of the exec streams.
    func handle(_ stream: ConsoleStream, _ payload: [UInt8]) {
        guard let (session, rest) = ExecFrames.split(payload) else { return }
        switch stream {
        case .execStart:
            guard let last = rest.first else { return }
            partialStarts[session, default: []] += rest.dropFirst()
            if last == 1, let description = partialStarts.removeValue(forKey: session) { start(session, description) }
        case .execInput:
            guard let target = sessions[session]?.input, target >= 0 else { return }
            Descriptors.writeAllIfPossible(target, Array(rest))
        case .execResize:
            // With a terminal the session's input is its pty master, which also carries output.
            guard let entry = sessions[session], entry.input >= 0, entry.outputs.contains(entry.input),
                let (rows, columns) = ExecFrames.size(rest)
            else { return }
            var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
            _ = ioctl(entry.input, UInt(TIOCSWINSZ), &size)
        case .execSignal:
            guard let entry = sessions[session], let number = ExecFrames.signalNumber(rest) else { return }
            _ = kill(entry.pid, number)
        case .execInputEnd:
            guard var entry = sessions[session] else { return }
            // A pty master carries the output too: only a pipe is closed at end-of-file.
            if entry.input >= 0, !entry.outputs.contains(entry.input) { close(entry.input) }
            entry.input = -1
            sessions[session] = entry
        default:
            break
        }
    }

    private func start(_ session: UInt32, _ encoded: [UInt8]) {
        let description: ProcessDescription
        do {
            description = try ProcessDescription.decode(encoded)
        } catch {
            refuse(session, InitFailure("exec: \(error.message)"))
            return
        }
        if let count = description.onlineVcpus { VcpuOnline.bringOnline(count: count, warn: warn) }
        do {
            let entry = try launch(description)
            sessions[session] = entry
            if let member = description.podMember { podMembers[member] = entry.pid }
            for (fd, stream) in zip(entry.outputs, [ConsoleStream.stdout, .stderr]) {
                newOutputs.append((fd, stream, session))
            }
        } catch {
            refuse(session, error)
        }
    }

    /// A session that never ran: its caller gets the reason on its stderr, as runc's exec prints
    /// why it failed, and then the status (127 for a program that is not there). The status alone
    /// would leave podman exec with an exit code and nothing to say.
    private func refuse(_ session: UInt32, _ failure: InitFailure) {
        let line = Array("runxl: exec failed: \(failure.message)\n".utf8)
        console.sendFramed(ExecFrames.output(session: session, stream: .stderr, line))
        console.sendFramed(ExecFrames.exit(session: session, failure.status))
        warn("exec session \(session) did not start: \(failure.message)")
    }

    private func launch(_ description: ProcessDescription) throws(InitFailure) -> Session {
        // An exec into a member is made in the member's pid namespace, as runc's exec joins the
        // container's: init's children are made there for this one fork.
        if let member = description.joinPodMember, let pid = podMembers[member] {
            return try PodMemberRoot.forkingInPidNamespace("\(pid)/ns/pid", of: "pod member \(member)", warn: warn) {
                () throws(InitFailure) in try launchProcess(description)
            }
        }
        // A member's own pid namespace: clone(CLONE_NEWPID) makes one only from the namespace the
        // caller itself is in (EINVAL after init's unshare for the first container, as the lab
        // showed), so init's children are made in init's own for this fork; the new namespace is
        // a sibling of the first container's, as runc's containers are on a host.
        if Self.startsOwnPidNamespace(description) {
            return try PodMemberRoot.forkingInPidNamespace("self/ns/pid", of: "runxl-init", warn: warn) {
                () throws(InitFailure) in try launchProcess(description)
            }
        }
        return try launchProcess(description)
    }

    /// A pod's further container whose spec asks for a new pid namespace; any other session
    /// is made in init's children's namespace (an exec runs among the processes it joins).
    private static func startsOwnPidNamespace(_ description: ProcessDescription) -> Bool {
        description.podMember != nil && description.pidNamespace
    }

    private func launchProcess(_ description: ProcessDescription) throws(InitFailure) -> Session {
        let enter = try enterRoot(description)
        let ownPidNamespace = Self.startsOwnPidNamespace(description)
        if description.terminal {
            let (master, replica) = try Pseudoterminal.allocateInGuest(purpose: "exec")
            defer { close(replica) }
            if let size = description.consoleSize {
                var window = winsize(ws_row: size.rows, ws_col: size.columns, ws_xpixel: 0, ws_ypixel: 0)
                _ = ioctl(master, UInt(TIOCSWINSZ), &window)
            }
            var launcher = Launcher(description: description, stdio: .terminal(replica), switchUser: true, warn: warn)
            launcher.enterRoot = enter
            launcher.ownPidNamespace = ownPidNamespace
            let pid = try launcher.launch().pid
            _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
            return Session(pid: pid, input: master, outputs: [master])
        }
        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        try check(c_pipe2(&stdinPipe, O_CLOEXEC), "pipe for exec stdin")
        try check(c_pipe2(&stdoutPipe, O_CLOEXEC), "pipe for exec stdout")
        try check(c_pipe2(&stderrPipe, O_CLOEXEC), "pipe for exec stderr")
        defer { for fd in [stdinPipe[0], stdoutPipe[1], stderrPipe[1]] { close(fd) } }
        var launcher = Launcher(
            description: description, stdio: .pipes(stdin: stdinPipe[0], stdout: stdoutPipe[1], stderr: stderrPipe[1]),
            switchUser: true, warn: warn)
        launcher.enterRoot = enter
        launcher.ownPidNamespace = ownPidNamespace
        let pid: pid_t
        do {
            pid = try launcher.launch().pid
        } catch {
            for fd in [stdinPipe[1], stdoutPipe[0], stderrPipe[0]] { close(fd) }
            throw error
        }
        for fd in [stdoutPipe[0], stderrPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return Session(pid: pid, input: stdinPipe[1], outputs: [stdoutPipe[0], stderrPipe[0]])
    }

    /// A pod's further container gets its own root, an exec into one joins it; any other exec
    /// runs in init's, the pod's first container's.
    private func enterRoot(_ description: ProcessDescription) throws(InitFailure) -> (() throws(InitFailure) -> Void)? {
        if let member = description.podMember {
            let console = self.console
            return { () throws(InitFailure) in try PodMemberRoot.enter(member, description, console: console) }
        }
        if let member = description.joinPodMember {
            guard let pid = podMembers[member] else {
                throw InitFailure("container \(member) of this pod is not running: there is nothing to exec in", exitCode: 126)
            }
            return { () throws(InitFailure) in try PodMemberRoot.join(member, process: pid) }
        }
        return nil
    }

    /// The session a reaped pid was, removed; its output descriptors are the caller's to drain.
    func finish(pid: pid_t) -> (session: UInt32, entry: Session)? {
        guard let (session, entry) = sessions.first(where: { $0.value.pid == pid }) else { return nil }
        sessions.removeValue(forKey: session)
        podMembers = podMembers.filter { $0.value != pid }
        if entry.input >= 0, !entry.outputs.contains(entry.input) { close(entry.input) }
        return (session, entry)
    }
}

/// A pty inside the guest for a process with a terminal (the container's own or an exec
/// session's): the process gets the replica as its controlling terminal, init carries the
/// master's bytes over the framed console, so the console stays free for other sessions.
extension Pseudoterminal {
    /// The guest's pty from init's own devpts instance (Mounts.swift mounts it `newinstance`).
    static func allocateInGuest(purpose: String) throws(InitFailure) -> (master: Int32, replica: Int32) {
        do {
            let pair = try Pseudoterminal.allocate(multiplexer: "/dev/pts/ptmx")
            return (pair.master, pair.replica)
        } catch {
            throw InitFailure("\(purpose): cannot open a pty for the process: \(error)")
        }
    }
}
