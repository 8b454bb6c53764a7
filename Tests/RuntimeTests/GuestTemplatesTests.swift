import FakeHypervisor
import Foundation
import GuestProtocol
import Hypervisor
import OCI
import Runtime
import RunxlBase
import Testing

/// VM templates over the fake hypervisor: made once, restored for each create with a fresh seed,
/// and never in the way when they cannot serve. The lab proves the same against libxl.
@Suite struct GuestTemplatesTests {
    /// A share-mode guest as the Xen preparer plans it: its template has the same kernel,
    /// memory and vCPUs, the flag on its command line, and no devices.
    struct TemplatePreparer: GuestPreparing {
        var imagePath: String
        var templateCommandLine = "fake-run " + GuestTemplate.commandLineFlag

        func prepare(
            id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
        ) throws(RunxlError) -> PreparedGuest {
            let kernel = "/nonexistent/kernel"
            return PreparedGuest(
                domain: DomainSpec(name: DomainNaming.name(for: id), type: .pv, kernel: kernel, cmdline: "fake-run", memoryMiB: 64),
                template: TemplatePlan(
                    domain: DomainSpec(name: "runxl-template-test", type: .pv, kernel: kernel, cmdline: templateCommandLine, memoryMiB: 64),
                    imagePath: imagePath))
        }
    }

    final class Warnings: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ line: String) { lock.withLock { lines.append(line) } }
        var all: [String] { lock.withLock { lines } }
    }

    struct Setup {
        let directory: String
        let engine: ContainerEngine
        let fake: FakeHypervisor
        let warnings = Warnings()
        var imagePath: String { directory + "/cache/templates/template-test.xen-save" }

        init(templateCommandLine: String? = nil) throws {
            directory = NSTemporaryDirectory() + "runxl-template-\(UUID().uuidString)"
            fake = try FakeHypervisor(directory: directory + "/fake", memoryLimitMiB: 1024)
            var preparer = TemplatePreparer(imagePath: directory + "/cache/templates/template-test.xen-save")
            if let templateCommandLine { preparer.templateCommandLine = templateCommandLine }
            engine = ContainerEngine(store: StateStore(root: directory + "/root"), hypervisor: fake, hypervisorName: "fake", preparer: preparer)
            let warnings = warnings
            engine.warn = { warnings.add($0) }
            let bundle = directory + "/bundle"
            try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
            let config: [String: Any] = ["ociVersion": "1.2.0", "root": ["path": "rootfs"], "process": ["args": ["sleep"], "cwd": "/"]]
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        }

        func create(_ name: String) throws -> ContainerRecord {
            try engine.create(
                try ContainerID(name),
                options: .init(bundle: directory + "/bundle", supervisor: .custom { _, _ throws(RunxlError) in try Processes.spawn("/bin/sleep", ["30"]) }))
        }

        func resumeSeed(_ record: ContainerRecord) throws -> String? {
            let domain = try #require(record.domainID)
            return try fake.readStore(GuestStore.absolute(HostMessage.Kind.resume.key, domainID: domain.rawValue))
        }

        func wasRestored(_ record: ContainerRecord) throws -> Bool {
            try fake.readStore("/fake/\(try #require(record.domainID))/restored") == "1"
        }

        func removeAll(_ names: [String]) throws {
            for name in names { try engine.delete(try ContainerID(name), force: true) }
            #expect(try fake.listDomains().isEmpty)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func theFirstCreateMakesTheTemplateAndEachCreateRestoresItWithItsOwnSeed() throws {
        let setup = try Setup()
        let first = try setup.create("one")
        #expect(FileManager.default.fileExists(atPath: setup.imagePath))
        // The template's own domain was saved and destroyed: only the container's is left.
        #expect(try setup.fake.listDomains().map(\.name) == [DomainNaming.name(for: try ContainerID("one"))])
        #expect(try setup.wasRestored(first))
        let second = try setup.create("two")
        #expect(try setup.wasRestored(second))
        let seeds = [try setup.resumeSeed(first), try setup.resumeSeed(second)]
        #expect(seeds.allSatisfy { $0?.utf8.count == GuestTemplate.seedBytes * 2 })
        #expect(seeds[0] != seeds[1])
        // The restored guest went on past the resume: its process is made and held at the gate.
        try setup.engine.start(try ContainerID("one"))
        #expect(try setup.engine.state(try ContainerID("one")).status == .running)
        #expect(setup.warnings.all.isEmpty)
        try setup.removeAll(["one", "two"])
        #expect(!FileManager.default.fileExists(atPath: setup.imagePath + ".failed"))
    }

    @Test func aSavedImageThatDoesNotRestoreIsRemovedAndTheGuestBoots() throws {
        let setup = try Setup()
        try FileManager.default.createDirectory(atPath: setup.directory + "/cache/templates", withIntermediateDirectories: true)
        try Data("not a saved guest".utf8).write(to: URL(fileURLWithPath: setup.imagePath))
        let record = try setup.create("one")
        #expect(try !setup.wasRestored(record))
        #expect(try setup.resumeSeed(record) == nil)
        #expect(!FileManager.default.fileExists(atPath: setup.imagePath))
        #expect(setup.warnings.all.contains { $0.contains("did not restore") && $0.contains(setup.imagePath) })
        // The next create makes a new template.
        let next = try setup.create("two")
        #expect(try setup.wasRestored(next))
        try setup.removeAll(["one", "two"])
    }

    /// An init that does not know templates (here one whose process ends at once) never reports
    /// ready: the create boots its guest, and the failure is kept so that the next create does
    /// not pay a template boot again.
    @Test func aTemplateThatNeverGetsReadyIsRememberedAndGuestsBoot() throws {
        let setup = try Setup(templateCommandLine: "fake-exit 3")
        let first = try setup.create("one")
        #expect(try !setup.wasRestored(first))
        let failure = try String(contentsOfFile: setup.imagePath + ".failed", encoding: .utf8)
        #expect(failure.contains("ended before it was ready"))
        #expect(!FileManager.default.fileExists(atPath: setup.imagePath))
        let second = try setup.create("two")
        #expect(try !setup.wasRestored(second))
        // No template domain was made in between: the ids are consecutive.
        #expect(try #require(second.domainID).rawValue == (try #require(first.domainID).rawValue) + 1)
        #expect(setup.warnings.all.count == 2)
        #expect(setup.warnings.all.last?.contains("failed before") == true)
        // Nothing of the template is left: no domain, no partial image.
        #expect(try setup.fake.listDomains().count == 2)
        let names = try FileManager.default.contentsOfDirectory(atPath: setup.directory + "/cache/templates")
        #expect(names.allSatisfy { !$0.contains(FileSystem.temporarySuffix) })
        try setup.removeAll(["one", "two"])
    }
}
