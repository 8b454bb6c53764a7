// OCI runtime-spec 1.3.0 (opencontainers/runtime-spec v1.3.0, config.md and schema/*.json):
// the platform-independent part of config.json. Field names are the spec's; every optional
// field of the schema is optional here, so that what a document leaves out stays left out.
public import RunxlBase

/// config.json.
public struct Spec: OCIDocument {
    public static let documentName = "config.json"
    public static let invalidDocumentCode = RunxlError.Code.invalidConfig

    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var domainname: String?
    public var mounts: [Mount]?
    public var hooks: Hooks?
    public var annotations: [String: String]?
    public var linux: Linux?
    public var solaris: Solaris?
    public var windows: Windows?
    public var vm: VM?
    public var zos: ZOS?
    public var freebsd: FreeBSD?

    public init(
        ociVersion: String,
        process: Process? = nil,
        root: Root? = nil,
        hostname: String? = nil,
        domainname: String? = nil,
        mounts: [Mount]? = nil,
        hooks: Hooks? = nil,
        annotations: [String: String]? = nil,
        linux: Linux? = nil,
        solaris: Solaris? = nil,
        windows: Windows? = nil,
        vm: VM? = nil,
        zos: ZOS? = nil,
        freebsd: FreeBSD? = nil
    ) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
        self.solaris = solaris
        self.windows = windows
        self.vm = vm
        self.zos = zos
        self.freebsd = freebsd
    }
}

/// The container's process (`process`); also the document `runxl exec --process` reads.
public struct Process: Codable, Sendable, Equatable {
    public var terminal: Bool?
    public var consoleSize: ConsoleSize?
    public var user: User?
    public var args: [String]?
    /// Windows only: the command line as one string.
    public var commandLine: String?
    /// `KEY=value` entries; descriptions of a `Process` redact the values.
    public var env: [String]?
    public var cwd: String
    public var capabilities: LinuxCapabilities?
    public var rlimits: [POSIXRlimit]?
    public var noNewPrivileges: Bool?
    public var apparmorProfile: String?
    public var oomScoreAdj: Int?
    public var scheduler: LinuxScheduler?
    public var selinuxLabel: String?
    public var ioPriority: LinuxIOPriority?
    public var execCPUAffinity: CPUAffinity?

    public init(
        terminal: Bool? = nil,
        consoleSize: ConsoleSize? = nil,
        user: User? = nil,
        args: [String]? = nil,
        commandLine: String? = nil,
        env: [String]? = nil,
        cwd: String,
        capabilities: LinuxCapabilities? = nil,
        rlimits: [POSIXRlimit]? = nil,
        noNewPrivileges: Bool? = nil,
        apparmorProfile: String? = nil,
        oomScoreAdj: Int? = nil,
        scheduler: LinuxScheduler? = nil,
        selinuxLabel: String? = nil,
        ioPriority: LinuxIOPriority? = nil,
        execCPUAffinity: CPUAffinity? = nil
    ) {
        self.terminal = terminal
        self.consoleSize = consoleSize
        self.user = user
        self.args = args
        self.commandLine = commandLine
        self.env = env
        self.cwd = cwd
        self.capabilities = capabilities
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
        self.apparmorProfile = apparmorProfile
        self.oomScoreAdj = oomScoreAdj
        self.scheduler = scheduler
        self.selinuxLabel = selinuxLabel
        self.ioPriority = ioPriority
        self.execCPUAffinity = execCPUAffinity
    }
}

/// The console's size in characters (`process.consoleSize`).
public struct ConsoleSize: Codable, Sendable, Equatable {
    public var height: UInt64
    public var width: UInt64

    public init(height: UInt64, width: UInt64) {
        self.height = height
        self.width = width
    }
}

public struct User: Codable, Sendable, Equatable {
    public var uid: UInt32?
    public var gid: UInt32?
    public var umask: UInt32?
    public var additionalGids: [UInt32]?
    /// Windows only.
    public var username: String?

    public init(
        uid: UInt32? = nil,
        gid: UInt32? = nil,
        umask: UInt32? = nil,
        additionalGids: [UInt32]? = nil,
        username: String? = nil
    ) {
        self.uid = uid
        self.gid = gid
        self.umask = umask
        self.additionalGids = additionalGids
        self.username = username
    }
}

public struct LinuxCapabilities: Codable, Sendable, Equatable {
    public var bounding: [String]?
    public var effective: [String]?
    public var inheritable: [String]?
    public var permitted: [String]?
    public var ambient: [String]?

    public init(
        bounding: [String]? = nil,
        effective: [String]? = nil,
        inheritable: [String]? = nil,
        permitted: [String]? = nil,
        ambient: [String]? = nil
    ) {
        self.bounding = bounding
        self.effective = effective
        self.inheritable = inheritable
        self.permitted = permitted
        self.ambient = ambient
    }
}

public struct POSIXRlimit: Codable, Sendable, Equatable {
    /// `RLIMIT_*`, e.g. `RLIMIT_NOFILE`.
    public var type: String
    public var hard: UInt64
    public var soft: UInt64

    public init(type: String, hard: UInt64, soft: UInt64) {
        self.type = type
        self.hard = hard
        self.soft = soft
    }
}

public struct LinuxScheduler: Codable, Sendable, Equatable {
    public var policy: LinuxSchedulerPolicy
    public var nice: Int32?
    public var priority: Int32?
    public var flags: [LinuxSchedulerFlag]?
    public var runtime: UInt64?
    public var deadline: UInt64?
    public var period: UInt64?

    public init(
        policy: LinuxSchedulerPolicy,
        nice: Int32? = nil,
        priority: Int32? = nil,
        flags: [LinuxSchedulerFlag]? = nil,
        runtime: UInt64? = nil,
        deadline: UInt64? = nil,
        period: UInt64? = nil
    ) {
        self.policy = policy
        self.nice = nice
        self.priority = priority
        self.flags = flags
        self.runtime = runtime
        self.deadline = deadline
        self.period = period
    }
}

public struct LinuxIOPriority: Codable, Sendable, Equatable {
    public var `class`: LinuxIOPriorityClass
    public var priority: Int32?

    public init(`class`: LinuxIOPriorityClass, priority: Int32? = nil) {
        self.class = `class`
        self.priority = priority
    }
}

/// CPU lists (`0-3,7`) for `runxl exec`'d processes, before and after they join the container.
public struct CPUAffinity: Codable, Sendable, Equatable {
    public var initial: String?
    public var final: String?

    public init(initial: String? = nil, final: String? = nil) {
        self.initial = initial
        self.final = final
    }
}

public struct Root: Codable, Sendable, Equatable {
    /// Relative paths are relative to the bundle.
    public var path: String
    public var readonly: Bool?

    public init(path: String, readonly: Bool? = nil) {
        self.path = path
        self.readonly = readonly
    }
}

public struct Mount: Codable, Sendable, Equatable {
    public var destination: String
    public var type: String?
    public var source: String?
    public var options: [String]?
    public var uidMappings: [LinuxIDMapping]?
    public var gidMappings: [LinuxIDMapping]?

    public init(
        destination: String,
        type: String? = nil,
        source: String? = nil,
        options: [String]? = nil,
        uidMappings: [LinuxIDMapping]? = nil,
        gidMappings: [LinuxIDMapping]? = nil
    ) {
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}

extension Mount {
    /// A bind mount, whatever its source: runc's reading of `type` and the `bind` and `rbind`
    /// options.
    public var isBind: Bool {
        let options = options ?? []
        return type == "bind" || options.contains("bind") || options.contains("rbind")
    }

    /// runc's reading: the last of `ro` and `rw` wins.
    public var isReadOnly: Bool {
        (options ?? []).last { $0 == "ro" || $0 == "rw" } == "ro"
    }
}

public struct Hook: Codable, Sendable, Equatable {
    public var path: String
    public var args: [String]?
    /// `KEY=value` entries; descriptions of a `Hook` redact the values.
    public var env: [String]?
    /// Seconds; the schema's minimum is 1.
    public var timeout: Int?

    public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }
}

public struct Hooks: Codable, Sendable, Equatable {
    /// Deprecated by the spec in favour of `createRuntime`, still sent by podman and containerd.
    public var prestart: [Hook]?
    public var createRuntime: [Hook]?
    public var createContainer: [Hook]?
    public var startContainer: [Hook]?
    public var poststart: [Hook]?
    public var poststop: [Hook]?

    public init(
        prestart: [Hook]? = nil,
        createRuntime: [Hook]? = nil,
        createContainer: [Hook]? = nil,
        startContainer: [Hook]? = nil,
        poststart: [Hook]? = nil,
        poststop: [Hook]? = nil
    ) {
        self.prestart = prestart
        self.createRuntime = createRuntime
        self.createContainer = createContainer
        self.startContainer = startContainer
        self.poststart = poststart
        self.poststop = poststop
    }
}

public struct LinuxIDMapping: Codable, Sendable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}
