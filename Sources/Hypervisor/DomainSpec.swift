/// The guest virtualization mode. PVH needs hardware-assisted paging on the host; PV runs anywhere.
public enum GuestType: String, Codable, Sendable, CaseIterable {
    case pv
    case pvh
}

/// What Xen's toolstack does when a guest powers off, reboots or crashes.
///
/// runxl always uses `.destroy`: a container that reboots or crashes has ended, and xl's default
/// `restart` would hide a triple-faulting guest behind an endless restart loop.
public enum LifecycleAction: String, Codable, Sendable {
    case destroy
    case restart
    case preserve
}

/// A block device given to the guest.
public struct DiskSpec: Codable, Sendable, Equatable {
    /// A file or block device in dom0.
    public var path: String
    /// The name the guest sees, e.g. `xvda`.
    public var virtualDevice: String
    public var readOnly: Bool
    public var format: Format

    public enum Format: String, Codable, Sendable {
        case raw
        case qcow2
    }

    public init(path: String, virtualDevice: String, readOnly: Bool = true, format: Format = .raw) {
        self.path = path
        self.virtualDevice = virtualDevice
        self.readOnly = readOnly
        self.format = format
    }
}

/// A network interface given to the guest.
public struct VifSpec: Codable, Sendable, Equatable {
    /// `xx:xx:xx:xx:xx:xx`; nil lets libxl pick one.
    public var mac: String?
    /// The dom0 bridge the backend joins; nil leaves the backend vif unattached (runxl wires it).
    public var bridge: String?
    /// The name of the backend interface in dom0.
    public var backendName: String?

    public init(mac: String? = nil, bridge: String? = nil, backendName: String? = nil) {
        self.mac = mac
        self.bridge = bridge
        self.backendName = backendName
    }
}

/// A dom0 directory served to the guest over Xen's PV 9pfs (a libxl `p9` device; libxl starts
/// QEMU's `xen-9pfs` backend for the domain). The guest mounts it by `tag`.
public struct ShareSpec: Codable, Sendable, Equatable {
    /// QEMU's `none`: files keep the owners and modes the guest gives them, as with runc, so
    /// `podman cp`, `diff` and the host's tools see ordinary files (`mapped-xattr` would hide
    /// them in extended attributes).
    public static let securityModel = "none"

    public var tag: String
    /// The dom0 directory, as the backend process sees it (see `HostMount`).
    public var path: String

    public init(tag: String, path: String) {
        self.tag = tag
        self.path = path
    }
}

/// A bind mount dom0 makes before the domain exists, seen only by the domain's 9pfs backend:
/// `create` makes it in a mount namespace of its own that the backend process inherits, so the
/// mount lives exactly as long as the backend and needs no clean-up.
public struct HostMount: Codable, Sendable, Equatable {
    public var source: String
    /// A directory or file below a `ShareSpec.path`.
    public var target: String
    public var readOnly: Bool
    /// `rbind`: the source's own submounts come along.
    public var recursive: Bool

    public init(source: String, target: String, readOnly: Bool, recursive: Bool) {
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.recursive = recursive
    }
}

/// Everything needed to create one Xen domain: the value that the guest builder produces and the
/// backends consume. Plain values only, so it can be written as JSON, compared in tests and
/// rendered as an `xl.cfg`.
public struct DomainSpec: Codable, Sendable, Equatable {
    /// The Xen domain name; unique among running domains.
    public var name: String
    public var type: GuestType
    /// Path in dom0 of the kernel (an ELF or bzImage for Linux, the unikernel binary otherwise).
    public var kernel: String
    /// Path in dom0 of the initramfs, if any.
    public var ramdisk: String?
    /// The kernel command line.
    public var cmdline: String
    /// The memory the guest boots with, and its balloon target until someone moves it.
    public var memoryMiB: Int
    /// The vCPUs online at boot.
    public var vcpus: Int
    /// The most memory the guest can balloon up to (Xen's maxmem), fixed for the domain's life;
    /// nil is `memoryMiB`. A pod's VM is created with room to grow as its containers join.
    public var maxMemoryMiB: Int?
    /// The most vCPUs the domain can have online (Xen's max_vcpus), fixed at create; nil is `vcpus`.
    public var maxVcpus: Int?
    public var disks: [DiskSpec]
    public var vifs: [VifSpec]
    public var shares: [ShareSpec]
    public var onPoweroff: LifecycleAction
    public var onReboot: LifecycleAction
    public var onCrash: LifecycleAction

    public init(
        name: String, type: GuestType, kernel: String, ramdisk: String? = nil, cmdline: String = "",
        memoryMiB: Int = 256, vcpus: Int = 1, maxMemoryMiB: Int? = nil, maxVcpus: Int? = nil, disks: [DiskSpec] = [], vifs: [VifSpec] = [],
        shares: [ShareSpec] = [], onPoweroff: LifecycleAction = .destroy, onReboot: LifecycleAction = .destroy,
        onCrash: LifecycleAction = .destroy
    ) {
        self.name = name
        self.type = type
        self.kernel = kernel
        self.ramdisk = ramdisk
        self.cmdline = cmdline
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.maxMemoryMiB = maxMemoryMiB
        self.maxVcpus = maxVcpus
        self.disks = disks
        self.vifs = vifs
        self.shares = shares
        self.onPoweroff = onPoweroff
        self.onReboot = onReboot
        self.onCrash = onCrash
    }
}
