// OCI runtime-spec 1.3.0: config.json's `linux` object (config-linux.md, config-linux.json,
// defs-linux.json).

public struct Linux: Codable, Sendable, Equatable {
    public var devices: [LinuxDevice]?
    /// Host interface name to the device settings inside the container.
    public var netDevices: [String: LinuxNetDevice]?
    public var uidMappings: [LinuxIDMapping]?
    public var gidMappings: [LinuxIDMapping]?
    public var namespaces: [LinuxNamespace]?
    public var resources: LinuxResources?
    public var cgroupsPath: String?
    public var rootfsPropagation: LinuxRootfsPropagation?
    public var seccomp: LinuxSeccomp?
    public var sysctl: [String: String]?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var mountLabel: String?
    public var intelRdt: LinuxIntelRdt?
    public var memoryPolicy: LinuxMemoryPolicy?
    public var personality: LinuxPersonality?
    public var timeOffsets: LinuxTimeOffsets?

    public init(
        devices: [LinuxDevice]? = nil,
        netDevices: [String: LinuxNetDevice]? = nil,
        uidMappings: [LinuxIDMapping]? = nil,
        gidMappings: [LinuxIDMapping]? = nil,
        namespaces: [LinuxNamespace]? = nil,
        resources: LinuxResources? = nil,
        cgroupsPath: String? = nil,
        rootfsPropagation: LinuxRootfsPropagation? = nil,
        seccomp: LinuxSeccomp? = nil,
        sysctl: [String: String]? = nil,
        maskedPaths: [String]? = nil,
        readonlyPaths: [String]? = nil,
        mountLabel: String? = nil,
        intelRdt: LinuxIntelRdt? = nil,
        memoryPolicy: LinuxMemoryPolicy? = nil,
        personality: LinuxPersonality? = nil,
        timeOffsets: LinuxTimeOffsets? = nil
    ) {
        self.devices = devices
        self.netDevices = netDevices
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
        self.namespaces = namespaces
        self.resources = resources
        self.cgroupsPath = cgroupsPath
        self.rootfsPropagation = rootfsPropagation
        self.seccomp = seccomp
        self.sysctl = sysctl
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.mountLabel = mountLabel
        self.intelRdt = intelRdt
        self.memoryPolicy = memoryPolicy
        self.personality = personality
        self.timeOffsets = timeOffsets
    }
}

public struct LinuxDevice: Codable, Sendable, Equatable {
    /// `c`, `b`, `u` or `p`.
    public var type: String
    public var path: String
    /// Permission bits in decimal (0...511).
    public var fileMode: UInt32?
    public var major: Int64?
    public var minor: Int64?
    public var uid: UInt32?
    public var gid: UInt32?

    public init(
        type: String,
        path: String,
        fileMode: UInt32? = nil,
        major: Int64? = nil,
        minor: Int64? = nil,
        uid: UInt32? = nil,
        gid: UInt32? = nil
    ) {
        self.type = type
        self.path = path
        self.fileMode = fileMode
        self.major = major
        self.minor = minor
        self.uid = uid
        self.gid = gid
    }
}

public struct LinuxNetDevice: Codable, Sendable, Equatable {
    /// The name inside the container; the host name when absent.
    public var name: String?

    public init(name: String? = nil) {
        self.name = name
    }
}

public struct LinuxNamespace: Codable, Sendable, Equatable {
    public var type: LinuxNamespaceType
    /// Join this namespace instead of creating one.
    public var path: String?

    public init(type: LinuxNamespaceType, path: String? = nil) {
        self.type = type
        self.path = path
    }
}

public struct LinuxResources: Codable, Sendable, Equatable {
    public var unified: [String: String]?
    public var devices: [LinuxDeviceCgroup]?
    public var pids: LinuxPids?
    public var blockIO: LinuxBlockIO?
    public var cpu: LinuxCPU?
    public var hugepageLimits: [LinuxHugepageLimit]?
    public var memory: LinuxMemory?
    public var network: LinuxNetwork?
    /// Device name (`mlx5_1`) to its RDMA limits.
    public var rdma: [String: LinuxRdma]?
    /// Pre-1.0 place of `process.oomScoreAdj`; the spec's own example still carries it, so it is
    /// kept to re-encode such documents unchanged. runxl ignores it.
    public var oomScoreAdj: Int?

    public init(
        unified: [String: String]? = nil,
        devices: [LinuxDeviceCgroup]? = nil,
        pids: LinuxPids? = nil,
        blockIO: LinuxBlockIO? = nil,
        cpu: LinuxCPU? = nil,
        hugepageLimits: [LinuxHugepageLimit]? = nil,
        memory: LinuxMemory? = nil,
        network: LinuxNetwork? = nil,
        rdma: [String: LinuxRdma]? = nil,
        oomScoreAdj: Int? = nil
    ) {
        self.unified = unified
        self.devices = devices
        self.pids = pids
        self.blockIO = blockIO
        self.cpu = cpu
        self.hugepageLimits = hugepageLimits
        self.memory = memory
        self.network = network
        self.rdma = rdma
        self.oomScoreAdj = oomScoreAdj
    }
}

public struct LinuxDeviceCgroup: Codable, Sendable, Equatable {
    public var allow: Bool
    public var type: String?
    public var major: Int64?
    public var minor: Int64?
    public var access: String?

    public init(
        allow: Bool,
        type: String? = nil,
        major: Int64? = nil,
        minor: Int64? = nil,
        access: String? = nil
    ) {
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access
    }
}

public struct LinuxPids: Codable, Sendable, Equatable {
    public var limit: Int64

    public init(limit: Int64) {
        self.limit = limit
    }
}

public struct LinuxBlockIO: Codable, Sendable, Equatable {
    public var weight: UInt16?
    public var leafWeight: UInt16?
    public var weightDevice: [LinuxWeightDevice]?
    public var throttleReadBpsDevice: [LinuxThrottleDevice]?
    public var throttleWriteBpsDevice: [LinuxThrottleDevice]?
    public var throttleReadIOPSDevice: [LinuxThrottleDevice]?
    public var throttleWriteIOPSDevice: [LinuxThrottleDevice]?

    public init(
        weight: UInt16? = nil,
        leafWeight: UInt16? = nil,
        weightDevice: [LinuxWeightDevice]? = nil,
        throttleReadBpsDevice: [LinuxThrottleDevice]? = nil,
        throttleWriteBpsDevice: [LinuxThrottleDevice]? = nil,
        throttleReadIOPSDevice: [LinuxThrottleDevice]? = nil,
        throttleWriteIOPSDevice: [LinuxThrottleDevice]? = nil
    ) {
        self.weight = weight
        self.leafWeight = leafWeight
        self.weightDevice = weightDevice
        self.throttleReadBpsDevice = throttleReadBpsDevice
        self.throttleWriteBpsDevice = throttleWriteBpsDevice
        self.throttleReadIOPSDevice = throttleReadIOPSDevice
        self.throttleWriteIOPSDevice = throttleWriteIOPSDevice
    }
}

public struct LinuxWeightDevice: Codable, Sendable, Equatable {
    public var major: Int64
    public var minor: Int64
    public var weight: UInt16?
    public var leafWeight: UInt16?

    public init(major: Int64, minor: Int64, weight: UInt16? = nil, leafWeight: UInt16? = nil) {
        self.major = major
        self.minor = minor
        self.weight = weight
        self.leafWeight = leafWeight
    }
}

public struct LinuxThrottleDevice: Codable, Sendable, Equatable {
    public var major: Int64
    public var minor: Int64
    public var rate: UInt64?

    public init(major: Int64, minor: Int64, rate: UInt64? = nil) {
        self.major = major
        self.minor = minor
        self.rate = rate
    }
}

public struct LinuxCPU: Codable, Sendable, Equatable {
    public var cpus: String?
    public var mems: String?
    public var period: UInt64?
    public var quota: Int64?
    public var burst: UInt64?
    public var realtimePeriod: UInt64?
    public var realtimeRuntime: Int64?
    public var shares: UInt64?
    public var idle: Int64?

    public init(
        cpus: String? = nil,
        mems: String? = nil,
        period: UInt64? = nil,
        quota: Int64? = nil,
        burst: UInt64? = nil,
        realtimePeriod: UInt64? = nil,
        realtimeRuntime: Int64? = nil,
        shares: UInt64? = nil,
        idle: Int64? = nil
    ) {
        self.cpus = cpus
        self.mems = mems
        self.period = period
        self.quota = quota
        self.burst = burst
        self.realtimePeriod = realtimePeriod
        self.realtimeRuntime = realtimeRuntime
        self.shares = shares
        self.idle = idle
    }
}

public struct LinuxHugepageLimit: Codable, Sendable, Equatable {
    /// `<size><unit>` with unit KB, MB or GB, e.g. `2MB`.
    public var pageSize: String
    public var limit: UInt64

    public init(pageSize: String, limit: UInt64) {
        self.pageSize = pageSize
        self.limit = limit
    }
}

public struct LinuxMemory: Codable, Sendable, Equatable {
    public var kernel: Int64?
    public var kernelTCP: Int64?
    public var limit: Int64?
    public var reservation: Int64?
    public var swap: Int64?
    public var swappiness: UInt64?
    public var disableOOMKiller: Bool?
    public var useHierarchy: Bool?
    public var checkBeforeUpdate: Bool?

    public init(
        kernel: Int64? = nil,
        kernelTCP: Int64? = nil,
        limit: Int64? = nil,
        reservation: Int64? = nil,
        swap: Int64? = nil,
        swappiness: UInt64? = nil,
        disableOOMKiller: Bool? = nil,
        useHierarchy: Bool? = nil,
        checkBeforeUpdate: Bool? = nil
    ) {
        self.kernel = kernel
        self.kernelTCP = kernelTCP
        self.limit = limit
        self.reservation = reservation
        self.swap = swap
        self.swappiness = swappiness
        self.disableOOMKiller = disableOOMKiller
        self.useHierarchy = useHierarchy
        self.checkBeforeUpdate = checkBeforeUpdate
    }
}

public struct LinuxNetwork: Codable, Sendable, Equatable {
    public var classID: UInt32?
    public var priorities: [LinuxInterfacePriority]?

    public init(classID: UInt32? = nil, priorities: [LinuxInterfacePriority]? = nil) {
        self.classID = classID
        self.priorities = priorities
    }
}

public struct LinuxInterfacePriority: Codable, Sendable, Equatable {
    public var name: String
    public var priority: UInt32

    public init(name: String, priority: UInt32) {
        self.name = name
        self.priority = priority
    }
}

public struct LinuxRdma: Codable, Sendable, Equatable {
    public var hcaHandles: UInt32?
    public var hcaObjects: UInt32?

    public init(hcaHandles: UInt32? = nil, hcaObjects: UInt32? = nil) {
        self.hcaHandles = hcaHandles
        self.hcaObjects = hcaObjects
    }
}

public struct LinuxSeccomp: Codable, Sendable, Equatable {
    public var defaultAction: LinuxSeccompAction
    public var defaultErrnoRet: UInt32?
    public var flags: [LinuxSeccompFlag]?
    public var listenerPath: String?
    public var listenerMetadata: String?
    public var architectures: [LinuxSeccompArch]?
    public var syscalls: [LinuxSyscall]?

    public init(
        defaultAction: LinuxSeccompAction,
        defaultErrnoRet: UInt32? = nil,
        flags: [LinuxSeccompFlag]? = nil,
        listenerPath: String? = nil,
        listenerMetadata: String? = nil,
        architectures: [LinuxSeccompArch]? = nil,
        syscalls: [LinuxSyscall]? = nil
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.architectures = architectures
        self.syscalls = syscalls
    }
}

public struct LinuxSyscall: Codable, Sendable, Equatable {
    /// At least one name.
    public var names: [String]
    public var action: LinuxSeccompAction
    public var errnoRet: UInt32?
    public var args: [LinuxSeccompArg]?

    public init(
        names: [String],
        action: LinuxSeccompAction,
        errnoRet: UInt32? = nil,
        args: [LinuxSeccompArg]? = nil
    ) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }
}

public struct LinuxSeccompArg: Codable, Sendable, Equatable {
    public var index: UInt32
    public var value: UInt64
    public var valueTwo: UInt64?
    public var op: LinuxSeccompOperator

    public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: LinuxSeccompOperator) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

public struct LinuxIntelRdt: Codable, Sendable, Equatable {
    public var closID: String?
    public var schemata: [String]?
    public var l3CacheSchema: String?
    /// Starts with `MB:`.
    public var memBwSchema: String?
    public var enableMonitoring: Bool?

    public init(
        closID: String? = nil,
        schemata: [String]? = nil,
        l3CacheSchema: String? = nil,
        memBwSchema: String? = nil,
        enableMonitoring: Bool? = nil
    ) {
        self.closID = closID
        self.schemata = schemata
        self.l3CacheSchema = l3CacheSchema
        self.memBwSchema = memBwSchema
        self.enableMonitoring = enableMonitoring
    }
}

public struct LinuxMemoryPolicy: Codable, Sendable, Equatable {
    public var mode: LinuxMemoryPolicyMode?
    public var nodes: String?
    public var flags: [LinuxMemoryPolicyFlag]?

    public init(
        mode: LinuxMemoryPolicyMode? = nil,
        nodes: String? = nil,
        flags: [LinuxMemoryPolicyFlag]? = nil
    ) {
        self.mode = mode
        self.nodes = nodes
        self.flags = flags
    }
}

public struct LinuxPersonality: Codable, Sendable, Equatable {
    public var domain: LinuxPersonalityDomain?
    public var flags: [String]?

    public init(domain: LinuxPersonalityDomain? = nil, flags: [String]? = nil) {
        self.domain = domain
        self.flags = flags
    }
}

public struct LinuxTimeOffsets: Codable, Sendable, Equatable {
    public var boottime: LinuxTimeOffset?
    public var monotonic: LinuxTimeOffset?

    public init(boottime: LinuxTimeOffset? = nil, monotonic: LinuxTimeOffset? = nil) {
        self.boottime = boottime
        self.monotonic = monotonic
    }
}

public struct LinuxTimeOffset: Codable, Sendable, Equatable {
    public var secs: Int64?
    public var nanosecs: UInt32?

    public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
        self.secs = secs
        self.nanosecs = nanosecs
    }
}

extension Spec {
    /// The network namespace config.json asks to join, as podman and CNI set one up; nil when
    /// it asks for a new one (empty for runc too) or none.
    public var joinedNetworkNamespace: String? {
        guard let path = linux?.namespaces?.first(where: { $0.type == .network })?.path, !path.isEmpty else { return nil }
        return path
    }
}
