public import GuestProtocol
public import Hypervisor
public import OCI
public import RunxlBase

/// A unikernel ready to boot: the domain and what it was made from.
public struct UnikernelGuest: Sendable {
    public var domain: DomainSpec
    public var declaration: UnikernelDeclaration
    public var notes: XenElfNotes
    public var commandLine: UnikernelCommandLine
    /// Host paths of the files the domain boots from.
    public var binaryPath: String
    public var initrdPath: String?
    public var blockPath: String?
}

/// The JSON written next to a converted unikernel (`image convert`).
public struct UnikernelDescription: Codable, Sendable, Equatable {
    public var domain: DomainSpec
    public var unikernel: UnikernelKind
    public var convention: UnikernelDeclaration.Convention
    /// The binary's path in the image's rootfs.
    public var binary: String
    /// What the ELF's Xen notes allow, sorted.
    public var bootableTypes: [GuestType]
}

/// From a declared unikernel and its OCI spec to a domain: the binary checked to be a Xen
/// PV/PVH ELF, the guest type chosen from its notes, the command line built by its flavour,
/// memory and vCPUs resolved. Every failure happens here, before any domain exists.
public struct UnikernelBuilder: Sendable {
    public let host: HostConfig

    public init(host: HostConfig = HostConfig()) {
        self.host = host
    }

    /// Memory Xen's domain builder needs besides the ELF and initrd themselves (page tables,
    /// start info, console and xenstore pages), with room for a small heap.
    static let overheadMiB = 4
    /// The block device every flavour gets, when the image names one.
    static let blockDevice = "xvda"

    public func build(
        _ declaration: UnikernelDeclaration, spec: Spec, rootfs: String, domainName: String, network: GuestNetwork? = nil
    ) throws(RunxlError) -> UnikernelGuest {
        let lookup = RootfsLookup(rootfs: rootfs)
        let binaryPath = try file(declaration.binary, source: declaration.binarySource, role: "binary", lookup: lookup, rootfs: rootfs)
        let initrdPath = try declaration.initrd.map { (path: String) throws(RunxlError) in
            try file(path, source: declaration.initrdSource ?? "initrd", role: "initrd", lookup: lookup, rootfs: rootfs)
        }
        let blockPath = try declaration.block.map { (path: String) throws(RunxlError) in
            try file(path, source: declaration.blockSource ?? "block", role: "block image", lookup: lookup, rootfs: rootfs)
        }
        let notes = try XenElfNotes.read(
            path: binaryPath, description: "unikernel binary \(declaration.binary) (\(declaration.binarySource))")
        let flavour = declaration.kind.flavour
        let annotations = spec.annotations ?? [:]
        let type = try guestType(notes: notes, flavour: flavour, annotations: annotations, binary: declaration.binary)

        var arguments = spec.process?.args ?? []
        if arguments.isEmpty { arguments = declaration.defaultArguments }
        let launch = UnikernelLaunch(
            arguments: arguments, environment: flavour.passesEnvironment ? spec.process?.env ?? [] : [],
            parameters: declaration.parameters, hasInitrd: initrdPath != nil,
            block: blockPath.map { _ in UnikernelBlockDevice(virtualDevice: Self.blockDevice, mountPoint: declaration.blockMountPoint) },
            programName: Self.programName(of: declaration.binary),
            network: flavour.configuresNetwork ? network.flatMap(UnikernelNetwork.init) : nil)
        let commandLine = try flavour.commandLine(for: launch)
        let rendered = try commandLine.rendered()

        let fileBytes = (regularFileSize(binaryPath) ?? 0) + (initrdPath.flatMap(regularFileSize) ?? 0)
        let neededMiB = Int((fileBytes + (1 << 20) - 1) >> 20) + Self.overheadMiB
        let (memoryMiB, memoryExplicit, memorySource) = try memory(spec: spec, annotations: annotations, flavour: flavour)
        guard memoryMiB >= neededMiB || !memoryExplicit else {
            throw RunxlError(
                .invalidAnnotation,
                "guest memory \(memoryMiB) MiB (from \(memorySource)) is too small for this unikernel: its binary and initrd need at least \(neededMiB) MiB")
        }
        let domain = DomainSpec(
            name: domainName, type: type, kernel: binaryPath, ramdisk: initrdPath, cmdline: rendered,
            memoryMiB: max(memoryMiB, neededMiB), vcpus: try vcpus(spec: spec, annotations: annotations),
            disks: blockPath.map { [DiskSpec(path: $0, virtualDevice: Self.blockDevice, readOnly: true)] } ?? [])
        return UnikernelGuest(
            domain: domain, declaration: declaration, notes: notes, commandLine: commandLine, binaryPath: binaryPath,
            initrdPath: initrdPath, blockPath: blockPath)
    }

    /// The binary's file name, as a shell would give argv[0]; a name that is not one plain
    /// Unikraft word (empty, a space, a quote, not printable ASCII) falls back to "unikernel"
    /// rather than fail a launch over a file name.
    static func programName(of binary: String) -> String {
        let name = binary.split(separator: "/").last.map(String.init) ?? ""
        let token = try? UnikernelCommandLine.unikraftToken(name, field: "the unikernel binary's name")
        return token == .word(name) ? name : "unikernel"
    }

    /// The host path of a file the declaration names, looked up inside the rootfs (symlinks
    /// cannot leave it).
    func file(_ path: String, source: String, role: String, lookup: RootfsLookup, rootfs: String) throws(RunxlError) -> String {
        guard let host = lookup.hostPath(of: path), regularFileSize(host) != nil else {
            throw RunxlError(.invalidUnikernel, "the unikernel \(role) \(path) named by \(source) is not a file in the rootfs \(rootfs)")
        }
        return host
    }

    /// An explicit `org.runxl.guest.type` must be one the ELF can boot as; otherwise the host's
    /// default type when the ELF allows it, then the flavour's preference, then what the ELF allows.
    func guestType(notes: XenElfNotes, flavour: any UnikernelFlavour, annotations: [String: String], binary: String) throws(RunxlError) -> GuestType {
        let bootable = notes.bootableTypes
        guard !bootable.isEmpty else {
            throw RunxlError(
                .invalidKernel,
                "unikernel binary \(binary) is an ELF without Xen notes (no XEN_ELFNOTE_XEN_VERSION \"xen-3.0\" for PV, "
                    + "no XEN_ELFNOTE_PHYS32_ENTRY for PVH): Xen cannot boot it; build it for the Xen platform")
        }
        if let text = annotations[RunxlAnnotations.guestType] {
            guard let asked = GuestType(rawValue: text.lowercased()) else {
                throw RunxlError(
                    .invalidAnnotation,
                    "annotation \(RunxlAnnotations.guestType) is '\(text)'; use one of: \(GuestType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard bootable.contains(asked) else {
                throw RunxlError(
                    .invalidKernel,
                    "unikernel binary \(binary) cannot boot as \(asked.rawValue) (annotation \(RunxlAnnotations.guestType)): "
                        + "its Xen notes allow \(Self.names(bootable)) only")
            }
            return asked
        }
        if let hostType = host.defaultType, bootable.contains(hostType) { return hostType }
        if bootable.contains(flavour.preferredType) { return flavour.preferredType }
        return bootable.contains(.pv) ? .pv : .pvh
    }

    static func names(_ types: Set<GuestType>) -> String {
        types.map(\.rawValue).sorted().joined(separator: " and ")
    }

    /// vm.hwConfig.memory, the memory annotation, the container's limit, the flavour's default;
    /// the host config's memory is for Linux guests and does not apply.
    func memory(spec: Spec, annotations: [String: String], flavour: any UnikernelFlavour) throws(RunxlError) -> (Int, Bool, String) {
        if let bytes = spec.vm?.hwConfig?.memory {
            guard bytes >= 1 << 20 else {
                throw RunxlError(.invalidAnnotation, "vm.hwConfig.memory is \(bytes) bytes; a guest needs at least 1 MiB")
            }
            return (Int(clamping: (bytes + (1 << 20) - 1) >> 20), true, "vm.hwConfig.memory")
        }
        if let text = annotations[RunxlAnnotations.memory] {
            guard let value = Int(text.trimmingSpaces), value >= 1, value <= 1 << 24 else {
                throw RunxlError(
                    .invalidAnnotation, "annotation \(RunxlAnnotations.memory) is '\(text)'; give a whole number of MiB from 1 to \(1 << 24)")
            }
            return (value, true, "annotation \(RunxlAnnotations.memory)")
        }
        if let limit = spec.linux?.resources?.memory?.limit, limit > 0 {
            return (Int(clamping: (limit + (1 << 20) - 1) >> 20), false, "linux.resources.memory.limit")
        }
        return (flavour.defaultMemoryMiB, false, "the \(flavour.kind.rawValue) default")
    }

    func vcpus(spec: Spec, annotations: [String: String]) throws(RunxlError) -> Int {
        if let count = spec.vm?.hwConfig?.vcpus {
            guard count >= 1, count <= 512 else {
                throw RunxlError(.invalidAnnotation, "vm.hwConfig.vcpus is \(count); use 1...512")
            }
            return Int(count)
        }
        if let text = annotations[RunxlAnnotations.vcpus] {
            guard let value = Int(text.trimmingSpaces), value >= 1, value <= 512 else {
                throw RunxlError(.invalidAnnotation, "annotation \(RunxlAnnotations.vcpus) is '\(text)'; give a whole number of vCPUs from 1 to 512")
            }
            return value
        }
        return 1
    }
}

extension UnikernelBuilder {
    /// `image convert` of a bundle when it holds a unikernel: `kernel` (the unikernel ELF),
    /// `initrd` and `disk.img` when it has them, an `xl.cfg` that `xl create` boots, and
    /// `guest.json`. nil when the bundle is a Linux container (the caller converts it as one).
    /// `annotations` override the bundle's own (the image's hints, the CLI's flags).
    public func convert(
        bundle: String, output: String, domainName: String? = nil, annotations: [String: String] = [:], source: String? = nil
    ) throws(RunxlError) -> UnikernelGuest? {
        let container = try ContainerSource.load(bundle: bundle, annotations: annotations, domainName: domainName)
        return try convert(container, output: output, source: source ?? bundle)
    }

    /// The same for a container given as a value (an image's spec over the store's snapshot).
    public func convert(_ container: ContainerSource, output: String, source: String) throws(RunxlError) -> UnikernelGuest? {
        let spec = container.spec
        guard let declaration = try UnikernelRecognizer.recognize(annotations: spec.annotations ?? [:], rootfs: RootfsLookup(rootfs: container.rootfs))
        else { return nil }
        return try convert(declaration, spec: spec, rootfs: container.rootfs, domainName: container.domainName, output: output, source: source)
    }

    /// The files and `xl.cfg` of a declared unikernel, under `output` (`source` names the bundle
    /// or image in the config's comment).
    public func convert(
        _ declaration: UnikernelDeclaration, spec: Spec, rootfs: String, domainName: String, output: String, source: String
    ) throws(RunxlError) -> UnikernelGuest {
        var guest = try build(declaration, spec: spec, rootfs: rootfs, domainName: domainName)
        try FileSystem.makeDirectories(output, mode: 0o755)
        guest.domain.kernel = output + "/kernel"
        try GuestBuilder.copyFile(guest.binaryPath, to: guest.domain.kernel)
        if let initrd = guest.initrdPath {
            guest.domain.ramdisk = output + "/initrd"
            try GuestBuilder.copyFile(initrd, to: output + "/initrd")
        }
        if let block = guest.blockPath, !guest.domain.disks.isEmpty {
            guest.domain.disks[0].path = output + "/disk.img"
            try GuestBuilder.copyFile(block, to: output + "/disk.img")
        }
        let config = try XlConfig.render(
            guest.domain,
            comment: "Generated by runxl image convert from \(source): a \(declaration.kind.rawValue) unikernel\nBoot with: xl create \(output)/xl.cfg")
        try FileSystem.writeAtomically(output + "/xl.cfg", Array(config.utf8))
        let description = UnikernelDescription(
            domain: guest.domain, unikernel: declaration.kind, convention: declaration.convention, binary: declaration.binary,
            bootableTypes: guest.notes.bootableTypes.sorted { $0.rawValue < $1.rawValue })
        try FileSystem.writeAtomically(output + "/guest.json", Array(try JSONDocument.encode(description)) + [0x0A])
        return guest
    }
}
