import Hypervisor
import RunxlBase

/// A `DomainSpec` checked and converted to libxl's units and vocabulary before any libxl call.
///
/// Kept apart from the C structures so the conversion can be tested on hosts without Xen, and so
/// that every bad value is reported with a runxl message naming it instead of libxl's terse
/// `ERROR_INVAL` after a round trip through the toolstack.
struct DomainPlan: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case pv
        case pvh
    }

    enum Action: Equatable, Sendable {
        case destroy
        case restart
        case preserve
    }

    struct Disk: Equatable, Sendable {
        enum Format: Equatable, Sendable {
            case raw
            case qcow2
        }
        var path: String
        var virtualDevice: String
        var format: Format
        var readWrite: Bool
    }

    struct Nic: Equatable, Sendable {
        var mac: [UInt8]?
        var bridge: String?
        var backendName: String?
        /// The hotplug script; set when no bridge is given, so that libxl's default `vif-bridge`
        /// does not try to join the default bridge and runxl can wire the backend itself.
        var script: String?
    }

    struct Share: Equatable, Sendable {
        var tag: String
        var path: String
    }

    var name: String
    var kind: Kind
    var kernel: String
    var ramdisk: String?
    var cmdline: String
    var memoryKiB: UInt64
    var maxMemoryKiB: UInt64
    var vcpus: Int
    var maxVcpus: Int
    var disks: [Disk]
    var nics: [Nic]
    var shares: [Share]
    var onPoweroff: Action
    var onReboot: Action
    var onCrash: Action

    /// Xen copies the PV command line into a 1024-byte buffer (`MAX_GUEST_CMDLINE`), NUL included.
    static let maximumCommandLineBytes = 1023
    /// Xen 4.17 builds PVH guests with at most 128 vCPUs; the same bound keeps PV sane.
    static let maximumVCPUs = 128
    /// Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
    static let maximumInterfaceNameBytes = 15
    /// A hotplug script that succeeds without touching the interface.
    static let detachedVifScript = "/bin/true"

    init(_ spec: DomainSpec) throws(RunxlError) {
        try Self.checkName(spec.name)
        guard spec.kernel.hasPrefix("/") else {
            throw RunxlError(.invalidKernel, "the kernel path '\(spec.kernel)' of domain '\(spec.name)' must be absolute")
        }
        if let ramdisk = spec.ramdisk, !ramdisk.hasPrefix("/") {
            throw RunxlError(
                .invalidDomainConfig, "the ramdisk path '\(ramdisk)' of domain '\(spec.name)' must be absolute")
        }
        guard !spec.cmdline.utf8.contains(0) else {
            throw RunxlError(.invalidDomainConfig, "the kernel command line of domain '\(spec.name)' contains a NUL byte")
        }
        guard spec.cmdline.utf8.count <= Self.maximumCommandLineBytes else {
            throw RunxlError(
                .invalidDomainConfig,
                "the kernel command line of domain '\(spec.name)' is \(spec.cmdline.utf8.count) bytes; "
                    + "Xen passes at most \(Self.maximumCommandLineBytes)")
        }
        // 1 TiB is far above any dom0 runxl targets, and keeps the KiB value well inside UInt64.
        guard spec.memoryMiB > 0, spec.memoryMiB <= 1 << 20 else {
            throw RunxlError(
                .invalidDomainConfig,
                "domain '\(spec.name)' asks for \(spec.memoryMiB) MiB of memory; give between 1 MiB and 1 TiB")
        }
        guard (1...Self.maximumVCPUs).contains(spec.vcpus) else {
            throw RunxlError(
                .invalidDomainConfig,
                "domain '\(spec.name)' asks for \(spec.vcpus) vCPUs; give between 1 and \(Self.maximumVCPUs)")
        }

        name = spec.name
        kind = spec.type == .pv ? .pv : .pvh
        kernel = spec.kernel
        ramdisk = spec.ramdisk
        cmdline = spec.cmdline
        let maxMemoryMiB = spec.maxMemoryMiB ?? spec.memoryMiB
        guard maxMemoryMiB >= spec.memoryMiB, maxMemoryMiB <= 1 << 20 else {
            throw RunxlError(
                .invalidDomainConfig,
                "domain '\(spec.name)' has a memory ceiling of \(maxMemoryMiB) MiB; give between its "
                    + "\(spec.memoryMiB) MiB and 1 TiB")
        }
        let maxVcpus = spec.maxVcpus ?? spec.vcpus
        guard (spec.vcpus...Self.maximumVCPUs).contains(maxVcpus) else {
            throw RunxlError(
                .invalidDomainConfig,
                "domain '\(spec.name)' has a ceiling of \(maxVcpus) vCPUs; give between its \(spec.vcpus) and "
                    + "\(Self.maximumVCPUs)")
        }
        memoryKiB = UInt64(spec.memoryMiB) * 1024
        maxMemoryKiB = UInt64(maxMemoryMiB) * 1024
        vcpus = spec.vcpus
        self.maxVcpus = maxVcpus
        disks = []
        for disk in spec.disks {
            guard disk.path.hasPrefix("/") else {
                throw RunxlError(
                    .invalidDomainConfig, "the disk path '\(disk.path)' of domain '\(spec.name)' must be absolute")
            }
            guard Self.isPlainName(disk.virtualDevice) else {
                throw RunxlError(
                    .invalidDomainConfig,
                    "the disk '\(disk.path)' of domain '\(spec.name)' has virtual device '\(disk.virtualDevice)'; "
                        + "use a name such as xvda")
            }
            disks.append(
                Disk(
                    path: disk.path, virtualDevice: disk.virtualDevice,
                    format: disk.format == .raw ? .raw : .qcow2, readWrite: !disk.readOnly))
        }
        nics = []
        for (index, vif) in spec.vifs.enumerated() {
            var nic = Nic(mac: nil, bridge: vif.bridge, backendName: vif.backendName, script: nil)
            if let mac = vif.mac {
                guard let bytes = Self.parseMAC(mac) else {
                    throw RunxlError(
                        .invalidDomainConfig,
                        "vif \(index) of domain '\(spec.name)' has MAC '\(mac)'; give six hex pairs such as "
                            + "00:16:3e:12:34:56 with the multicast bit clear")
                }
                nic.mac = bytes
            }
            for (what, interface) in [("bridge", vif.bridge), ("backend name", vif.backendName)] {
                guard let interface else { continue }
                guard Self.isPlainName(interface), interface.utf8.count <= Self.maximumInterfaceNameBytes else {
                    throw RunxlError(
                        .invalidDomainConfig,
                        "vif \(index) of domain '\(spec.name)' has \(what) '\(interface)'; interface names are "
                            + "1 to \(Self.maximumInterfaceNameBytes) letters, digits, '-', '_' or '.'")
                }
            }
            if vif.bridge == nil { nic.script = Self.detachedVifScript }
            nics.append(nic)
        }
        shares = []
        for (index, share) in spec.shares.enumerated() {
            guard Self.isPlainName(share.tag), !shares.contains(where: { $0.tag == share.tag }) else {
                throw RunxlError(
                    .invalidDomainConfig,
                    "9pfs share \(index) of domain '\(spec.name)' has tag '\(share.tag)'; give each share its own tag "
                        + "of letters, digits, '-', '_' or '.'")
            }
            // libxl writes the path into xenstore for the backend as is.
            guard share.path.hasPrefix("/"), !share.path.utf8.contains(0) else {
                throw RunxlError(
                    .invalidDomainConfig, "the 9pfs share path '\(share.path)' of domain '\(spec.name)' must be absolute")
            }
            shares.append(Share(tag: share.tag, path: share.path))
        }
        onPoweroff = Self.action(spec.onPoweroff)
        onReboot = Self.action(spec.onReboot)
        onCrash = Self.action(spec.onCrash)
    }

    private static func action(_ action: LifecycleAction) -> Action {
        switch action {
        case .destroy: .destroy
        case .restart: .restart
        case .preserve: .preserve
        }
    }

    /// Names end up in xenstore, in xenconsoled's `guest-NAME.log` and in xl's output, where an
    /// all-digit name would be read as a domain id.
    static func checkName(_ name: String) throws(RunxlError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else {
            throw RunxlError(.invalidDomainConfig, "the domain name '\(name)' must be 1 to 64 bytes long")
        }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "/") }) else {
            throw RunxlError(
                .invalidDomainConfig, "the domain name '\(name)' contains '/' or a control character")
        }
        guard !bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw RunxlError(
                .invalidDomainConfig, "the domain name '\(name)' is all digits, which Xen tools read as a domain id")
        }
    }

    private static func isPlainName(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }

    /// Parses `xx:xx:xx:xx:xx:xx`; nil unless it is a unicast address.
    static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        guard bytes[0] & 1 == 0 else { return nil }
        return bytes
    }
}
