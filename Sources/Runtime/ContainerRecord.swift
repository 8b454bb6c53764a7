public import GuestProtocol
public import Hypervisor
public import OCI
import RunxlBase

/// Everything runxl remembers about one container between its many processes.
public struct ContainerRecord: Codable, Sendable {
    public var ociVersion: String
    public var id: String
    public var status: ContainerStatus
    public var bundle: String
    public var rootfs: String
    /// RFC 3339, as runc reports it.
    public var created: String
    public var owner: String
    public var annotations: [String: String]
    /// The supervisor: the pid podman and containerd see as the container's.
    public var pid: Int32?
    /// Start time of `pid` in clock ticks since boot (/proc/PID/stat), so that a recycled pid is
    /// never mistaken for our supervisor.
    public var pidStartTime: UInt64?
    public var domainID: DomainID?
    public var domainName: String?
    /// How the process ended, in GuestProtocol's `GuestExitStatus` text (`exited:3`, `signaled:15`).
    public var exitStatus: String?
    /// The process running `create`, while the status is creating: if it died, so did the create.
    public var creatorPID: Int32?
    /// Start time of `creatorPID` (as `pidStartTime`), so a recycled pid never keeps a dead
    /// create looking alive to `gc`.
    public var creatorStartTime: UInt64?
    /// Which backend created the domain: "xen" or "fake".
    public var hypervisor: String
    /// The config's hooks, kept from create: start and delete run theirs even if the bundle
    /// changed or is gone by then, as runc does.
    public var hooks: Hooks?
    /// The process has a terminal: its pty master went to `--console-socket`.
    public var terminal: Bool?
    /// Set when the guest is a unikernel (its kind): see `PreparedGuest.unikernel`.
    public var unikernel: String?
    /// What create changed in the container's network namespace, for delete to undo.
    public var network: NetworkAttachment?
    /// The host cgroup create made for the container's host processes (`HostCgroup`), for
    /// delete to remove. Recorded before it is made, so that no crash can leak it.
    public var hostCgroup: String?
    /// `create` booted the guest and init holds the process at its gate (`HostMessage.holdAtGate`):
    /// `start` opens the gate instead of unpausing, and `exec` works before `start`, as in runc.
    public var bootedAtCreate: Bool?
    /// A pod's further container (docs/pods.md): the id of the pod's first container, in whose
    /// VM it runs as a session. It has no domain of its own.
    public var podSandbox: String?
    /// What dom0 bound for it in the pod's 9pfs backend (`ShareMounts.attach`), for delete to
    /// take away; recorded before they are made.
    public var podMounts: [String]?
    /// Its directory in the sandbox's control share, which delete removes.
    public var podDirectory: String?
    /// A pod's first container whose VM can grow as further containers join (`PodCapacity`).
    public var podCapacity: PodCapacity?
    /// A further container's share of its pod's VM, counted from create to delete (`PodClaim`).
    public var podClaim: PodClaim?
    /// The warm VM's slot (`WarmPool`) when the container's VM came from the pool: its shares
    /// serve that directory, which delete removes after the domain.
    public var warmSlot: String?

    public init(
        ociVersion: String, id: String, status: ContainerStatus, bundle: String, rootfs: String,
        created: String, owner: String, annotations: [String: String], hypervisor: String
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.bundle = bundle
        self.rootfs = rootfs
        self.created = created
        self.owner = owner
        self.annotations = annotations
        self.hypervisor = hypervisor
    }

    /// The decoded exit status, when one was recorded.
    public var exit: GuestExitStatus? {
        guard let exitStatus else { return nil }
        return try? GuestExitStatus.decode(exitStatus)
    }
}

extension ContainerRecord {
    /// The runtime-spec state hooks receive on stdin; runc's `paused` is `running` to the spec.
    public var ociState: State {
        let status: State.Status
        switch self.status {
        case .creating: status = .creating
        case .created: status = .created
        case .running, .paused: status = .running
        case .stopped: status = .stopped
        }
        return State(
            ociVersion: ociVersion, id: id, status: status, pid: status == .stopped ? nil : pid, bundle: bundle,
            annotations: annotations.isEmpty ? nil : annotations)
    }
}
