internal import FoundationEssentials
public import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Runs the config's hooks on the host, as runtime-spec's config.md says: each hook's `path` is
/// executed with its own `args` (args[0] is argv[0]) and only its own `env`, the container's state
/// JSON on stdin, and killed at its `timeout`.
///
/// A Xen guest has no namespaces on the host, so every hook runs in runxl's namespaces, including
/// `createContainer` and `startContainer`, which runc runs inside the container. What hooks are for
/// on a VM runtime (podman's and containerd's network and device set-up, logging) needs the host.
public struct HookRunner: Sendable {
    /// The spec's lifecycle points, in the order a container passes them.
    public enum Phase: String, Sendable, CaseIterable {
        case prestart, createRuntime, createContainer, startContainer, poststart, poststop
    }

    /// Where hook output goes: runxl's stderr, which podman and containerd log.
    let outputDescriptor: Int32

    public init(outputDescriptor: Int32 = 2) {
        self.outputDescriptor = outputDescriptor
    }

    public static func hooks(_ hooks: Hooks?, for phase: Phase) -> [Hook] {
        guard let hooks else { return [] }
        switch phase {
        case .prestart: return hooks.prestart ?? []
        case .createRuntime: return hooks.createRuntime ?? []
        case .createContainer: return hooks.createContainer ?? []
        case .startContainer: return hooks.startContainer ?? []
        case .poststart: return hooks.poststart ?? []
        case .poststop: return hooks.poststop ?? []
        }
    }

    /// Runs every hook of `phase` in order; the first that fails (non-zero exit, a signal, its
    /// timeout, or not startable) stops the rest and is thrown.
    public func run(_ hooks: Hooks?, phase: Phase, state: State) throws(RunxlError) {
        let list = Self.hooks(hooks, for: phase)
        guard !list.isEmpty else { return }
        let input: [UInt8]
        do {
            input = [UInt8](try state.encoded(pretty: false))
        }
        for (index, hook) in list.enumerated() {
            try run(hook, input: input, name: "\(phase.rawValue) hook \(index) (\(hook.path))")
        }
    }

    private func run(_ hook: Hook, input: [UInt8], name: String) throws(RunxlError) {
        let stdin = try Processes.makePipe()
        defer { close(stdin.read) }
        let pid: pid_t
        do {
            pid = try spawn(hook, stdin: stdin.read)
        } catch {
            close(stdin.write)
            throw RunxlError(.hookFailed, "\(name) could not be started", cause: error)
        }
        // The state is small (well under a pipe's buffer) and a hook may not read it at all.
        signal(SIGPIPE, SIG_IGN)
        Descriptors.writeAllIfPossible(stdin.write, input)
        close(stdin.write)

        let deadline = hook.timeout.map { Clock.monotonicSeconds() + Double($0) }
        var status: Int32 = 0
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if waited < 0 && errno != EINTR { throw RunxlError(.hookFailed, "\(name): lost track of the hook process") }
            if let deadline, Clock.monotonicSeconds() > deadline {
                Glibc.kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw RunxlError(.hookFailed, "\(name) did not finish within its timeout of \(hook.timeout ?? 0) s and was killed")
            }
            usleep(5_000)
        }
        let signalNumber = status & 0x7f
        if signalNumber != 0 {
            throw RunxlError(.hookFailed, "\(name) was killed by signal \(signalNumber)")
        }
        let code = (status >> 8) & 0xff
        if code != 0 {
            throw RunxlError(.hookFailed, "\(name) exited with status \(code)")
        }
    }

    private func spawn(_ hook: Hook, stdin: Int32) throws(RunxlError) -> pid_t {
        let arguments = hook.args ?? []
        return try Processes.spawn(
            hook.path, Array(arguments.dropFirst()), standardDescriptors: [stdin, outputDescriptor, outputDescriptor],
            environment: hook.env ?? [], argumentZero: arguments.first ?? hook.path)
    }
}
