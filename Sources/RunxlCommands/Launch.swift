internal import FoundationEssentials
import OCI
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl launch BUNDLE|ROOTFS [-- ARGS]`: the direct path. Creates, starts, streams the
/// container's stdout and stderr, returns its exit status and removes everything afterwards,
/// also on Ctrl-C or SIGTERM.
struct Launch: Verb {
    static let spec = VerbSpec(
        name: "launch", summary: "boot a bundle or rootfs directory as a guest and wait for it",
        usage: "[flags] BUNDLE|ROOTFS [-- ARGS...]",
        flags: [
            FlagSpec("type", value: "pv|pvh", help: "guest type"),
            FlagSpec("memory", value: "MIB", help: "guest memory in MiB"),
            FlagSpec("vcpus", value: "N", help: "virtual CPUs"),
            FlagSpec("kernel", value: "PATH", help: "guest kernel (ELF or bzImage)"),
            FlagSpec("name", value: "ID", help: "container id (default: launch-PID)"),
            FlagSpec("keep", help: "keep the container's state after it exits"),
        ])

    let global: GlobalOptions
    let source: String
    let args: [String]
    let annotations: [String: String]
    let id: ContainerID
    let keep: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        source = ContainerEngine.absolutePath(try arguments.positional(0, "bundle or rootfs directory"))
        try arguments.expectPositionals(atMost: 1)
        args = arguments.passthrough
        var annotations: [String: String] = [:]
        annotations[RunxlAnnotations.guestType] = arguments.value("type")
        annotations[RunxlAnnotations.memory] = arguments.value("memory")
        annotations[RunxlAnnotations.vcpus] = arguments.value("vcpus")
        annotations[RunxlAnnotations.kernel] = arguments.value("kernel")
        self.annotations = annotations
        id = try ContainerID(arguments.value("name") ?? "launch-\(getpid())")
        keep = arguments.isSet("keep")
    }

    func run() throws(RunxlError) -> Int32 {
        // Signals are taken synchronously below; block them before any child exists.
        var handled = sigset_t()
        sigemptyset(&handled)
        for signal in [SIGINT, SIGTERM, SIGCHLD, SIGHUP] { sigaddset(&handled, signal) }
        sigprocmask(SIG_BLOCK, &handled, nil)

        let bundle = try temporaryBundle()
        defer { try? FileSystem.removeTree(bundle) }
        let engine = try Backend.engine(global)
        let record = try engine.create(id, options: .init(bundle: bundle)) { (id: ContainerID) throws(RunxlError) -> Int32 in
            try SupervisorLauncher.launch(global: global, id: id)
        }
        guard let supervisor = record.pid else { throw RunxlError(.internal, "container \(id) has no supervisor") }
        do {
            try engine.start(id)
        } catch {
            try? engine.delete(id, force: true)
            throw error
        }
        let code = waitForSupervisor(supervisor, engine: engine)
        if !keep { try engine.delete(id, force: true) }
        return code
    }

    /// Waits for the supervisor; Ctrl-C, SIGTERM or SIGHUP destroy the guest first.
    private func waitForSupervisor(_ supervisor: Int32, engine: ContainerEngine) -> Int32 {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGCHLD, SIGHUP] { sigaddset(&signals, signal) }
        var interrupted: Int32?
        while true {
            var status: Int32 = 0
            let reaped = waitpid(supervisor, &status, WNOHANG)
            if reaped == supervisor {
                if let interrupted { return 128 + interrupted }
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            if reaped < 0 && errno != EINTR { return 255 }
            var timeout = timespec(tv_sec: 1, tv_nsec: 0)
            let signal = sigtimedwait(&signals, nil, &timeout)
            if signal == SIGINT || signal == SIGTERM || signal == SIGHUP, interrupted == nil {
                interrupted = signal
                try? engine.kill(id, signal: SIGKILL)
            }
        }
    }

    /// A bundle for the source: its own config.json with the overrides, or a default one around
    /// a bare rootfs directory. Written to a private temporary directory that run() removes.
    private func temporaryBundle() throws(RunxlError) -> String {
        var spec: Spec
        let config = source + "/config.json"
        if FileSystem.exists(config) {
            spec = try Spec.load(bundle: source)
            if let rootfs = spec.rootfsPath(bundle: source) { spec.root?.path = rootfs }
        } else if FileSystem.isDirectory(source) {
            spec = Spec.runxlDefault(args: args.isEmpty ? ["sh"] : args, terminal: false)
            spec.root = Root(path: source, readonly: true)
        } else {
            throw RunxlError(.bundleNotFound, "\(source) is neither a bundle (no config.json) nor a rootfs directory")
        }
        if !args.isEmpty { spec.process?.args = args }
        spec.process?.terminal = false
        spec.annotations = (spec.annotations ?? [:]).merging(annotations) { _, new in new }

        var template = Array("/tmp/runxl-launch-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            let err = errno
            throw RunxlError(.io, "cannot create a temporary bundle", cause: SystemCallError("mkdtemp", errno: err))
        }
        let directory = String(cString: made)
        do {
            try FileSystem.writeAtomically(directory + "/config.json", [UInt8](try spec.encoded(pretty: false)))
        } catch {
            try? FileSystem.removeTree(directory)
            throw error
        }
        return directory
    }
}
