import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl create`: builds the guest, creates its domain paused and starts the supervisor whose
/// pid goes into `--pid-file`. Returns once the container is `created`.
struct Create: Verb {
    static let spec = VerbSpec(
        name: "create", summary: "create a container (its domain stays paused until start)",
        usage: "[flags] ID", flags: CreateFlags.flags)

    let global: GlobalOptions
    let id: ContainerID
    let options: CreateFlags

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
        options = try CreateFlags(arguments)
    }

    func run() throws(RunxlError) -> Int32 {
        let engine = try Backend.engine(global)
        _ = try engine.create(id, options: options.engineOptions) { (id: ContainerID, terminal: Int32?) throws(RunxlError) -> Int32 in
            try SupervisorLauncher.launch(global: global, id: id, terminal: terminal)
        }
        return 0
    }
}

/// The flags `create` and `run` share, as runc spells them.
struct CreateFlags {
    static let flags: [FlagSpec] = [
        FlagSpec("bundle", short: "b", value: "DIR", help: "bundle directory (default: current directory)"),
        FlagSpec("pid-file", value: "FILE", help: "write the container's pid (its supervisor) to FILE"),
        FlagSpec("console-socket", value: "SOCKET", help: "AF_UNIX socket that receives the pty master"),
        FlagSpec("no-pivot", help: "accepted for runc compatibility"),
        FlagSpec("no-new-keyring", help: "accepted for runc compatibility"),
        FlagSpec("preserve-fds", value: "N", help: "only 0: a guest cannot inherit the host's descriptors"),
    ]

    var bundle: String
    var pidFile: String?
    var consoleSocket: String?

    init(_ arguments: ParsedArguments) throws(RunxlError) {
        bundle = arguments.value("bundle") ?? "."
        pidFile = arguments.value("pid-file")
        consoleSocket = arguments.value("console-socket")
        try PreservedDescriptors.refuseAny(arguments)
    }

    var engineOptions: ContainerEngine.CreateOptions {
        ContainerEngine.CreateOptions(bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket)
    }
}

/// Starts `runxl supervise` as a child of this process and waits until it is listening.
enum SupervisorLauncher {
    static let readyTimeoutSeconds = 60.0

    static func launch(global: GlobalOptions, id: ContainerID, terminal: Int32?) throws(RunxlError) -> Int32 {
        let ends = try Processes.makePipe()
        defer { close(ends.read) }
        var arguments = ["--root", global.root, "--log-format", global.logFormat.rawValue]
        if let log = global.log { arguments += ["--log", ContainerEngine.absolutePath(log)] }
        if global.debug { arguments.append("--debug") }
        arguments += ["supervise", "--ready-fd", "3"]
        if terminal != nil { arguments += ["--tty-fd", "4"] }
        arguments.append(id.rawValue)
        let pid: Int32
        do {
            // With a terminal the process's streams are the pty: like runc, keep none of the
            // caller's, so that a caller reading create's output sees its end when create returns.
            pid = try Processes.spawn(
                try Processes.currentExecutable(), arguments, extraDescriptors: [ends.write] + (terminal.map { [$0] } ?? []),
                detachStandardStreams: terminal != nil)
        } catch {
            close(ends.write)
            throw error
        }
        close(ends.write)
        let answer = readAll(ends.read, timeoutSeconds: readyTimeoutSeconds)
        guard answer.hasPrefix("ok") else {
            kill(pid, SIGKILL)
            _ = Processes.waitForExit(pid)
            let detail = answer.isEmpty ? "it exited without a word" : answer
            throw RunxlError(.spawnFailed, "the supervisor of container \(id) did not start: \(detail)")
        }
        return pid
    }

    private static func readAll(_ descriptor: Int32, timeoutSeconds: Double) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        let deadline = Clock.monotonicSeconds() + timeoutSeconds
        while true {
            let remaining = deadline - Clock.monotonicSeconds()
            guard remaining > 0 else { break }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(remaining * 1000)) > 0 else { break }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \n")
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
