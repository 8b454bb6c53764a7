import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("prctl") private func c_prctl(_ option: Int32, _ argument: UInt) -> Int32

/// `runxl supervise`: internal. The container's processes on the host, started by `create`.
///
/// Two processes: the one `create` starts is the pid it reports (conmon, the runc shim and
/// `state` watch it; it exits with the container's status), and it lives in a mount namespace
/// that shows the container's files (`ContainerView`), where `podman cp` and its kin look. It
/// starts the supervisor proper (`--inner`) first, which needs the host's paths (xenstore,
/// the state directory, libxl's scripts), and waits for it.
struct Supervise: Verb {
    static let spec = VerbSpec(
        name: SupervisorProcess.verb, summary: "internal: supervise a container until it ends", usage: "--ready-fd N ID",
        flags: [
            FlagSpec(SupervisorProcess.readyFlag, value: "N", help: "descriptor to report readiness on"),
            FlagSpec(SupervisorProcess.terminalFlag, value: "N", help: "the replica of the container's pty, for a process with a terminal"),
            FlagSpec(SupervisorProcess.innerFlag, help: "the supervisor proper, started by the process create reports"),
        ], hidden: true)

    let global: GlobalOptions
    let id: ContainerID
    let readyDescriptor: Int32
    let terminalDescriptor: Int32
    let isInner: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        readyDescriptor = Int32(try arguments.integer(SupervisorProcess.readyFlag, default: -1))
        terminalDescriptor = Int32(try arguments.integer(SupervisorProcess.terminalFlag, default: -1))
        isInner = arguments.isSet(SupervisorProcess.innerFlag)
    }

    func run() throws(RunxlError) -> Int32 {
        isInner ? try supervise() : try standIn()
    }

    /// The reported pid: starts the supervisor, shows the container's files, waits.
    private func standIn() throws(RunxlError) -> Int32 {
        // As the supervisor does: the caller's other fds (conmon's sync pipes) must not stay open.
        Processes.closeDescriptors(from: max(readyDescriptor, terminalDescriptor, 2) + 1)
        signal(SIGINT, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let verb = arguments.firstIndex(of: Self.spec.name) else {
            throw RunxlError(.internal, "runxl supervise was started without its verb in \(arguments)")
        }
        arguments.insert("--\(SupervisorProcess.innerFlag)", at: verb + 1)
        // The supervisor answers on a pipe of this process's, which relays the answer to create
        // once the view and the confinement are in place: create returns to a finished pid.
        let answer = try Processes.makePipe()
        let passed = [answer.write] + (terminalDescriptor >= 0 ? [terminalDescriptor] : [])
        let supervisor = try Processes.spawn(try Processes.currentExecutable(), arguments, extraDescriptors: passed)
        close(answer.write)
        if terminalDescriptor >= 0 { close(terminalDescriptor) }
        let logger = global.logger
        SupervisorConfinement.prepare()
        do {
            let store = StateStore(root: global.root)
            let record = try store.load(id)
            let spec = try store.spec(of: record, id: id)
            try ContainerView.plan(spec: spec, rootfs: record.rootfs).enter(staging: store.directory(id) + "/view")
        } catch {
            // Host tools then see the host's files at the container's paths, as before.
            logger.info("supervisor of \(id): no view of the container's files for host tools: \(error)")
        }
        SupervisorConfinement.apply { logger.info($0) }
        relay(from: answer.read, to: readyDescriptor)
        return Processes.waitForExit(supervisor)
    }

    private func supervise() throws(RunxlError) -> Int32 {
        // Ends with the process create reported, as a runc container ends with its pid.
        _ = c_prctl(Self.setParentDeathSignal, UInt(SIGKILL))
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
        let terminal = terminalDescriptor >= 0 ? terminalDescriptor : nil
        let ready = readyDescriptor >= 0 ? readyDescriptor : nil
        if (try? engine.store.load(id))?.podSandbox != nil {
            return PodMemberSupervisor(engine: engine, id: id, terminal: terminal) { logger.info($0) }.run(readyDescriptor: ready)
        }
        let supervisor = Supervisor(
            engine: engine, id: id, terminal: terminal
        ) { logger.info($0) }
        return supervisor.run(readyDescriptor: ready)
    }

    /// Copies the supervisor's readiness answer to create's descriptor, then closes both (create
    /// reads to end-of-file).
    private func relay(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            if destination >= 0 { Descriptors.writeAllIfPossible(destination, Array(buffer[0..<count])) }
        }
        close(source)
        if destination >= 0 { close(destination) }
    }

    /// PR_SET_PDEATHSIG.
    private static let setParentDeathSignal: Int32 = 1
}
