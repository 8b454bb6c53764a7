import GuestProtocol
public import Hypervisor
import JSON
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The part of a container's domain that a warm VM must have been booted with (issue 17's
/// pre-created domains, docs/fast-start.md): kernel, initramfs, command line, memory, vCPUs and
/// ceilings, and the 9pfs shares by their place in the state directory. Only a guest that a
/// running VM can take qualifies: no vif (libxl cannot hand a running guest a namespace's
/// network here), no disk, every share inside the container's state directory.
public struct WarmShape: Codable, Sendable, Equatable {
    /// The container's domain with no name, its shares' paths relative to a slot.
    public var domain: DomainSpec
    /// Names the shape's warm VMs: the domain above and the identity of its kernel and initramfs
    /// files, so a new kernel or runxl-init never hands out a VM booted with the old one.
    public var key: String

    /// `bootIdentity`: the kernel's and initramfs's (`PreparedGuest.bootIdentity`).
    public init?(container: DomainSpec, stateDirectory: String, bootIdentity: String) {
        let prefix = stateDirectory + "/"
        guard container.vifs.isEmpty, container.disks.isEmpty, container.shares.allSatisfy({ $0.path.hasPrefix(prefix) }) else {
            return nil
        }
        var domain = container
        domain.name = ""
        domain.shares = container.shares.map { ShareSpec(tag: $0.tag, path: String($0.path.dropFirst(prefix.count))) }
        self.domain = domain
        var hasher = SHA256()
        hasher.update("runxl warm VM 1\0\(domain.type.rawValue)\0\(domain.cmdline)\0\(domain.memoryMiB)\0\(domain.vcpus)\0")
        hasher.update("\(domain.maxMemoryMiB ?? 0)\0\(domain.maxVcpus ?? 0)\0")
        for share in domain.shares { hasher.update("share\0\(share.tag)\0\(share.path)\0") }
        hasher.update("boot files\0\(domain.kernel)\0\(domain.ramdisk ?? "")\0\(bootIdentity)\0")
        key = String(hasher.finalizeHex().prefix(32))
    }

    /// What dom0 binds into a warm VM's running backend to hand it container `stateDirectory`'s
    /// files: each share directory the container's guest would have had, then each of its own
    /// host mounts (the rootfs, the binds), all moved from the state directory to `slot`.
    func mounts(adopting hostMounts: [HostMount], stateDirectory: String, slot: String) -> [HostMount] {
        let targets = Set(hostMounts.map(\.target))
        var mounts: [HostMount] = []
        for share in domain.shares {
            let own = stateDirectory + "/" + share.path
            // The rootfs's share is a host mount's target already; the control share is a plain
            // directory of the container's (its process file, its binds' mount points).
            if !targets.contains(own) {
                mounts.append(HostMount(source: own, target: slot + "/" + share.path, readOnly: false, recursive: false))
            }
        }
        return mounts + WarmPool.moved(hostMounts, from: stateDirectory, to: slot)
    }
}

/// A warm VM handed to one container: the pool's slot directory (which its shares serve) and
/// the running domain.
public struct WarmVM: Sendable, Equatable {
    public let name: String
    public let slot: String
    public let domain: DomainID
}

/// Pre-booted guests (issue 17's lever 3, docs/fast-start.md): with `"warmPool": N` in the host
/// config, runxl keeps up to N guests of each shape it has seen booted to the point where
/// runxl-init waits for a container (`GuestTemplate.warmFlag`). A create whose guest has that
/// shape takes one (`claim`): dom0 binds the container's rootfs and control directory over the
/// VM's share directories in its running 9pfs backend, tells init to go on, and the kernel's
/// boot is skipped. A background `runxl warm fill` boots the replacement.
///
/// Each warm VM has a slot directory `<directory>/<domain name>` holding its share directories
/// and one marker: `booting` (the filler's pid while it boots), `ready` (idle), or `claimed`
/// (a container's: `owner` names its state directory, and its delete removes the slot). A claim
/// is the rename of `ready` to `claimed`, which exactly one process wins.
///
/// A warm VM is never given to a second container: the one that took it destroys it at delete,
/// as any container's VM.
public struct WarmPool: Sendable {
    /// Under /run: a warm VM does not outlive the host's boot, and neither does its slot.
    public static let defaultDirectory = "/run/runxl-warm"
    public static let domainNamePrefix = "runxl-warm-"
    static let shapesDirectoryName = "shapes"
    static let readyMarker = "ready"
    static let claimedMarker = "claimed"
    static let bootingMarker = "booting"
    static let ownerFile = "owner"
    /// A claimed slot whose claimer never wrote its owner within this long died in between.
    static let claimGraceSeconds = 60

    public let directory: String
    /// The warm VMs kept per shape.
    public let size: Int
    /// How long a warm VM may take to boot to init's ready report.
    public var bootTimeoutSeconds = 120.0
    /// Starts a filler in the background (the CLI spawns `runxl warm fill`); create calls it
    /// when it leaves its shape short, with its container's domain, whose start the filler lets
    /// pass first (`waitForStart`), and the shape's key: only a shape in use is refilled, never
    /// one a new kernel or runxl-init left behind.
    public var requestFill: @Sendable (DomainID, String) -> Void = { _, _ in }
    /// How long a filler lets a container's start go first at most.
    public static let startWaitSeconds = 60.0

    public init(directory: String = Self.defaultDirectory, size: Int) {
        self.directory = directory
        self.size = size
    }

    var shapesDirectory: String { directory + "/" + Self.shapesDirectoryName }

    /// Records `shape`, so that fillers know what to boot.
    func remember(_ shape: WarmShape) throws(RunxlError) {
        let path = "\(shapesDirectory)/\(shape.key).json"
        guard !FileSystem.exists(path) else { return }
        try FileSystem.makeDirectories(shapesDirectory, mode: 0o700)
        let bytes: [UInt8]
        do {
            bytes = try JSONValue.encoding(shape).serialized(pretty: true)
        } catch {
            throw RunxlError(.internal, "cannot encode a warm VM shape", cause: error)
        }
        try FileSystem.writeAtomically(path, bytes, mode: 0o600)
    }

    /// The recorded shapes, by key.
    func shapes() -> [WarmShape] {
        guard let names = try? FileSystem.listDirectory(shapesDirectory) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            guard let bytes = try? FileSystem.read("\(shapesDirectory)/\(name)", limit: 1 << 20) else { return nil }
            return try? JSONValue.parse(bytes).decoded(as: WarmShape.self)
        }
    }

    private func namePrefix(_ key: String) -> String { Self.domainNamePrefix + key.prefix(16) + "-" }

    private func slots(of key: String?) -> [String] {
        guard let names = try? FileSystem.listDirectory(directory) else { return [] }
        return names.filter { $0.hasPrefix(key.map(namePrefix) ?? Self.domainNamePrefix) }
    }

    /// Idle and booting warm VMs of `key`: what a filler need not boot again.
    func available(_ key: String) -> Int {
        slots(of: key).filter { name in
            let slot = directory + "/" + name
            return FileSystem.exists(slot + "/" + Self.readyMarker) || fillerAlive(slot)
        }.count
    }

    private func fillerAlive(_ slot: String) -> Bool {
        guard let bytes = try? FileSystem.read(slot + "/" + Self.bootingMarker, limit: 64),
            let pid = Int32(String(decoding: bytes, as: UTF8.self))
        else { return false }
        return Processes.isAlive(pid, startTime: nil)
    }

    /// An idle warm VM of `shape`, now `owner`'s (the container's state directory); nil when
    /// there is none. A VM whose domain is gone is cleared away and the next one tried.
    public func claim(_ shape: WarmShape, owner: String, hypervisor: any Hypervisor) -> WarmVM? {
        for name in slots(of: shape.key) {
            let slot = directory + "/" + name
            guard rename(slot + "/" + Self.readyMarker, slot + "/" + Self.claimedMarker) == 0 else { continue }
            guard (try? FileSystem.writeAtomically(slot + "/" + Self.ownerFile, Array(owner.utf8), mode: 0o600)) != nil,
                let domain = try? hypervisor.domainID(named: name)
            else {
                if let domain = try? hypervisor.domainID(named: name) { try? hypervisor.destroy(domain) }
                try? FileSystem.removeTree(slot)
                continue
            }
            return WarmVM(name: name, slot: slot, domain: domain)
        }
        return nil
    }

    /// Boots warm VMs until each recorded shape (or only shape `key`) has `size` idle or booting;
    /// one filler per shape at a time (others return at once). A shape whose VM fails to boot is
    /// not tried again until its `.failed` file is removed: every create would otherwise pay for
    /// a boot that fails. The names of the VMs made.
    @discardableResult
    public func fill(only key: String? = nil, hypervisor: any Hypervisor, warn: @Sendable (String) -> Void) -> [String] {
        var made: [String] = []
        for shape in shapes() where size > 0 && (key == nil || shape.key == key) {
            let failure = "\(shapesDirectory)/\(shape.key).failed"
            guard !FileSystem.exists(failure) else { continue }
            guard let lock = try? FileLock(path: "\(shapesDirectory)/\(shape.key).lock", timeoutSeconds: 0) else { continue }
            defer { lock.unlock() }
            while available(shape.key) < size {
                do {
                    made.append(try boot(shape, hypervisor: hypervisor))
                } catch {
                    warn("a warm VM of shape \(shape.key) did not boot (\(failure) keeps it from being tried again): \(error)")
                    if error.code == .guestBootFailed || error.code == .timeout {
                        try? FileSystem.writeAtomically(failure, Array("\(error)\n".utf8))
                    }
                    break
                }
            }
        }
        return made
    }

    /// Returns once the guest of `domain` reported its process started, ended, or a minute
    /// passed: a refill's boot takes a CPU for seconds (dom0's part of building the domain, then
    /// the guest kernel's), which the container that asked for it should not wait behind.
    public static func waitForStart(of domain: DomainID, hypervisor: any Hypervisor) {
        guard let link = try? GuestLink(hypervisor, domain: domain) else { return }
        let deadline = Clock.monotonicSeconds() + startWaitSeconds
        while Clock.monotonicSeconds() < deadline {
            if (try? link.waitFor(.started, timeoutSeconds: 1)) != nil { return }
            guard let info = try? hypervisor.domainInfo(domain), info.state != .shutdown, info.state != .dying else { return }
        }
    }

    /// One warm VM of `shape`, booted to init's ready report. On failure nothing of it is left.
    func boot(_ shape: WarmShape, hypervisor: any Hypervisor) throws(RunxlError) -> String {
        let name = namePrefix(shape.key) + Hex.encode(try GuestTemplates.randomBytes(4, purpose: "a warm VM's name"))
        let slot = directory + "/" + name
        try FileSystem.makeDirectories(slot, mode: 0o700)
        var domain: DomainID?
        do throws(RunxlError) {
            try FileSystem.writeAtomically(slot + "/" + Self.bootingMarker, Array(String(getpid()).utf8), mode: 0o600)
            var spec = shape.domain
            spec.name = name
            spec.cmdline += " " + GuestTemplate.warmFlag
            spec.shares = shape.domain.shares.map { ShareSpec(tag: $0.tag, path: slot + "/" + $0.path) }
            for share in spec.shares { try FileSystem.makeDirectories(share.path, mode: 0o755) }
            // Each share directory bound onto itself: the backend gets a mount namespace of its
            // own (`ShareMounts`), where create later binds the container's files.
            let placeholders = spec.shares.map { HostMount(source: $0.path, target: $0.path, readOnly: false, recursive: false) }
            let created = try ShareMounts.withMounts(placeholders) { () throws(RunxlError) in
                try hypervisor.createDomain(spec, paused: false)
            }
            domain = created
            try GuestTemplates.waitUntilReady(hypervisor, domain: created, name: name, timeoutSeconds: bootTimeoutSeconds, what: "warm guest")
            try FileSystem.writeAtomically(slot + "/" + Self.readyMarker, Array(String(created.rawValue).utf8), mode: 0o600)
            unlink(slot + "/" + Self.bootingMarker)
            return name
        } catch {
            if let domain { try? hypervisor.destroy(domain) }
            try? FileSystem.removeTree(slot)
            throw error
        }
    }

    /// Destroys every idle warm VM, and those whose filler or claimer died on the way; a VM a
    /// container holds is left to that container. The recorded shapes are forgotten too (the
    /// next create of each records it again), so a drained pool boots nothing more on its own.
    /// What was destroyed, one line each.
    public func drain(hypervisor: any Hypervisor) -> [String] {
        var lines: [String] = []
        if let names = try? FileSystem.listDirectory(shapesDirectory) {
            for name in names where name.hasSuffix(".json") { unlink("\(shapesDirectory)/\(name)") }
        }
        for name in slots(of: nil) {
            let slot = directory + "/" + name
            let idle = rename(slot + "/" + Self.readyMarker, slot + "/" + Self.claimedMarker) == 0
            guard idle || isAbandoned(slot) else { continue }
            if let domain = try? hypervisor.domainID(named: name) { try? hypervisor.destroy(domain) }
            try? FileSystem.removeTree(slot)
            lines.append("\(idle ? "idle" : "abandoned") warm VM \(name)")
        }
        return lines
    }

    /// A slot nobody will finish: its filler died, or its claimer died before its container's
    /// record existed, or that container's state is gone.
    private func isAbandoned(_ slot: String) -> Bool {
        if FileSystem.exists(slot + "/" + Self.bootingMarker) { return !fillerAlive(slot) }
        guard FileSystem.exists(slot + "/" + Self.claimedMarker) else { return !FileSystem.exists(slot + "/" + Self.readyMarker) }
        if let owner = try? FileSystem.read(slot + "/" + Self.ownerFile, limit: 4096) {
            return !FileSystem.isDirectory(String(decoding: owner, as: UTF8.self))
        }
        var info = stat()
        guard stat(slot + "/" + Self.claimedMarker, &info) == 0 else { return true }
        return time(nil) - info.st_mtim.tv_sec > Self.claimGraceSeconds
    }

    /// One line per warm VM: its name and state (`ready`, `booting`, `claimed`).
    public func list() -> [(name: String, state: String)] {
        slots(of: nil).map { name in
            let slot = directory + "/" + name
            let state = [Self.readyMarker, Self.bootingMarker, Self.claimedMarker].first { FileSystem.exists(slot + "/" + $0) } ?? "unknown"
            return (name, state)
        }
    }

    /// Removes a claimed VM's slot (its container's delete, after the domain is gone).
    static func release(_ slot: String) {
        try? FileSystem.removeTree(slot)
    }

    /// `path` inside `from` moved to the same place inside `to`; any other path as it is.
    static func moved(_ path: String, from: String, to: String) -> String {
        path.hasPrefix(from + "/") ? to + path.dropFirst(from.count) : path
    }

    /// Moves each mount's target from inside `from` to the same place inside `to`.
    static func moved(_ mounts: [HostMount], from: String, to: String) -> [HostMount] {
        mounts.map { mount in
            var moved = mount
            moved.target = Self.moved(mount.target, from: from, to: to)
            return moved
        }
    }
}

extension ContainerEngine {
    /// A warm VM handed to container `id` for `spec` (its guest as prepared), paused, with the
    /// container's files bound into its backend and init told to go on once unpaused; nil when
    /// the pool has none of its shape (the caller boots the guest). `refill`: the shape's key
    /// when it is short, for the caller to ask for a fill once its domain exists. A VM that cannot be handed over is
    /// destroyed, said on `warn`, and nil returned: the pool never makes a create fail that a
    /// boot would have served.
    func adoptWarmVM(
        _ spec: DomainSpec, guest: PreparedGuest, id: ContainerID, record: inout ContainerRecord
    ) throws(RunxlError) -> (domain: DomainID?, refill: String?) {
        guard let pool = warmPool, guest.unikernel == nil, guest.template == nil, let identity = guest.bootIdentity else {
            return (nil, nil)
        }
        let stateDirectory = store.directory(id)
        guard let shape = WarmShape(container: spec, stateDirectory: stateDirectory, bootIdentity: identity) else { return (nil, nil) }
        do {
            try pool.remember(shape)
        } catch {
            warn("the warm pool cannot record this guest's shape: \(error.message)")
            return (nil, nil)
        }
        let vm = pool.claim(shape, owner: stateDirectory, hypervisor: hypervisor)
        let refill = pool.available(shape.key) < pool.size ? shape.key : nil
        guard let vm else { return (nil, refill) }
        record.domainName = vm.name
        record.warmSlot = vm.slot
        do throws(RunxlError) {
            try store.save(record, id: id)
            try hypervisor.pause(vm.domain)
            let mounts = shape.mounts(adopting: guest.hostMounts, stateDirectory: stateDirectory, slot: vm.slot)
            if !mounts.isEmpty {
                guard let backend = ShareBackendWatch.backendPID(of: vm.domain) else {
                    throw RunxlError(.sharesUnavailable, "the 9pfs backend of warm VM \(vm.name) is not running")
                }
                try ShareMounts.attach(mounts, toBackend: backend)
            }
            try GuestLink(hypervisor, domain: vm.domain).send(.resumeFromTemplate(seed: try GuestTemplates.seed()))
        } catch {
            warn("warm VM \(vm.name) could not take container \(id), booting its guest instead: \(error)")
            try? hypervisor.destroy(vm.domain)
            WarmPool.release(vm.slot)
            record.domainName = spec.name
            record.warmSlot = nil
            try store.save(record, id: id)
            return (nil, refill)
        }
        trace.mark("create \(id): took warm VM \(vm.name)")
        return (vm.domain, refill)
    }
}
