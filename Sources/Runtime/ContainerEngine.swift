internal import FoundationEssentials
public import GuestProtocol
public import Hypervisor
public import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The OCI lifecycle over a `Hypervisor`: the state machine, the records, and the mapping of
/// each verb onto domain operations (architecture.md, "OCI states on Xen").
///
/// Each verb takes the container's lock for its read-modify-write, so concurrent runxl processes
/// (conmon's `start` racing podman's `kill`, say) see one order of events.
public final class ContainerEngine {
    public let store: StateStore
    public let hypervisor: any Hypervisor
    /// "xen" or "fake"; recorded so a record is never driven through the wrong backend.
    public let hypervisorName: String
    let preparer: any GuestPreparing
    /// Create's milestones under `--debug`.
    public var trace = PhaseTrace.silent
    /// Where problems that do not fail the verb go (a poststart or poststop hook that failed,
    /// as runc only warns about those).
    public var warn: @Sendable (String) -> Void = { _ in }
    public var hookRunner = HookRunner()
    /// How a network namespace named in config.json reaches the guest (tests put a double here).
    public var network: any NetworkAttaching = NamespaceNetwork()
    /// Pre-booted guests create may take instead of booting one (host config `warmPool`).
    public var warmPool: WarmPool?

    public init(store: StateStore, hypervisor: any Hypervisor, hypervisorName: String, preparer: any GuestPreparing) {
        self.store = store
        self.hypervisor = hypervisor
        self.hypervisorName = hypervisorName
        self.preparer = preparer
    }

    // MARK: create

    /// What a container is made from.
    public enum Source: Sendable {
        /// An OCI bundle: its config.json is read at create, as runc reads it.
        case bundle(String)
        /// A spec already loaded and changed by the caller (`launch`'s arguments, an image's
        /// spec whose root.path is the store's snapshot). Relative paths in it are relative to
        /// `bundle`; with none, the container's state directory is its bundle, where create
        /// writes the spec as config.json like every container's.
        case spec(Spec, bundle: String?)
    }

    /// Options of `create` that reach the engine.
    public struct CreateOptions: Sendable {
        public var source: Source
        public var pidFile: String?
        public var consoleSocket: String?
        /// For a foreground `run` of a terminal process, which runc lets go without a console
        /// socket: the pty master comes back to the calling process through this (a descriptor
        /// it owns), rather than through a socket it would have to make somewhere.
        public var takeTerminalMaster: (@Sendable (Int32) -> Void)?
        /// The guest boots during `create` and waits at init's gate, so that exec works on a
        /// created container and `start` only opens the gate. `launch`, whose supervisor
        /// attaches only after create returns, keeps the domain paused until `start` so that no
        /// console output comes before it listens.
        public var bootsBeforeStart: Bool
        public var supervisor: SupervisorStart
        public init(
            bundle: String, pidFile: String? = nil, consoleSocket: String? = nil, bootsBeforeStart: Bool = true,
            supervisor: SupervisorStart
        ) {
            self.init(
                source: .bundle(bundle), pidFile: pidFile, consoleSocket: consoleSocket, bootsBeforeStart: bootsBeforeStart,
                supervisor: supervisor)
        }

        public init(
            source: Source, pidFile: String? = nil, consoleSocket: String? = nil, bootsBeforeStart: Bool = true,
            supervisor: SupervisorStart
        ) {
            self.source = source
            self.pidFile = pidFile
            self.consoleSocket = consoleSocket
            self.bootsBeforeStart = bootsBeforeStart
            self.supervisor = supervisor
        }
    }

    /// Builds the guest, creates the domain paused and starts the supervisor, which `launch`
    /// returns the pid of. On any failure nothing is left: no record, no domain.
    public func create(_ id: ContainerID, options: CreateOptions) throws(RunxlError) -> ContainerRecord {
        let bundle: String
        let spec: Spec
        let documentName: String
        switch options.source {
        case .bundle(let path):
            bundle = Self.absolutePath(path)
            spec = try Self.loadSpec(bundle: bundle)
            documentName = "\(bundle)/config.json"
        case .spec(let given, let givenBundle):
            bundle = givenBundle.map(Self.absolutePath) ?? store.directory(id)
            spec = given
            documentName = givenBundle == nil ? "the container's spec" : "\(bundle)/config.json"
        }
        let rootfs = try spec.validateForCreate(bundle: bundle, documentName: documentName)
        try NamespacePaths.check(spec)
        let sandbox = try podSandbox(for: spec, id: id)
        trace.mark("create \(id): config loaded")

        var record = ContainerRecord(
            ociVersion: spec.ociVersion, id: id.rawValue, status: .creating, bundle: bundle, rootfs: rootfs,
            created: Clock.rfc3339Now(), owner: Self.ownerName(), annotations: spec.annotations ?? [:],
            hypervisor: hypervisorName)
        record.creatorPID = getpid()
        record.creatorStartTime = Processes.startTime(of: getpid())
        record.domainName = DomainNaming.name(for: id)
        record.hooks = spec.hooks
        let terminal = spec.process?.terminal ?? false
        if terminal {
            record.terminal = true
            guard options.consoleSocket != nil || options.takeTerminalMaster != nil else {
                throw RunxlError(
                    .invalidConfig,
                    "process.terminal is true but no --console-socket was given: the pty master has nowhere to go (only a foreground `runxl run` keeps it itself)")
            }
        }
        if let sandbox {
            return try createPodMember(id, record: record, spec: spec, sandbox: sandbox, options: options)
        }
        try store.claim(record, id: id)
        KillInjection.reached(.afterClaim)

        // From here on, every failure undoes what was done, in reverse.
        var domain: DomainID?
        do {
            let lock = try store.lock(id)
            defer { lock.unlock() }
            // The spec the container runs with, as runc keeps it in its state: exec and the
            // supervisor read this copy, not a bundle that may change or (launch) not exist.
            try store.saveSpec(spec, id: id)
            // Planned first: a unikernel takes the address on its command line.
            var networkPlan = try planNetwork(spec, id: id)
            let guest = try preparer.prepare(
                id: id, bundle: bundle, rootfs: rootfs, spec: spec, stateDirectory: store.directory(id), network: networkPlan?.guest)
            KillInjection.reached(.afterPrepare)
            record.domainName = guest.domain.name
            record.unikernel = guest.unikernel
            record.podCapacity = PodCapacity(guest.domain)
            var domainSpec = guest.domain
            if !guest.takesNetwork { networkPlan = nil }
            if let plan = networkPlan {
                networkPlan?.firstDeviceID = domainSpec.vifs.count
                domainSpec.vifs += plan.vifs
                record.network = plan.attachment
            }
            record.hostCgroup = HostCgroup.directory(for: spec.linux?.cgroupsPath)
            try store.save(record, id: id)
            trace.mark("create \(id): guest prepared")
            let (warm, refill) = networkPlan == nil ? try adoptWarmVM(domainSpec, guest: guest, id: id, record: &record) : (nil, nil)
            if let warm {
                domain = warm
            } else {
                domain = try ShareMounts.withMounts(guest.hostMounts) { () throws(RunxlError) in
                    if let template = guest.template {
                        var templates = GuestTemplates(hypervisor: hypervisor)
                        templates.warn = warn
                        if let restored = try templates.restore(domainSpec, from: template) {
                            trace.mark("create \(id): restored from the VM template")
                            return restored
                        }
                    }
                    return try hypervisor.createDomain(domainSpec, paused: true)
                }
            }
            KillInjection.reached(.afterDomainCreate)
            record.domainID = domain
            try store.save(record, id: id)
            trace.mark("create \(id): domain created paused")
            if let refill, let domain { warmPool?.requestFill(domain, refill) }
            // A unikernel has no init to hold its start: it stays paused until `start`. A warm
            // VM has booted already: its init holds the process at the gate whoever asked.
            let bootsBeforeStart = (options.bootsBeforeStart || warm != nil) && guest.unikernel == nil
            if bootsBeforeStart, let domain {
                try GuestLink(hypervisor, domain: domain).send(.holdAtGate)
            }
            if let networkPlan, let domain {
                try network.wire(networkPlan, domain: domain)
                for device in networkPlan.firstDeviceID..<(networkPlan.firstDeviceID + networkPlan.vifs.count) {
                    try hypervisor.reportNetworkBackendConnected(domain, device: device)
                }
                // Before the supervisor unpauses: init reads it before it starts the process.
                if guest.unikernel == nil {
                    try GuestLink(hypervisor, domain: domain).send(.network(networkPlan.guest))
                }
                trace.mark("create \(id): network wired")
            }

            let pid = try spawnSupervisor(id, options: options, terminal: terminal)
            // `launch` is its own supervisor: the user's shell process stays where it is.
            if options.supervisor.isThisProcess { record.hostCgroup = nil }
            KillInjection.reached(.afterSupervisorSpawn)
            trace.mark("create \(id): supervisor ready")
            record.pid = pid
            record.pidStartTime = Processes.startTime(of: pid)
            if let cgroup = record.hostCgroup, let domain {
                try HostCgroup.place(HostCgroup.withChildren(pid), in: cgroup)
                // The backend only where it may still open Xen's grant device (docs/pods.md).
                if let backend = ShareBackendWatch.backendPID(of: domain) {
                    if HostCgroup.allows(HostCgroup.grantDevice, in: cgroup) {
                        try HostCgroup.place([backend], in: cgroup)
                    } else {
                        trace.mark("create \(id): the 9pfs backend stays in its cgroup: \(cgroup) denies \(HostCgroup.grantDevice)")
                    }
                }
                trace.mark("create \(id): host processes in \(cgroup)")
            }
            for phase in [HookRunner.Phase.prestart, .createRuntime, .createContainer] {
                try hookRunner.run(record.hooks, phase: phase, state: record.ociState)
            }
            // After the hooks, which may still change the rootfs the guest mounts.
            if bootsBeforeStart, let domain {
                try hypervisor.unpause(domain)
                record.bootedAtCreate = true
                trace.mark("create \(id): guest booting")
            }
            try completeCreate(&record, id: id, options: options)
            return record
        } catch {
            if let domain { try? hypervisor.destroy(domain) }
            if let attachment = record.network { network.unwire(attachment) }
            // `launch` supervises in-process: its pid is this process.
            if let pid = record.pid, !options.supervisor.isThisProcess { Glibc.kill(pid, SIGKILL) }
            if let cgroup = record.hostCgroup { HostCgroup.remove(cgroup) }
            if let slot = record.warmSlot { WarmPool.release(slot) }
            try? store.remove(id)
            throw error
        }
    }

    /// The process `create` reports as the container's (`SupervisorProcess`), given the pty's
    /// replica when the process has a terminal, whose master goes to the caller first.
    func spawnSupervisor(_ id: ContainerID, options: CreateOptions, terminal: Bool) throws(RunxlError) -> Int32 {
        var terminalPair: TerminalPair?
        if terminal {
            let pair = try TerminalPair.open()
            terminalPair = pair
            if let socket = options.consoleSocket {
                try pair.sendMaster(to: Self.absolutePath(socket))
            } else if let take = options.takeTerminalMaster {
                take(try pair.duplicateMaster())
            }
        }
        defer { terminalPair?.close() }
        switch options.supervisor {
        case .process(let globalArguments):
            return try SupervisorProcess.spawn(globalArguments: globalArguments, id: id, terminal: terminalPair?.replica)
        case .thisProcess:
            return getpid()
        case .custom(let start):
            return try start(id, terminalPair?.replica)
        }
    }

    /// create's last step: the container is created once its record says so, and only then
    /// does the caller's pid file name its supervisor.
    func completeCreate(_ record: inout ContainerRecord, id: ContainerID, options: CreateOptions) throws(RunxlError) {
        record.status = try record.status.transition(to: .created, id: id)
        KillInjection.reached(.beforeSave)
        try store.save(record, id: id)
        if let pidFile = options.pidFile, let pid = record.pid {
            try FileSystem.writeAtomically(Self.absolutePath(pidFile), Array(String(pid).utf8))
        }
    }

    /// The network side of create when config.json names a network namespace: runc joins it,
    /// a guest gets a vif per interface in it. A namespace to be created (no path) is empty for
    /// runc too; a unikernel whose flavour cannot be told the address gets none (the guest's
    /// `takesNetwork`). Only reads: nothing to undo if it fails.
    private func planNetwork(_ spec: Spec, id: ContainerID) throws(RunxlError) -> NetworkPlan? {
        guard let path = spec.joinedNetworkNamespace else { return nil }
        let plan = try network.plan(namespacePath: path, id: id)
        return plan.vifs.isEmpty ? nil : plan
    }

    // MARK: start, pause, resume

    /// Opens init's gate (a guest booted by create) or unpauses the guest. `startContainer`
    /// hooks run first (the spec: before the user's process runs) and fail the start;
    /// `poststart` hooks run after and only warn, as runc's do.
    public func start(_ id: ContainerID) throws(RunxlError) {
        var started: ContainerRecord?
        var acknowledgement: GuestLink?
        try withRecord(id) { (record: inout ContainerRecord) throws(RunxlError) in
            guard record.status == .created else {
                // A guest booted by create can end before start (init could not mount the
                // rootfs, say): its reason is the answer the caller needs.
                let ended = record.exit.map { " (it ended before start: \($0))" } ?? ""
                throw RunxlError(
                    .invalidState, "cannot start container \(id): it is \(record.status.rawValue), not created\(ended)")
            }
            try hookRunner.run(record.hooks, phase: .startContainer, state: record.ociState)
            if record.podSandbox != nil {
                // Its supervisor answers once the pod's supervisor has the session on its way.
                try PodMemberSupervisor.request("start", socketPath: podMemberSocketPath(id), id: id)
            } else if record.bootedAtCreate == true {
                let guest = try GuestLink(hypervisor, domain: try domainID(of: record))
                try guest.send(.releaseGate)
                acknowledgement = guest
            } else {
                try hypervisor.unpause(try domainID(of: record))
            }
            record.status = try record.status.transition(to: .running, id: id)
            started = record
        }
        if let acknowledgement {
            // Outside the record's lock: state, kill and exec go on meanwhile. A guest that ends
            // instead never answers; its end is the supervisor's to record, start just returns.
            _ = try? acknowledgement.waitFor(.started, timeoutSeconds: Self.startAcknowledgementSeconds)
        }
        if let started {
            do {
                try hookRunner.run(started.hooks, phase: .poststart, state: started.ociState)
            } catch {
                warn("container \(id): \(error.message)")
            }
        }
    }

    /// How long `start` waits for init to say the process passed the gate (`GuestReport.started`):
    /// well above the lab's emulated round trip (under a second), short enough that a guest that
    /// died at that moment does not hold the caller long.
    static let startAcknowledgementSeconds = 10.0

    public func pause(_ id: ContainerID) throws(RunxlError) {
        try moveDomain(id, verb: "pause", from: .running, to: .paused) { (domain: DomainID) throws(RunxlError) in
            try hypervisor.pause(domain)
        }
    }

    /// What the container's domain uses now, for `events`: CPU time and memory as Xen accounts
    /// them (the guest's whole allocation, not what its processes touch).
    public func stats(_ id: ContainerID) throws(RunxlError) -> DomainInfo {
        let record = try state(id)
        guard record.status == .running || record.status == .paused || record.status == .created else {
            throw RunxlError(.invalidState, "container \(id) is \(record.status.rawValue): it has no domain to report on")
        }
        guard let info = try hypervisor.domainInfo(try domainID(of: record)) else {
            throw RunxlError(.domainNotFound, "the domain of container \(id) is gone")
        }
        return info
    }

    public func resume(_ id: ContainerID) throws(RunxlError) {
        try moveDomain(id, verb: "resume", from: .paused, to: .running) { (domain: DomainID) throws(RunxlError) in
            try hypervisor.unpause(domain)
        }
    }

    /// The verbs that are one domain operation between two states: the state check with runc's
    /// wording, the operation, the transition, all under the container's lock.
    private func moveDomain(
        _ id: ContainerID, verb: String, from required: ContainerStatus, to next: ContainerStatus,
        _ operation: (DomainID) throws(RunxlError) -> Void
    ) throws(RunxlError) {
        try withRecord(id) { (record: inout ContainerRecord) throws(RunxlError) in
            try refuseForPodMember(record, verb: verb)
            guard record.status == required else {
                throw RunxlError(
                    .invalidState, "cannot \(verb) container \(id): it is \(record.status.rawValue), not \(required.rawValue)")
            }
            try operation(try domainID(of: record))
            record.status = try record.status.transition(to: next, id: id)
        }
    }

    // MARK: kill

    /// Sends `signal` to the container's process. SIGKILL, and any signal to a container whose
    /// process has not started yet, destroys the domain: a process held at init's gate dies of
    /// it as runc's waiting init does, and a paused guest has none yet.
    public func kill(_ id: ContainerID, signal: Int32, all: Bool = false) throws(RunxlError) {
        try withRecord(id) { (record: inout ContainerRecord) throws(RunxlError) in
            switch record.status {
            case .created, .running, .paused:
                break
            case .stopped where all:
                // As runc: `kill --all` signals whatever is left of the container, and a stopped
                // one has nothing left, which is not a failure.
                return
            case .creating, .stopped:
                throw RunxlError(.invalidState, "cannot kill container \(id): container not running (\(record.status.rawValue))")
            }
            if record.podSandbox != nil {
                // Signal 0 only asks whether it lives, which the refreshed status said.
                guard signal != 0 else { return }
                try PodMemberSupervisor.request(ExecChannel.signalRequest(signal), socketPath: podMemberSocketPath(id), id: id)
                return
            }
            let domain = try domainID(of: record)
            if signal == 0 {
                // runc's kill(pid, 0): callers ask whether the container is alive. Nothing is
                // delivered, and a created container must not be destroyed as other signals do.
                guard try hypervisor.domainInfo(domain) != nil else {
                    throw RunxlError(.invalidState, "cannot kill container \(id): container not running (its domain is gone)")
                }
                return
            }
            if signal == SIGKILL || record.status == .created {
                try hypervisor.destroy(domain)
                record.exitStatus = GuestExitStatus.signaled(signal).encoded
                record.status = .stopped
                return
            }
            if record.unikernel != nil {
                try signalUnikernel(domain, signal: signal, record: &record)
                return
            }
            try GuestLink(hypervisor, domain: domain).send(.signal(SignalRequest(sequence: Self.sequenceNumber(), signal: signal)))
            if record.status == .paused { try hypervisor.unpause(domain); record.status = .running }
        }
    }

    /// A unikernel has no init to deliver signals: TERM and its kin ask Xen for a clean shutdown
    /// (`control/shutdown`), which the unikernel obeys and powers off (docs/unikernels.md).
    private func signalUnikernel(_ domain: DomainID, signal: Int32, record: inout ContainerRecord) throws(RunxlError) {
        switch UnikernelExit.action(for: signal) {
        case .destroy:
            try hypervisor.destroy(domain)
            record.exitStatus = GuestExitStatus.signaled(signal).encoded
            record.status = .stopped
        case .cleanShutdown:
            if record.status == .paused {
                try hypervisor.unpause(domain)
                record.status = .running
            }
            try hypervisor.shutdown(domain)
        case .unsupported:
            throw RunxlError(
                .unsupported,
                "container \(record.id) is a unikernel: signal \(signal) has no process to reach; use TERM for a clean shutdown or KILL")
        }
    }

    // MARK: delete

    /// Removes the container. Without `force` it must be stopped; with `force` a live one is
    /// destroyed first, and a missing one is not an error.
    public func delete(_ id: ContainerID, force: Bool) throws(RunxlError) {
        guard store.exists(id) else {
            if force { return }
            throw StateStore.notFound(id)
        }
        let lock: FileLock
        do {
            lock = try store.lock(id)
        } catch where error.code == .containerNotFound && force {
            // Removed by another delete meanwhile; or a directory with neither lock nor record
            // (a claim or a removal cut short).
            guard store.exists(id) else { return }
            try destroyDomain(of: nil, id: id)
            try store.remove(id)
            return
        }
        defer { lock.unlock() }
        var record: ContainerRecord?
        do {
            record = try refreshed(try store.load(id), id: id)
        } catch where error.code == .containerNotFound && force {
            // A create that died between claiming the id and writing its record.
        } catch where error.code == .invalidDocument && force {
            // An unreadable record: still find and destroy the domain by name below.
        }
        if let record, record.status != .stopped, !force {
            throw RunxlError(.invalidState, "cannot delete container \(id) that is not stopped: it is \(record.status.rawValue)")
        }
        try store.markDeleting(id)
        KillInjection.reached(.afterDeleteMark)
        try removeEverything(of: record, id: id)
    }

    /// The end of a delete, also how `gc` finishes a delete or a create whose process died:
    /// the domain, then the supervisor, then the files, record first. Called under the lock.
    func removeEverything(of record: ContainerRecord?, id: ContainerID) throws(RunxlError) {
        try destroyDomain(of: record, id: id)
        if let attachment = record?.network { network.unwire(attachment) }
        KillInjection.reached(.afterDestroy)
        // The supervisor ends by itself once its domain is gone; do not leave it behind if not.
        // A pod member's has no domain to watch: it goes whatever the record says (a create
        // killed after spawning it leaves a record that reads stopped). (`launch` is its own
        // supervisor: it never kills itself.)
        if let record, record.status != .stopped || record.podSandbox != nil, let pid = record.pid, pid != getpid(),
            Processes.isAlive(pid, startTime: record.pidStartTime) {
            Glibc.kill(pid, SIGKILL)
        }
        if let cgroup = record?.hostCgroup { HostCgroup.remove(cgroup) }
        if let record, record.podSandbox != nil { removePodMemberFiles(of: record) }
        if let slot = record?.warmSlot { WarmPool.release(slot) }
        KillInjection.reached(.beforeRemove)
        try store.removeRecord(id)
        KillInjection.reached(.afterRecordRemove)
        if let sandbox = record?.podSandbox, record?.podClaim != nil, let sandboxID = try? ContainerID(sandbox) {
            shrinkPod(sandboxID)
        }
        try store.remove(id)
        if var record {
            record.status = .stopped
            do {
                try hookRunner.run(record.hooks, phase: .poststop, state: record.ociState)
            } catch {
                warn("container \(id): \(error.message)")
            }
        }
    }

    func destroyDomain(of record: ContainerRecord?, id: ContainerID) throws(RunxlError) {
        // A pod member's VM is the pod's: its session ends with its supervisor.
        if record?.podSandbox != nil { return }
        if let domain = record?.domainID, let info = try hypervisor.domainInfo(domain),
            info.name == record?.domainName {
            try hypervisor.destroy(domain)
        }
        // Also by name: a create killed between libxl's create and the record save leaves only a name.
        let name = record?.domainName ?? DomainNaming.name(for: id)
        if let domain = try hypervisor.domainID(named: name) {
            try hypervisor.destroy(domain)
        }
    }

    // MARK: state, list

    /// The stored record, corrected by what is live: a container whose supervisor is gone has
    /// stopped, whatever the record last said.
    public func state(_ id: ContainerID) throws(RunxlError) -> ContainerRecord {
        try refreshed(try store.load(id), id: id)
    }

    public func list() throws(RunxlError) -> [ContainerRecord] {
        var records: [ContainerRecord] = []
        for id in try store.ids() {
            if let record = try? state(id) { records.append(record) }
        }
        return records
    }

    func refreshed(_ stored: ContainerRecord, id: ContainerID) throws(RunxlError) -> ContainerRecord {
        var record = stored
        switch record.status {
        case .creating:
            if let creator = record.creatorPID, !Processes.isAlive(creator, startTime: record.creatorStartTime) {
                record.status = .stopped
            }
        case .created, .running, .paused:
            if let pid = record.pid, !Processes.isAlive(pid, startTime: record.pidStartTime) {
                record.status = .stopped
            }
        case .stopped:
            break
        }
        return record
    }

    /// Loads, lets `change` modify, and saves the record, all under the container's lock.
    func withRecord(_ id: ContainerID, _ change: (inout ContainerRecord) throws(RunxlError) -> Void) throws(RunxlError) {
        let lock = try store.lock(id)
        defer { lock.unlock() }
        var record = try refreshed(try store.load(id), id: id)
        try change(&record)
        try store.save(record, id: id)
    }

    func domainID(of record: ContainerRecord) throws(RunxlError) -> DomainID {
        guard let domain = record.domainID else {
            throw RunxlError(.invalidState, "container \(record.id) has no domain")
        }
        return domain
    }

    // MARK: exec

    /// Where the container's supervisor takes exec requests (`ExecChannel`).
    public func execSocketPath(_ id: ContainerID) -> String { "\(store.directory(id))/\(ExecChannel.socketName)" }

    /// runc's exec, first half: the process `makeProcess` derives from the spec the container was
    /// created with (its saved copy: runc's exec does not reread the bundle either), as the
    /// guest's init will run it. The container must be running, or created with its guest booted
    /// and holding the process at init's gate (runc allows exec there too); `launch` keeps its
    /// guest paused until start.
    public func execDescription(
        _ id: ContainerID, makeProcess: (Spec) throws(RunxlError) -> Process
    ) throws(RunxlError) -> ProcessDescription {
        let record = try state(id)
        // A pod member's process exists only once started: before, there is nothing to join.
        let booted = record.status == .created && record.bootedAtCreate == true && record.podSandbox == nil
        guard record.status == .running || booted else {
            throw RunxlError(.invalidState, "cannot exec in container \(id): it is \(record.status.rawValue), not running")
        }
        guard FileSystem.exists(try execSocketPath(of: record, id: id)) else {
            throw RunxlError(.unsupported, "container \(id) takes no exec requests (its supervisor has no exec channel)")
        }
        var spec = try store.spec(of: record, id: id)
        spec.process = try makeProcess(spec)
        var description = try preparer.describeProcess(spec: spec, rootfs: record.rootfs)
        if record.podSandbox != nil { description.joinPodMember = id.rawValue }
        return description
    }

    /// The second half: hands the description and the process's stdio (stdin, stdout, stderr,
    /// or one pty replica) to the supervisor, which has started it once this returns. The
    /// returned connection ends with the process (`ExecChannel.waitForExit`).
    public func sendExec(_ id: ContainerID, _ description: ProcessDescription, descriptors: [Int32]) throws(RunxlError) -> Int32 {
        let socket = try execSocketPath(of: try store.load(id), id: id)
        return try ExecChannel.send(description, descriptors: descriptors, socketPath: socket)
    }

    /// Whose supervisor runs the container's exec sessions: its own, or for a pod member the
    /// supervisor of the pod's VM.
    func execSocketPath(of record: ContainerRecord, id: ContainerID) throws(RunxlError) -> String {
        guard let sandbox = record.podSandbox else { return execSocketPath(id) }
        return execSocketPath(try ContainerID(sandbox))
    }

    /// Records the container's end; called by the supervisor.
    public func recordExit(_ id: ContainerID, status: GuestExitStatus) throws(RunxlError) {
        try withRecord(id) { (record: inout ContainerRecord) throws(RunxlError) in
            if record.exitStatus == nil { record.exitStatus = status.encoded }
            record.status = .stopped
        }
    }

    // MARK: helpers

    public static func loadSpec(bundle: String) throws(RunxlError) -> Spec {
        guard FileSystem.isDirectory(bundle) else {
            throw RunxlError(.bundleNotFound, "bundle \(bundle) is not a directory")
        }
        return try Spec.load(bundle: bundle)
    }

    public static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if path == "." || path.isEmpty { return cwd }
        return cwd + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }

    static func ownerName() -> String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "" }
        return String(cString: name)
    }

    /// Distinguishes two kills with the same signal, so a xenstore watch sees both.
    static func sequenceNumber() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }
}
