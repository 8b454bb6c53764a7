internal import FoundationEssentials
import GuestProtocol
import Hypervisor
import OCI
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// A pod's further containers run in the pod's VM (docs/pods.md): the first container's guest
/// (podman's infra, Kubernetes' sandbox) is the pod's, and each further one is a session of its
/// init, started by `start` the way `exec` starts a process, in a mount namespace of its own
/// rooted at its rootfs, which dom0 binds into the running 9pfs backend at create. Network, ipc
/// and uts are the pod's, as Kubernetes and podman's default `--share` ask.
///
/// On the host each member has its own record and its own supervisor (`PodMemberSupervisor`):
/// the pid conmon and the shim watch, which holds the container's stdio, starts the session at
/// `start`, passes `kill`'s signals and exits with the container's status. Deleting a member
/// ends its session and takes its binds away; the pod's VM runs on until its first container is
/// deleted.
extension ContainerEngine {
    /// The pod's first container when `spec` is a further container of a pod whose VM can take
    /// it; nil for a container on its own. A pod member whose first container cannot take it
    /// (not a runxl container here, stopped, a unikernel, a guest without shares) is refused
    /// before anything is made, saying why.
    func podSandbox(for spec: Spec, id: ContainerID) throws(RunxlError) -> (id: ContainerID, record: ContainerRecord)? {
        guard PodRecognition.mayJoinAPod(spec) else { return nil }
        let others = try store.ids().filter { $0 != id }.compactMap { other in
            (try? state(other)).map { (id: other, record: $0) }
        }
        guard case .member(let sandbox, let evidence)? = PodRecognition.role(of: spec, others: others) else { return nil }
        guard let found = others.first(where: { $0.id.rawValue == sandbox }) else {
            throw RunxlError(
                .unsupported,
                "container \(id) belongs to the pod of \(sandbox) (\(evidence)), which is not a runxl container here: "
                    + "a pod's containers run in the VM of its first container, so that container must be runxl's too")
        }
        let reason: String?
        if found.record.podSandbox != nil {
            reason = "it is itself a further container of pod \(found.record.podSandbox ?? "")"
        } else if found.record.unikernel != nil {
            reason = "it is a unikernel, whose VM has no init to start further containers"
        } else if !(found.record.status == .running || (found.record.status == .created && found.record.bootedAtCreate == true)) {
            reason = "it is \(found.record.status.rawValue); its VM must be running"
        } else if !FileSystem.exists(execSocketPath(found.id)) {
            reason = "its supervisor takes no requests"
        } else {
            reason = nil
        }
        if let reason {
            throw RunxlError(
                .unsupported, "container \(id) belongs to the pod of runxl container \(sandbox) (\(evidence)), whose VM cannot take it: \(reason)")
        }
        return found
    }

    /// create for a pod's further container: nothing boots; its binds are made in the pod's
    /// backend, its description is kept for `start`, and its supervisor starts. On any failure
    /// nothing is left: no record, no bind, no directory, no process.
    func createPodMember(
        _ id: ContainerID, record initial: ContainerRecord, spec: Spec, sandbox: (id: ContainerID, record: ContainerRecord),
        options: CreateOptions
    ) throws(RunxlError) -> ContainerRecord {
        var record = initial
        record.podSandbox = sandbox.id.rawValue
        record.domainName = nil
        try store.claim(record, id: id)
        KillInjection.reached(.afterClaim)
        var backend: Int32?
        do throws(RunxlError) {
            let lock = try store.lock(id)
            defer { lock.unlock() }
            try store.saveSpec(spec, id: id)
            var member = try preparer.preparePodMember(
                id: id, spec: spec, rootfs: record.rootfs, sandboxState: store.directory(sandbox.id))
            if let slot = sandbox.record.warmSlot {
                // The pod's VM came from the warm pool: its backend serves the slot, where the
                // sandbox's control directory is bound, so the member's mounts go on there.
                member.hostMounts = WarmPool.moved(member.hostMounts, from: store.directory(sandbox.id), to: slot)
            }
            record.podDirectory = member.directory
            record.podMounts = member.hostMounts.map(\.target)
            try store.save(record, id: id)
            // Before anything is bound: past the pod's ceiling nothing is made.
            member.description.onlineVcpus = try growPod(sandbox.id, for: id, claim: PodClaim(spec: spec), record: &record)
            try FileSystem.writeAtomically(podProcessPath(id), member.description.encoded(), mode: 0o600)
            if !member.hostMounts.isEmpty {
                let domain = try domainID(of: sandbox.record)
                guard let found = ShareBackendWatch.backendPID(of: domain) else {
                    throw RunxlError(
                        .sharesUnavailable,
                        "the 9pfs backend of pod \(sandbox.id) (domain \(domain)) is not running: container \(id)'s rootfs cannot reach the pod's VM")
                }
                try member.createMountPoints()
                try ShareMounts.attach(member.hostMounts, toBackend: found)
                backend = found
            }
            KillInjection.reached(.afterDomainCreate)
            trace.mark("create \(id): rootfs bound into pod \(sandbox.id)")
            let pid = try spawnSupervisor(id, options: options, terminal: record.terminal == true)
            KillInjection.reached(.afterSupervisorSpawn)
            record.pid = pid
            record.pidStartTime = Processes.startTime(of: pid)
            for phase in [HookRunner.Phase.prestart, .createRuntime, .createContainer] {
                try hookRunner.run(record.hooks, phase: phase, state: record.ociState)
            }
            try completeCreate(&record, id: id, options: options)
            return record
        } catch {
            if let pid = record.pid, !options.supervisor.isThisProcess { Glibc.kill(pid, SIGKILL) }
            if let backend, let targets = record.podMounts { try? ShareMounts.detach(targets, fromBackend: backend) }
            if let directory = record.podDirectory { try? FileSystem.removeTree(directory) }
            try? store.remove(id)
            if record.podClaim != nil { shrinkPod(sandbox.id) }
            throw error
        }
    }

    /// Where create keeps a member's process description for its supervisor.
    func podProcessPath(_ id: ContainerID) -> String { "\(store.directory(id))/pod-process" }

    /// Where a member's supervisor takes `start` and `kill` (`PodMemberSupervisor`).
    public func podMemberSocketPath(_ id: ContainerID) -> String { "\(store.directory(id))/\(PodMemberSupervisor.socketName)" }

    /// A pod member's part of `delete` and `gc`, after its supervisor was stopped: its binds
    /// leave the pod's backend (when the pod's VM still runs) and its directory goes.
    func removePodMemberFiles(of record: ContainerRecord) {
        if let targets = record.podMounts, !targets.isEmpty, let sandbox = record.podSandbox,
            let sandboxID = try? ContainerID(sandbox), let sandboxRecord = try? store.load(sandboxID),
            let domain = sandboxRecord.domainID, let backend = ShareBackendWatch.backendPID(of: domain)
        {
            do {
                try ShareMounts.detach(targets, fromBackend: backend)
            } catch {
                warn("container \(record.id): its binds in pod \(sandbox)'s 9pfs backend stay until the pod ends: \(error.message)")
            }
        }
        if let directory = record.podDirectory { try? FileSystem.removeTree(directory) }
    }

    /// What a pod member cannot do alone: its VM is the pod's.
    func refuseForPodMember(_ record: ContainerRecord, verb: String) throws(RunxlError) {
        guard let sandbox = record.podSandbox else { return }
        throw RunxlError(
            .unsupported,
            "cannot \(verb) container \(record.id) alone: it runs in the VM of pod \(sandbox), which \(verb) of container \(sandbox) acts on (docs/pods.md)")
    }
}

/// The supervisor of a pod's further container (see `ContainerEngine`'s pod members): started
/// by create like any container's, it holds the container's stdio (or its pty) and answers on
/// a socket in the container's state directory: `start` sends the kept description to the pod's
/// supervisor as an exec session with that stdio; `signal N` passes a signal on. It exits with
/// the container's status once the session ends, after recording it.
public struct PodMemberSupervisor {
    static let socketName = "member.sock"
    /// How often an idle supervisor looks whether its container's record still exists.
    static let recordCheckMilliseconds: Int32 = 500

    let engine: ContainerEngine
    let id: ContainerID
    let terminal: Int32?
    let log: @Sendable (String) -> Void

    public init(engine: ContainerEngine, id: ContainerID, terminal: Int32?, log: @escaping @Sendable (String) -> Void) {
        self.engine = engine
        self.id = id
        self.terminal = terminal
        self.log = log
    }

    /// Serves until the container ends; the exit code for the supervisor process.
    public func run(readyDescriptor: Int32?) -> Int32 {
        let listener: Int32
        do {
            listener = try UnixSocket.listening(at: engine.podMemberSocketPath(id), backlog: 8)
        } catch {
            SupervisorProcess.answerReady(readyDescriptor, "error: \(error.message)")
            return 255
        }
        // The session's end arrives on this pipe from the thread that waits for it, so that
        // this thread alone touches the engine.
        let ended: (read: Int32, write: Int32)
        do {
            ended = try Processes.makePipe()
        } catch {
            SupervisorProcess.answerReady(readyDescriptor, "error: \(error.message)")
            return 255
        }
        SupervisorProcess.answerReady(readyDescriptor, "ok")
        var session: Int32?
        while true {
            var entries = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: ended.read, events: Int16(POLLIN), revents: 0)]
            guard poll(&entries, 2, Self.recordCheckMilliseconds) > 0 else {
                // No domain ends with this container: a create killed before it recorded this
                // pid leaves nothing that would stop it but the record's removal (delete, gc).
                if !engine.store.exists(id) {
                    log("supervisor of \(id): its record is gone; ending")
                    return 255
                }
                continue
            }
            if entries[1].revents != 0 {
                let line = ExecChannel.readLine(ended.read)
                log("supervisor of \(id): the session ended: \(line)")
                end((try? GuestExitStatus.decode(line)) ?? .signaled(SIGKILL))
            }
            guard entries[0].revents != 0 else { continue }
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                log("supervisor of \(id): accept: \(errnoDescription(errno))")
                return 255
            }
            let request = ExecChannel.readLine(connection)
            if request == "start" {
                guard session == nil else {
                    answer(connection, "error: container \(id) was started already")
                    continue
                }
                do {
                    session = try startSession(reportingEndTo: ended.write)
                    log("supervisor of \(id): started as a session of the pod's VM")
                    answer(connection, "ok")
                } catch {
                    log("supervisor of \(id): start failed: \(error.message)")
                    answer(connection, "error: \(error.message)")
                }
            } else if let number = ExecChannel.signalNumber(inRequest: request) {
                // Answered first: kill holds the record's lock, which recording the end needs.
                answer(connection, "ok")
                guard let session else { end(.signaled(number)) }
                try? ExecChannel.signal(session, number)
            } else {
                answer(connection, "error: unknown request '\(request)'")
            }
        }
    }

    /// Sends the description to the pod's supervisor with this process's stdio; a thread waits
    /// for the session's end and writes its status to `endDescriptor`.
    private func startSession(reportingEndTo endDescriptor: Int32) throws(RunxlError) -> Int32 {
        let record = try engine.store.load(id)
        guard let sandbox = record.podSandbox else {
            throw RunxlError(.internal, "container \(id) is no pod member")
        }
        let bytes = try FileSystem.read(engine.podProcessPath(id))
        let description: ProcessDescription
        do {
            description = try ProcessDescription.decode(bytes)
        } catch {
            throw RunxlError(.invalidDocument, "\(engine.podProcessPath(id)): \(error.message)")
        }
        let connection = try ExecChannel.send(
            description, descriptors: terminal.map { [$0] } ?? [0, 1, 2], socketPath: engine.execSocketPath(try ContainerID(sandbox)))
        try startDetachedThread {
            let status = ExecChannel.waitForStatus(connection)
            Descriptors.writeAllIfPossible(endDescriptor, Array((status.encoded + "\n").utf8))
        }
        return connection
    }

    /// Records the end and leaves with the container's status.
    private func end(_ status: GuestExitStatus) -> Never {
        do {
            try engine.recordExit(id, status: status)
        } catch {
            log("supervisor of \(id): cannot record the exit \(status.encoded): \(error.message)")
        }
        exit(status.shellExitCode)
    }

    private func answer(_ connection: Int32, _ text: String) {
        Descriptors.writeAllIfPossible(connection, Array((text + "\n").utf8))
        close(connection)
    }

    /// The client side, for `start` and `kill`: one request, one answer line.
    static func request(_ text: String, socketPath: String, id: ContainerID) throws(RunxlError) {
        let connection = try ExecChannel.connect(to: socketPath)
        defer { close(connection) }
        guard Descriptors.writeAllIfPossible(connection, Array((text + "\n").utf8)) else {
            let code = errno
            throw RunxlError(.io, "cannot send '\(text)' to the supervisor of container \(id)", cause: SystemCallError("write", errno: code))
        }
        let reply = ExecChannel.readLine(connection)
        guard reply == "ok" else {
            throw RunxlError(
                .spawnFailed, "the supervisor of container \(id) did not take '\(text)': \(reply.isEmpty ? "no answer" : reply)")
        }
    }
}
