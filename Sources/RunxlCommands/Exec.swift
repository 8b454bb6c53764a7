import GuestProtocol
import OCI
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl exec`: runs another process in a running or created container, through its supervisor and the
/// guest's init (Runtime's `ExecChannel`). The process is described the way `create` describes
/// the container's (config.json's process with runc's overrides, or `--process`), checked against
/// the rootfs on the host so a missing program fails here, not in the guest.
///
/// With `--detach` a small waiter (`exec-wait`) is left behind as the pid in `--pid-file`: conmon
/// and the containerd shim watch it, and it exits with the process's status.
struct Exec: Verb {
    static let spec = VerbSpec(
        name: "exec", summary: "run a process in a running container", usage: "[flags] ID [COMMAND [ARG...]]",
        flags: [
            FlagSpec("process", short: "p", value: "FILE", help: "the process as a runtime-spec process JSON"),
            FlagSpec("detach", short: "d", help: "return once the process started; the pid file names its waiter"),
            FlagSpec("pid-file", value: "FILE", help: "write the pid that lives as long as the process"),
            FlagSpec("tty", short: "t", help: "give the process a terminal (its master goes to --console-socket, or is bridged to this stdin/stdout)"),
            FlagSpec("console-socket", value: "SOCKET", help: "AF_UNIX socket that receives the pty master"),
            FlagSpec("cwd", value: "DIR", help: "working directory in the container"),
            FlagSpec("env", short: "e", value: "KEY=VALUE", help: "set an environment variable (repeatable)"),
            FlagSpec("user", short: "u", value: "UID[:GID]", help: "run as this user"),
            FlagSpec("additional-gids", short: "g", value: "GID", help: "an additional group (repeatable)"),
            FlagSpec("no-new-privs", help: "set no_new_privileges for the process"),
            FlagSpec("cap", short: "c", value: "CAP", help: "accepted for runc compatibility", hidden: true),
            FlagSpec("process-label", value: "LABEL", help: "accepted for runc compatibility", hidden: true),
            FlagSpec("apparmor", value: "PROFILE", help: "accepted for runc compatibility", hidden: true),
            FlagSpec("preserve-fds", value: "N", help: "only 0: a guest cannot inherit the host's descriptors"),
            FlagSpec("cgroup", value: "PATH", help: "accepted for runc compatibility", hidden: true),
            FlagSpec("ignore-paused", help: "accepted for runc compatibility", hidden: true),
        ],
        flagsEndAtFirstPositional: true)

    let global: GlobalOptions
    let id: ContainerID
    let arguments: ParsedArguments

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        self.arguments = arguments
        id = try ContainerID(try arguments.positional(0, "container id"))
        try PreservedDescriptors.refuseAny(arguments)
    }

    func run() throws(RunxlError) -> Int32 {
        let engine = try Backend.execEngine(global)
        var requestedSize: ConsoleSize?
        var description = try engine.execDescription(id) { (spec: Spec) throws(RunxlError) in
            let process = try process(from: spec)
            requestedSize = process.consoleSize
            return process
        }
        if description.terminal { description.consoleSize = Self.initialTerminalSize(requestedSize) }
        let detach = arguments.isSet("detach")
        var descriptors: [Int32] = [0, 1, 2]
        var terminalPair: TerminalPair?
        defer { terminalPair?.close() }
        // Without --console-socket, runc bridges the terminal to its own stdin and stdout.
        var bridgedMaster: Int32 = -1
        defer { if bridgedMaster >= 0 { close(bridgedMaster) } }
        if description.terminal {
            let pair = try TerminalPair.open()
            terminalPair = pair
            if let socket = arguments.value("console-socket") {
                try pair.sendMaster(to: ContainerEngine.absolutePath(socket))
            } else {
                guard !detach else {
                    throw RunxlError(.usage, "exec: --tty with --detach needs --console-socket: nothing would hold the terminal")
                }
                bridgedMaster = fcntl(pair.master, F_DUPFD_CLOEXEC, 3)
                guard bridgedMaster >= 0 else {
                    let code = errno
                    throw RunxlError(.io, "cannot keep the exec's terminal", cause: SystemCallError("fcntl(F_DUPFD_CLOEXEC)", errno: code))
                }
            }
            descriptors = [pair.replica]
        }
        let connection = try engine.sendExec(id, description, descriptors: descriptors)
        // The supervisor holds the replica now: its close at the process's end is the master's EOF.
        terminalPair?.close()
        terminalPair = nil
        if detach {
            defer { close(connection) }
            // As with create, a terminal process keeps none of the caller's streams.
            let waiter = try Processes.spawn(
                try Processes.currentExecutable(), ["exec-wait", "--fd", "3"], extraDescriptors: [connection],
                detachStandardStreams: description.terminal)
            try writePidFile(waiter)
            return 0
        }
        try writePidFile(getpid())
        guard bridgedMaster >= 0 else { return ExecChannel.waitForExit(connection) }
        let bridge = try TerminalBridge.start(master: bridgedMaster)
        bridgedMaster = -1
        let code = ExecChannel.waitForExit(connection)
        bridge.finish()
        return code
    }

    private func writePidFile(_ pid: Int32) throws(RunxlError) {
        guard let path = arguments.value("pid-file") else { return }
        try FileSystem.writeAtomically(ContainerEngine.absolutePath(path), Array(String(pid).utf8))
    }

    /// config.json's process with runc's exec overrides, or the `--process` document.
    private func process(from spec: Spec) throws(RunxlError) -> Process {
        if let file = arguments.value("process") {
            let bytes = try FileSystem.read(ContainerEngine.absolutePath(file))
            return try JSONDocument.decode(Process.self, from: bytes, documentName: file, code: .invalidConfig)
        }
        var process = spec.process ?? Process(cwd: "/")
        let command = Array(arguments.positionals.dropFirst())
        guard !command.isEmpty else { throw RunxlError(.usage, "exec: give a command to run, or --process") }
        process.args = command
        process.terminal = arguments.isSet("tty")
        for entry in arguments.allValues("env") {
            let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            process.env = (process.env ?? []).filter { !$0.hasPrefix(key + "=") } + [entry]
        }
        if let cwd = arguments.value("cwd") { process.cwd = cwd }
        if let user = arguments.value("user") {
            let parts = user.split(separator: ":", maxSplits: 1)
            guard let uid = parts.first.flatMap({ UInt32($0) }), parts.count == 1 || UInt32(parts[1]) != nil else {
                throw RunxlError(.usage, "exec: --user takes UID or UID:GID, found '\(user)'")
            }
            process.user = User(uid: uid, gid: parts.count > 1 ? UInt32(parts[1]) : 0)
        }
        let gids = arguments.allValues("additional-gids").compactMap { UInt32($0) }
        if !gids.isEmpty { process.user?.additionalGids = gids }
        if arguments.isSet("no-new-privs") { process.noNewPrivileges = true }
        return process
    }

    /// The size the exec's pty starts with: the process document's `consoleSize` (podman sets it),
    /// else the caller's own terminal, which runxl bridges without `--console-socket`.
    static func initialTerminalSize(_ requested: ConsoleSize?) -> ProcessDescription.ConsoleSize? {
        if let requested, let rows = UInt16(exactly: requested.height), let columns = UInt16(exactly: requested.width),
            rows > 0, columns > 0
        {
            return ProcessDescription.ConsoleSize(rows: rows, columns: columns)
        }
        var size = winsize()
        guard isatty(0) == 1, ioctl(0, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return nil }
        return ProcessDescription.ConsoleSize(rows: size.ws_row, columns: size.ws_col)
    }
}

/// `runxl exec-wait`: internal. What `exec --detach` leaves as the exec'd process's pid: it
/// waits on the exec channel and exits with the process's status.
struct ExecWait: Verb {
    static let spec = VerbSpec(
        name: "exec-wait", summary: "internal: wait for an exec'd process", usage: "--fd N",
        flags: [FlagSpec("fd", value: "N", help: "the exec channel's connection")], hidden: true)

    let connection: Int32

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        connection = Int32(try arguments.integer("fd", default: -1))
    }

    func run() throws(RunxlError) -> Int32 {
        // The caller's pipes (conmon's, the shim's) belong to the process, which the supervisor
        // writes to; the waiter must not keep them open after the process ends.
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            for fd: Int32 in 0...2 { dup2(null, fd) }
            if null > 2 { close(null) }
        }
        Processes.closeDescriptors(from: max(connection, 2) + 1)
        return ExecChannel.waitForExit(connection)
    }
}
