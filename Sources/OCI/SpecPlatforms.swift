// OCI runtime-spec 1.3.0: config.json's `vm`, `solaris`, `windows`, `zos` and `freebsd` objects
// (config-vm.md and friends, with their schema files).

public import JSON

/// How a VM-based runtime boots the container (`vm`, config-vm.md). runxl reads `kernel`,
/// `kernel.initrd`, `kernel.parameters` and `hwConfig.vcpus` / `hwConfig.memory`.
public struct VM: Codable, Sendable, Equatable {
    public var hypervisor: VMHypervisor?
    public var kernel: VMKernel
    public var image: VMImage?
    public var hwConfig: VMHWConfig?

    public init(
        hypervisor: VMHypervisor? = nil,
        kernel: VMKernel,
        image: VMImage? = nil,
        hwConfig: VMHWConfig? = nil
    ) {
        self.hypervisor = hypervisor
        self.kernel = kernel
        self.image = image
        self.hwConfig = hwConfig
    }
}

public struct VMHypervisor: Codable, Sendable, Equatable {
    public var path: String
    public var parameters: [String]?

    public init(path: String, parameters: [String]? = nil) {
        self.path = path
        self.parameters = parameters
    }
}

public struct VMKernel: Codable, Sendable, Equatable {
    public var path: String
    public var parameters: [String]?
    public var initrd: String?

    public init(path: String, parameters: [String]? = nil, initrd: String? = nil) {
        self.path = path
        self.parameters = parameters
        self.initrd = initrd
    }
}

public struct VMImage: Codable, Sendable, Equatable {
    public var path: String
    public var format: VMImageFormat

    public init(path: String, format: VMImageFormat) {
        self.path = path
        self.format = format
    }
}

/// Hardware given to the VM; `dtdevs`, `iomems` and `irqs` follow xl.cfg(5).
public struct VMHWConfig: Codable, Sendable, Equatable {
    public var deviceTree: String?
    public var vcpus: UInt32?
    /// Bytes.
    public var memory: UInt64?
    public var dtdevs: [String]?
    public var iomems: [VMIOMem]?
    public var irqs: [UInt32]?

    public init(
        deviceTree: String? = nil,
        vcpus: UInt32? = nil,
        memory: UInt64? = nil,
        dtdevs: [String]? = nil,
        iomems: [VMIOMem]? = nil,
        irqs: [UInt32]? = nil
    ) {
        self.deviceTree = deviceTree
        self.vcpus = vcpus
        self.memory = memory
        self.dtdevs = dtdevs
        self.iomems = iomems
        self.irqs = irqs
    }
}

public struct VMIOMem: Codable, Sendable, Equatable {
    public var firstGFN: UInt64?
    public var firstMFN: UInt64
    public var nrMFNs: UInt64

    public init(firstGFN: UInt64? = nil, firstMFN: UInt64, nrMFNs: UInt64) {
        self.firstGFN = firstGFN
        self.firstMFN = firstMFN
        self.nrMFNs = nrMFNs
    }
}

public struct Solaris: Codable, Sendable, Equatable {
    public var milestone: String?
    public var limitpriv: String?
    public var maxShmMemory: String?
    public var cappedCPU: SolarisCappedCPU?
    public var cappedMemory: SolarisCappedMemory?
    public var anet: [SolarisAnet]?

    public init(
        milestone: String? = nil,
        limitpriv: String? = nil,
        maxShmMemory: String? = nil,
        cappedCPU: SolarisCappedCPU? = nil,
        cappedMemory: SolarisCappedMemory? = nil,
        anet: [SolarisAnet]? = nil
    ) {
        self.milestone = milestone
        self.limitpriv = limitpriv
        self.maxShmMemory = maxShmMemory
        self.cappedCPU = cappedCPU
        self.cappedMemory = cappedMemory
        self.anet = anet
    }
}

public struct SolarisCappedCPU: Codable, Sendable, Equatable {
    public var ncpus: String?

    public init(ncpus: String? = nil) {
        self.ncpus = ncpus
    }
}

public struct SolarisCappedMemory: Codable, Sendable, Equatable {
    public var physical: String?
    public var swap: String?

    public init(physical: String? = nil, swap: String? = nil) {
        self.physical = physical
        self.swap = swap
    }
}

public struct SolarisAnet: Codable, Sendable, Equatable {
    public var linkname: String?
    public var lowerLink: String?
    public var allowedAddress: String?
    public var configureAllowedAddress: String?
    public var defrouter: String?
    public var macAddress: String?
    public var linkProtection: String?

    public init(
        linkname: String? = nil,
        lowerLink: String? = nil,
        allowedAddress: String? = nil,
        configureAllowedAddress: String? = nil,
        defrouter: String? = nil,
        macAddress: String? = nil,
        linkProtection: String? = nil
    ) {
        self.linkname = linkname
        self.lowerLink = lowerLink
        self.allowedAddress = allowedAddress
        self.configureAllowedAddress = configureAllowedAddress
        self.defrouter = defrouter
        self.macAddress = macAddress
        self.linkProtection = linkProtection
    }
}

public struct Windows: Codable, Sendable, Equatable {
    /// At least one folder.
    public var layerFolders: [String]
    public var devices: [WindowsDevice]?
    public var resources: WindowsResources?
    public var network: WindowsNetwork?
    /// Free-form (the schema says only "object").
    public var credentialSpec: JSONValue?
    public var servicing: Bool?
    public var ignoreFlushesDuringBoot: Bool?
    public var hyperv: WindowsHyperV?

    public init(
        layerFolders: [String],
        devices: [WindowsDevice]? = nil,
        resources: WindowsResources? = nil,
        network: WindowsNetwork? = nil,
        credentialSpec: JSONValue? = nil,
        servicing: Bool? = nil,
        ignoreFlushesDuringBoot: Bool? = nil,
        hyperv: WindowsHyperV? = nil
    ) {
        self.layerFolders = layerFolders
        self.devices = devices
        self.resources = resources
        self.network = network
        self.credentialSpec = credentialSpec
        self.servicing = servicing
        self.ignoreFlushesDuringBoot = ignoreFlushesDuringBoot
        self.hyperv = hyperv
    }
}

public struct WindowsDevice: Codable, Sendable, Equatable {
    public var id: String
    public var idType: WindowsDeviceIDType

    public init(id: String, idType: WindowsDeviceIDType) {
        self.id = id
        self.idType = idType
    }
}

public struct WindowsResources: Codable, Sendable, Equatable {
    public var memory: WindowsMemoryResources?
    public var cpu: WindowsCPUResources?
    public var storage: WindowsStorageResources?

    public init(
        memory: WindowsMemoryResources? = nil,
        cpu: WindowsCPUResources? = nil,
        storage: WindowsStorageResources? = nil
    ) {
        self.memory = memory
        self.cpu = cpu
        self.storage = storage
    }
}

public struct WindowsMemoryResources: Codable, Sendable, Equatable {
    public var limit: UInt64?

    public init(limit: UInt64? = nil) {
        self.limit = limit
    }
}

public struct WindowsCPUResources: Codable, Sendable, Equatable {
    public var count: UInt64?
    public var shares: UInt16?
    public var maximum: UInt16?
    /// config-windows.md and the Go types say an array; config-windows.json says one object.
    /// The prose wins here.
    public var affinity: [WindowsCPUGroupAffinity]?

    public init(
        count: UInt64? = nil,
        shares: UInt16? = nil,
        maximum: UInt16? = nil,
        affinity: [WindowsCPUGroupAffinity]? = nil
    ) {
        self.count = count
        self.shares = shares
        self.maximum = maximum
        self.affinity = affinity
    }
}

public struct WindowsCPUGroupAffinity: Codable, Sendable, Equatable {
    public var mask: UInt64
    public var group: UInt32

    public init(mask: UInt64, group: UInt32) {
        self.mask = mask
        self.group = group
    }
}

public struct WindowsStorageResources: Codable, Sendable, Equatable {
    public var iops: UInt64?
    public var bps: UInt64?
    public var sandboxSize: UInt64?

    public init(iops: UInt64? = nil, bps: UInt64? = nil, sandboxSize: UInt64? = nil) {
        self.iops = iops
        self.bps = bps
        self.sandboxSize = sandboxSize
    }
}

public struct WindowsNetwork: Codable, Sendable, Equatable {
    public var endpointList: [String]?
    public var allowUnqualifiedDNSQuery: Bool?
    public var dnsSearchList: [String]?
    public var networkSharedContainerName: String?
    public var networkNamespace: String?

    public init(
        endpointList: [String]? = nil,
        allowUnqualifiedDNSQuery: Bool? = nil,
        dnsSearchList: [String]? = nil,
        networkSharedContainerName: String? = nil,
        networkNamespace: String? = nil
    ) {
        self.endpointList = endpointList
        self.allowUnqualifiedDNSQuery = allowUnqualifiedDNSQuery
        self.dnsSearchList = dnsSearchList
        self.networkSharedContainerName = networkSharedContainerName
        self.networkNamespace = networkNamespace
    }

    enum CodingKeys: String, CodingKey {
        case endpointList, allowUnqualifiedDNSQuery, networkSharedContainerName, networkNamespace
        case dnsSearchList = "DNSSearchList"
    }
}

public struct WindowsHyperV: Codable, Sendable, Equatable {
    public var utilityVMPath: String?

    public init(utilityVMPath: String? = nil) {
        self.utilityVMPath = utilityVMPath
    }
}

public struct ZOS: Codable, Sendable, Equatable {
    public var namespaces: [ZOSNamespace]?

    public init(namespaces: [ZOSNamespace]? = nil) {
        self.namespaces = namespaces
    }
}

public struct ZOSNamespace: Codable, Sendable, Equatable {
    public var type: ZOSNamespaceType
    public var path: String?

    public init(type: ZOSNamespaceType, path: String? = nil) {
        self.type = type
        self.path = path
    }
}

public struct FreeBSD: Codable, Sendable, Equatable {
    public var devices: [FreeBSDDevice]?
    public var jail: FreeBSDJail?

    public init(devices: [FreeBSDDevice]? = nil, jail: FreeBSDJail? = nil) {
        self.devices = devices
        self.jail = jail
    }
}

public struct FreeBSDDevice: Codable, Sendable, Equatable {
    public var path: String?
    /// Permission bits in decimal (0...511).
    public var mode: UInt32?

    public init(path: String? = nil, mode: UInt32? = nil) {
        self.path = path
        self.mode = mode
    }
}

public struct FreeBSDJail: Codable, Sendable, Equatable {
    public var parent: String?
    public var host: FreeBSDSharingNoDisable?
    public var ip4: FreeBSDSharing?
    public var ip4Addr: [String]?
    public var ip6: FreeBSDSharing?
    public var ip6Addr: [String]?
    public var vnet: FreeBSDSharingNoDisable?
    public var interface: String?
    public var vnetInterfaces: [String]?
    public var sysvmsg: FreeBSDSharing?
    public var sysvsem: FreeBSDSharing?
    public var sysvshm: FreeBSDSharing?
    public var enforceStatfs: UInt8?
    public var allow: FreeBSDJailAllow?

    public init(
        parent: String? = nil,
        host: FreeBSDSharingNoDisable? = nil,
        ip4: FreeBSDSharing? = nil,
        ip4Addr: [String]? = nil,
        ip6: FreeBSDSharing? = nil,
        ip6Addr: [String]? = nil,
        vnet: FreeBSDSharingNoDisable? = nil,
        interface: String? = nil,
        vnetInterfaces: [String]? = nil,
        sysvmsg: FreeBSDSharing? = nil,
        sysvsem: FreeBSDSharing? = nil,
        sysvshm: FreeBSDSharing? = nil,
        enforceStatfs: UInt8? = nil,
        allow: FreeBSDJailAllow? = nil
    ) {
        self.parent = parent
        self.host = host
        self.ip4 = ip4
        self.ip4Addr = ip4Addr
        self.ip6 = ip6
        self.ip6Addr = ip6Addr
        self.vnet = vnet
        self.interface = interface
        self.vnetInterfaces = vnetInterfaces
        self.sysvmsg = sysvmsg
        self.sysvsem = sysvsem
        self.sysvshm = sysvshm
        self.enforceStatfs = enforceStatfs
        self.allow = allow
    }
}

public struct FreeBSDJailAllow: Codable, Sendable, Equatable {
    public var setHostname: Bool?
    public var rawSockets: Bool?
    public var chflags: Bool?
    public var mount: [String]?
    public var quotas: Bool?
    public var socketAf: Bool?
    public var mlock: Bool?
    public var reservedPorts: Bool?
    public var suser: Bool?

    public init(
        setHostname: Bool? = nil,
        rawSockets: Bool? = nil,
        chflags: Bool? = nil,
        mount: [String]? = nil,
        quotas: Bool? = nil,
        socketAf: Bool? = nil,
        mlock: Bool? = nil,
        reservedPorts: Bool? = nil,
        suser: Bool? = nil
    ) {
        self.setHostname = setHostname
        self.rawSockets = rawSockets
        self.chflags = chflags
        self.mount = mount
        self.quotas = quotas
        self.socketAf = socketAf
        self.mlock = mlock
        self.reservedPorts = reservedPorts
        self.suser = suser
    }
}
