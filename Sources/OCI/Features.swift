// OCI runtime-spec 1.3.0: what a runtime supports (features.md, features-linux.md,
// features-schema.json, features-linux.json). Lists stay strings, as in the Go types: a
// features document names what its runtime recognizes, which may be newer than this file.
public import RunxlBase

/// The document `runxl features` prints.
public struct Features: OCIDocument {
    public static let documentName = "features"
    public static let invalidDocumentCode = RunxlError.Code.invalidDocument

    public var ociVersionMin: String
    public var ociVersionMax: String
    public var hooks: [String]?
    public var mountOptions: [String]?
    public var linux: LinuxFeatures?
    public var annotations: [String: String]?
    /// Annotation keys (or prefixes ending in `.`) whose values may change the runtime's
    /// security posture; higher layers should not pass them from untrusted users.
    public var potentiallyUnsafeConfigAnnotations: [String]?

    public init(
        ociVersionMin: String,
        ociVersionMax: String,
        hooks: [String]? = nil,
        mountOptions: [String]? = nil,
        linux: LinuxFeatures? = nil,
        annotations: [String: String]? = nil,
        potentiallyUnsafeConfigAnnotations: [String]? = nil
    ) {
        self.ociVersionMin = ociVersionMin
        self.ociVersionMax = ociVersionMax
        self.hooks = hooks
        self.mountOptions = mountOptions
        self.linux = linux
        self.annotations = annotations
        self.potentiallyUnsafeConfigAnnotations = potentiallyUnsafeConfigAnnotations
    }
}

public struct LinuxFeatures: Codable, Sendable, Equatable {
    public var namespaces: [String]?
    public var capabilities: [String]?
    public var cgroup: CgroupFeatures?
    public var seccomp: SeccompFeatures?
    public var apparmor: EnabledFeature?
    public var selinux: EnabledFeature?
    public var intelRdt: IntelRdtFeatures?
    public var memoryPolicy: MemoryPolicyFeatures?
    public var mountExtensions: MountExtensionsFeatures?
    public var netDevices: EnabledFeature?

    public init(
        namespaces: [String]? = nil,
        capabilities: [String]? = nil,
        cgroup: CgroupFeatures? = nil,
        seccomp: SeccompFeatures? = nil,
        apparmor: EnabledFeature? = nil,
        selinux: EnabledFeature? = nil,
        intelRdt: IntelRdtFeatures? = nil,
        memoryPolicy: MemoryPolicyFeatures? = nil,
        mountExtensions: MountExtensionsFeatures? = nil,
        netDevices: EnabledFeature? = nil
    ) {
        self.namespaces = namespaces
        self.capabilities = capabilities
        self.cgroup = cgroup
        self.seccomp = seccomp
        self.apparmor = apparmor
        self.selinux = selinux
        self.intelRdt = intelRdt
        self.memoryPolicy = memoryPolicy
        self.mountExtensions = mountExtensions
        self.netDevices = netDevices
    }
}

public struct CgroupFeatures: Codable, Sendable, Equatable {
    public var v1: Bool?
    public var v2: Bool?
    public var systemd: Bool?
    public var systemdUser: Bool?
    public var rdma: Bool?

    public init(
        v1: Bool? = nil,
        v2: Bool? = nil,
        systemd: Bool? = nil,
        systemdUser: Bool? = nil,
        rdma: Bool? = nil
    ) {
        self.v1 = v1
        self.v2 = v2
        self.systemd = systemd
        self.systemdUser = systemdUser
        self.rdma = rdma
    }
}

public struct SeccompFeatures: Codable, Sendable, Equatable {
    public var enabled: Bool?
    public var actions: [String]?
    public var operators: [String]?
    public var archs: [String]?
    public var knownFlags: [String]?
    public var supportedFlags: [String]?

    public init(
        enabled: Bool? = nil,
        actions: [String]? = nil,
        operators: [String]? = nil,
        archs: [String]? = nil,
        knownFlags: [String]? = nil,
        supportedFlags: [String]? = nil
    ) {
        self.enabled = enabled
        self.actions = actions
        self.operators = operators
        self.archs = archs
        self.knownFlags = knownFlags
        self.supportedFlags = supportedFlags
    }
}

/// `{"enabled": bool}`: apparmor, selinux, netDevices, mountExtensions.idmap.
public struct EnabledFeature: Codable, Sendable, Equatable {
    public var enabled: Bool?

    public init(enabled: Bool? = nil) {
        self.enabled = enabled
    }
}

public struct IntelRdtFeatures: Codable, Sendable, Equatable {
    public var enabled: Bool?
    public var schemata: Bool?
    public var monitoring: Bool?

    public init(enabled: Bool? = nil, schemata: Bool? = nil, monitoring: Bool? = nil) {
        self.enabled = enabled
        self.schemata = schemata
        self.monitoring = monitoring
    }
}

public struct MemoryPolicyFeatures: Codable, Sendable, Equatable {
    public var modes: [String]?
    public var flags: [String]?

    public init(modes: [String]? = nil, flags: [String]? = nil) {
        self.modes = modes
        self.flags = flags
    }
}

public struct MountExtensionsFeatures: Codable, Sendable, Equatable {
    public var idmap: EnabledFeature?

    public init(idmap: EnabledFeature? = nil) {
        self.idmap = idmap
    }
}
