public import Archive
public import Hypervisor
public import OCI
public import RunxlBase

/// Where one resolved setting came from, so an error about it can tell the user what to change.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    /// A field of config.json's `vm` section, e.g. `vm.hwConfig.memory`.
    case vmSection(String)
    /// A runxl annotation key.
    case annotation(String)
    /// A container resource limit, e.g. `linux.resources.memory.limit`.
    case containerLimit(String)
    /// A field of the host config file.
    case hostConfig(String)
    /// runxl's built-in default.
    case builtIn

    public var description: String {
        switch self {
        case .vmSection(let field): return field
        case .annotation(let key): return "annotation \(key)"
        case .containerLimit(let field): return field
        case .hostConfig(let field): return "\"\(field)\" in \(HostConfig.defaultPath)"
        case .builtIn: return "runxl's default"
        }
    }

    /// Settings the user did not set explicitly may be grown to fit the guest.
    public var isAdjustable: Bool {
        switch self {
        case .builtIn, .containerLimit: return true
        default: return false
        }
    }
}

/// runxl's built-in choices, used when neither the container nor the host says otherwise.
public struct GuestDefaults: Sendable, Equatable {
    /// PV runs on every host; PVH needs hardware-assisted paging, which is not known here.
    public var type: GuestType = .pv
    public var memoryMiB: Int = 256
    public var vcpus: Int = 1
    /// lz4: chosen by measured boot + build time (docs/guest-build.md, "Compression"): it
    /// boots as fast as no compression and builds fast, at about half the guest RAM of none.
    public var compression: ArchiveCompression = .lz4
    /// Where the default kernel (the newest `vmlinuz-*`) is looked for.
    public var bootDirectory: String = "/boot"
    /// Memory the guest kernel itself needs besides the container's files and processes.
    public var kernelOverheadMiB: Int = 64
    /// A pod sandbox's VM ceilings when neither its annotations nor the host config say. Xen
    /// gives nothing for a ceiling until the balloon grows into it; the guest kernel keeps page
    /// descriptors for it (docs/pods.md has the measured cost).
    public var podMaxMemoryMiB: Int = 1024
    public var podMaxVcpus: Int = 4

    public init() {}
}

/// The guest as config.json, annotations, the host config and defaults together ask for it,
/// before anything is built.
public struct GuestSettings: Sendable, Equatable {
    public var type: GuestType
    /// Path in dom0 of the kernel the user chose (not yet validated or extracted).
    public var kernel: String
    /// A prebuilt initramfs from `vm.kernel.initrd`: booted as is instead of building one.
    public var initrd: String?
    public var memoryMiB: Int
    public var vcpus: Int
    /// The ceilings the VM can grow to as a pod's containers join it; nil: it never grows.
    public var maxMemoryMiB: Int?
    public var maxVcpus: Int?
    /// The full kernel command line.
    public var cmdline: String
    public var compression: ArchiveCompression
    public var typeSource: SettingSource
    public var kernelSource: SettingSource
    public var memorySource: SettingSource
    public var vcpusSource: SettingSource
}

/// Paths inside the guest that the builder and runxl-init agree on.
public enum GuestLayout {
    /// runxl-init inside the initramfs; a directory of its own so an image's `/init` is untouched.
    public static let initPath = "/.runxl/init"
    /// Kernel modules for init to load, in load order as listed in `moduleOrderPath`.
    public static let modulesDirectory = "/.runxl/modules"
    /// One file name of `modulesDirectory` per line, dependencies first.
    public static let moduleOrderPath = "/.runxl/modules/order"
    /// The start of every command line: Xen's console, a quiet kernel so the console carries
    /// only the container's output, no boot-time self-tests of the kernel's crypto algorithms,
    /// and runxl-init as the first process.
    ///
    /// `cryptomgr.notests`: Debian's kernel tests every algorithm it registers against known
    /// answers at boot; skipping that cut a guest's boot to first output from 6.20 s to 5.47 s in
    /// the lab (0.88x, seven rounds, each faster; docs/fast-start.md). With `fips=1` the kernel
    /// runs the tests regardless.
    public static let baseCommandLine = "console=hvc0 quiet loglevel=0 cryptomgr.notests rdinit=\(initPath)"
    /// PVH guests probe PCI config space and calibrate timers through it; with `pci=off`,
    /// 12 of 12 PVH boots succeeded in the lab against 10 of 14 without.
    public static let pvhCommandLine = "pci=off"
    /// Xen's limit on a guest command line (MAX_GUEST_CMDLINE), including the final NUL.
    public static let maximumCommandLineLength = 1023
}

/// Resolves `GuestSettings` with a fixed precedence: the `vm` section, then runxl annotations,
/// then container limits, then the host config, then built-in defaults.
public enum GuestSettingsResolver {
    public static func resolve(
        spec: Spec, host: HostConfig = HostConfig(), defaults: GuestDefaults = GuestDefaults()
    ) throws(RunxlError) -> GuestSettings {
        let annotations = spec.annotations ?? [:]
        let vm = spec.vm

        // Type: no vm field describes it.
        var type = defaults.type
        var typeSource = SettingSource.builtIn
        if let text = annotations[RunxlAnnotations.guestType] {
            guard let parsed = GuestType(rawValue: text.lowercased()) else {
                throw RunxlError(
                    .invalidAnnotation,
                    "annotation \(RunxlAnnotations.guestType) is '\(text)'; use one of: "
                        + GuestType.allCases.map(\.rawValue).joined(separator: ", "))
            }
            type = parsed
            typeSource = .annotation(RunxlAnnotations.guestType)
        } else if let hostType = host.defaultType {
            type = hostType
            typeSource = .hostConfig("defaultType")
        }

        // Kernel.
        let kernel: String
        let kernelSource: SettingSource
        if let path = vm?.kernel.path, !path.isEmpty {
            kernel = path
            kernelSource = .vmSection("vm.kernel.path")
        } else if let path = annotations[RunxlAnnotations.kernel] {
            guard path.hasPrefix("/") else {
                throw RunxlError(
                    .invalidAnnotation, "annotation \(RunxlAnnotations.kernel) must be an absolute path, got '\(path)'")
            }
            kernel = path
            kernelSource = .annotation(RunxlAnnotations.kernel)
        } else if let path = host.kernel {
            kernel = path
            kernelSource = .hostConfig("kernel")
        } else {
            kernel = try HostKernels.newest(in: defaults.bootDirectory)
            kernelSource = .builtIn
        }

        // Memory.
        var memoryMiB = defaults.memoryMiB
        var memorySource = SettingSource.builtIn
        if let bytes = vm?.hwConfig?.memory {
            guard bytes >= 1 << 20 else {
                throw RunxlError(.invalidAnnotation, "vm.hwConfig.memory is \(bytes) bytes; a guest needs at least 1 MiB")
            }
            memoryMiB = Int(clamping: (bytes + (1 << 20) - 1) >> 20)
            memorySource = .vmSection("vm.hwConfig.memory")
        } else if let text = annotations[RunxlAnnotations.memory] {
            memoryMiB = try positiveInteger(text, key: RunxlAnnotations.memory, unit: "MiB", limit: 1 << 24)
            memorySource = .annotation(RunxlAnnotations.memory)
        } else if let limit = spec.linux?.resources?.memory?.limit, limit > 0 {
            // The container's limit is for its processes; the guest kernel needs its own share.
            memoryMiB = Int((limit + (1 << 20) - 1) >> 20) + defaults.kernelOverheadMiB
            memorySource = .containerLimit("linux.resources.memory.limit")
        } else if let hostMemory = host.memoryMiB {
            guard hostMemory > 0 else {
                throw RunxlError(.invalidConfig, "\"memoryMiB\" in \(HostConfig.defaultPath) must be positive")
            }
            memoryMiB = hostMemory
            memorySource = .hostConfig("memoryMiB")
        }

        // Virtual CPUs.
        var vcpus = defaults.vcpus
        var vcpusSource = SettingSource.builtIn
        if let count = vm?.hwConfig?.vcpus {
            guard count >= 1, count <= 512 else {
                throw RunxlError(.invalidAnnotation, "vm.hwConfig.vcpus is \(count); use 1...512")
            }
            vcpus = Int(count)
            vcpusSource = .vmSection("vm.hwConfig.vcpus")
        } else if let text = annotations[RunxlAnnotations.vcpus] {
            vcpus = try positiveInteger(text, key: RunxlAnnotations.vcpus, unit: "vCPUs", limit: 512)
            vcpusSource = .annotation(RunxlAnnotations.vcpus)
        } else if let hostVcpus = host.vcpus {
            guard hostVcpus >= 1, hostVcpus <= 512 else {
                throw RunxlError(.invalidConfig, "\"vcpus\" in \(HostConfig.defaultPath) must be in 1...512")
            }
            vcpus = hostVcpus
            vcpusSource = .hostConfig("vcpus")
        }

        let (maxMemoryMiB, maxVcpus) = try ceilings(annotations: annotations, host: host, defaults: defaults)

        // Initramfs compression.
        var compression = host.compression ?? defaults.compression
        if let text = annotations[RunxlAnnotations.initramfsCompression] {
            guard let parsed = ArchiveCompression(rawValue: text.lowercased()) else {
                throw RunxlError(
                    .invalidAnnotation,
                    "annotation \(RunxlAnnotations.initramfsCompression) is '\(text)'; use one of: "
                        + ArchiveCompression.allCases.map(\.rawValue).joined(separator: ", "))
            }
            compression = parsed
        }

        // Command line: runxl's part first; the user's parameters follow, so a repeated kernel
        // option given by the user wins (the kernel keeps the last value).
        var parts = [GuestLayout.baseCommandLine]
        if type == .pvh { parts.append(GuestLayout.pvhCommandLine) }
        if let parameters = vm?.kernel.parameters {
            for (index, parameter) in parameters.enumerated() {
                try checkCommandLinePart(parameter, field: "vm.kernel.parameters[\(index)]")
                if !parameter.isEmpty { parts.append(parameter) }
            }
        }
        if let extra = annotations[RunxlAnnotations.cmdlineExtra] {
            try checkCommandLinePart(extra, field: "annotation \(RunxlAnnotations.cmdlineExtra)")
            if !extra.isEmpty { parts.append(extra) }
        }
        let cmdline = parts.joined(separator: " ")
        guard cmdline.utf8.count <= GuestLayout.maximumCommandLineLength else {
            throw RunxlError(
                .invalidAnnotation,
                "the guest kernel command line would be \(cmdline.utf8.count) bytes; Xen allows "
                    + "\(GuestLayout.maximumCommandLineLength): shorten vm.kernel.parameters or "
                    + "annotation \(RunxlAnnotations.cmdlineExtra)")
        }

        var initrd: String?
        if let path = vm?.kernel.initrd, !path.isEmpty {
            guard path.hasPrefix("/") else {
                throw RunxlError(.invalidAnnotation, "vm.kernel.initrd must be an absolute path, got '\(path)'")
            }
            initrd = path
        }

        return GuestSettings(
            type: type, kernel: kernel, initrd: initrd, memoryMiB: memoryMiB, vcpus: vcpus,
            maxMemoryMiB: maxMemoryMiB, maxVcpus: maxVcpus, cmdline: cmdline,
            compression: compression, typeSource: typeSource, kernelSource: kernelSource,
            memorySource: memorySource, vcpusSource: vcpusSource)
    }

    /// The ceilings a VM is created with (docs/pods.md, "Resources"): its annotations', else a pod
    /// sandbox's from the host config or the defaults; nil (no room to grow) for any other VM.
    public static func ceilings(
        annotations: [String: String], host: HostConfig, defaults: GuestDefaults = GuestDefaults()
    ) throws(RunxlError) -> (maxMemoryMiB: Int?, maxVcpus: Int?) {
        let isPodSandbox = PodAnnotations.markSandbox(annotations)
        var maxMemoryMiB: Int?
        if let text = annotations[RunxlAnnotations.maxMemory] {
            maxMemoryMiB = try positiveInteger(text, key: RunxlAnnotations.maxMemory, unit: "MiB", limit: 1 << 20)
        } else if isPodSandbox {
            maxMemoryMiB = try hostCeiling(host.podMaxMemoryMiB, key: "podMaxMemoryMiB", limit: 1 << 20) ?? defaults.podMaxMemoryMiB
        }
        var maxVcpus: Int?
        if let text = annotations[RunxlAnnotations.maxVcpus] {
            maxVcpus = try positiveInteger(text, key: RunxlAnnotations.maxVcpus, unit: "vCPUs", limit: 128)
        } else if isPodSandbox {
            maxVcpus = try hostCeiling(host.podMaxVcpus, key: "podMaxVcpus", limit: 128) ?? defaults.podMaxVcpus
        }
        return (maxMemoryMiB, maxVcpus)
    }

    private static func hostCeiling(_ value: Int?, key: String, limit: Int) throws(RunxlError) -> Int? {
        guard let value else { return nil }
        guard value >= 1, value <= limit else {
            throw RunxlError(.invalidConfig, "\"\(key)\" in \(HostConfig.defaultPath) must be in 1...\(limit)")
        }
        return value
    }

    private static func positiveInteger(_ text: String, key: String, unit: String, limit: Int) throws(RunxlError) -> Int {
        guard let value = Int(text.trimmingSpaces), value >= 1, value <= limit else {
            throw RunxlError(
                .invalidAnnotation, "annotation \(key) is '\(text)'; give a whole number of \(unit) from 1 to \(limit)")
        }
        return value
    }

    /// Printable ASCII only: a control character could end the xl.cfg string or the console
    /// line, and Xen passes the bytes to the kernel unchanged.
    private static func checkCommandLinePart(_ text: String, field: String) throws(RunxlError) {
        guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            throw RunxlError(
                .invalidAnnotation, "\(field) may contain only printable ASCII characters (no newlines or tabs)")
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// Xen domain names for containers.
public enum GuestNaming {
    public static let prefix = "runxl-"
    /// Ids up to this length are kept whole; longer ones are shortened with a hash of the whole
    /// id appended, so two long ids sharing a prefix still get different names.
    public static let maximumLength = 64

    public static func domainName(containerID: String) -> String {
        let whole = prefix + containerID
        guard whole.utf8.count > maximumLength else { return whole }
        var hasher = SHA256()
        hasher.update(containerID)
        let digest = hasher.finalizeHex().prefix(16)
        let keep = maximumLength - prefix.utf8.count - 1 - digest.count
        return prefix + String(decoding: containerID.utf8.prefix(keep), as: UTF8.self) + "-" + digest
    }
}
