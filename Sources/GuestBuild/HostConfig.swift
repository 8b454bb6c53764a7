public import Archive
public import Hypervisor
import OCI
public import RunxlBase

/// The host-wide defaults an administrator sets in `/etc/runxl/config.json`; each field may be
/// left out. Per-container settings (the `vm` section, annotations) override these.
public struct HostConfig: Codable, Sendable, Equatable {
    public static let defaultPath = "/etc/runxl/config.json"
    /// Where built kernels and initramfs images are kept when the config does not say.
    public static let defaultCacheDirectory = "/var/lib/runxl/cache"

    public var defaultType: GuestType?
    public var kernel: String?
    public var memoryMiB: Int?
    public var vcpus: Int?
    public var cacheDir: String?
    /// The bound on the initramfs images kept under `cacheDir`, least recently used dropped
    /// first; left out: a quarter of its file system, at most 2 GiB (`InitramfsCacheBound`).
    public var initramfsCacheMiB: Int?
    public var compression: ArchiveCompression?
    /// Kernel modules (names as modprobe knows them) put into every initramfs, from
    /// `/lib/modules/<release>` of the guest kernel's release.
    public var modules: [String]?
    /// How containers' files reach their guests when config.json's annotations do not say.
    public var rootfs: RootfsMode?
    /// Whether share-mode Linux guests are restored from VM templates (saved under `cacheDir`'s
    /// `templates/`) rather than booted, when config.json's annotations do not say.
    public var templates: Bool?
    /// The memory a pod sandbox's VM can grow to as its containers join (`PodCapacity`); left
    /// out: `GuestDefaults.podMaxMemoryMiB`.
    public var podMaxMemoryMiB: Int?
    /// The vCPUs a pod sandbox's VM can bring online; left out: `GuestDefaults.podMaxVcpus`.
    public var podMaxVcpus: Int?
    /// Pre-booted guests kept for each guest shape the host has run (`WarmPool`,
    /// docs/fast-start.md); left out or 0: none, every create boots its guest.
    public var warmPool: Int?

    public init(
        defaultType: GuestType? = nil, kernel: String? = nil, memoryMiB: Int? = nil, vcpus: Int? = nil,
        cacheDir: String? = nil, compression: ArchiveCompression? = nil, modules: [String]? = nil,
        rootfs: RootfsMode? = nil, initramfsCacheMiB: Int? = nil, templates: Bool? = nil,
        podMaxMemoryMiB: Int? = nil, podMaxVcpus: Int? = nil, warmPool: Int? = nil
    ) {
        self.warmPool = warmPool
        self.podMaxMemoryMiB = podMaxMemoryMiB
        self.podMaxVcpus = podMaxVcpus
        self.templates = templates
        self.rootfs = rootfs
        self.initramfsCacheMiB = initramfsCacheMiB
        self.defaultType = defaultType
        self.kernel = kernel
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.cacheDir = cacheDir
        self.compression = compression
        self.modules = modules
    }

    /// Reads the file; a missing file means "no host settings", a malformed one is an error
    /// naming it.
    public static func load(path: String = defaultPath) throws(RunxlError) -> HostConfig {
        guard FileSystem.exists(path) else { return HostConfig() }
        let bytes = try FileSystem.read(path)
        let config = try JSONDocument.decode(HostConfig.self, from: bytes, documentName: path, code: .invalidConfig)
        if let size = config.warmPool, !(0...maximumWarmPool).contains(size) {
            throw RunxlError(.invalidConfig, "\(path): warmPool is \(size); use 0 to \(maximumWarmPool) warm VMs per guest shape")
        }
        return config
    }

    /// Each warm VM holds its memory while it waits; more than this per shape is a mistake.
    public static let maximumWarmPool = 16

    public var cacheDirectory: String { cacheDir ?? Self.defaultCacheDirectory }
}
