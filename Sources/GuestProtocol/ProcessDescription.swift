import JSON

/// Everything runxl-init needs to start the container's process as runc would: written by the
/// host into the initramfs at `ProcessDescription.path`, read by init.
///
/// Field names follow the OCI runtime-spec where one exists, so the host's mapping is
/// mechanical. Serialized as JSON (readable with `cat` when debugging a guest) through the JSON
/// module, which host and init share; decoding rejects unknown fields, because init and host are built
/// together and an ignored field would be a silently ignored security setting.
public struct ProcessDescription: Sendable, Equatable {
    /// Where the host puts the file inside the guest's root file system.
    public static let path = "/.runxl/process"
    /// The format version this code writes and the only one it reads.
    public static let currentVersion = 1
    /// A bound on the file, so a broken host cannot make init allocate without limit.
    public static let maxEncodedSize = 16 << 20

    public var args: [String]
    public var env: [String]
    public var cwd: String
    public var user: User
    public var rlimits: [Rlimit]
    public var noNewPrivileges: Bool
    public var hostname: String?
    /// The process gets the console (hvc0) as its controlling terminal instead of framed pipes.
    public var terminal: Bool
    /// Mounted in order after init's own /proc, /sys, /dev, /dev/pts, /dev/shm.
    public var mounts: [Mount]
    /// nil keeps every capability (a root process in its own VM), as runc does without the field.
    public var capabilities: Capabilities?
    /// Files and directories made inaccessible (runc's maskedPaths).
    public var maskedPaths: [String]
    /// Paths remounted read-only (runc's readonlyPaths).
    public var readonlyPaths: [String]
    /// `root.readonly`: the root file system is remounted read-only before the process starts.
    public var readonlyRoot: Bool
    /// `linux.sysctl`, written under /proc/sys before the process starts.
    public var sysctl: [Sysctl]
    /// `linux.devices`: nodes made in the guest after the mounts. Their numbers name the guest
    /// kernel's devices, not the host's: nothing of the host is passed through.
    public var devices: [Device]
    public var seccomp: SeccompProfile?
    /// The spec asks for a pid namespace of its own: the process is PID 1 there, as under runc,
    /// with runxl-init outside it and the spec's /proc showing that namespace.
    public var pidNamespace: Bool
    /// `process.oomScoreAdj` (within `oomScoreAdjRange`), written to the process's
    /// oom_score_adj before its exec; nil leaves the guest's default.
    public var oomScoreAdj: Int?
    /// The kernel's range for oom_score_adj.
    public static let oomScoreAdjRange = -1000...1000
    /// An exec session's terminal size (`process.consoleSize`, or the caller's terminal), set on
    /// its pty before the process starts: a resize that followed the start would lose the race
    /// against a process that asks at once (`stty size`). Never written for the container's own
    /// process, whose description is part of the cached initramfs.
    public var consoleSize: ConsoleSize?
    /// The process is a pod's further container (docs/pods.md), sent as an exec session to the
    /// pod's VM: init starts it in a mount namespace of its own whose root is
    /// `pod/<podMember>/root` in the control share, with the description's mounts made there.
    /// Its network, ipc, uts and pid namespaces are the pod's.
    public var podMember: String?
    /// An exec session into a pod's further container that runs already: init starts the
    /// process in that container's mount namespace and root, as `nsenter -m -r` would.
    public var joinPodMember: String?
    /// How many vCPUs the pod's VM has now that this container joined it: init brings vCPUs
    /// 0..<onlineVcpus online before the process starts (Linux leaves a vCPU Xen made available
    /// offline until userspace onlines it).
    public var onlineVcpus: Int?
    /// The bound on `onlineVcpus`, as libxl's on a domain's vCPUs.
    public static let maximumVcpus = 128

    public init(
        args: [String], env: [String] = [], cwd: String = "/", user: User = User(),
        rlimits: [Rlimit] = [], noNewPrivileges: Bool = false, hostname: String? = nil,
        terminal: Bool = false, mounts: [Mount] = [], capabilities: Capabilities? = nil,
        maskedPaths: [String] = [], readonlyPaths: [String] = [], readonlyRoot: Bool = false,
        sysctl: [Sysctl] = [], devices: [Device] = [], seccomp: SeccompProfile? = nil, pidNamespace: Bool = false,
        oomScoreAdj: Int? = nil, consoleSize: ConsoleSize? = nil, podMember: String? = nil,
        joinPodMember: String? = nil, onlineVcpus: Int? = nil
    ) {
        self.args = args
        self.env = env
        self.cwd = cwd
        self.user = user
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
        self.hostname = hostname
        self.terminal = terminal
        self.mounts = mounts
        self.capabilities = capabilities
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.readonlyRoot = readonlyRoot
        self.sysctl = sysctl
        self.devices = devices
        self.seccomp = seccomp
        self.pidNamespace = pidNamespace
        self.oomScoreAdj = oomScoreAdj
        self.consoleSize = consoleSize
        self.podMember = podMember
        self.joinPodMember = joinPodMember
        self.onlineVcpus = onlineVcpus
    }

    public struct ConsoleSize: Sendable, Equatable {
        public var rows: UInt16
        public var columns: UInt16

        public init(rows: UInt16, columns: UInt16) {
            self.rows = rows
            self.columns = columns
        }
    }

    public struct User: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var additionalGids: [UInt32]
        /// nil leaves init's umask (0022), as runc does when the field is absent.
        public var umask: UInt32?

        public init(uid: UInt32 = 0, gid: UInt32 = 0, additionalGids: [UInt32] = [], umask: UInt32? = nil) {
            self.uid = uid
            self.gid = gid
            self.additionalGids = additionalGids
            self.umask = umask
        }
    }

    public struct Rlimit: Sendable, Equatable {
        /// The runtime-spec name, e.g. `RLIMIT_NOFILE`; must be one of `Rlimit.knownTypes`.
        public var type: String
        public var soft: UInt64
        public var hard: UInt64

        public init(type: String, soft: UInt64, hard: UInt64) {
            self.type = type
            self.soft = soft
            self.hard = hard
        }

        /// The names Linux knows, in the kernel's numbering order (index = resource number).
        public static let knownTypes = [
            "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
            "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
            "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
        ]
    }

    public struct Mount: Sendable, Equatable {
        public var destination: String
        public var type: String
        public var source: String
        /// mount(8)-style options: flags (`nosuid`, `ro`, ...) and data (`mode=755`, `size=65536k`).
        public var options: [String]
        /// The source is a block device that shows up after boot (a Xen disk carrying a directory
        /// bind mount: blkfront probes it asynchronously), so init waits a bounded time for it.
        /// Written only when true, so descriptions without such mounts keep their bytes.
        public var waitForSource: Bool

        public init(destination: String, type: String, source: String, options: [String] = [], waitForSource: Bool = false) {
            self.destination = destination
            self.type = type
            self.source = source
            self.options = options
            self.waitForSource = waitForSource
        }
    }

    public struct Capabilities: Sendable, Equatable {
        public var bounding: [String]
        public var effective: [String]
        public var inheritable: [String]
        public var permitted: [String]
        public var ambient: [String]

        public init(
            bounding: [String] = [], effective: [String] = [], inheritable: [String] = [],
            permitted: [String] = [], ambient: [String] = []
        ) {
            self.bounding = bounding
            self.effective = effective
            self.inheritable = inheritable
            self.permitted = permitted
            self.ambient = ambient
        }
    }

    public struct Sysctl: Sendable, Equatable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    public struct Device: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case character = "c"
            /// `u`: an unbuffered character device, which Linux makes as a character device.
            case unbuffered = "u"
            case block = "b"
            case fifo = "p"
        }

        public var path: String
        public var kind: Kind
        public var major: UInt64
        public var minor: UInt64
        /// Permission bits only (at most 0o7777).
        public var fileMode: UInt32
        public var uid: UInt32
        public var gid: UInt32

        public init(path: String, kind: Kind, major: UInt64 = 0, minor: UInt64 = 0, fileMode: UInt32 = 0o666, uid: UInt32 = 0, gid: UInt32 = 0) {
            self.path = path
            self.kind = kind
            self.major = major
            self.minor = minor
            self.fileMode = fileMode
            self.uid = uid
            self.gid = gid
        }
    }
}

/// The runtime-spec `linux.seccomp` object, applied by init through libseccomp.
public struct SeccompProfile: Sendable, Equatable {
    public var defaultAction: SeccompAction
    public var defaultErrnoRet: UInt32?
    /// libseccomp names, e.g. `SCMP_ARCH_X86_64`.
    public var architectures: [String]
    /// e.g. `SECCOMP_FILTER_FLAG_LOG`, `SECCOMP_FILTER_FLAG_SPEC_ALLOW`.
    public var flags: [String]
    public var syscalls: [SeccompRule]

    public init(
        defaultAction: SeccompAction, defaultErrnoRet: UInt32? = nil, architectures: [String] = [],
        flags: [String] = [], syscalls: [SeccompRule] = []
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.syscalls = syscalls
    }
}

public enum SeccompAction: String, Sendable, Equatable, CaseIterable {
    case kill = "SCMP_ACT_KILL"
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    case killThread = "SCMP_ACT_KILL_THREAD"
    case trap = "SCMP_ACT_TRAP"
    case errno = "SCMP_ACT_ERRNO"
    case trace = "SCMP_ACT_TRACE"
    case allow = "SCMP_ACT_ALLOW"
    case log = "SCMP_ACT_LOG"
    case notify = "SCMP_ACT_NOTIFY"
}

public enum SeccompOperator: String, Sendable, Equatable, CaseIterable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

public struct SeccompRule: Sendable, Equatable {
    public var names: [String]
    public var action: SeccompAction
    /// The errno for `SCMP_ACT_ERRNO` (EPERM when nil, as runc does) or the `SCMP_ACT_TRACE` value.
    public var errnoRet: UInt32?
    public var args: [SeccompArgument]

    public init(names: [String], action: SeccompAction, errnoRet: UInt32? = nil, args: [SeccompArgument] = []) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }
}

public struct SeccompArgument: Sendable, Equatable {
    public var index: UInt32
    public var value: UInt64
    public var valueTwo: UInt64
    public var op: SeccompOperator

    public init(index: UInt32, value: UInt64, valueTwo: UInt64 = 0, op: SeccompOperator) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }
}

// MARK: - Encoding

extension ProcessDescription {
    /// The file's bytes. Deterministic: the same description always gives the same bytes, so the
    /// initramfs built from it can be cached by content.
    public func encoded() -> [UInt8] {
        var members: [String: JSONValue] = [
            "version": .number(String(ProcessDescription.currentVersion)),
            "args": .strings(args),
            "env": .strings(env),
            "cwd": .string(cwd),
            "user": user.json,
            "rlimits": .array(rlimits.map(\.json)),
            "noNewPrivileges": .bool(noNewPrivileges),
        ]
        if let hostname { members["hostname"] = .string(hostname) }
        members["terminal"] = .bool(terminal)
        members["mounts"] = .array(mounts.map(\.json))
        if let capabilities { members["capabilities"] = capabilities.json }
        members["maskedPaths"] = .strings(maskedPaths)
        members["readonlyPaths"] = .strings(readonlyPaths)
        members["readonlyRoot"] = .bool(readonlyRoot)
        members["sysctl"] = .array(sysctl.map { .object(["key": .string($0.key), "value": .string($0.value)]) })
        // Written only when there are some, so descriptions without devices keep their bytes
        // (and their cached initramfs).
        if !devices.isEmpty { members["devices"] = .array(devices.map(\.json)) }
        if let seccomp { members["seccomp"] = seccomp.json }
        if pidNamespace { members["pidNamespace"] = .bool(true) }
        if let oomScoreAdj { members["oomScoreAdj"] = .number(String(oomScoreAdj)) }
        if let consoleSize {
            members["consoleSize"] = .object([
                "height": .number(String(consoleSize.rows)), "width": .number(String(consoleSize.columns)),
            ])
        }
        if let podMember { members["podMember"] = .string(podMember) }
        if let joinPodMember { members["joinPodMember"] = .string(joinPodMember) }
        if let onlineVcpus { members["onlineVcpus"] = .number(String(onlineVcpus)) }
        var bytes = JSONValue.object(members).serialized(pretty: false)
        bytes.append(0x0A)
        return bytes
    }

    /// Parses and checks a process file. Every way the bytes can be wrong is a thrown error
    /// naming the field: this runs as PID 1, where a crash would panic the guest kernel.
    public static func decode(_ bytes: [UInt8]) throws(GuestProtocolError) -> ProcessDescription {
        do {
            return try decodeUnchecked(bytes)
        } catch let error as GuestProtocolError {
            throw error
        } catch {
            throw GuestProtocolError("process file: \(error)")
        }
    }

    private static func decodeUnchecked(_ bytes: [UInt8]) throws -> ProcessDescription {
        guard bytes.count <= maxEncodedSize else {
            throw GuestProtocolError("process file is \(bytes.count) bytes, more than \(maxEncodedSize)")
        }
        let root = try ObjectReader(try JSONValue.parse(bytes), path: "process")
        let version = try root.require("version") { try $0.int() }
        guard version == currentVersion else {
            throw GuestProtocolError("process file version \(version) is not the supported version \(currentVersion)")
        }
        let args = try root.require("args") { try $0.strings(noNUL: true) }
        guard !args.isEmpty else { throw GuestProtocolError("process.args is empty: there is nothing to run") }
        let env = try root.optional("env") { try $0.strings(noNUL: true) } ?? []
        let cwd = try root.optional("cwd") { try $0.absolutePath() } ?? "/"
        let user = try root.optional("user") { try User(try ObjectReader($0)) } ?? User()
        let rlimits = try root.optional("rlimits") { try $0.array { try Rlimit(try ObjectReader($0)) } } ?? []
        let hostname = try root.optional("hostname") { try $0.string(noNUL: true) }
        let description = ProcessDescription(
            args: args, env: env, cwd: cwd, user: user, rlimits: rlimits,
            noNewPrivileges: try root.optional("noNewPrivileges") { try $0.bool() } ?? false,
            hostname: hostname,
            terminal: try root.optional("terminal") { try $0.bool() } ?? false,
            mounts: try root.optional("mounts") { try $0.array { try Mount(try ObjectReader($0)) } } ?? [],
            capabilities: try root.optional("capabilities") { try Capabilities(try ObjectReader($0)) },
            maskedPaths: try root.optional("maskedPaths") { try $0.array { try $0.absolutePath() } } ?? [],
            readonlyPaths: try root.optional("readonlyPaths") { try $0.array { try $0.absolutePath() } } ?? [],
            readonlyRoot: try root.optional("readonlyRoot") { try $0.bool() } ?? false,
            sysctl: try root.optional("sysctl") {
                try $0.array { element in
                    let object = try ObjectReader(element)
                    let sysctl = Sysctl(
                        key: try object.require("key") { try $0.string(noNUL: true) },
                        value: try object.require("value") { try $0.string(noNUL: true) })
                    try object.rejectUnknown()
                    return sysctl
                }
            } ?? [],
            devices: try root.optional("devices") { try $0.array { try Device(try ObjectReader($0)) } } ?? [],
            seccomp: try root.optional("seccomp") { try SeccompProfile(try ObjectReader($0)) },
            pidNamespace: try root.optional("pidNamespace") { try $0.bool() } ?? false,
            oomScoreAdj: try root.optional("oomScoreAdj") { try $0.int() },
            consoleSize: try root.optional("consoleSize") { try ConsoleSize(try ObjectReader($0)) },
            podMember: try root.optional("podMember") { try $0.string(noNUL: true) },
            joinPodMember: try root.optional("joinPodMember") { try $0.string(noNUL: true) },
            onlineVcpus: try root.optional("onlineVcpus") { try $0.int() })
        for (field, member) in [("podMember", description.podMember), ("joinPodMember", description.joinPodMember)] {
            if let member, !isPodMemberName(member) {
                throw GuestProtocolError("process.\(field) '\(member)' is not a container id (one path component, no dot names)")
            }
        }
        if description.podMember != nil && description.joinPodMember != nil {
            throw GuestProtocolError("process: podMember and joinPodMember exclude each other")
        }
        if let count = description.onlineVcpus, !(1...maximumVcpus).contains(count) {
            throw GuestProtocolError("process.onlineVcpus \(count) is outside 1...\(maximumVcpus)")
        }
        if let score = description.oomScoreAdj, !oomScoreAdjRange.contains(score) {
            throw GuestProtocolError("process.oomScoreAdj \(score) is outside \(oomScoreAdjRange)")
        }
        try root.rejectUnknown()
        return description
    }
}

extension ProcessDescription {
    /// A pod member's name becomes a path component in the control share: a container id
    /// (runc's rule: letters, digits, `_ + - .`), never `.` or `..`.
    static func isPodMemberName(_ name: String) -> Bool {
        guard !name.isEmpty, name != ".", name != "..", name.utf8.count <= 1024 else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
    }
}

extension ProcessDescription.ConsoleSize {
    init(_ object: ObjectReader) throws {
        let height = try object.require("height") { try $0.int() }
        let width = try object.require("width") { try $0.int() }
        let range = 1...Int(UInt16.max)
        guard range.contains(height), range.contains(width) else {
            throw GuestProtocolError("process.consoleSize \(height)x\(width) is outside 1...\(UInt16.max)")
        }
        try object.rejectUnknown()
        self.init(rows: UInt16(height), columns: UInt16(width))
    }
}

extension ProcessDescription.User {
    var json: JSONValue {
        var members: [String: JSONValue] = [
            "uid": .number(String(uid)), "gid": .number(String(gid)),
            "additionalGids": .array(additionalGids.map { .number(String($0)) }),
        ]
        if let umask { members["umask"] = .number(String(umask)) }
        return .object(members)
    }

    init(_ object: ObjectReader) throws {
        self.init(
            uid: try object.optional("uid") { try $0.uint32() } ?? 0,
            gid: try object.optional("gid") { try $0.uint32() } ?? 0,
            additionalGids: try object.optional("additionalGids") { try $0.array { try $0.uint32() } } ?? [],
            umask: try object.optional("umask") { try $0.uint32() })
        if let umask, umask > 0o7777 {
            throw GuestProtocolError("\(object.path).umask \(umask) is more than 0o7777")
        }
        try object.rejectUnknown()
    }
}

extension ProcessDescription.Rlimit {
    var json: JSONValue {
        .object(["type": .string(type), "soft": .number(String(soft)), "hard": .number(String(hard))])
    }

    init(_ object: ObjectReader) throws {
        self.init(
            type: try object.require("type") { try $0.string(noNUL: true) },
            soft: try object.require("soft") { try $0.uint64() },
            hard: try object.require("hard") { try $0.uint64() })
        guard Self.knownTypes.contains(type) else {
            throw GuestProtocolError("\(object.path).type '\(type)' is not a Linux rlimit")
        }
        guard soft <= hard else {
            throw GuestProtocolError("\(object.path) \(type) has soft limit \(soft) above hard limit \(hard)")
        }
        try object.rejectUnknown()
    }
}

extension ProcessDescription.Mount {
    var json: JSONValue {
        var members: [String: JSONValue] = [
            "destination": .string(destination), "type": .string(type), "source": .string(source),
            "options": .strings(options),
        ]
        if waitForSource { members["waitForSource"] = .bool(true) }
        return .object(members)
    }

    init(_ object: ObjectReader) throws {
        self.init(
            destination: try object.require("destination") { try $0.absolutePath() },
            type: try object.optional("type") { try $0.string(noNUL: true) } ?? "",
            source: try object.optional("source") { try $0.string(noNUL: true) } ?? "",
            options: try object.optional("options") { try $0.strings(noNUL: true) } ?? [],
            waitForSource: try object.optional("waitForSource") { try $0.bool() } ?? false)
        try object.rejectUnknown()
    }
}

extension ProcessDescription.Device {
    var json: JSONValue {
        .object([
            "path": .string(path), "type": .string(kind.rawValue), "major": .number(String(major)),
            "minor": .number(String(minor)), "fileMode": .number(String(fileMode)), "uid": .number(String(uid)),
            "gid": .number(String(gid)),
        ])
    }

    init(_ object: ObjectReader) throws {
        self.init(
            path: try object.require("path") { try $0.absolutePath() },
            kind: try object.require("type") { try $0.enumeration(Kind.self) },
            major: try object.optional("major") { try $0.uint64() } ?? 0,
            minor: try object.optional("minor") { try $0.uint64() } ?? 0,
            fileMode: try object.optional("fileMode") { try $0.uint32() } ?? 0o666,
            uid: try object.optional("uid") { try $0.uint32() } ?? 0,
            gid: try object.optional("gid") { try $0.uint32() } ?? 0)
        guard fileMode <= 0o7777 else {
            throw GuestProtocolError("\(object.path).fileMode \(fileMode) is more than 0o7777")
        }
        try object.rejectUnknown()
    }
}

extension ProcessDescription.Capabilities {
    var json: JSONValue {
        .object([
            "bounding": .strings(bounding), "effective": .strings(effective),
            "inheritable": .strings(inheritable), "permitted": .strings(permitted),
            "ambient": .strings(ambient),
        ])
    }

    init(_ object: ObjectReader) throws {
        self.init(
            bounding: try object.optional("bounding") { try $0.strings(noNUL: true) } ?? [],
            effective: try object.optional("effective") { try $0.strings(noNUL: true) } ?? [],
            inheritable: try object.optional("inheritable") { try $0.strings(noNUL: true) } ?? [],
            permitted: try object.optional("permitted") { try $0.strings(noNUL: true) } ?? [],
            ambient: try object.optional("ambient") { try $0.strings(noNUL: true) } ?? [])
        try object.rejectUnknown()
    }
}

extension SeccompProfile {
    var json: JSONValue {
        var members: [String: JSONValue] = ["defaultAction": .string(defaultAction.rawValue)]
        if let defaultErrnoRet { members["defaultErrnoRet"] = .number(String(defaultErrnoRet)) }
        members["architectures"] = .strings(architectures)
        members["flags"] = .strings(flags)
        members["syscalls"] = .array(syscalls.map(\.json))
        return .object(members)
    }

    init(_ object: ObjectReader) throws {
        self.init(
            defaultAction: try object.require("defaultAction") { try $0.enumeration(SeccompAction.self) },
            defaultErrnoRet: try object.optional("defaultErrnoRet") { try $0.uint32() },
            architectures: try object.optional("architectures") { try $0.strings(noNUL: true) } ?? [],
            flags: try object.optional("flags") { try $0.strings(noNUL: true) } ?? [],
            syscalls: try object.optional("syscalls") { try $0.array { try SeccompRule(try ObjectReader($0)) } } ?? [])
        try object.rejectUnknown()
    }
}

extension SeccompRule {
    var json: JSONValue {
        var members: [String: JSONValue] = ["names": .strings(names), "action": .string(action.rawValue)]
        if let errnoRet { members["errnoRet"] = .number(String(errnoRet)) }
        members["args"] = .array(args.map(\.json))
        return .object(members)
    }

    init(_ object: ObjectReader) throws {
        self.init(
            names: try object.require("names") { try $0.strings(noNUL: true) },
            action: try object.require("action") { try $0.enumeration(SeccompAction.self) },
            errnoRet: try object.optional("errnoRet") { try $0.uint32() },
            args: try object.optional("args") { try $0.array { try SeccompArgument(try ObjectReader($0)) } } ?? [])
        try object.rejectUnknown()
    }
}

extension SeccompArgument {
    var json: JSONValue {
        .object([
            "index": .number(String(index)), "value": .number(String(value)),
            "valueTwo": .number(String(valueTwo)), "op": .string(op.rawValue),
        ])
    }

    init(_ object: ObjectReader) throws {
        self.init(
            index: try object.require("index") { try $0.uint32() },
            value: try object.require("value") { try $0.uint64() },
            valueTwo: try object.optional("valueTwo") { try $0.uint64() } ?? 0,
            op: try object.require("op") { try $0.enumeration(SeccompOperator.self) })
        guard index < 6 else { throw GuestProtocolError("\(object.path).index \(index) is not a syscall argument (0...5)") }
        try object.rejectUnknown()
    }
}

// MARK: - Reading helpers

extension JSONValue {
    static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }
}

/// A JSON value with the path that led to it, so every error names the offending field.
struct FieldReader {
    let value: JSONValue
    let path: String

    private func mismatch(_ expected: String) -> GuestProtocolError {
        GuestProtocolError("\(path) must be \(expected)")
    }

    func bool() throws -> Bool {
        guard case .bool(let flag) = value else { throw mismatch("true or false") }
        return flag
    }

    func string(noNUL: Bool) throws -> String {
        guard case .string(let text) = value else { throw mismatch("a string") }
        if noNUL, text.utf8.contains(0) { throw mismatch("a string without NUL characters") }
        return text
    }

    /// An absolute path: init resolves nothing relative to its own working directory.
    func absolutePath() throws -> String {
        let text = try string(noNUL: true)
        guard text.hasPrefix("/") else { throw mismatch("an absolute path, not '\(text)'") }
        return text
    }

    func strings(noNUL: Bool) throws -> [String] {
        try array { try $0.string(noNUL: noNUL) }
    }

    func array<Element>(_ transform: (FieldReader) throws -> Element) throws -> [Element] {
        guard case .array(let elements) = value else { throw mismatch("an array") }
        var result: [Element] = []
        result.reserveCapacity(elements.count)
        for (position, element) in elements.enumerated() {
            result.append(try transform(FieldReader(value: element, path: "\(path)[\(position)]")))
        }
        return result
    }

    func enumeration<Value: RawRepresentable<String>>(_ type: Value.Type) throws -> Value {
        let text = try string(noNUL: true)
        guard let result = Value(rawValue: text) else { throw mismatch("a known value, not '\(text)'") }
        return result
    }

    private func integerText() throws -> String {
        guard case .number(let text) = value else { throw mismatch("an integer") }
        return text
    }

    func int() throws -> Int {
        guard let number = Int(try integerText()) else { throw mismatch("an integer") }
        return number
    }

    func uint32() throws -> UInt32 {
        guard let number = UInt32(try integerText()) else { throw mismatch("an integer in 0...\(UInt32.max)") }
        return number
    }

    func uint64() throws -> UInt64 {
        guard let number = UInt64(try integerText()) else { throw mismatch("an integer in 0...\(UInt64.max)") }
        return number
    }
}

/// A JSON object whose fields are taken one by one; whatever is left at the end is an error.
final class ObjectReader {
    let path: String
    private let members: [String: JSONValue]
    private var taken = Set<String>()

    init(_ value: JSONValue, path: String) throws {
        guard case .object(let members) = value else { throw GuestProtocolError("\(path) must be an object") }
        self.members = members
        self.path = path
    }

    convenience init(_ field: FieldReader) throws {
        try self.init(field.value, path: field.path)
    }

    func optional<Value>(_ key: String, _ read: (FieldReader) throws -> Value) throws -> Value? {
        taken.insert(key)
        guard let member = members[key] else { return nil }
        if case .null = member { return nil }
        return try read(FieldReader(value: member, path: "\(path).\(key)"))
    }


    func require<Value>(_ key: String, _ read: (FieldReader) throws -> Value) throws -> Value {
        guard let value = try optional(key, read) else { throw GuestProtocolError("\(path).\(key) is missing") }
        return value
    }


    func rejectUnknown() throws {
        // The first by name, so the error is the same on every run; sorted only when there is one.
        if let unknown = members.keys.filter({ !taken.contains($0) }).min() {
            throw GuestProtocolError("\(path).\(unknown) is not a field runxl-init knows")
        }
    }
}
