// What `runxl spec` writes and `runxl features` prints.

extension Spec {
    /// The runtime-spec version these types port and runxl's documents declare.
    public static let currentVersion = "1.3.0"

    /// The config.json `runxl spec` writes: runc's `runc spec` defaults (same process, mounts,
    /// masked and read-only paths) with runxl's hostname, so bundles move between the two.
    public static func runxlDefault(args: [String] = ["sh"], terminal: Bool = true) -> Spec {
        let capabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        return Spec(
            ociVersion: currentVersion,
            process: Process(
                terminal: terminal,
                user: User(uid: 0, gid: 0),
                args: args,
                env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                cwd: "/",
                capabilities: LinuxCapabilities(
                    bounding: capabilities, effective: capabilities, permitted: capabilities, ambient: capabilities),
                rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)],
                noNewPrivileges: true),
            root: Root(path: "rootfs", readonly: true),
            hostname: "runxl",
            mounts: [
                Mount(destination: "/proc", type: "proc", source: "proc"),
                Mount(
                    destination: "/dev", type: "tmpfs", source: "tmpfs",
                    options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                Mount(
                    destination: "/dev/pts", type: "devpts", source: "devpts",
                    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
                Mount(
                    destination: "/dev/shm", type: "tmpfs", source: "shm",
                    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
                Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
                Mount(
                    destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                    options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
            ],
            linux: Linux(
                namespaces: [.pid, .network, .ipc, .uts, .mount, .cgroup].map { LinuxNamespace(type: $0) },
                resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")]),
                maskedPaths: [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                ],
                readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]))
    }
}

/// Annotation keys runxl itself defines; use these constants rather than retyping the strings.
/// Every annotation key runxl reads or writes, defined once: the guest builder, `features`,
/// the CLI and the docs refer to these constants, never to string copies.
public enum RunxlAnnotations {
    /// Every runxl annotation starts with this.
    public static let prefix = "org.runxl."
    /// In `runxl features`: runxl's version.
    public static let version = prefix + "version"
    /// In `runxl features`: the commit runxl was built from.
    public static let commit = prefix + "commit"

    /// `pv` or `pvh`.
    public static let guestType = prefix + "guest.type"
    /// Path in dom0 of the guest kernel (ELF or bzImage).
    public static let kernel = prefix + "kernel"
    /// Guest memory in MiB (a positive integer).
    public static let memory = prefix + "memory"
    /// Number of virtual CPUs (a positive integer).
    public static let vcpus = prefix + "vcpus"
    /// The most memory, in MiB, the container's VM can grow to as a pod's further containers
    /// join it (Xen's maxmem, fixed at create); a pod sandbox's default is the host config's
    /// `podMaxMemoryMiB`.
    public static let maxMemory = prefix + "max-memory"
    /// The most vCPUs the container's VM can bring online as a pod's containers join it.
    public static let maxVcpus = prefix + "max-vcpus"
    /// Appended to the guest kernel command line.
    public static let cmdlineExtra = prefix + "cmdline.extra"
    /// `none`, `gzip`, `zstd` or `lz4`: how the initramfs is compressed.
    public static let initramfsCompression = prefix + "initramfs.compression"
    /// `share` (the rootfs and bind sources served live over Xen 9pfs, the default for the OCI
    /// verbs) or `initramfs` (copied into the guest's RAM: a self-contained guest).
    public static let rootfs = prefix + "rootfs"
    /// `true` or `false`: whether a share-mode Linux guest is restored from a VM template
    /// (docs/fast-start.md) rather than booted; the host config's `templates` when left out.
    public static let template = prefix + "template"

    /// The keys that configure a guest (as opposed to the informational ones above them).
    public static let all = [guestType, kernel, memory, vcpus, cmdlineExtra, initramfsCompression, rootfs, template]
}

extension Features {
    /// `runxl features` with no build information.
    public static let runxl = runxl(version: nil)

    /// What runxl supports, stated for a runtime whose containers are Xen guests: the process runs
    /// under runxl-init inside its own kernel, so host cgroups, AppArmor, SELinux, Intel RDT, idmap
    /// mounts and moving host network devices do not apply. Seccomp filters are installed by
    /// runxl-init in the guest (libseccomp), except `SCMP_ACT_NOTIFY`, whose listener would have to
    /// live across the VM boundary. `namespaces` and `capabilities` are the names runxl
    /// recognizes in config.json, as features-linux.md defines those lists.
    public static func runxl(version: String?, commit: String? = nil) -> Features {
        var annotations: [String: String] = [:]
        if let version { annotations[RunxlAnnotations.version] = version }
        if let commit { annotations[RunxlAnnotations.commit] = commit }
        return Features(
            ociVersionMin: "1.0.0",
            ociVersionMax: Spec.currentVersion,
            hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
            mountOptions: runxlMountOptions,
            linux: LinuxFeatures(
                namespaces: LinuxNamespaceType.allCases.map(\.rawValue),
                capabilities: knownCapabilities,
                cgroup: CgroupFeatures(v1: false, v2: false, systemd: false, systemdUser: false, rdma: false),
                seccomp: SeccompFeatures(
                    enabled: true,
                    actions: LinuxSeccompAction.allCases.filter { $0 != .notify }.map(\.rawValue),
                    operators: LinuxSeccompOperator.allCases.map(\.rawValue),
                    archs: [LinuxSeccompArch.x86, .x86_64, .x32].map(\.rawValue),
                    knownFlags: LinuxSeccompFlag.allCases.map(\.rawValue)),
                apparmor: EnabledFeature(enabled: false),
                selinux: EnabledFeature(enabled: false),
                intelRdt: IntelRdtFeatures(enabled: false),
                mountExtensions: MountExtensionsFeatures(idmap: EnabledFeature(enabled: false)),
                netDevices: EnabledFeature(enabled: false)),
            annotations: annotations.isEmpty ? nil : annotations,
            // They choose the guest kernel and its resources: not for untrusted users to set.
            potentiallyUnsafeConfigAnnotations: [RunxlAnnotations.prefix])
    }

    /// Mount options runxl-init turns into mount(2) flags inside the guest (the filesystem-specific
    /// rest, such as `mode=755`, is passed through as data). Keep in step with runxl-init.
    public static let runxlMountOptions = [
        "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand", "noatime", "nodev",
        "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "rbind",
        "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "slave",
        "strictatime", "suid", "symfollow", "sync", "unbindable",
    ]

    /// Linux capabilities 0 (CAP_CHOWN) to 40 (CAP_CHECKPOINT_RESTORE), in kernel order.
    public static let knownCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]
}

/// The annotations by which Kubernetes' runtimes mark a pod's containers: (the container-type
/// key, the sandbox-id key) of containerd's CRI, then CRI-O's (which podman also sets on a pod's
/// further containers). The type is `sandbox` for the pod's first container, `container` otherwise.
public enum PodAnnotations {
    public static let keys = [
        (type: "io.kubernetes.cri.container-type", sandboxID: "io.kubernetes.cri.sandbox-id"),
        (type: "io.kubernetes.cri-o.ContainerType", sandboxID: "io.kubernetes.cri-o.SandboxID"),
    ]

    /// Whether the annotations mark the pod's sandbox: the container whose VM becomes the pod's.
    public static func markSandbox(_ annotations: [String: String]) -> Bool {
        keys.contains { annotations[$0.type] == "sandbox" }
    }
}
