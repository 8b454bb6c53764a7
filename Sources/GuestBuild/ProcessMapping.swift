public import GuestProtocol
public import OCI
public import RunxlBase

extension ProcessDescription {
    /// The process file for the guest, from config.json, with checks that would otherwise only
    /// fail inside a booted guest: each error names the field to fix.
    ///
    /// `process.user.username`, when set, is looked up in the rootfs's `/etc/passwd` and gives
    /// uid, gid and supplementary groups (explicit `additionalGids` are added to them).
    ///
    /// `directoryBinds` (from `DirectoryBinds.select`) become ext4 mounts of their Xen disks, in
    /// their place among the spec's mounts; other bind mounts are left out.
    public init(spec: Spec, rootfs: String, directoryBinds: [DirectoryBind] = []) throws(RunxlError) {
        try self.init(
            spec: spec, lookup: RootfsLookup(rootfs: rootfs),
            guestMounts: Dictionary(directoryBinds.map { ($0.mountIndex, DirectoryBinds.guestMount($0)) }) { first, _ in first })
    }

    /// The same, with the rootfs as a directory or as the listing of a streamed image, and the
    /// guest's version of some of the spec's mounts (by index in `mounts`): the bind mounts a
    /// guest can make, from a disk or a share. Binds without one are left out.
    public init(spec: Spec, lookup: RootfsLookup, guestMounts: [Int: Mount] = [:]) throws(RunxlError) {
        guard let process = spec.process else {
            throw RunxlError(.invalidConfig, "config.json has no process: nothing to run in the guest")
        }
        let args = process.args ?? []
        guard let command = args.first, !command.isEmpty else {
            throw RunxlError(.invalidConfig, "process.args is empty: give the program to run")
        }
        let env = process.env ?? []
        let cwd = process.cwd.isEmpty ? "/" : process.cwd
        guard lookup.findExecutable(command, env: env, cwd: cwd) != nil else {
            throw RunxlError(
                .invalidConfig,
                "process.args[0] '\(command)' is not an executable file in the rootfs "
                    + (command.contains("/") ? "" : "(searched PATH from process.env)"))
        }

        var user = User(
            uid: process.user?.uid ?? 0, gid: process.user?.gid ?? 0,
            additionalGids: process.user?.additionalGids ?? [], umask: process.user?.umask)
        if let username = process.user?.username, !username.isEmpty {
            guard let account = lookup.account(named: username) else {
                throw RunxlError(
                    .invalidConfig, "process.user.username '\(username)' is not in the rootfs's /etc/passwd")
            }
            user.uid = account.uid
            user.gid = account.gid
            user.additionalGids = account.additionalGids + user.additionalGids.filter { !account.additionalGids.contains($0) }
        }

        var rlimits: [Rlimit] = []
        for (index, limit) in (process.rlimits ?? []).enumerated() {
            guard Rlimit.knownTypes.contains(limit.type) else {
                throw RunxlError(.invalidConfig, "process.rlimits[\(index)].type '\(limit.type)' is not a Linux rlimit")
            }
            rlimits.append(Rlimit(type: limit.type, soft: limit.soft, hard: limit.hard))
        }

        let capabilities = process.capabilities.map {
            Capabilities(
                bounding: $0.bounding ?? [], effective: $0.effective ?? [], inheritable: $0.inheritable ?? [],
                permitted: $0.permitted ?? [], ambient: $0.ambient ?? [])
        }

        // Mounts the guest can make from nothing; bind mounts have no source inside a VM (the
        // builder copies file binds such as /etc/hosts into the initramfs instead, and gives
        // directory binds a disk each).
        let guestMountTypes: Set<String> = ["proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", "ramfs"]
        let mounts = (spec.mounts ?? []).enumerated().compactMap { index, mount -> Mount? in
            if let guestMount = guestMounts[index] { return guestMount }
            guard let type = mount.type, guestMountTypes.contains(type) else { return nil }
            return Mount(destination: mount.destination, type: type, source: mount.source ?? type, options: mount.options ?? [])
        }

        self.init(
            args: args, env: env, cwd: cwd, user: user, rlimits: rlimits,
            noNewPrivileges: process.noNewPrivileges ?? false, hostname: spec.hostname,
            terminal: process.terminal ?? false, mounts: mounts, capabilities: capabilities,
            maskedPaths: spec.linux?.maskedPaths ?? [], readonlyPaths: spec.linux?.readonlyPaths ?? [],
            readonlyRoot: spec.root?.readonly ?? false,
            sysctl: (spec.linux?.sysctl ?? [:]).sorted { $0.key < $1.key }.map { Sysctl(key: $0.key, value: $0.value) },
            devices: try Self.devices(spec.linux?.devices ?? []),
            seccomp: try spec.linux?.seccomp.map(Self.seccompProfile),
            // A path would join another process's namespace: inside a VM there is none to join,
            // and the process keeps the guest's (today's behaviour, which a pod VM will change).
            pidNamespace: spec.linux?.namespaces?.contains { $0.type == .pid && $0.path == nil } ?? false,
            oomScoreAdj: try Self.oomScoreAdj(process.oomScoreAdj))
    }

    /// The kernel's range; runc fails the container on a value outside it, so create does.
    private static func oomScoreAdj(_ value: Int?) throws(RunxlError) -> Int? {
        guard let value else { return nil }
        guard oomScoreAdjRange.contains(value) else {
            throw RunxlError(.invalidConfig, "process.oomScoreAdj \(value) is outside the kernel's range \(oomScoreAdjRange)")
        }
        return value
    }

    /// runc's defaults: mode 0666 and root's ownership when the spec leaves them out; a character
    /// or block device needs its numbers, a FIFO has none.
    private static func devices(_ devices: [LinuxDevice]) throws(RunxlError) -> [Device] {
        var mapped: [Device] = []
        for (index, device) in devices.enumerated() {
            let field = "linux.devices[\(index)]"
            guard let kind = Device.Kind(rawValue: device.type) else {
                throw RunxlError(.invalidConfig, "\(field).type '\(device.type)' is not one of c, u, b, p")
            }
            guard device.path.hasPrefix("/") else {
                throw RunxlError(.invalidConfig, "\(field).path '\(device.path)' is not an absolute path")
            }
            var major: UInt64 = 0
            var minor: UInt64 = 0
            if kind != .fifo {
                guard let specMajor = device.major, let specMinor = device.minor, specMajor >= 0, specMinor >= 0 else {
                    throw RunxlError(.invalidConfig, "\(field) (\(device.path)) needs a non-negative major and minor for type '\(device.type)'")
                }
                major = UInt64(specMajor)
                minor = UInt64(specMinor)
            }
            mapped.append(
                Device(
                    path: device.path, kind: kind, major: major, minor: minor, fileMode: (device.fileMode ?? 0o666) & 0o7777,
                    uid: device.uid ?? 0, gid: device.gid ?? 0))
        }
        return mapped
    }

    private static func seccompProfile(_ seccomp: LinuxSeccomp) throws(RunxlError) -> SeccompProfile {
        func action(_ value: LinuxSeccompAction, _ field: String) throws(RunxlError) -> SeccompAction {
            guard let mapped = SeccompAction(rawValue: value.rawValue) else {
                throw RunxlError(.invalidConfig, "\(field) '\(value.rawValue)' is not supported by runxl-init")
            }
            return mapped
        }
        var rules: [SeccompRule] = []
        for (index, syscall) in (seccomp.syscalls ?? []).enumerated() {
            var arguments: [SeccompArgument] = []
            for (argumentIndex, argument) in (syscall.args ?? []).enumerated() {
                guard let op = SeccompOperator(rawValue: argument.op.rawValue) else {
                    throw RunxlError(
                        .invalidConfig, "linux.seccomp.syscalls[\(index)].args[\(argumentIndex)].op is not supported")
                }
                arguments.append(
                    SeccompArgument(index: argument.index, value: argument.value, valueTwo: argument.valueTwo ?? 0, op: op))
            }
            rules.append(
                SeccompRule(
                    names: syscall.names, action: try action(syscall.action, "linux.seccomp.syscalls[\(index)].action"),
                    errnoRet: syscall.errnoRet, args: arguments))
        }
        return SeccompProfile(
            defaultAction: try action(seccomp.defaultAction, "linux.seccomp.defaultAction"),
            defaultErrnoRet: seccomp.defaultErrnoRet,
            architectures: (seccomp.architectures ?? []).map(\.rawValue),
            flags: (seccomp.flags ?? []).map(\.rawValue), syscalls: rules)
    }
}
