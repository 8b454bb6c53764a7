import Glibc
import RunxlBase
import GuestProtocol

/// The whole life of the guest: set up, start the process, supervise it, report, power off.
///
/// Guest mode (PID 1): mounts, /dev/hvc0 framed, xenstore through /dev/xen/xenbus, power-off.
/// Test mode (not PID 1, `RUNXL_INIT_TEST=1`): no mounts, hostname or sysctls; frames go to
/// stdout; `RUNXL_INIT_STATE_DIR`, when set, receives `ready` and `exit` files and may hold a
/// `signal` FIFO; the process file is `RUNXL_INIT_PROCESS` (default `/.runxl/process`); init
/// exits with the process's shell-style exit code.
struct InitMain {
    static let consolePath = "/dev/hvc0"

    let isGuest: Bool

    func run() -> Never {
        guard isGuest || environmentValue("RUNXL_INIT_TEST") == "1" else {
            Descriptors.writeAllIfPossible(2, Array("runxl-init runs as PID 1 inside a runxl guest; set RUNXL_INIT_TEST=1 to try it elsewhere\n".utf8))
            exit(2)
        }
        signal(SIGPIPE, SIG_IGN)
        var console = isGuest ? Console.raw(fd: 1) : Console(fd: 1, framed: true)
        var host: (any HostChannel)?
        let status: GuestExitStatus
        do {
            if isGuest {
                try FileSystemSetup.mountBase()
                Self.ensureStandardDescriptors()
                Kmsg.open()
                console = Console.openGuestConsole(path: Self.consolePath)
                do {
                    host = try XenbusChannel()
                } catch {
                    console.diagnostic("xenstore is unavailable (\(error.message)); the exit status goes to the console only")
                }
            } else if let directory = environmentValue("RUNXL_INIT_STATE_DIR") {
                host = DirectoryChannel(directory: directory)
            }
            if isGuest && TemplateResume.isTemplate {
                guard let xenbus = host as? XenbusChannel else {
                    throw InitFailure("a template guest learns of its container through xenstore, which is unavailable")
                }
                try TemplateResume.holdUntilRestored(host: xenbus, console: console)
                SharedRoot.channelWaitSeconds = TemplateResume.shareWaitSeconds
            } else if isGuest && TemplateResume.isWarm {
                guard let xenbus = host as? XenbusChannel else {
                    throw InitFailure("a warm guest learns of its container through xenstore, which is unavailable")
                }
                try TemplateResume.holdUntilAdopted(host: xenbus, console: console)
            }
            var path = isGuest ? ProcessDescription.path : (environmentValue("RUNXL_INIT_PROCESS") ?? ProcessDescription.path)
            if isGuest && fileMode(path) == nil {
                // Share mode: the process file is in runxl's control share (GuestShares).
                GuestModules.loadAll(console: console)
                try SharedRoot.mountControl()
                path = SharedRoot.processPath
            }
            let description: ProcessDescription
            do {
                description = try ProcessDescription.decode(try readWholeFile(path, limit: ProcessDescription.maxEncodedSize))
            } catch let error as GuestProtocolError {
                throw InitFailure("\(path): \(error.message)")
            }
            status = try start(description, console: &console, host: host)
        } catch let failure as InitFailure {
            console.diagnostic(failure.message)
            status = failure.status
        } catch {
            console.diagnostic("\(error)")
            status = .failed("\(error)")
        }
        finish(status, console: console, host: host)
    }

    /// Without /dev/console in the initramfs the kernel starts init with fds 0-2 closed; the
    /// pipes opened later would then take those numbers and be lost at exec. Fill them.
    private static func ensureStandardDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 {
            let opened = open("/dev/null", O_RDWR)
            if opened >= 0 && opened != fd {
                _ = dup2(opened, fd)
                close(opened)
            }
        }
    }

    private func start(_ description: ProcessDescription, console: inout Console, host: (any HostChannel)?) throws -> GuestExitStatus {
        if isGuest {
            // Before the spec's mounts, which may cover /.runxl where the modules are.
            GuestModules.loadAll(console: console)
            GuestNetworkSetup.bringUpLoopback()
            if let network = try (host as? XenbusChannel)?.networkDescription() {
                try GuestNetworkSetup.apply(network)
            }
            try SharedRoot.enter()
            // Share mode only: a pod's VM, which may grow, has a control share.
            if SharedRoot.controlDescriptor >= 0 { VcpuOnline.prepare() }
            try FileSystemSetup.apply(description, console: console)
        } else {
            // Subreaper: orphans of the process come back to init as they would to PID 1.
            _ = c_prctl(Linux.prSetChildSubreaper, 1, 0, 0, 0)
        }
        let signalDescriptor = try InitSignals.makeDescriptor()

        let stdio: Launcher.Stdio
        var outputs: [(fd: Int32, stream: ConsoleStream)] = []
        var childEnds: [Int32] = []
        var input: StdinForwarder?
        if description.terminal && isGuest {
            // The process's terminal is a guest pty whose bytes travel as stdout and input
            // frames: the console stays framed, so exec sessions can share it.
            let (master, replica) = try Pseudoterminal.allocateInGuest(purpose: "terminal")
            stdio = .terminal(replica)
            outputs = [(master, .stdout)]
            childEnds = [replica]
            // Input goes through its own descriptor: the forwarder closes it when a write fails,
            // which must not take the output side with it. A terminal has no end-of-file to pass on.
            input = StdinForwarder(console: console.fd, pipe: dup(master), passesEndOfInput: false)
            if let xenbus = host as? XenbusChannel {
                xenbus.onWindowSize = { rows, columns in
                    var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
                    _ = ioctl(master, UInt(TIOCSWINSZ), &size)
                }
            }
        } else if description.terminal {
            stdio = .inherit
            console = console.forPlainTerminal()
        } else {
            var stdoutPipe: [Int32] = [-1, -1]
            var stderrPipe: [Int32] = [-1, -1]
            try check(c_pipe2(&stdoutPipe, O_CLOEXEC), "pipe for stdout")
            try check(c_pipe2(&stderrPipe, O_CLOEXEC), "pipe for stderr")
            // In the guest the host's stdin arrives as console frames (the host sends at least
            // the end-of-file); in test mode there is no host to send it.
            var stdinPipe: [Int32] = [-1, -1]
            let forwarded = (host as? XenbusChannel)?.hostForwardsStdin() ?? false
            if isGuest && forwarded {
                try check(c_pipe2(&stdinPipe, O_CLOEXEC), "pipe for stdin")
                input = StdinForwarder(console: console.fd, pipe: stdinPipe[1])
            }
            let stdinEnd: Int32? = input != nil ? stdinPipe[0] : nil
            stdio = .pipes(stdin: stdinEnd, stdout: stdoutPipe[1], stderr: stderrPipe[1])
            outputs = [(stdoutPipe[0], .stdout), (stderrPipe[0], .stderr)]
            childEnds = [stdoutPipe[1], stderrPipe[1]] + (stdinEnd.map { [$0] } ?? [])
        }
        let user = description.user
        let alreadyThatUser = user.uid == getuid() && user.gid == getgid() && user.additionalGids.isEmpty
        var launcher = Launcher(
            description: description, stdio: stdio, switchUser: isGuest || getuid() == 0 || !alreadyThatUser,
            warn: { [console] in console.diagnostic($0) })
        if description.pidNamespace && isGuest {
            // Every process init starts from here on (the container's, then each exec's) is in
            // the new namespace; the first one is its PID 1.
            if c_unshare(Linux.cloneNewPID) == 0 {
                launcher.firstOfPidNamespace = true
            } else {
                // A guest kernel built without CONFIG_PID_NS: the process still runs, as before.
                console.diagnostic(
                    "runxl-init: no pid namespace for the container (unshare: \(errnoText(errno))): its process is not PID 1")
            }
        }
        let child: pid_t
        let gate: StartGate?
        var startState = StartState.notAsked
        do {
            startState = try host?.startState() ?? .notAsked
            launcher.heldUntilStart = startState == .waiting
            (child, gate) = try launcher.launch()
        } catch {
            if startState == .given { try? host?.report(.started(execSucceeded: false)) }
            for fd in childEnds { close(fd) }
            input?.close()
            throw error
        }
        if startState == .given, let host {
            // start came before init looked: the exec just happened, and start waits to hear it.
            do {
                try host.report(.started(execSucceeded: true))
            } catch {
                console.diagnostic("cannot report the start: \(error.message)")
            }
        }
        for fd in childEnds { close(fd) }
        if let host {
            do {
                try host.report(.ready(pid: child))
            } catch {
                console.diagnostic("cannot report readiness: \(error.message)")
            }
        }
        return Supervisor(
            console: console, host: host, child: child, signalDescriptor: signalDescriptor, outputs: outputs,
            input: input, startGate: gate, killEverythingAtEnd: isGuest
        ).run()
    }

    private func finish(_ status: GuestExitStatus, console: Console, host: (any HostChannel)?) -> Never {
        console.exit(status)
        if let host {
            do {
                try host.report(.exit(status))
            } catch {
                console.diagnostic("cannot report the exit status: \(error.message)")
            }
        }
        guard isGuest else { exit(status.shellExitCode) }
        sync()
        _ = c_reboot(Linux.rebootPowerOff)
        // PID 1 must never exit (the kernel would panic); wait for the host to destroy the domain.
        console.diagnostic("power-off failed: \(errnoText(errno))")
        while true { pause() }
    }
}
