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
}
