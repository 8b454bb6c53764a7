import Foundation
@testable import GuestBuild
import OCI
import RunxlBase
import Synchronization
import Testing
import TestSupport

/// GuestBuild's handlers decide what a container boots as: the first that can run it, unikernels
/// before Linux. The Linux handler looks for runxl-init only when it builds.
@Suite(.enabled(if: TestUnikernels.gccAvailable)) struct GuestHandlersTests {
    /// Counts the init look-ups and fails them: a Linux build then ends with this error.
    final class InitLookups: Sendable {
        let count = Mutex(0)
        var locate: @Sendable () throws(RunxlError) -> String {
            { [self] () throws(RunxlError) in
                count.withLock { $0 += 1 }
                throw RunxlError(.initBinaryInvalid, "no init in this test")
            }
        }
    }

    private func container(unikernel: Bool, binary: String = "/boot/kernel") throws -> (ScratchDirectory, ContainerSource) {
        let scratch = try ScratchDirectory("handlers")
        try scratch.directory("rootfs/boot")
        try FileSystem.writeAtomically(scratch.path + "/rootfs/boot/kernel", try FileSystem.read(try TestUnikernels.path("pv")), mode: 0o755)
        var spec = Spec.runxlDefault(args: ["hello"], terminal: false)
        if unikernel {
            spec.annotations = [UnikernelAnnotations.Runxl.type: "xen-elf", UnikernelAnnotations.Runxl.binary: binary]
        }
        return (scratch, ContainerSource(spec: spec, rootfs: scratch.path + "/rootfs", domainName: "runxl-handlers"))
    }

    @Test func aDeclaredUnikernelIsBuiltWithoutLookingForInit() throws {
        let (scratch, source) = try container(unikernel: true)
        _ = scratch
        let lookups = InitLookups()
        let handlers = GuestHandlers.standard(host: HostConfig(), locateInit: lookups.locate)
        #expect(try handlers.plan(for: source) is UnikernelPlan)
        guard case .unikernel(let guest) = try handlers.build(source, stateDirectory: scratch.path, network: nil) else {
            Issue.record("a declared unikernel was not built as one")
            return
        }
        #expect(guest.domain.cmdline == "hello")
        #expect(lookups.count.withLock { $0 } == 0)
    }

    @Test func aPlainContainerGoesToLinuxWhichAsksForInit() throws {
        let (scratch, source) = try container(unikernel: false)
        _ = scratch
        let lookups = InitLookups()
        let handlers = GuestHandlers.standard(host: HostConfig(), locateInit: lookups.locate)
        #expect(try handlers.plan(for: source) is LinuxPlan)
        #expect(throws: RunxlError.self) { try handlers.build(source, stateDirectory: scratch.path, network: nil) }
        #expect(lookups.count.withLock { $0 } == 1)
    }

    /// A container that says it is a unikernel but says it wrongly gets that error, and is not
    /// quietly booted as Linux instead.
    @Test func aBrokenUnikernelDeclarationIsAnErrorNotLinux() throws {
        let (scratch, source) = try container(unikernel: true, binary: "/boot/missing")
        _ = scratch
        let lookups = InitLookups()
        let handlers = GuestHandlers.standard(host: HostConfig(), locateInit: lookups.locate)
        do {
            _ = try handlers.build(source, stateDirectory: scratch.path, network: nil)
            Issue.record("a unikernel naming a missing binary was built")
        } catch {
            #expect(error.code == .invalidUnikernel, "\(error.message)")
            #expect(error.message.contains("/boot/missing"), "\(error.message)")
        }
        #expect(lookups.count.withLock { $0 } == 0)
    }

    @Test func convertOfABundleWritesTheUnikernelsFiles() throws {
        let (scratch, source) = try container(unikernel: true)
        let bundle = scratch.path
        try FileSystem.writeAtomically(bundle + "/config.json", Array(try JSONDocument.encode(source.spec)))
        let output = scratch.path + "/out"
        let lookups = InitLookups()
        let guest = try GuestHandlers.standard(host: HostConfig(), locateInit: lookups.locate)
            .convert(bundle: bundle, output: output, domainName: nil, annotations: [:])
        guard case .unikernel = guest else {
            Issue.record("converted as Linux")
            return
        }
        #expect(FileSystem.exists(output + "/kernel") && FileSystem.exists(output + "/xl.cfg"))
        #expect(guest.domain.kernel == output + "/kernel")
    }
}
