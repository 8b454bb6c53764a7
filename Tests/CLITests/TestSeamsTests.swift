import Foundation
import Testing

/// The test seams live in `runxl-testing` only: in the `runxl` users get, no environment variable
/// swaps Xen for the fake hypervisor or arms a kill point (issue 14: test seams leave the shipped
/// binary).
@Suite struct TestSeamsTests {
    @Test func theShippedBinaryIgnoresTheFakeHypervisorSwitch() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let bundle = try world.makeBundle("seams")
        // The testing binary takes the switch: create succeeds on the fake.
        let testing = try world.run(["create", "--bundle", bundle, "on-the-fake"])
        #expect(testing.status == 0, "\(testing.stderr)")
        #expect(FileManager.default.fileExists(atPath: world.fakeDirectory))
        // The shipped one goes to Xen, which this host does not run: it fails and says so, and
        // leaves no record behind.
        let shipped = try world.run(["create", "--bundle", bundle, "on-xen"], binary: RunxlProcess.shippedBinary)
        #expect(shipped.status != 0)
        #expect(shipped.stderr.lowercased().contains("xen") || shipped.stderr.contains("libxl"), "\(shipped.stderr)")
        #expect(!FileManager.default.fileExists(atPath: world.root + "/on-xen"))
    }

    /// Stronger than any behaviour test: the variables' names are not in the shipped binary, so
    /// no code in it can read them (issue 14: `grep` finds no RUNXL_HYPERVISOR in runxl).
    @Test(arguments: ["RUNXL_HYPERVISOR", "RUNXL_FAKE_DIR", "RUNXL_INJECT_KILL", "RUNXL_SUPERVISOR_SECCOMP"])
    func theShippedBinaryDoesNotHoldTheSeamsNames(name: String) throws {
        let shipped = try Data(contentsOf: URL(fileURLWithPath: RunxlProcess.shippedBinary))
        let testing = try Data(contentsOf: URL(fileURLWithPath: RunxlProcess.built("runxl-testing")))
        #expect(shipped.range(of: Data(name.utf8)) == nil, "\(name) is in \(RunxlProcess.shippedBinary)")
        #expect(testing.range(of: Data(name.utf8)) != nil, "the search finds \(name) where it is")
    }
}
