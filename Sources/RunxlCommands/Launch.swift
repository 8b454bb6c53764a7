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

        let source = try containerSource()
        let engine = try Backend.engine(global)
        // This process is the container's supervisor: its pid is the one `state` shows.
        _ = try engine.create(id, options: .init(source: source, bootsBeforeStart: false, supervisor: .thisProcess))
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

    /// The source's spec with launch's overrides, handed to create as a value: a bundle's
    /// config.json (relative paths stay relative to that bundle), a default spec around a bare
    /// rootfs directory, or an image's spec over the store's snapshot. Nothing is written for it
    /// but the container's own state (create saves the spec there, as for every container).
    private func containerSource() throws(RunxlError) -> ContainerEngine.Source {
        var spec: Spec
        var bundle: String?
        if FileSystem.exists(source + "/config.json") {
            spec = try Spec.load(bundle: source)
            bundle = source
            if !args.isEmpty { spec.process?.args = args }
        } else if FileSystem.isDirectory(source) {
            spec = Spec.runxlDefault(args: args.isEmpty ? ["sh"] : args, terminal: false)
            spec.root = Root(path: source, readonly: true)
        } else if let image = try ImageLaunch.spec(for: sourceArgument, args: args, global: global) {
            // Its args are in place already, after the image's Entrypoint.
            spec = image
        } else {
            throw RunxlError(.bundleNotFound, "\(source) is neither a bundle (no config.json) nor a rootfs directory")
        }
        spec.process?.terminal = false
        spec.annotations = (spec.annotations ?? [:]).merging(annotations) { _, new in new }
        return .spec(spec, bundle: bundle)
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
            let arguments = global.childArguments + ["kill", id.rawValue, "KILL"]
            guard let executable = try? Processes.currentExecutable(),
                let pid = try? Processes.spawn(executable, arguments) else { return }
            _ = Processes.waitForExit(pid)
        }
    }
}
