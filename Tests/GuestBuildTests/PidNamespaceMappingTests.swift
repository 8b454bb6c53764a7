import GuestProtocol
import OCI
import Testing
import TestSupport

@testable import GuestBuild

/// runc makes the process PID 1 of its own pid namespace when the spec lists one (issue 19):
/// the process file carries that to runxl-init.
@Suite struct PidNamespaceMappingTests {
    private func description(_ namespaces: [LinuxNamespace]?) throws -> ProcessDescription {
        let scratch = try ScratchDirectory("pidns")
        var spec = Spec(ociVersion: "1.2.0")
        spec.process = OCI.Process(args: ["sh"], env: ["PATH=/bin"], cwd: "/")
        spec.root = Root(path: "rootfs")
        if let namespaces { spec.linux = Linux(namespaces: namespaces) }
        return try ProcessDescription(spec: spec, lookup: RootfsLookup(rootfs: try makeBusyboxRootfs(in: scratch)))
    }

    @Test func aPidNamespaceOfItsOwnIsCarried() throws {
        let mapped = try description([LinuxNamespace(type: .mount), LinuxNamespace(type: .pid)])
        #expect(mapped.pidNamespace)
        #expect(try ProcessDescription.decode(mapped.encoded()).pidNamespace)
    }

    @Test func noPidNamespaceOrAJoinedOneKeepsTheGuests() throws {
        #expect(try !description(nil).pidNamespace)
        #expect(try !description([LinuxNamespace(type: .network)]).pidNamespace)
        #expect(try !description([LinuxNamespace(type: .pid, path: "/proc/42/ns/pid")]).pidNamespace)
    }
}
