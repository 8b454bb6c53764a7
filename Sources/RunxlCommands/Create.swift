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
        _ = try engine.create(id, options: options.engineOptions(global))
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

    func engineOptions(_ global: GlobalOptions) -> ContainerEngine.CreateOptions {
        ContainerEngine.CreateOptions(
            bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket,
            supervisor: .process(globalArguments: global.childArguments))
    }
}
