public import GuestProtocol
public import Hypervisor
public import RunxlBase

/// The host's end of the typed guest API (`HostMessage`, `GuestReport`) for one domain.
///
/// Every verb, the supervisor and the network set-up talk to runxl-init through it, so a key's
/// path and value are spelled once, in GuestProtocol, for both ends.
public struct GuestLink: Sendable {
    public let hypervisor: any Hypervisor
    public let domain: DomainID
    private let base: String

    public init(_ hypervisor: any Hypervisor, domain: DomainID) throws(RunxlError) {
        self.hypervisor = hypervisor
        self.domain = domain
        base = try hypervisor.storePath(domain)
    }

    public func send(_ message: HostMessage) throws(RunxlError) {
        try hypervisor.writeStore(path(message.kind.key), message.value)
    }

    /// The report init left, nil when there is none yet. A value that does not decode is an
    /// error: the guest (or whoever can write its keys) broke the protocol.
    public func report(_ kind: GuestReport.Kind) throws(RunxlError) -> GuestReport? {
        guard let value = try hypervisor.readStore(path(kind.key)) else { return nil }
        return try decode(kind, value)
    }

    /// Blocks until init reports `kind` (through a watch) or the deadline passes (nil).
    public func waitFor(_ kind: GuestReport.Kind, timeoutSeconds: Double?) throws(RunxlError) -> GuestReport? {
        guard let value = try hypervisor.waitForStoreKey(path(kind.key), timeoutSeconds: timeoutSeconds) else { return nil }
        return try decode(kind, value)
    }

    /// The exit status init reported, if it did and the report reads.
    public func reportedExit() -> GuestExitStatus? {
        guard case .exit(let status)? = try? report(.exit) else { return nil }
        return status
    }

    private func path(_ key: String) -> String { "\(base)/\(key)" }

    private func decode(_ kind: GuestReport.Kind, _ value: String) throws(RunxlError) -> GuestReport {
        do {
            return try GuestReport.decode(kind, value)
        } catch {
            throw RunxlError(.xenstoreFailed, "domain \(domain) reported an invalid \(kind.rawValue): \(error.message)")
        }
    }
}
