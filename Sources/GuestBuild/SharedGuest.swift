public import GuestProtocol
public import Hypervisor
public import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How the container's files reach the guest.
public enum RootfsMode: String, Codable, Sendable, CaseIterable {
    /// The rootfs and every bind source served live over Xen 9pfs: the process writes into the
    /// bundle's rootfs and into bind sources, as with runc. The OCI verbs' default.
    case share
    /// The rootfs copied into the initramfs (guest RAM), directory binds into ext4 images: a
    /// self-contained guest whose writes stay in the guest (`image convert` always builds this).
    case initramfs

    /// The `org.runxl.rootfs` annotation, then the host config's `rootfs`, then `share`.
    public static func resolve(spec: Spec, host: HostConfig) throws(RunxlError) -> RootfsMode {
        if let text = spec.annotations?[RunxlAnnotations.rootfs] {
            guard let mode = RootfsMode(rawValue: text) else {
                throw RunxlError(
                    .invalidAnnotation,
                    "annotation \(RunxlAnnotations.rootfs) is '\(text)'; use one of: "
                        + allCases.map(\.rawValue).joined(separator: ", "))
            }
            return mode
        }
        return host.rootfs ?? .share
    }
}

/// Where a share-mode container's shares live in dom0, inside its state directory (removed by
/// delete): `share/root` (the rootfs is bind-mounted there for the backend) and `share/control`
/// (the process file, and `binds/N/NAME` where bind source N is mounted). On the host's own mount
/// table both stay empty directories and files; only the backend's namespace has the mounts.
public struct ShareLayout: Sendable, Equatable {
    public let directory: String

    public init(stateDirectory: String) {
        directory = stateDirectory + "/share"
    }

    public var root: String { directory + "/root" }
    public var control: String { directory + "/control" }
    public func bind(_ position: Int, hostSource: String) -> String {
        control + "/" + GuestShares.bindEntry(position, hostSource: hostSource)
    }

    /// Creates the directories, one mount point per bind (a directory or an empty file, as its
    /// source is, in a directory of its own) and the process file.
    func create(processFile: [UInt8], binds: [(hostSource: String, isDirectory: Bool)]) throws(RunxlError) {
        try FileSystem.makeDirectories(root, mode: 0o755)
        try Self.makeBindMountPoints(under: control, binds: binds)
        try FileSystem.writeAtomically(control + "/" + GuestShares.processFileName, processFile, mode: 0o400)
    }

    /// `binds/N/NAME` under `directory` for each bind: a directory or an empty file, as its
    /// source is, for dom0 to mount the source on.
    static func makeBindMountPoints(under directory: String, binds: [(hostSource: String, isDirectory: Bool)]) throws(RunxlError) {
        try FileSystem.makeDirectories(directory + "/" + GuestShares.bindsDirectoryName, mode: 0o700)
        for (position, bind) in binds.enumerated() {
            let path = directory + "/" + GuestShares.bindEntry(position, hostSource: bind.hostSource)
            try FileSystem.makeDirectories(directory + "/" + GuestShares.bindDirectory(position), mode: 0o700)
            if bind.isDirectory {
                try FileSystem.makeDirectories(path, mode: 0o700)
                continue
            }
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let code = errno
                throw RunxlError(.io, "cannot create the mount point \(path)", cause: SystemCallError("open", errno: code))
            }
            close(fd)
        }
    }
}

extension GuestBuilder {
    /// The guest for share mode: the initramfs holds only runxl-init and kernel modules (one
    /// cached file per kernel, init and module set, whatever the image), the domain gets the root
    /// and control 9pfs shares, and the result lists the bind mounts dom0 makes for the backend
    /// (`BuiltGuest.hostMounts`). Nothing is copied, so create time does not grow with the image.
    ///
    /// A `vm.kernel.initrd` of the user's own has no runxl-init to mount the shares: such a
    /// guest is built the initramfs way.
    public func buildShared(spec: Spec, rootfs: String, domainName: String, stateDirectory: String) throws(RunxlError) -> BuiltGuest {
        guard FileSystem.isDirectory(rootfs) else {
            throw RunxlError(.bundleNotFound, "rootfs \(rootfs) is not a directory (root.path in config.json)")
        }
        let settings = try GuestSettingsResolver.resolve(spec: spec, host: options.host, defaults: options.defaults)
        if settings.initrd != nil {
            return try build(spec: spec, rootfs: rootfs, domainName: domainName, bindImageDirectory: stateDirectory)
        }
        let layout = ShareLayout(stateDirectory: stateDirectory)
        let binds = try DirectoryBinds.checkedBinds(spec)
        let (guestMounts, hostMounts) = Self.shareMounts(
            rootfs: rootfs, binds: binds, hostDirectory: layout.control, rootTarget: layout.root
        ) { position, source in GuestShares.bindSource(position, hostSource: source) }
        let process = try ProcessDescription(spec: spec, lookup: RootfsLookup(rootfs: rootfs), guestMounts: guestMounts)
        let kernel = try bootableKernel(settings)
        let cache = options.resolvedCacheDirectory
        let request = InitramfsRequest(
            rootfs: try Self.emptyRootfs(cache: cache), initBinary: options.initBinary, processFile: [],
            compression: settings.compression,
            modules: try initramfsModules(settings, spec: spec, extra: GuestShares.guestModules))
        let initramfs = try InitramfsBuilder(cacheDirectory: cache, cacheLimitMiB: options.host.initramfsCacheMiB).build(request)
        try layout.create(processFile: process.encoded(), binds: binds.map { ($0.source, $0.isDirectory) })

        var guest = try assemble(
            settings: settings, kernel: kernel, initramfs: initramfs, ramdisk: initramfs.path,
            neededBytes: initramfs.contentBytes + initramfs.compressedBytes, process: process, domainName: domainName)
        guest.domain.shares = [
            ShareSpec(tag: GuestShares.rootTag, path: layout.root), ShareSpec(tag: GuestShares.controlTag, path: layout.control),
        ]
        guest.hostMounts = hostMounts
        guest.template = try templatePlan(for: guest.domain, spec: spec)
        guest.bootIdentity = try bootFilesIdentity(kernel: guest.domain.kernel, ramdisk: initramfs.path)
        return guest
    }

    /// The mounts of a shared guest: the rootfs on `rootTarget` and each bind's source on its
    /// entry under `hostDirectory` for dom0, each bind as the guest names it (`guestSource`) in
    /// its place among the spec's mounts.
    ///
    /// The rootfs is writable for the backend even with root.readonly: init makes the bind
    /// mount points first and then remounts `/` read-only, as runc does.
    static func shareMounts(
        rootfs: String, binds: [DirectoryBinds.CheckedBind], hostDirectory: String, rootTarget: String,
        guestSource: (Int, String) -> String
    ) -> (guest: [Int: ProcessDescription.Mount], host: [HostMount]) {
        var hostMounts = [HostMount(source: rootfs, target: rootTarget, readOnly: false, recursive: true)]
        var guestMounts: [Int: ProcessDescription.Mount] = [:]
        for (position, bind) in binds.enumerated() {
            let options = bind.mount.options ?? []
            guestMounts[bind.mountIndex] = ProcessDescription.Mount(
                destination: bind.mount.destination, type: "bind", source: guestSource(position, bind.source), options: options)
            hostMounts.append(HostMount(
                source: bind.source, target: hostDirectory + "/" + GuestShares.bindEntry(position, hostSource: bind.source),
                readOnly: bind.mount.isReadOnly, recursive: options.contains("rbind")))
        }
        return (guestMounts, hostMounts)
    }

    /// The empty tree a share-mode initramfs is built from: init and modules are all it holds.
    private static func emptyRootfs(cache: String) throws(RunxlError) -> String {
        let path = cache + "/share-initramfs-root"
        try FileSystem.makeDirectories(path, mode: 0o755)
        return path
    }
}

/// A pod's further container (docs/pods.md): its process as the pod's VM starts it, and what
/// dom0 binds for it into the running 9pfs backend, under `pod/ID` of the sandbox's control
/// share (`GuestShares.podMemberDirectory`).
public struct PodMemberShare: Sendable {
    public let description: ProcessDescription
    /// In the order they are made; undone in reverse.
    public let hostMounts: [HostMount]
    /// `pod/ID` in dom0: delete removes it once the mounts are gone.
    public let directory: String
    private let binds: [(hostSource: String, isDirectory: Bool)]

    /// `sandboxState` is the state directory of the pod's first container, whose VM it is.
    public init(id: String, spec: Spec, rootfs: String, sandboxState: String) throws(RunxlError) {
        guard FileSystem.isDirectory(rootfs) else {
            throw RunxlError(.bundleNotFound, "rootfs \(rootfs) is not a directory (root.path in config.json)")
        }
        let control = ShareLayout(stateDirectory: sandboxState).control
        guard FileSystem.isDirectory(control) else {
            throw RunxlError(
                .unsupported,
                "the pod's first container has no 9pfs shares (its guest was built the initramfs way: annotation "
                    + "\(RunxlAnnotations.rootfs)=initramfs or the host config's \"rootfs\"), so a further container's rootfs "
                    + "has no way into the pod's VM; run the pod in share mode, runxl's default")
        }
        directory = control + "/" + GuestShares.podMemberDirectory(id)
        let checked = try DirectoryBinds.checkedBinds(spec)
        let (guestMounts, hostMounts) = GuestBuilder.shareMounts(
            rootfs: rootfs, binds: checked, hostDirectory: directory, rootTarget: directory + "/root"
        ) { position, source in GuestShares.podMemberBindSource(id, index: position, hostSource: source) }
        var process = try ProcessDescription(spec: spec, lookup: RootfsLookup(rootfs: rootfs), guestMounts: guestMounts)
        process.podMember = id
        // The pod's uts namespace is the first container's. Its pid namespace is its own when the
        // spec asks for a new one (runc's default, the CRI's and podman's); one by path (a pod
        // that shares its processes) is the pod's.
        process.hostname = nil
        description = process
        self.hostMounts = hostMounts
        binds = checked.map { ($0.source, $0.isDirectory) }
    }

    /// The mount points, in dom0's view of the control share (plain directories and files there).
    public func createMountPoints() throws(RunxlError) {
        try FileSystem.makeDirectories(directory + "/root", mode: 0o755)
        try ShareLayout.makeBindMountPoints(under: directory, binds: binds)
    }
}
