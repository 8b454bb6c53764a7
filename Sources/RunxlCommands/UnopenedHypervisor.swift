import Hypervisor
import RunxlBase

/// Stands in for the hypervisor in verbs that must not open one; any call is a bug in runxl.
final class UnopenedHypervisor: Hypervisor, @unchecked Sendable {
    private func refuse() -> RunxlError { RunxlError(.internal, "this command does not open the hypervisor") }
    func createDomain(_ spec: DomainSpec, paused: Bool) throws(RunxlError) -> DomainID { throw refuse() }
    func restoreDomain(_ spec: DomainSpec, from path: String, paused: Bool) throws(RunxlError) -> DomainID { throw refuse() }
    func saveDomain(_ domain: DomainID, to path: String) throws(RunxlError) { throw refuse() }
    func unpause(_ domain: DomainID) throws(RunxlError) { throw refuse() }
    func pause(_ domain: DomainID) throws(RunxlError) { throw refuse() }
    func setMemoryTarget(_ domain: DomainID, mebibytes: Int) throws(RunxlError) { throw refuse() }
    func setAvailableVcpus(_ domain: DomainID, count: Int) throws(RunxlError) { throw refuse() }
    func shutdown(_ domain: DomainID) throws(RunxlError) { throw refuse() }
    func destroy(_ domain: DomainID) throws(RunxlError) { throw refuse() }
    func listDomains() throws(RunxlError) -> [DomainInfo] { throw refuse() }
    func domainInfo(_ domain: DomainID) throws(RunxlError) -> DomainInfo? { throw refuse() }
    func domainID(named name: String) throws(RunxlError) -> DomainID? { throw refuse() }
    func consolePath(_ domain: DomainID) throws(RunxlError) -> String { throw refuse() }
    func storePath(_ domain: DomainID) throws(RunxlError) -> String { throw refuse() }
    func readStore(_ path: String) throws(RunxlError) -> String? { throw refuse() }
    func writeStore(_ path: String, _ value: String) throws(RunxlError) { throw refuse() }
    func waitForStoreKey(_ path: String, timeoutSeconds: Double?) throws(RunxlError) -> String? { throw refuse() }
    func waitForEnd(_ domain: DomainID, timeoutSeconds: Double?) throws(RunxlError) -> DomainEnd { throw refuse() }
}
