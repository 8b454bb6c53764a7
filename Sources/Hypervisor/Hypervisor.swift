public import RunxlBase

/// A Xen domain id.
public struct DomainID: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }
    public var description: String { String(rawValue) }
}

/// Why a domain shut down, as Xen reports it.
public enum ShutdownReason: Codable, Sendable, Equatable {
    case poweroff
    case reboot
    case suspend
    case crash
    case watchdog
    case softReset
    case unknown(Int)
}

/// The run state of a domain as the hypervisor sees it.
public enum DomainRunState: String, Codable, Sendable {
    case running
    case paused
    /// Shut down (by itself or on request) but not yet destroyed; `DomainInfo.shutdownReason` says why.
    case shutdown
    case dying
}

/// A snapshot of one domain.
public struct DomainInfo: Codable, Sendable, Equatable {
    public var id: DomainID
    public var name: String
    public var state: DomainRunState
    public var shutdownReason: ShutdownReason?
    public var memoryKiB: UInt64
    public var vcpus: Int
    /// The most memory the domain may have (its balloon's ceiling); nil where unknown.
    public var maxMemoryKiB: UInt64?
    /// CPU time the domain's vCPUs have used in total, in nanoseconds; nil where unknown.
    public var cpuTimeNanoseconds: UInt64?

    public init(
        id: DomainID, name: String, state: DomainRunState, shutdownReason: ShutdownReason? = nil,
        memoryKiB: UInt64 = 0, vcpus: Int = 0, maxMemoryKiB: UInt64? = nil, cpuTimeNanoseconds: UInt64? = nil
    ) {
        self.id = id
        self.name = name
        self.state = state
        self.shutdownReason = shutdownReason
        self.memoryKiB = memoryKiB
        self.vcpus = vcpus
        self.maxMemoryKiB = maxMemoryKiB
        self.cpuTimeNanoseconds = cpuTimeNanoseconds
    }
}

/// How a wait for a domain's end came out.
public enum DomainEnd: Sendable, Equatable {
    /// The guest shut down by itself or on request; it still exists until destroyed.
    case shutdown(ShutdownReason)
    /// The domain is gone (destroyed by someone, or never existed).
    case gone
    /// The wait's deadline passed first.
    case timedOut
}

/// The operations runxl needs from a hypervisor toolstack.
///
/// The runtime engine and the CLI are written against this protocol only: the libxl backend
/// (`XenLight`) implements it on a Xen dom0, and a file-backed double (`FakeHypervisor`) lets the
/// layers above be unit-tested on hosts without Xen. Every call is synchronous: runxl is many
/// short-lived processes, each doing a few operations and exiting, as runc is.
public protocol Hypervisor: AnyObject, Sendable {
    /// Creates a domain and leaves it paused when `paused` is true. On any failure nothing of the
    /// domain is left behind.
    func createDomain(_ spec: DomainSpec, paused: Bool) throws(RunxlError) -> DomainID
    /// Creates a domain from an image `saveDomain` wrote, with `spec`'s devices attached (they
    /// may differ from those the saved guest had) and its memory and vCPUs as saved; paused when
    /// `paused`. On any failure nothing of the domain is left behind.
    func restoreDomain(_ spec: DomainSpec, from path: String, paused: Bool) throws(RunxlError) -> DomainID
    /// Saves the guest's whole state into a new file at `path` and destroys the domain.
    func saveDomain(_ domain: DomainID, to path: String) throws(RunxlError)
    func unpause(_ domain: DomainID) throws(RunxlError)
    func pause(_ domain: DomainID) throws(RunxlError)
    /// Moves the guest's balloon target: its balloon driver then takes memory from Xen or gives it
    /// back, within the ceiling fixed at create (`DomainSpec.maxMemoryMiB`). Returns once Xen and
    /// xenstore hold the new target, not once the guest has reached it.
    func setMemoryTarget(_ domain: DomainID, mebibytes: Int) throws(RunxlError)
    /// Makes vCPUs 0..<count available and the rest unavailable, within the count fixed at create
    /// (`DomainSpec.maxVcpus`). A Linux guest brings an available vCPU up only once its own
    /// userspace onlines it; runxl-init does that.
    func setAvailableVcpus(_ domain: DomainID, count: Int) throws(RunxlError)
    /// Asks the guest to shut down cleanly (Xen's `control/shutdown` key).
    func shutdown(_ domain: DomainID) throws(RunxlError)
    /// Destroys the domain at once. Destroying a domain that no longer exists is not an error.
    func destroy(_ domain: DomainID) throws(RunxlError)
    func listDomains() throws(RunxlError) -> [DomainInfo]
    /// Info for one domain, or nil when it does not exist.
    func domainInfo(_ domain: DomainID) throws(RunxlError) -> DomainInfo?
    /// The domain id of the domain with this name, or nil.
    func domainID(named name: String) throws(RunxlError) -> DomainID?
    /// The dom0 pty of the guest's primary console.
    func consolePath(_ domain: DomainID) throws(RunxlError) -> String
    /// The domain's own xenstore directory, e.g. `/local/domain/7`.
    func storePath(_ domain: DomainID) throws(RunxlError) -> String
    /// Reads a xenstore key; nil when it does not exist.
    func readStore(_ path: String) throws(RunxlError) -> String?
    func writeStore(_ path: String, _ value: String) throws(RunxlError)
    /// Blocks until the key exists (through a xenstore watch, not polling) or the deadline passes;
    /// returns its value or nil on timeout.
    func waitForStoreKey(_ path: String, timeoutSeconds: Double?) throws(RunxlError) -> String?
    /// Blocks until the domain shuts down or disappears, through the hypervisor's event machinery.
    func waitForEnd(_ domain: DomainID, timeoutSeconds: Double?) throws(RunxlError) -> DomainEnd
}

extension Hypervisor {
    /// Tells the vif's backend that its hotplug step is done, as the last line of Xen's own
    /// `vif-bridge` script does. runxl gives libxl `/bin/true` as the script and wires the
    /// backend itself; until `hotplug-status` says `connected`, Linux netback holds its xenbus
    /// state at InitWait. Linux's netfront runs regardless; Unikraft's waits for the backend's
    /// Connected state and blocked its boot (docs/unikernels.md).
    public func reportNetworkBackendConnected(_ domain: DomainID, device: Int) throws(RunxlError) {
        let frontend = "\(try storePath(domain))/device/vif/\(device)"
        guard let backend = try readStore("\(frontend)/backend"), !backend.isEmpty else {
            throw RunxlError(.networkFailed, "domain \(domain) has no backend for vif \(device) (no \(frontend)/backend in xenstore)")
        }
        try writeStore("\(backend)/hotplug-status", "connected")
    }
}
