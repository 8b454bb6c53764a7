internal import FoundationEssentials
import Synchronization
import OCI
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl launch BUNDLE|ROOTFS|IMAGE [-- ARGS]`: the direct path. Creates, starts, streams the
/// container's stdout and stderr, returns its exit status and removes everything afterwards,
/// also on Ctrl-C or SIGTERM.
struct Launch: Verb {
    static let spec = VerbSpec(
        name: "launch", summary: "boot a bundle or rootfs directory as a guest and wait for it",
        usage: "[flags] BUNDLE|ROOTFS|IMAGE [-- ARGS...]",
        flags: [
            FlagSpec("type", value: "pv|pvh", help: "guest type"),
            FlagSpec("memory", value: "MIB", help: "guest memory in MiB"),
            FlagSpec("vcpus", value: "N", help: "virtual CPUs"),
            FlagSpec("kernel", value: "PATH", help: "guest kernel (ELF or bzImage)"),
            FlagSpec("rootfs", value: "share|initramfs", help: "share the rootfs live over 9pfs, or copy it into the guest"),
            FlagSpec("name", value: "ID", help: "container id (default: launch-PID)"),
            FlagSpec("keep", help: "keep the container's state after it exits"),
        ])

    let global: GlobalOptions
    let source: String
    /// The argument as given: an image reference when no directory of that name exists.
    let sourceArgument: String
    let args: [String]
    let annotations: [String: String]
    let id: ContainerID
    let keep: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        sourceArgument = try arguments.positional(0, "bundle, rootfs directory or image")
        source = ContainerEngine.absolutePath(sourceArgument)
        try arguments.expectPositionals(atMost: 1)
        args = arguments.passthrough
        var annotations = GuestFlags.annotations(arguments)
        // image convert always builds a self-contained guest; only launch chooses.
        annotations[RunxlAnnotations.rootfs] = arguments.value("rootfs")
        self.annotations = annotations
        id = try ContainerID(arguments.value("name") ?? "launch-\(getpid())")
        keep = arguments.isSet("keep")
    }

    func run() throws(RunxlError) -> Int32 {
        // Taken synchronously by the interrupt thread below; blocked before any thread exists so
        // that every thread inherits the mask. SIGCHLD stays deliverable: libxl reaps through it.
        var interrupts = sigset_t()
        sigemptyset(&interrupts)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&interrupts, signal) }
        pthread_sigmask(SIG_BLOCK, &interrupts, nil)

        let bundle = try temporaryBundle()
        defer { try? FileSystem.removeTree(bundle) }
        let engine = try Backend.engine(global)
        // This process is the container's supervisor: its pid is the one `state` shows.
        _ = try engine.create(id, options: .init(bundle: bundle, bootsBeforeStart: false, supervisor: .thisProcess))
        let interrupted = InterruptWatch(global: global, id: id)
        do {
            try interrupted.start(interrupts)
        } catch {
            try? engine.delete(id, force: true)
            throw error
        }
        let logger = global.logger
        let code: Int32
        do {
            code = try Supervisor(engine: engine, id: id) { logger.info($0) }.run { () throws(RunxlError) in
                try engine.start(id)
            }
        } catch {
            try? engine.delete(id, force: true)
            throw error
        }
        if !keep { try engine.delete(id, force: true) }
        return interrupted.signal.map { 128 + $0 } ?? code
    }

    /// A bundle for the source: its own config.json with the overrides, or a default one around
    /// a bare rootfs directory. Written to a private temporary directory that run() removes.
    private func temporaryBundle() throws(RunxlError) -> String {
        var spec: Spec
        var imageBundle: String?
        let config = source + "/config.json"
        if FileSystem.exists(config) {
            spec = try Spec.load(bundle: source)
            if let rootfs = spec.rootfsPath(bundle: source) { spec.root?.path = rootfs }
        } else if FileSystem.isDirectory(source) {
            spec = Spec.runxlDefault(args: args.isEmpty ? ["sh"] : args, terminal: false)
            spec.root = Root(path: source, readonly: true)
        } else if let image = try ImageLaunch.bundle(for: sourceArgument, args: args, global: global) {
            imageBundle = image.directory
            spec = image.spec
        } else {
            throw RunxlError(.bundleNotFound, "\(source) is neither a bundle (no config.json) nor a rootfs directory")
        }
        // An image's spec has them already, after its Entrypoint.
        if !args.isEmpty && imageBundle == nil { spec.process?.args = args }
        spec.process?.terminal = false
        spec.annotations = (spec.annotations ?? [:]).merging(annotations) { _, new in new }

        var template = Array("/tmp/runxl-launch-XXXXXX".utf8CString)
        guard let directory = imageBundle ?? mkdtemp(&template).map({ String(cString: $0) }) else {
            let err = errno
            throw RunxlError(.io, "cannot create a temporary bundle", cause: SystemCallError("mkdtemp", errno: err))
        }
        do {
            try FileSystem.writeAtomically(directory + "/config.json", [UInt8](try spec.encoded(pretty: false)))
        } catch {
            try? FileSystem.removeTree(directory)
            throw error
        }
        return directory
    }
}

/// Ctrl-C, SIGTERM or SIGHUP during a launch: the guest is destroyed (which ends the
/// supervision in run()), and launch exits with 128 + that signal, as a shell reports it.
///
/// The destroy runs as a `runxl kill ID KILL` child with its own libxl context, the way
/// podman's kill reaches a supervisor: a synchronous libxl destroy from a second thread of this
/// process, while the first waits in libxl's event loop on the same context, hung once in the
/// lab (the destroy's own child and events are shared with the waiting thread's poll).
final class InterruptWatch: Sendable {
    private let global: GlobalOptions
    private let id: ContainerID
    private let received = Mutex<Int32?>(nil)

    init(global: GlobalOptions, id: ContainerID) {
        self.global = global
        self.id = id
    }

    var signal: Int32? { received.withLock { $0 } }

    func start(_ signals: sigset_t) throws(RunxlError) {
        try startDetachedThread { [self] in
            var set = signals
            var caught: Int32 = 0
            while sigwait(&set, &caught) != 0 {}
            received.withLock { $0 = caught }
            var arguments = ["--root", global.root, "--log-format", global.logFormat.rawValue]
            if let log = global.log { arguments += ["--log", ContainerEngine.absolutePath(log)] }
            arguments += ["kill", id.rawValue, "KILL"]
            guard let executable = try? Processes.currentExecutable(),
                let pid = try? Processes.spawn(executable, arguments) else { return }
            _ = Processes.waitForExit(pid)
        }
    }
}
