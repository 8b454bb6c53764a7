public import Archive
public import GuestProtocol
public import Hypervisor
public import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the builder needs besides the container itself.
public struct GuestBuildOptions: Sendable {
    /// The static runxl-init binary (Scripts/build-init prints its path).
    public var initBinary: String
    public var host: HostConfig
    public var defaults: GuestDefaults
    /// Overrides `host.cacheDirectory`.
    public var cacheDirectory: String?

    public init(
        initBinary: String, host: HostConfig = HostConfig(), defaults: GuestDefaults = GuestDefaults(),
        cacheDirectory: String? = nil
    ) {
        self.initBinary = initBinary
        self.host = host
        self.defaults = defaults
        self.cacheDirectory = cacheDirectory
    }

    var resolvedCacheDirectory: String { cacheDirectory ?? host.cacheDirectory }
}

/// A guest ready to boot.
public struct BuiltGuest: Sendable {
    public var domain: DomainSpec
    public var settings: GuestSettings
    public var kernel: BootableKernel
    /// nil when `vm.kernel.initrd` supplied a ready initramfs.
    public var initramfs: Initramfs?
    public var process: ProcessDescription
    /// Share mode: what dom0 bind-mounts for the domain's 9pfs backend before creating it.
    public var hostMounts: [HostMount] = []
    /// Share mode with templates on: the VM template the domain may be restored from.
    public var template: TemplatePlan?
    /// Share mode: the identity of the kernel and initramfs files (`bootFilesIdentity`), which a
    /// warm VM of this guest's shape must have booted.
    public var bootIdentity: String?
}

/// The JSON written next to a converted guest: what it is and how it was made.
public struct GuestDescription: Codable, Sendable, Equatable {
    public var domain: DomainSpec
    /// The kernel the user chose, before extraction.
    public var kernelSource: String
    public var kernelFormat: KernelFormat
    public var initramfsKey: String?
    public var initramfsCompression: ArchiveCompression?
    public var initramfsContentBytes: Int64?
    public var args: [String]
}

/// From an OCI bundle to a bootable guest: settings, process file, kernel, initramfs, domain.
///
/// Every check that can fail does so here, before a domain exists: the runtime calls `build`
/// from `create`, so a bad config.json never leaves a half-created Xen domain behind.
public struct GuestBuilder: Sendable {
    public let options: GuestBuildOptions

    public init(options: GuestBuildOptions) {
        self.options = options
    }

    /// Builds (or reuses from the cache) everything `spec` needs and returns the domain to create.
    ///
    /// With `bindImageDirectory` (the container's own directory, removed at delete), each bind
    /// mount of a directory becomes an ext4 image there and a disk of the domain, mounted by
    /// init; without it (`image convert`) directory binds are left out of the guest.
    public func build(
        spec: Spec, rootfs: String, domainName: String, bindImageDirectory: String? = nil
    ) throws(RunxlError) -> BuiltGuest {
        guard FileSystem.isDirectory(rootfs) else {
            throw RunxlError(.bundleNotFound, "rootfs \(rootfs) is not a directory (root.path in config.json)")
        }
        let settings = try GuestSettingsResolver.resolve(spec: spec, host: options.host, defaults: options.defaults)
        // A given vm.kernel.initrd has no runxl-init to mount them (nor the copied file binds).
        let binds = bindImageDirectory == nil || settings.initrd != nil ? [] : try DirectoryBinds.select(spec)
        let process = try ProcessDescription(spec: spec, rootfs: rootfs, directoryBinds: binds)
        let cache = options.resolvedCacheDirectory

        let kernel = try bootableKernel(settings)

        var initramfs: Initramfs?
        let ramdisk: String
        let neededBytes: Int64
        if let initrd = settings.initrd {
            ramdisk = initrd
            neededBytes = try Self.givenInitrdBytes(initrd)
        } else {
            let request = InitramfsRequest(
                rootfs: rootfs, initBinary: options.initBinary, processFile: process.encoded(),
                compression: settings.compression,
                modules: try initramfsModules(settings, spec: spec, extra: binds.isEmpty ? [] : DirectoryBinds.guestModules),
                extraFiles: Self.fileBindMounts(spec))
            let built = try InitramfsBuilder(cacheDirectory: cache, cacheLimitMiB: options.host.initramfsCacheMiB).build(request)
            initramfs = built
            ramdisk = built.path
            neededBytes = built.contentBytes + built.compressedBytes
        }

        var guest = try assemble(
            settings: settings, kernel: kernel, initramfs: initramfs, ramdisk: ramdisk, neededBytes: neededBytes,
            process: process, domainName: domainName)
        if let bindImageDirectory, !binds.isEmpty {
            // Last, once every other check has passed: the copy is the slow part.
            guest.domain.disks += try DirectoryBinds.buildImages(
                binds, in: bindImageDirectory + "/" + DirectoryBinds.imageDirectoryName)
        }
        return guest
    }

    /// The same for an image given as its layers: the initramfs streams from them (see
    /// `InitramfsBuilder.build(_:processFile:)`), no rootfs is unpacked. `spec` is the image's
    /// spec before any lookup in its rootfs; `resolveSpec` gives the final one from the listing
    /// of the streamed tree (user names resolved in its /etc/passwd, for one).
    public func build(
        layers: ImageLayers, spec: Spec, domainName: String, resolveSpec: (RootfsListing) throws(RunxlError) -> Spec
    ) throws(RunxlError) -> BuiltGuest {
        let settings = try GuestSettingsResolver.resolve(spec: spec, host: options.host, defaults: options.defaults)
        let kernel = try bootableKernel(settings)
        if let initrd = settings.initrd {
            // The image's files do not go into the guest; its listing still checks the process.
            let listing = try InitramfsBuilder.listing(of: layers)
            let process = try ProcessDescription(spec: try resolveSpec(listing), lookup: RootfsLookup(listing: listing))
            let neededBytes = try Self.givenInitrdBytes(initrd)
            return try assemble(
                settings: settings, kernel: kernel, initramfs: nil, ramdisk: initrd, neededBytes: neededBytes,
                process: process, domainName: domainName)
        }
        let modules = try initramfsModules(settings, spec: spec)
        let request = LayeredInitramfsRequest(
            layers: layers, initBinary: options.initBinary, processInputs: Array(try spec.encoded(pretty: false)),
            compression: settings.compression, modules: modules, extraFiles: Self.fileBindMounts(spec))
        let (built, processFile) = try InitramfsBuilder(
            cacheDirectory: options.resolvedCacheDirectory, cacheLimitMiB: options.host.initramfsCacheMiB
        ).build(request) {
            listing throws(RunxlError) in
            try ProcessDescription(spec: try resolveSpec(listing), lookup: RootfsLookup(listing: listing)).encoded()
        }
        let process: ProcessDescription
        do {
            process = try ProcessDescription.decode(processFile)
        } catch {
            throw RunxlError(.invalidDocument, "the cached process file of initramfs \(built.path) is damaged: \(error)")
        }
        return try assemble(
            settings: settings, kernel: kernel, initramfs: built, ramdisk: built.path,
            neededBytes: built.contentBytes + built.compressedBytes, process: process, domainName: domainName)
    }

    func bootableKernel(_ settings: GuestSettings) throws(RunxlError) -> BootableKernel {
        do {
            return try KernelCache(directory: options.resolvedCacheDirectory).bootable(settings.kernel)
        } catch where error.code == .invalidKernel {
            throw RunxlError(.invalidKernel, "\(error.message) (kernel chosen by \(settings.kernelSource))", cause: error.cause)
        }
    }

    private static func givenInitrdBytes(_ initrd: String) throws(RunxlError) -> Int64 {
        var info = stat()
        guard stat(initrd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw RunxlError(.invalidAnnotation, "vm.kernel.initrd \(initrd) is not a file")
        }
        return Int64(info.st_size) * 3  // unknown content: assume a 2:1 compression
    }

    /// The host config's modules, then `extra` ones a feature of this guest needs (the disks of
    /// directory binds), then the network front end when the guest joins a network namespace.
    func initramfsModules(_ settings: GuestSettings, spec: Spec, extra: [String] = []) throws(RunxlError) -> [KernelModuleFile] {
        guard FileSystem.exists(options.initBinary) else {
            throw RunxlError(.io, "runxl-init binary \(options.initBinary) is missing: build it with Scripts/build-init")
        }
        var names = options.host.modules ?? []
        for name in extra where !names.contains(name) { names.append(name) }
        let wantsNetworkFrontend = spec.joinedNetworkNamespace != nil
        guard !names.isEmpty || wantsNetworkFrontend else { return [] }
        let release = KernelModules.release(ofKernel: settings.kernel)
        var modules: [KernelModuleFile] = []
        if !names.isEmpty {
            guard let release else {
                throw RunxlError(.invalidKernel, "cannot tell the release of kernel \(settings.kernel) to find its modules")
            }
            modules = try KernelModules.resolve(names, release: release)
        }
        if wantsNetworkFrontend, let release, let netfront = try? KernelModules.resolve([Self.networkFrontend], release: release) {
            // A kernel without its modules on this host may have the driver built in; if not,
            // init says that no interface with the vif's MAC appeared.
            modules += netfront.filter { !modules.contains($0) }
        }
        return modules
    }

    /// The guest's half of the vif that stands in for the namespace's interface.
    static let networkFrontend = "xen-netfront"

    /// Guest memory and the domain, once kernel and ramdisk are known.
    func assemble(
        settings: GuestSettings, kernel: BootableKernel, initramfs: Initramfs?, ramdisk: String, neededBytes: Int64,
        process: ProcessDescription, domainName: String
    ) throws(RunxlError) -> BuiltGuest {
        // The guest holds the compressed image and the unpacked files in RAM at once while
        // booting, besides the kernel's own needs.
        let neededMiB = Int((neededBytes + (1 << 20) - 1) >> 20) + options.defaults.kernelOverheadMiB
        var memoryMiB = settings.memoryMiB
        switch settings.memorySource {
        case .builtIn:
            memoryMiB = max(memoryMiB, neededMiB)
        case .containerLimit:
            // The limit is for the processes: the files in RAM come on top.
            memoryMiB += Int((neededBytes + (1 << 20) - 1) >> 20)
        default:
            guard memoryMiB >= neededMiB else {
                let code: RunxlError.Code = {
                    if case .hostConfig = settings.memorySource { return .invalidConfig }
                    return .invalidAnnotation
                }()
                throw RunxlError(
                    code,
                    "guest memory \(memoryMiB) MiB (from \(settings.memorySource)) is too small: the guest needs at least "
                        + "\(neededMiB) MiB (its initramfs, unpacked and compressed, and the kernel's own)")
            }
        }

        let domain = DomainSpec(
            name: domainName, type: settings.type, kernel: kernel.path, ramdisk: ramdisk, cmdline: settings.cmdline,
            memoryMiB: memoryMiB, vcpus: settings.vcpus,
            // A ceiling below what the guest boots with would be no ceiling: the boot size wins.
            maxMemoryMiB: settings.maxMemoryMiB.map { max($0, memoryMiB) },
            maxVcpus: settings.maxVcpus.map { max($0, settings.vcpus) })
        var resolved = settings
        resolved.memoryMiB = memoryMiB
        return BuiltGuest(domain: domain, settings: resolved, kernel: kernel, initramfs: initramfs, process: process)
    }

    /// Writes a bootable guest for the bundle into `output`: `kernel`, `initramfs.cpio[.gz|...]`,
    /// `xl.cfg` (paths pointing into `output`) and `guest.json`. Backs `runxl image convert`.
    /// `annotations` override the bundle's own (the CLI's --type, --memory, ... flags).
    @discardableResult
    public func convert(
        bundle: String, output: String, domainName: String? = nil, annotations: [String: String] = [:]
    ) throws(RunxlError) -> BuiltGuest {
        let container = try ContainerSource.load(bundle: bundle, annotations: annotations, domainName: domainName)
        return try convert(spec: container.spec, rootfs: container.rootfs, domainName: container.domainName, output: output, source: bundle)
    }

    /// `convert` for a spec and rootfs already resolved (`LinuxPlan`).
    @discardableResult
    public func convert(spec: Spec, rootfs: String, domainName: String, output: String, source: String) throws(RunxlError) -> BuiltGuest {
        let guest = try build(spec: spec, rootfs: rootfs, domainName: domainName)
        return try writeOutputs(guest, output: output, source: source)
    }

    /// `convert` for an image given as its layers (`runxl image convert REF`): the same output
    /// files, with the initramfs streamed from the layers (see `build(layers:...)`).
    @discardableResult
    public func convert(
        layers: ImageLayers, spec: Spec, output: String, domainName: String, source: String,
        annotations: [String: String] = [:], resolveSpec: (RootfsListing) throws(RunxlError) -> Spec
    ) throws(RunxlError) -> BuiltGuest {
        func annotated(_ spec: Spec) -> Spec {
            guard !annotations.isEmpty else { return spec }
            var spec = spec
            spec.annotations = (spec.annotations ?? [:]).merging(annotations) { _, override in override }
            return spec
        }
        let guest = try build(layers: layers, spec: annotated(spec), domainName: domainName) { listing throws(RunxlError) in
            annotated(try resolveSpec(listing))
        }
        return try writeOutputs(guest, output: output, source: source)
    }

    private func writeOutputs(_ built: BuiltGuest, output: String, source: String) throws(RunxlError) -> BuiltGuest {
        var guest = built
        try FileSystem.makeDirectories(output, mode: 0o755)
        let kernelPath = output + "/kernel"
        try Self.copyFile(guest.kernel.path, to: kernelPath)
        guest.domain.kernel = kernelPath
        if let ramdisk = guest.domain.ramdisk {
            let ramdiskPath = output + "/initramfs.cpio" + (guest.initramfs == nil ? "" : guest.settings.compression.fileExtension)
            try Self.copyFile(ramdisk, to: ramdiskPath)
            guest.domain.ramdisk = ramdiskPath
        }
        let config = try XlConfig.render(guest.domain, comment: "Generated by runxl image convert from \(source)\nBoot with: xl create \(output)/xl.cfg")
        try FileSystem.writeAtomically(output + "/xl.cfg", Array(config.utf8))
        let description = GuestDescription(
            domain: guest.domain, kernelSource: guest.kernel.source, kernelFormat: guest.kernel.format,
            initramfsKey: guest.initramfs?.key, initramfsCompression: guest.initramfs == nil ? nil : guest.settings.compression,
            initramfsContentBytes: guest.initramfs?.contentBytes, args: guest.process.args)
        let json = try JSONDocument.encode(description)
        try FileSystem.writeAtomically(output + "/guest.json", Array(json) + [0x0A])
        return guest
    }

    /// Bind mounts of single host files (podman's /etc/hosts, /etc/resolv.conf, /etc/hostname,
    /// /run/.containerenv): a VM cannot see host files, so their contents are copied in.
    static func fileBindMounts(_ spec: Spec) -> [GuestFile] {
        (spec.mounts ?? []).compactMap { mount in
            let options = mount.options ?? []
            guard mount.isBind, let source = mount.source, source.hasPrefix("/"), mount.destination.hasPrefix("/")
            else { return nil }
            var info = stat()
            guard stat(source, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            let permissions = UInt32(info.st_mode) & (options.contains("ro") ? 0o5555 : 0o7777)
            return GuestFile(guestPath: mount.destination, hostPath: source, permissions: permissions)
        }
    }

    static func copyFile(_ source: String, to destination: String) throws(RunxlError) {
        unlink(destination)
        // Same file system: a hard link costs nothing and the cache entry stays shared.
        if link(source, destination) == 0 { return }
        let bytes = try FileSystem.read(source)
        try FileSystem.writeAtomically(destination, bytes)
    }
}
