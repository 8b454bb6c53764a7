import GuestProtocol
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
/// init obeys runxl's protocol (`HostMessage`, `GuestReport`): a signal request ends the
/// "process" with that signal, as the real runxl-init does for a process that does not handle it.
/// Given a `guestProgram`, each domain also gets a console held by a `FakeGuest` process, which
/// speaks init's side of the console protocol. Failure injection:
/// a guest whose command line starts with `fake-exit N` ends with exit code N when unpaused;
/// a `DomainSpec.kernel` path containing `fail-create` fails creation after the domain was
/// allocated (proving cleanup), and memory above `memoryLimitMiB` fails like Xen out of memory.
public final class FakeHypervisor: Hypervisor, @unchecked Sendable {
    public let directory: String
    public let memoryLimitMiB: Int
    /// The program (and its first arguments) started for each domain as its `FakeGuest`, with
    /// the directory and the domain id after them; nil: domains have no console.
    public let guestProgram: [String]?

    struct World: Codable {
        var nextID: UInt32 = 1
        var domains: [UInt32: DomainInfo] = [:]
        var store: [String: String] = [:]
    }

    public init(directory: String, memoryLimitMiB: Int = 65536, guestProgram: [String]? = nil) throws(RunxlError) {
        self.directory = directory
        self.memoryLimitMiB = memoryLimitMiB
        self.guestProgram = guestProgram
        try FileSystem.makeDirectories(directory)
    }

    private var worldPath: String { "\(directory)/world.json" }

    /// `changes` false: a look that writes nothing back, for the calls that only read.
    private func withWorld<T>(changes: Bool = true, _ body: (inout World) throws(RunxlError) -> T) throws(RunxlError) -> T {
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
        guard changes else { return result }
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
        // Built paused, then unpaused as libxl does: the simulated init runs from `unpause`.
        let domain = try allocateDomain(spec, paused: true)
        do {
            if let guestProgram, let program = guestProgram.first {
                _ = try Processes.spawn(
                    program, Array(guestProgram.dropFirst()) + [directory, String(domain.rawValue)], detachStandardStreams: true)
            }
            if !paused { try unpause(domain) }
        } catch {
            try? destroy(domain)
            throw error
        }
        return domain
    }

    /// A saved image is the guest's command line, memory and vCPUs as JSON; a restore checks
    /// them against the spec as Xen would refuse a mismatched memory size, and the copy's
    /// simulated init waits for `HostMessage.resumeFromTemplate` before it goes on.
    public func restoreDomain(_ spec: DomainSpec, from path: String, paused: Bool) throws(RunxlError) -> DomainID {
        let saved: SavedGuest
        do {
            saved = try JSONValue.parse(try FileSystem.read(path)).decoded(as: SavedGuest.self)
        } catch {
            throw RunxlError(.hypervisorFailed, "cannot restore domain '\(spec.name)': \(path) is no saved guest", cause: error)
        }
        guard saved.memoryMiB == spec.memoryMiB, saved.vcpus == spec.vcpus else {
            throw RunxlError(.invalidDomainConfig, "cannot restore domain '\(spec.name)': the saved guest has other memory or vCPUs")
        }
        let domain = try createDomain(spec, paused: true)
        do {
            try writeStore("/fake/\(domain)/restored", "1")
            if !paused { try unpause(domain) }
        } catch {
            try? destroy(domain)
            throw error
        }
        return domain
    }

    public func saveDomain(_ domain: DomainID, to path: String) throws(RunxlError) {
        guard let info = try domainInfo(domain) else { throw Self.notFound(domain) }
        let saved = SavedGuest(cmdline: try readStore("/fake/\(domain)/cmdline") ?? "", memoryMiB: Int(info.memoryKiB / 1024), vcpus: info.vcpus)
        do {
            try FileSystem.writeAtomically(path, try JSONValue.encoding(saved).serialized(pretty: false))
        } catch let error as RunxlError {
            throw error
        } catch {
            throw RunxlError(.internal, "cannot encode a saved fake guest", cause: error)
        }
        try destroy(domain)
    }

    struct SavedGuest: Codable {
        var cmdline: String
        var memoryMiB: Int
        var vcpus: Int
    }

    private func allocateDomain(_ spec: DomainSpec, paused: Bool) throws(RunxlError) -> DomainID {
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
                memoryKiB: UInt64(spec.memoryMiB) * 1024, vcpus: spec.vcpus,
                maxMemoryKiB: UInt64(spec.maxMemoryMiB ?? spec.memoryMiB) * 1024)
            world.store["/fake/\(id)/cmdline"] = spec.cmdline
            world.store["/fake/\(id)/maxvcpus"] = String(spec.maxVcpus ?? spec.vcpus)
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
            if Self.commandLineWords(domain, world).contains(Substring(GuestTemplate.commandLineFlag)) {
                // A template's init stops before any container, to be saved.
                Self.report(.templateReady, domain, &world)
                return
            }
            if Self.commandLineWords(domain, world).contains(Substring(GuestTemplate.warmFlag)),
                world.store["/fake/\(domain)/warm"] == nil
            {
                // A warm VM's init waits for a container, as a restored copy does below; one
                // whose guest ends at once (`fake-exit N`) never gets there.
                if Self.commandLineWords(domain, world).first == "fake-exit" {
                    Self.runFakeProcess(domain, &info, &world)
                    return
                }
                Self.report(.templateReady, domain, &world)
                world.store["/fake/\(domain)/warm"] = "1"
                return
            }
            // A restored copy's init, and a warm VM's, go on only once the host says which
            // container it is.
            let waitsForResume = world.store["/fake/\(domain)/restored"] == "1" || world.store["/fake/\(domain)/warm"] == "1"
            if waitsForResume, Self.message(.resume, domain, world) == nil { return }
            // A guest booted by create holds its process until start opens the gate.
            // Init has made the process, held at its gate or not.
            Self.report(.ready(pid: 1), domain, &world)
            guard Self.message(.start, domain, world) != .holdAtGate else { return }
            Self.runFakeProcess(domain, &info, &world)
        }
    }

    /// The words of the domain's command line, which the simulated guest takes its orders from.
    private static func commandLineWords(_ domain: DomainID, _ world: World) -> [Substring] {
        (world.store["/fake/\(domain)/cmdline"] ?? "").split(separator: " ")
    }

    /// The simulated process: `fake-exit N` ends at once with N; anything else runs on (and a
    /// `FakeGuest`, when there is one, plays it).
    private static func runFakeProcess(_ domain: DomainID, _ info: inout DomainInfo, _ world: inout World) {
        world.store["/fake/\(domain)/process"] = "running"
        let words = commandLineWords(domain, world).filter { $0 != Substring(GuestTemplate.warmFlag) }
        if words.count == 2, words[0] == "fake-exit", let code = Int32(words[1]) {
            end(domain, .exited(code), &info, &world)
        }
    }

    /// What init does when the process is gone: report its status and power off.
    private static func end(_ domain: DomainID, _ status: GuestExitStatus, _ info: inout DomainInfo, _ world: inout World) {
        report(.exit(status), domain, &world)
        info.state = .shutdown
        info.shutdownReason = .poweroff
    }

    private static func report(_ report: GuestReport, _ domain: DomainID, _ world: inout World) {
        world.store[GuestStore.absolute(report.kind.key, domainID: domain.rawValue)] = report.value
    }

    private static func message(_ kind: HostMessage.Kind, _ domain: DomainID, _ world: World) -> HostMessage? {
        world.store[GuestStore.absolute(kind.key, domainID: domain.rawValue)].flatMap { try? HostMessage.decode(kind, $0) }
    }

    public func pause(_ domain: DomainID) throws(RunxlError) {
        try update(domain) { info, _ in if info.state == .running { info.state = .paused } }
    }

    /// The fake's balloon reaches its target at once.
    public func setMemoryTarget(_ domain: DomainID, mebibytes: Int) throws(RunxlError) {
        try withWorld { (world: inout World) throws(RunxlError) in
            guard var info = world.domains[domain.rawValue] else { throw Self.notFound(domain) }
            let ceiling = info.maxMemoryKiB ?? info.memoryKiB
            guard mebibytes > 0, UInt64(mebibytes) * 1024 <= ceiling else {
                throw RunxlError(.invalidDomainConfig, "memory target \(mebibytes) MiB is above domain \(domain)'s \(ceiling / 1024) MiB")
            }
            info.memoryKiB = UInt64(mebibytes) * 1024
            world.domains[domain.rawValue] = info
        }
    }

    public func setAvailableVcpus(_ domain: DomainID, count: Int) throws(RunxlError) {
        try withWorld { (world: inout World) throws(RunxlError) in
            guard var info = world.domains[domain.rawValue] else { throw Self.notFound(domain) }
            let ceiling = Int(world.store["/fake/\(domain)/maxvcpus"] ?? "") ?? info.vcpus
            guard count >= 1, count <= ceiling else {
                throw RunxlError(.invalidDomainConfig, "\(count) vCPUs is above domain \(domain)'s \(ceiling)")
            }
            info.vcpus = count
            world.domains[domain.rawValue] = info
        }
    }

    public func shutdown(_ domain: DomainID) throws(RunxlError) {
        try update(domain) { info, world in Self.end(domain, .signaled(15), &info, &world) }
    }

    public func destroy(_ domain: DomainID) throws(RunxlError) {
        try withWorld { (world: inout World) throws(RunxlError) in
            world.domains[domain.rawValue] = nil
            let prefixes = ["/local/domain/\(domain)/", "/fake/\(domain)/", "/local/domain/0/backend/vif/\(domain)/"]
            world.store = world.store.filter { entry in !prefixes.contains { entry.key.hasPrefix($0) } }
        }
    }

    public func listDomains() throws(RunxlError) -> [DomainInfo] {
        try withWorld(changes: false) { (world: inout World) throws(RunxlError) in
            world.domains.values.sorted { $0.id.rawValue < $1.id.rawValue }
        }
    }

    public func domainInfo(_ domain: DomainID) throws(RunxlError) -> DomainInfo? {
        try withWorld(changes: false) { (world: inout World) throws(RunxlError) in world.domains[domain.rawValue] }
    }

    public func domainID(named name: String) throws(RunxlError) -> DomainID? {
        try withWorld(changes: false) { (world: inout World) throws(RunxlError) in
            world.domains.values.first { $0.name == name }?.id
        }
    }

    /// The replica its `FakeGuest` published; without a guest program, none.
    public func consolePath(_ domain: DomainID) throws(RunxlError) -> String {
        guard guestProgram != nil else { throw RunxlError(.unsupported, "the fake hypervisor has no consoles") }
        guard let path = try waitForStoreKey("/fake/\(domain)/console", timeoutSeconds: Self.consoleWaitSeconds) else {
            throw RunxlError(.io, "the fake guest of domain \(domain) published no console within \(Self.consoleWaitSeconds) s")
        }
        return path
    }

    static let consoleWaitSeconds = 10.0

    public func storePath(_ domain: DomainID) throws(RunxlError) -> String { "/local/domain/\(domain)" }

    public func readStore(_ path: String) throws(RunxlError) -> String? {
        try withWorld(changes: false) { (world: inout World) throws(RunxlError) in world.store[path] }
    }

    public func writeStore(_ path: String, _ value: String) throws(RunxlError) {
        try withWorld { (world: inout World) throws(RunxlError) in
            world.store[path] = value
            // The simulated init answers two messages to a live domain.
            guard let domain = UInt32(path.split(separator: "/").dropFirst(2).first ?? ""), var info = world.domains[domain],
                path.hasPrefix(GuestStore.domainPath(of: domain) + "/"),
                let message = try? HostMessage.decode(key: path, value)
            else { return }
            switch message {
            case .releaseGate:
                // start opens the gate of a guest booted by create: the process runs.
                guard info.state == .running else { return }
                Self.report(.started(execSucceeded: true), DomainID(domain), &world)
                Self.runFakeProcess(DomainID(domain), &info, &world)
            case .signal(let request):
                // A signal request ends the process with that signal.
                Self.end(DomainID(domain), .signaled(request.signal), &info, &world)
            default:
                return
            }
            world.domains[domain] = info
        }
    }

    /// What a `FakeGuest` sees of its domain; nil once the domain is gone.
    struct GuestView {
        var exit: GuestExitStatus?
        var processRunning: Bool
        var arguments: [String]
    }

    func guestView(_ domain: DomainID) throws(RunxlError) -> GuestView? {
        try withWorld(changes: false) { (world: inout World) throws(RunxlError) -> GuestView? in
            guard world.domains[domain.rawValue] != nil else { return nil }
            let exit = world.store[GuestStore.absolute(GuestReport.Kind.exit.key, domainID: domain.rawValue)]
            return GuestView(
                exit: exit.flatMap { try? GuestExitStatus.decode($0) },
                processRunning: world.store["/fake/\(domain)/process"] == "running",
                arguments: Self.commandLineWords(domain, world).map(String.init))
        }
    }

    func publishConsole(_ domain: DomainID, path: String) throws(RunxlError) {
        try writeStore("/fake/\(domain)/console", path)
    }

    /// The guest's process ended: init's report and power-off.
    func guestExited(_ domain: DomainID, _ status: GuestExitStatus) throws(RunxlError) {
        try update(domain) { info, world in Self.end(domain, status, &info, &world) }
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
