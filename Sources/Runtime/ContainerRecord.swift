public import GuestProtocol
public import Hypervisor
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
    /// Which backend created the domain: "xen" or "fake".
    public var hypervisor: String
    /// Set when the guest is a unikernel (its kind): see `PreparedGuest.unikernel`.
    public var unikernel: String?

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
