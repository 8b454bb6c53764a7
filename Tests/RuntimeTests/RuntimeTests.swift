import FakeHypervisor
import Foundation
import GuestProtocol
import Hypervisor
import OCI
import Runtime
import RunxlBase
import Testing

@Suite struct ContainerIDTests {
    @Test(arguments: ["a", "abc-DEF_1.2+3", String(repeating: "f", count: 64)])
    func acceptsRuncCharacterSet(_ text: String) throws {
        #expect(try ContainerID(text).rawValue == text)
    }

    @Test(arguments: ["", ".", "..", "a/b", "../x", "a b", "a\u{0}b", "é", String(repeating: "x", count: 1025)])
    func refusesIDsThatCouldEscapeRoot(_ text: String) {
        #expect(throws: RunxlError.self) { try ContainerID(text) }
        do { _ = try ContainerID(text) } catch { #expect(error.code == .invalidContainerID) }
    }
}

@Suite struct DomainNamingTests {
    @Test func shortIDsKeepTheirPlainName() throws {
        #expect(DomainNaming.name(for: try ContainerID("web")) == "runxl-web")
    }

    /// podman and containerd use 64 hex digits: "runxl-" + 64 is over libxl's 64-byte limit.
    @Test func longIDsFitAndStayDistinct() throws {
        let first = try ContainerID(String(repeating: "a", count: 63) + "1")
        let second = try ContainerID(String(repeating: "a", count: 63) + "2")
        let names = [DomainNaming.name(for: first), DomainNaming.name(for: second)]
        for name in names {
            #expect(name.utf8.count <= DomainNaming.maximumLength)
            #expect(name.hasPrefix("runxl-" + String(repeating: "a", count: 40) + "-"))
        }
        #expect(names[0] != names[1])
        #expect(DomainNaming.name(for: first) == names[0])
    }
}

@Suite struct ContainerStatusTests {
    @Test func allowsRuncTransitionsOnly() throws {
        let id = try ContainerID("t")
        #expect(try ContainerStatus.created.transition(to: .running, id: id) == .running)
        #expect(try ContainerStatus.running.transition(to: .paused, id: id) == .paused)
        #expect(try ContainerStatus.paused.transition(to: .running, id: id) == .running)
        for status in ContainerStatus.allCases {
            #expect(throws: RunxlError.self) { try ContainerStatus.stopped.transition(to: status, id: id) }
        }
        #expect(throws: RunxlError.self) { try ContainerStatus.created.transition(to: .paused, id: id) }
        #expect(throws: RunxlError.self) { try ContainerStatus.running.transition(to: .created, id: id) }
    }
}

@Suite struct SignalNameTests {
    @Test(arguments: [("15", 15), ("9", 9), ("KILL", 9), ("SIGKILL", 9), ("sigterm", 15), ("term", 15), ("Hup", 1), ("RTMIN+2", 36), ("0", 0)])
    func parsesNumbersAndNamesInAnyCase(_ text: String, _ expected: Int32) throws {
        #expect(try SignalName.parse(text) == expected)
    }

    @Test(arguments: ["65", "-1", "SIGNOPE", "", "KILLX"])
    func refusesUnknownSignals(_ text: String) {
        do {
            _ = try SignalName.parse(text)
            Issue.record("\(text) should be refused")
        } catch {
            #expect(error.code == .invalidSignal)
        }
    }
}

/// The engine over the fake hypervisor, in process.
@Suite struct ContainerEngineTests {
    final class World {
        let directory: String
        let engine: ContainerEngine
        let fake: FakeHypervisor
        init() throws {
            directory = NSTemporaryDirectory() + "runxl-engine-\(UUID().uuidString)"
            fake = try FakeHypervisor(directory: directory + "/fake", memoryLimitMiB: 1024)
            engine = ContainerEngine(
                store: StateStore(root: directory + "/root"), hypervisor: fake, hypervisorName: "fake",
                preparer: ValidatingGuestPreparer())
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func bundle(args: [String] = ["sh"]) throws -> String {
            let bundle = directory + "/bundle-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
            let config: [String: Any] = ["ociVersion": "1.2.0", "root": ["path": "rootfs"], "process": ["args": args, "cwd": "/"]]
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))
            return bundle
        }

        /// A stand-in supervisor: a child that lives long enough for the test.
        /// Stands in for `runxl supervise`: a process with a pid, for the record.
        let supervisor = SupervisorStart.custom { _, _ throws(RunxlError) in try Processes.spawn("/bin/sleep", ["30"]) }
    }

    /// `launch` hands create a spec, not a bundle: the state directory becomes the bundle, and
    /// the spec is saved there like every container's.
    @Test func aSpecGivenAsAValueNeedsNoBundle() throws {
        let world = try World()
        let id = try ContainerID("valued")
        let rootfs = world.directory + "/bare-rootfs"
        try FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
        var spec = Spec.runxlDefault(args: ["fake-exit", "3"], terminal: false)
        spec.root = Root(path: rootfs, readonly: true)
        let record = try world.engine.create(id, options: .init(source: .spec(spec, bundle: nil), supervisor: world.supervisor))
        let state = world.engine.store.directory(id)
        #expect(record.bundle == state)
        #expect(record.rootfs == rootfs)
        let attributes = try FileManager.default.attributesOfItem(atPath: state + "/config.json")
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "the environment may hold secrets")
        #expect(try world.engine.store.spec(of: record, id: id).process?.args == ["fake-exit", "3"])
        try world.engine.delete(id, force: true)
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    /// As runc keeps the config in its state: exec and the supervisor see the spec the container
    /// was created with, whatever happens to the bundle afterwards; a record from an older runxl
    /// (no saved spec) falls back to the bundle.
    @Test func theSavedSpecOutlivesChangesToTheBundle() throws {
        let world = try World()
        let id = try ContainerID("saved")
        let bundle = try world.bundle(args: ["first"])
        let record = try world.engine.create(id, options: .init(bundle: bundle, supervisor: world.supervisor))
        let config: [String: Any] = ["ociVersion": "1.2.0", "root": ["path": "rootfs"], "process": ["args": ["second"], "cwd": "/"]]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        #expect(try world.engine.store.spec(of: record, id: id).process?.args == ["first"])
        try FileManager.default.removeItem(atPath: world.engine.store.directory(id) + "/config.json")
        #expect(try world.engine.store.spec(of: record, id: id).process?.args == ["second"])
        try world.engine.delete(id, force: true)
    }

    /// exec through the engine: refused on a container whose guest holds no process yet or any
    /// more, and on one whose supervisor has no exec channel; otherwise the process comes from
    /// the saved spec, changed by the caller as runc's exec flags change it.
    @Test func execIsDescribedFromTheSavedSpec() throws {
        let world = try World()
        let id = try ContainerID("execd")
        let bundle = try world.bundle(args: ["original"])
        _ = try world.engine.create(id, options: .init(bundle: bundle, supervisor: world.supervisor))
        func keepArgs(_ spec: Spec) throws(RunxlError) -> OCI.Process { spec.process ?? OCI.Process(cwd: "/") }
        #expect(throws: RunxlError.self) { try world.engine.execDescription(id, makeProcess: keepArgs) }
        try world.engine.start(id)
        do {
            _ = try world.engine.execDescription(id, makeProcess: keepArgs)
            Issue.record("described without an exec channel")
        } catch {
            #expect(error.code == .unsupported, "\(error)")
        }
        #expect(FileManager.default.createFile(atPath: world.engine.execSocketPath(id), contents: nil))
        let description = try world.engine.execDescription(id) { (spec: Spec) throws(RunxlError) in
            var process = spec.process ?? OCI.Process(cwd: "/")
            #expect(process.args == ["original"], "the spec create saved")
            process.args = ["sh", "-c", "echo exec"]
            process.env = ["A=1"]
            return process
        }
        #expect(description.args == ["sh", "-c", "echo exec"])
        #expect(description.env == ["A=1"])
        try world.engine.delete(id, force: true)
    }

    @Test func createFailureLeavesNothing() throws {
        let world = try World()
        let id = try ContainerID("fails")
        // The supervisor cannot start: the domain created before must be destroyed, the record removed.
        #expect(throws: RunxlError.self) {
            try world.engine.create(
                id,
                options: .init(
                    bundle: try world.bundle(),
                    supervisor: .custom { _, _ throws(RunxlError) in throw RunxlError(.spawnFailed, "injected") }))
        }
        #expect(try world.fake.listDomains().isEmpty)
        #expect(!world.engine.store.exists(id))
    }

    @Test func outOfMemoryFromHypervisorLeavesNothing() throws {
        let world = try World()
        let bundle = try world.bundle()
        // Fill the fake's 1024 MiB with four 256 MiB guests; the fifth must fail cleanly.
        for index in 0..<4 {
            _ = try world.engine.create(try ContainerID("m\(index)"), options: .init(bundle: bundle, supervisor: world.supervisor))
        }
        do {
            _ = try world.engine.create(try ContainerID("m4"), options: .init(bundle: bundle, supervisor: world.supervisor))
            Issue.record("a fifth guest must not fit")
        } catch {
            #expect(error.code == .outOfMemory)
        }
        #expect(try world.fake.listDomains().count == 4)
        #expect(!world.engine.store.exists(try ContainerID("m4")))
    }

    @Test func killBeforeStartDestroysTheDomain() throws {
        let world = try World()
        let id = try ContainerID("early")
        let record = try world.engine.create(id, options: .init(bundle: try world.bundle(), supervisor: world.supervisor))
        #expect(record.status == .created)
        try world.engine.kill(id, signal: 15)
        #expect(try world.engine.state(id).status == .stopped)
        #expect(try world.engine.state(id).exitStatus == "signaled:15")
        #expect(try world.fake.listDomains().isEmpty)
        try world.engine.delete(id, force: false)
        #expect(!world.engine.store.exists(id))
    }

    /// runc's split: create makes the process (the guest boots, init holds it at its gate),
    /// start only lets it run. `launch` keeps the old order: paused until start.
    @Test func createBootsTheGuestAndStartOpensTheGate() throws {
        let world = try World()
        let id = try ContainerID("gated")
        let record = try world.engine.create(
            id, options: .init(bundle: try world.bundle(args: ["fake-exit", "4"]), supervisor: world.supervisor))
        let domain = try #require(record.domainID)
        let key = "\(try world.fake.storePath(domain))/data/runxl/start"
        let guest = try GuestLink(world.fake, domain: domain)
        #expect(record.bootedAtCreate == true)
        #expect(try world.fake.domainInfo(domain)?.state == .running)
        #expect(try world.fake.readStore(key) == "wait")
        try world.engine.start(id)
        #expect(try world.fake.readStore(key) == "go")
        // start returned after init's answer that the process passed the gate.
        #expect(try guest.report(.started) == .started(execSucceeded: true))
        #expect(try guest.report(.exit) == .exit(.exited(4)))

        let launched = try ContainerID("launched")
        let paused = try world.engine.create(
            launched, options: .init(bundle: try world.bundle(), bootsBeforeStart: false, supervisor: world.supervisor))
        let pausedDomain = try #require(paused.domainID)
        #expect(paused.bootedAtCreate == nil)
        #expect(try world.fake.domainInfo(pausedDomain)?.state == .paused)
        #expect(try world.fake.readStore("\(try world.fake.storePath(pausedDomain))/data/runxl/start") == nil)
        try world.engine.start(launched)
        #expect(try world.fake.domainInfo(pausedDomain)?.state == .running)
    }

    /// A guest booted by create can end before start: start then says how it ended.
    @Test func startOfAContainerThatEndedBeforeStartGivesTheReason() throws {
        let world = try World()
        let id = try ContainerID("ended")
        _ = try world.engine.create(id, options: .init(bundle: try world.bundle(), supervisor: world.supervisor))
        try world.engine.recordExit(id, status: .failed("mount tmpfs on /scratch: Invalid argument"))
        do {
            try world.engine.start(id)
            Issue.record("start of a stopped container must fail")
        } catch {
            #expect(error.code == .invalidState)
            #expect(error.message.contains("it ended before start: failed:mount tmpfs on /scratch"), "\(error.message)")
        }
        try world.engine.delete(id, force: true)
    }

    @Test func deadSupervisorMeansStopped() throws {
        let world = try World()
        let id = try ContainerID("orphan")
        // A pid that cannot be alive: the record must not claim the container runs.
        _ = try world.engine.create(id, options: .init(bundle: try world.bundle(), supervisor: .custom { _, _ in 999_999_999 }))
        #expect(try world.engine.state(id).status == .stopped)
        // delete --force still finds and destroys the domain.
        try world.engine.delete(id, force: true)
        #expect(try world.fake.listDomains().isEmpty)
    }

    @Test func deleteForceFindsDomainOfHalfCreatedContainer() throws {
        let world = try World()
        let id = try ContainerID("half")
        // Simulate a create killed after the domain was made but before anything was recorded.
        _ = try world.fake.createDomain(DomainSpec(name: DomainNaming.name(for: id), type: .pv, kernel: "/k"), paused: true)
        try FileSystem.makeDirectories(world.engine.store.directory(id))
        try world.engine.delete(id, force: true)
        #expect(try world.fake.listDomains().isEmpty)
        #expect(!world.engine.store.exists(id))
    }
}
