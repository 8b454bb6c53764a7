import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl supervise`: internal. The container's supervisor process, started by `create`.
struct Supervise: Verb {
    static let spec = VerbSpec(
        name: "supervise", summary: "internal: supervise a container until it ends", usage: "--ready-fd N ID",
        flags: [
            FlagSpec("ready-fd", value: "N", help: "descriptor to report readiness on"),
            FlagSpec("tty-fd", value: "N", help: "the replica of the container's pty, for a process with a terminal"),
        ], hidden: true)

    let global: GlobalOptions
    let id: ContainerID
    let readyDescriptor: Int32
    let terminalDescriptor: Int32

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        readyDescriptor = Int32(try arguments.integer("ready-fd", default: -1))
        terminalDescriptor = Int32(try arguments.integer("tty-fd", default: -1))
    }

    func run() throws(RunxlError) -> Int32 {
        // Keep only stdio and the ready pipe: the caller's other fds (conmon's sync pipes) must
        // not stay open for the container's whole life.
        Processes.closeDescriptors(from: max(readyDescriptor, terminalDescriptor, 2) + 1)
        // A terminal's Ctrl-C reaches the whole foreground group; the container ends through
        // `kill` or `launch`'s handler, never because the supervisor died of it.
        signal(SIGINT, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let engine = try Backend.engine(global)
        let logger = global.logger
        // The backend is open (libxl's libraries mapped, its context made): from here on only
        // what supervising needs is allowed.
        SupervisorConfinement.apply { logger.info($0) }
        let supervisor = Supervisor(
            engine: engine, id: id, terminal: terminalDescriptor >= 0 ? terminalDescriptor : nil
        ) { logger.info($0) }
        return supervisor.run(readyDescriptor: readyDescriptor >= 0 ? readyDescriptor : nil)
    }
}
