import FakeHypervisor
import Foundation
import GuestProtocol
import Hypervisor
import OCI
import Runtime
import RunxlBase
import Testing

@Suite struct UnikernelExitTests {
    @Test func poweroffIsZeroUnlessTheUnikernelWroteAnExitCode() {
        #expect(UnikernelExit.status(after: .shutdown(.poweroff), written: nil) == .exited(0))
        #expect(UnikernelExit.status(after: .shutdown(.poweroff), written: .exited(3)) == .exited(3))
    }

    /// runxl never asks for a reboot: one is the unikernel's own unclean end (Unikraft's exit(1),
    /// a PVH triple fault), so it is not reported as success, and stderr says why.
    @Test func aRebootIsStatusOneWithAReasonUnlessTheUnikernelWroteItsCode() {
        #expect(UnikernelExit.status(after: .shutdown(.reboot), written: nil) == .exited(1))
        #expect(UnikernelExit.explanation(after: .shutdown(.reboot), written: nil)?.contains("triple fault") == true)
        #expect(UnikernelExit.status(after: .shutdown(.reboot), written: .exited(0)) == .exited(0))
        #expect(UnikernelExit.explanation(after: .shutdown(.reboot), written: .exited(0)) == nil)
        #expect(UnikernelExit.explanation(after: .shutdown(.crash), written: nil)?.contains("crashed") == true)
        #expect(UnikernelExit.explanation(after: .shutdown(.crash), written: nil)?.contains("status 134,") == true)
        #expect(UnikernelExit.explanation(after: .shutdown(.poweroff), written: nil) == nil)
        #expect(UnikernelExit.explanation(after: .gone, written: nil) == nil)
    }

    @Test func aCrashIsSIGABRTsStatus134WhateverWasWritten() {
        #expect(UnikernelExit.status(after: .shutdown(.crash), written: nil) == .signaled(6))
        #expect(UnikernelExit.status(after: .shutdown(.crash), written: .exited(0)).shellExitCode == 134)
    }

    @Test func aDestroyedUnikernelIsKilled() {
        #expect(UnikernelExit.status(after: .gone, written: nil).shellExitCode == 137)
    }

    @Test func signals() {
        #expect(UnikernelExit.action(for: 15) == .cleanShutdown)
        #expect(UnikernelExit.action(for: 2) == .cleanShutdown)
        #expect(UnikernelExit.action(for: 9) == .destroy)
        #expect(UnikernelExit.action(for: 10) == .unsupported)
    }
}

/// The engine's kill on a unikernel record, over the fake hypervisor.
@Suite struct UnikernelKillTests {
    struct UnikernelPreparer: GuestPreparing {
        func prepare(
            id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
        ) throws(RunxlError) -> PreparedGuest {
            PreparedGuest(
                domain: DomainSpec(name: DomainNaming.name(for: id), type: .pvh, kernel: "/nonexistent/unikernel", memoryMiB: 32),
                unikernel: "xen-elf")
        }
    }

    func engine(_ directory: String) throws -> (ContainerEngine, FakeHypervisor) {
        let fake = try FakeHypervisor(directory: directory + "/fake", memoryLimitMiB: 1024)
        return (ContainerEngine(store: StateStore(root: directory + "/root"), hypervisor: fake, hypervisorName: "fake", preparer: UnikernelPreparer()), fake)
    }

    func bundle(_ directory: String) throws -> String {
        let bundle = directory + "/bundle"
        try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
        let config: [String: Any] = ["ociVersion": "1.2.0", "root": ["path": "rootfs"], "process": ["args": ["hello"], "cwd": "/"]]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        return bundle
    }

    @Test func termAsksForACleanShutdownAndOtherSignalsAreRefused() throws {
        let directory = NSTemporaryDirectory() + "runxl-uk-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (engine, fake) = try engine(directory)
        let id = try ContainerID("uk")
        let record = try engine.create(
            id,
            options: .init(
                bundle: try bundle(directory), supervisor: .custom { _, _ throws(RunxlError) in try Processes.spawn("/bin/sleep", ["30"]) }))
        #expect(record.unikernel == "xen-elf")
        try engine.start(id)
        do {
            try engine.kill(id, signal: 10)
            Issue.record("USR1 reached a unikernel")
        } catch {
            #expect(error.code == .unsupported)
        }
        try engine.kill(id, signal: 15)
        let domain = try #require(record.domainID)
        let info = try #require(try fake.domainInfo(domain))
        #expect(info.state == .shutdown)
        #expect(info.shutdownReason == .poweroff)
        // The domain shut down by itself: the supervisor, not kill, records the end.
        #expect(try engine.state(id).exitStatus == nil)
        try engine.delete(id, force: true)
    }
}
