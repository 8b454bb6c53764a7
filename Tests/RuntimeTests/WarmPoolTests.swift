import FakeHypervisor
import Foundation
import GuestProtocol
import Hypervisor
import OCI
import Runtime
import RunxlBase
import Testing

/// The warm pool over the fake hypervisor: filled to its size, each VM handed to one container
/// of its shape and destroyed with it, never in the way when it cannot serve. The lab proves
/// the same against libxl, with the container's files reaching a running backend.
@Suite struct WarmPoolTests {
    /// Guests whose memory the `memory` annotation sets (64 MiB without), so that two shapes
    /// can be told apart; the command line is the spec's args, as the fake's guests read it.
    struct ShapedPreparer: GuestPreparing {
        func prepare(
            id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
        ) throws(RunxlError) -> PreparedGuest {
            let memory = spec.annotations?["memory"].flatMap { Int($0) } ?? 64
            return PreparedGuest(domain: DomainSpec(
                name: DomainNaming.name(for: id), type: .pv, kernel: "/nonexistent/kernel",
                cmdline: (spec.process?.args ?? []).joined(separator: " "), memoryMiB: memory),
                bootIdentity: "fake boot files")
        }
    }

    final class Calls: @unchecked Sendable {
        private let lock = NSLock()
        private var fills = 0
        private var lines: [String] = []
        func fill() { lock.withLock { fills += 1 } }
        func warn(_ line: String) { lock.withLock { lines.append(line) } }
        var fillRequests: Int { lock.withLock { fills } }
        var warnings: [String] { lock.withLock { lines } }
    }

    struct Setup {
        let directory: String
        let engine: ContainerEngine
        let fake: FakeHypervisor
        let pool: WarmPool
        let calls = Calls()

        init(size: Int = 2) throws {
            directory = NSTemporaryDirectory() + "runxl-warm-\(UUID().uuidString)"
            fake = try FakeHypervisor(directory: directory + "/fake", memoryLimitMiB: 4096)
            engine = ContainerEngine(
                store: StateStore(root: directory + "/root"), hypervisor: fake, hypervisorName: "fake", preparer: ShapedPreparer())
            var pool = WarmPool(directory: directory + "/warm", size: size)
            let calls = calls
            pool.requestFill = { _, _ in calls.fill() }
            self.pool = pool
            engine.warmPool = pool
            engine.warn = { calls.warn($0) }
        }

        func bundle(args: [String] = ["sleep"], memory: Int? = nil) throws -> String {
            let bundle = directory + "/bundle-\(args.joined(separator: "-"))-\(memory ?? 0)"
            try FileManager.default.createDirectory(atPath: bundle + "/rootfs", withIntermediateDirectories: true)
            var config: [String: Any] = ["ociVersion": "1.2.0", "root": ["path": "rootfs"], "process": ["args": args, "cwd": "/"]]
            if let memory { config["annotations"] = ["memory": String(memory)] }
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))
            return bundle
        }

        @discardableResult
        func create(_ name: String, bundle: String) throws -> ContainerRecord {
            try engine.create(
                try ContainerID(name),
                options: .init(bundle: bundle, supervisor: .custom { _, _ throws(RunxlError) in try Processes.spawn("/bin/sleep", ["30"]) }))
        }

        func fill() -> [String] {
            let calls = calls
            return pool.fill(hypervisor: fake, warn: { calls.warn($0) })
        }

        var domainNames: [String] { get throws { try fake.listDomains().map(\.name).sorted() } }

        func slots() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/warm")) ?? []).filter { $0 != "shapes" }.sorted()
        }

        func cleanUp() {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    @Test func aCreateTakesAWarmVMOfItsShapeAndItsDeleteDestroysIt() throws {
        let setup = try Setup()
        defer { setup.cleanUp() }
        let bundle = try setup.bundle()
        // The first create of a shape boots its guest, records the shape and asks for a fill.
        let first = try setup.create("first", bundle: bundle)
        #expect(first.warmSlot == nil)
        #expect(first.domainName == DomainNaming.name(for: try ContainerID("first")))
        #expect(setup.calls.fillRequests == 1)
        let booted = setup.fill()
        #expect(booted.count == 2)
        #expect(setup.pool.list().map(\.state) == ["ready", "ready"])
        // A filler finds the pool full: nothing more boots.
        #expect(setup.fill().isEmpty)

        let second = try setup.create("second", bundle: bundle)
        let slot = try #require(second.warmSlot)
        let name = try #require(second.domainName)
        #expect(name.hasPrefix(WarmPool.domainNamePrefix))
        #expect(booted.contains(name))
        #expect(slot.hasSuffix("/" + name))
        #expect(second.bootedAtCreate == true)
        // Init was told to go on, with a seed of its own, and holds the process at its gate.
        let domain = try #require(second.domainID)
        let seed = try setup.fake.readStore(GuestStore.absolute(HostMessage.Kind.resume.key, domainID: domain.rawValue))
        #expect(seed?.utf8.count == GuestTemplate.seedBytes * 2)
        #expect(try setup.fake.domainInfo(domain)?.state == .running)
        #expect(setup.calls.fillRequests == 2)
        #expect(setup.pool.list().map(\.state).sorted() == ["claimed", "ready"])

        try setup.engine.start(try ContainerID("second"))
        #expect(try setup.engine.state(try ContainerID("second")).status == .running)
        try setup.engine.delete(try ContainerID("second"), force: true)
        #expect(!FileManager.default.fileExists(atPath: slot))
        #expect(try !setup.domainNames.contains(name))
        try setup.engine.delete(try ContainerID("first"), force: true)
        #expect(setup.calls.warnings.isEmpty)
        // The idle one goes with drain, and nothing of the pool is left; the shape is forgotten,
        // so a fill boots nothing until a create records it again.
        #expect(setup.pool.drain(hypervisor: setup.fake).count == 1)
        #expect(try setup.domainNames.isEmpty)
        #expect(setup.slots().isEmpty)
        #expect(setup.fill().isEmpty)
    }

    @Test func aWarmVMServesOnlyItsOwnShapeAndOneContainer() throws {
        let setup = try Setup(size: 1)
        defer { setup.cleanUp() }
        let small = try setup.bundle()
        let large = try setup.bundle(memory: 128)
        try setup.create("seed", bundle: small)
        #expect(setup.fill().count == 1)
        // Another memory size is another shape: it boots, and its shape is recorded for fills.
        let other = try setup.create("other", bundle: large)
        #expect(other.warmSlot == nil)
        let taken = try setup.create("taken", bundle: small)
        #expect(taken.warmSlot != nil)
        // The one warm VM of that shape is gone: the next container boots its guest.
        let next = try setup.create("next", bundle: small)
        #expect(next.warmSlot == nil)
        // A refill asked for one shape boots that one; a plain fill serves every shape recorded.
        let key = try #require(WarmShape(
            container: DomainSpec(name: "x", type: .pv, kernel: "/nonexistent/kernel", cmdline: "sleep", memoryMiB: 128),
            stateDirectory: "/x", bootIdentity: "fake boot files")?.key)
        #expect(setup.pool.fill(only: key, hypervisor: setup.fake, warn: { _ in }).count == 1)
        #expect(setup.fill().count == 1)
        for name in ["seed", "other", "taken", "next"] { try setup.engine.delete(try ContainerID(name), force: true) }
        #expect(setup.pool.drain(hypervisor: setup.fake).count == 2)
        #expect(try setup.domainNames.isEmpty)
        #expect(setup.slots().isEmpty)
    }

    /// A warm VM destroyed behind the pool's back (`xl destroy`) is cleared away at the claim
    /// and the create boots its guest.
    @Test func aWarmVMWhoseDomainIsGoneIsSkipped() throws {
        let setup = try Setup(size: 1)
        defer { setup.cleanUp() }
        let bundle = try setup.bundle()
        try setup.create("seed", bundle: bundle)
        let name = try #require(setup.fill().first)
        try setup.fake.destroy(try #require(try setup.fake.domainID(named: name)))
        let record = try setup.create("after", bundle: bundle)
        #expect(record.warmSlot == nil)
        #expect(record.domainName == DomainNaming.name(for: try ContainerID("after")))
        #expect(setup.slots().isEmpty)
        for id in ["seed", "after"] { try setup.engine.delete(try ContainerID(id), force: true) }
        #expect(try setup.domainNames.isEmpty)
    }

    /// A shape whose warm VM never gets ready (an init that does not know the flag: here a
    /// process that ends at once) is remembered as failed: later fills do not boot it again, and
    /// creates boot their guests.
    @Test func aShapeWhoseWarmVMFailsIsNotTriedAgain() throws {
        let setup = try Setup(size: 1)
        defer { setup.cleanUp() }
        let bundle = try setup.bundle(args: ["fake-exit", "3"])
        try setup.create("seed", bundle: bundle)
        #expect(setup.fill().isEmpty)
        #expect(setup.calls.warnings.contains { $0.contains("ended before it was ready") })
        let failed = try FileManager.default.contentsOfDirectory(atPath: setup.directory + "/warm/shapes").filter { $0.hasSuffix(".failed") }
        #expect(failed.count == 1)
        #expect(setup.slots().isEmpty)
        #expect(setup.fill().isEmpty)
        #expect(setup.calls.warnings.count == 1)
        let record = try setup.create("next", bundle: bundle)
        #expect(record.warmSlot == nil)
        for id in ["seed", "next"] { try setup.engine.delete(try ContainerID(id), force: true) }
        #expect(try setup.domainNames.isEmpty)
    }

    /// A create that fails after it took a warm VM (here its prestart hook) leaves neither the
    /// VM nor its slot.
    @Test func aFailedCreateDestroysTheWarmVMItTook() throws {
        let setup = try Setup(size: 1)
        defer { setup.cleanUp() }
        let bundle = try setup.bundle()
        try setup.create("seed", bundle: bundle)
        let name = try #require(setup.fill().first)
        let hooked = setup.directory + "/bundle-hooked"
        try FileManager.default.createDirectory(atPath: hooked + "/rootfs", withIntermediateDirectories: true)
        let config: [String: Any] = [
            "ociVersion": "1.2.0", "root": ["path": "rootfs"], "process": ["args": ["sleep"], "cwd": "/"],
            "hooks": ["prestart": [["path": "/bin/false"]]],
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: hooked + "/config.json"))
        #expect(throws: RunxlError.self) { try setup.create("hooked", bundle: hooked) }
        #expect(try !setup.domainNames.contains(name))
        #expect(setup.slots().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: setup.directory + "/root/hooked"))
        try setup.engine.delete(try ContainerID("seed"), force: true)
        #expect(try setup.domainNames.isEmpty)
    }

    @Test func onlyAGuestWithoutVifsOrDisksAndWithItsSharesInItsStateHasAShape() {
        let base = DomainSpec(name: "runxl-a", type: .pv, kernel: "/k", cmdline: "c", memoryMiB: 64)
        var shared = base
        shared.shares = [ShareSpec(tag: "runxl-root", path: "/run/runxl/a/share/root")]
        let shape = WarmShape(container: shared, stateDirectory: "/run/runxl/a", bootIdentity: "k")
        #expect(shape?.domain.shares.first?.path == "share/root")
        #expect(shape?.domain.name == "")
        // Another container with the same guest has the same key, whatever its name and state.
        var twin = shared
        twin.name = "runxl-b"
        twin.shares = [ShareSpec(tag: "runxl-root", path: "/run/runxl/b/share/root")]
        #expect(WarmShape(container: twin, stateDirectory: "/run/runxl/b", bootIdentity: "k")?.key == shape?.key)
        var outside = base
        outside.shares = [ShareSpec(tag: "runxl-root", path: "/elsewhere/root")]
        #expect(WarmShape(container: outside, stateDirectory: "/run/runxl/a", bootIdentity: "k") == nil)
        var networked = base
        networked.vifs = [VifSpec()]
        #expect(WarmShape(container: networked, stateDirectory: "/run/runxl/a", bootIdentity: "k") == nil)
        #expect(WarmShape(container: base, stateDirectory: "/x", bootIdentity: "k")?.key
            != WarmShape(container: base, stateDirectory: "/x", bootIdentity: "another kernel")?.key)
        var bigger = base
        bigger.memoryMiB = 128
        #expect(WarmShape(container: bigger, stateDirectory: "/x", bootIdentity: "k")?.key != WarmShape(container: base, stateDirectory: "/x", bootIdentity: "k")?.key)
    }
}
