import JSON
public import Hypervisor
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// A hypervisor double whose domains live in one JSON file under a lock, so that the many
/// runxl processes of a CLI test share them as they would share a real Xen host.
///
/// It models what the layers above rely on: ids, pause state, xenstore keys, and a guest whose
/// init obeys runxl's protocol: a signal written to its signal key ends the "process" with that
/// signal, as the real runxl-init does for a process that does not handle it. Failure injection:
/// a guest whose command line starts with `fake-exit N` ends with exit code N when unpaused;
/// a `DomainSpec.kernel` path containing `fail-create` fails creation after the domain was
/// allocated (proving cleanup), and memory above `memoryLimitMiB` fails like Xen out of memory.
public final class FakeHypervisor: Hypervisor, @unchecked Sendable {
    public let directory: String
    public let memoryLimitMiB: Int

    struct World: Codable {
        var nextID: UInt32 = 1
        var domains: [UInt32: DomainInfo] = [:]
        var store: [String: String] = [:]
    }

    public init(directory: String, memoryLimitMiB: Int = 65536) throws(RunxlError) {
        self.directory = directory
        self.memoryLimitMiB = memoryLimitMiB
        try FileSystem.makeDirectories(directory)
    }

    private var worldPath: String { "\(directory)/world.json" }

    private func withWorld<T>(_ body: (inout World) throws(RunxlError) -> T) throws(RunxlError) -> T {
        let lock = try FileLock(path: "\(directory)/world.lock")
        defer { lock.unlock() }
        var world = World()
        if FileSystem.exists(worldPath) {
            do {
                world = try JSONValue.parse(try FileSystem.read(worldPath)).decoded(as: World.self)
            } catch {
                throw RunxlError(.invalidDocument, "fake hypervisor state \(worldPath) is unreadable", cause: error)
            }
        }
        let result = try body(&world)
        do {
            try FileSystem.writeAtomically(worldPath, try JSONValue.encoding(world).serialized(pretty: false))
        } catch let error as RunxlError {
            throw error
        } catch {
            throw RunxlError(.internal, "cannot encode fake hypervisor state", cause: error)
        }
        return result
    }

    private static func notFound(_ domain: DomainID) -> RunxlError {
        RunxlError(.domainNotFound, "domain \(domain) does not exist")
    }

    public func createDomain(_ spec: DomainSpec, paused: Bool) throws(RunxlError) -> DomainID {
        try withWorld { (world: inout World) throws(RunxlError) -> DomainID in
            if world.domains.values.contains(where: { $0.name == spec.name }) {
                throw RunxlError(.invalidDomainConfig, "a domain named \(spec.name) already exists")
            }
            let used = world.domains.values.reduce(0) { $0 + Int($1.memoryKiB / 1024) }
            if used + spec.memoryMiB > memoryLimitMiB {
                throw RunxlError(.outOfMemory, "not enough free memory for \(spec.memoryMiB) MiB")
            }
            if spec.kernel.contains("fail-create") {
                throw RunxlError(.guestBootFailed, "kernel \(spec.kernel) failed to load")
            }
            let id = world.nextID
            world.nextID += 1
            world.domains[id] = DomainInfo(
                id: DomainID(id), name: spec.name, state: paused ? .paused : .running,
                memoryKiB: UInt64(spec.memoryMiB) * 1024, vcpus: spec.vcpus)
            world.store["/fake/\(id)/cmdline"] = spec.cmdline
            // What libxl would get as `vif = [...]`, for tests of the layers that add vifs.
            world.store["/fake/\(id)/vifs"] = spec.vifs.map { "mac=\($0.mac ?? ""),vifname=\($0.backendName ?? "")" }.joined(separator: " ")
            // libxl links each frontend to its backend directory the same way.
            for device in spec.vifs.indices {
                world.store["/local/domain/\(id)/device/vif/\(device)/backend"] = "/local/domain/0/backend/vif/\(id)/\(device)"
            }
            return DomainID(id)
        }
    }

    private func update(_ domain: DomainID, _ change: (inout DomainInfo, inout World) -> Void) throws(RunxlError) {
        try withWorld { (world: inout World) throws(RunxlError) in
            guard var info = world.domains[domain.rawValue] else { throw Self.notFound(domain) }
            change(&info, &world)
            world.domains[domain.rawValue] = info
        }
    }

    public func unpause(_ domain: DomainID) throws(RunxlError) {
        try update(domain) { info, world in
            guard info.state == .paused else { return }
            info.state = .running
            // A guest booted by create holds its process until start opens the gate.
            guard world.store["/local/domain/\(domain)/data/runxl/start"] != "wait" else { return }
            Self.runFakeProcess(domain, &info, &world)
        }
    }

    /// The simulated process: `fake-exit N` ends at once with N; anything else runs on.
    private static func runFakeProcess(_ domain: DomainID, _ info: inout DomainInfo, _ world: inout World) {
        let words = (world.store["/fake/\(domain)/cmdline"] ?? "").split(separator: " ")
        if words.count == 2, words[0] == "fake-exit", let code = Int32(words[1]) {
            world.store["/local/domain/\(domain)/data/runxl/exit"] = "exited:\(code)"
            info.state = .shutdown
            info.shutdownReason = .poweroff
        }
    }

    public func pause(_ domain: DomainID) throws(RunxlError) {
        try update(domain) { info, _ in if info.state == .running { info.state = .paused } }
    }

    public func shutdown(_ domain: DomainID) throws(RunxlError) {
        try update(domain) { info, world in
            info.state = .shutdown
            info.shutdownReason = .poweroff
            world.store["/local/domain/\(domain)/data/runxl/exit"] = "signaled:15"
        }
    }

    public func destroy(_ domain: DomainID) throws(RunxlError) {
        try withWorld { (world: inout World) throws(RunxlError) in
            world.domains[domain.rawValue] = nil
            let prefixes = ["/local/domain/\(domain)/", "/fake/\(domain)/", "/local/domain/0/backend/vif/\(domain)/"]
            world.store = world.store.filter { entry in !prefixes.contains { entry.key.hasPrefix($0) } }
        }
    }

    public func listDomains() throws(RunxlError) -> [DomainInfo] {
        try withWorld { (world: inout World) throws(RunxlError) in
            world.domains.values.sorted { $0.id.rawValue < $1.id.rawValue }
        }
    }

    public func domainInfo(_ domain: DomainID) throws(RunxlError) -> DomainInfo? {
        try withWorld { (world: inout World) throws(RunxlError) in world.domains[domain.rawValue] }
    }

    public func domainID(named name: String) throws(RunxlError) -> DomainID? {
        try withWorld { (world: inout World) throws(RunxlError) in
            world.domains.values.first { $0.name == name }?.id
        }
    }

    public func consolePath(_ domain: DomainID) throws(RunxlError) -> String {
        throw RunxlError(.unsupported, "the fake hypervisor has no consoles")
    }

    public func storePath(_ domain: DomainID) throws(RunxlError) -> String { "/local/domain/\(domain)" }

    public func readStore(_ path: String) throws(RunxlError) -> String? {
        try withWorld { (world: inout World) throws(RunxlError) in world.store[path] }
    }

    public func writeStore(_ path: String, _ value: String) throws(RunxlError) {
        try withWorld { (world: inout World) throws(RunxlError) in
            world.store[path] = value
            // The simulated init answers two keys of a live domain.
            guard let domain = UInt32(path.split(separator: "/").dropFirst(2).first ?? ""), var info = world.domains[domain]
            else { return }
            if path.hasSuffix("/data/runxl/start") {
                // start opens the gate of a guest booted by create: the process runs.
                guard value == "go", info.state == .running else { return }
                world.store["/local/domain/\(domain)/data/runxl/started"] = "exec"
                Self.runFakeProcess(DomainID(domain), &info, &world)
            } else if path.hasSuffix("/data/runxl/signal"), let separator = value.lastIndex(of: ":"),
                let signal = Int32(value[value.index(after: separator)...])
            {
                // A signal request ends the process with that signal.
                world.store["/local/domain/\(domain)/data/runxl/exit"] = "signaled:\(signal)"
                info.state = .shutdown
                info.shutdownReason = .poweroff
            } else {
                return
            }
            world.domains[domain] = info
        }
    }

    public func waitForStoreKey(_ path: String, timeoutSeconds: Double?) throws(RunxlError) -> String? {
        let deadline = timeoutSeconds.map { Clock.monotonicSeconds() + $0 }
        while true {
            if let value = try readStore(path) { return value }
            if let deadline, Clock.monotonicSeconds() > deadline { return nil }
            usleep(20_000)
        }
    }

    /// Polls: the fake has no event channel. The real backend waits on libxl events.
    public func waitForEnd(_ domain: DomainID, timeoutSeconds: Double?) throws(RunxlError) -> DomainEnd {
        let deadline = timeoutSeconds.map { Clock.monotonicSeconds() + $0 }
        while true {
            guard let info = try domainInfo(domain) else { return .gone }
            if info.state == .shutdown { return .shutdown(info.shutdownReason ?? .unknown(-1)) }
            if let deadline, Clock.monotonicSeconds() > deadline { return .timedOut }
            usleep(20_000)
        }
    }
}
