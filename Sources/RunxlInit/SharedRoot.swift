import Glibc
import GuestProtocol

/// Share mode inside the guest (GuestShares): the initramfs holds no process file, so init mounts
/// runxl's control share to read it, then makes the container's root share `/` (as switch_root
/// does: a move onto `/` and a chroot, since an initramfs cannot be pivoted away) before the
/// spec's mounts. Bind sources stay reachable through a descriptor kept on the control share's
/// `binds` directory, which the container's root does not contain.
enum SharedRoot {
    nonisolated(unsafe) private(set) static var isActive = false
    nonisolated(unsafe) private static var bindsDescriptor: Int32 = -1
    /// The control share itself, where a pod's further containers find their roots
    /// (`PodMemberRoot`) once the root share covers the mount point.
    nonisolated(unsafe) private(set) static var controlDescriptor: Int32 = -1
    /// A pod member's bind sources: the description's prefix for them and the descriptor that
    /// reaches them from inside the member's root (set in the member's own process only).
    nonisolated(unsafe) static var memberBinds: (prefix: String, descriptor: Int32)?

    static var processPath: String { GuestShares.controlMountPoint + "/" + GuestShares.processFileName }

    /// Mounts the control share; needs the 9p modules loaded.
    static func mountControl() throws(InitFailure) {
        try mountShare(GuestShares.controlTag, at: GuestShares.controlMountPoint, flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, what: "runxl's control share")
        isActive = true
    }

    /// Makes the root share the guest's `/`, with init's own /proc and /dev mounted in it again
    /// (the spec's mounts go on top, as they do in an initramfs guest).
    static func enter() throws(InitFailure) {
        guard isActive else { return }
        try mountShare(GuestShares.rootTag, at: GuestShares.rootMountPoint, flags: 0, what: "the container's rootfs")
        controlDescriptor = try check(
            open(GuestShares.controlMountPoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC), "open runxl's control share")
        bindsDescriptor = try check(
            open(GuestShares.controlMountPoint + "/" + GuestShares.bindsDirectoryName, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
            "open the bind sources in the control share")
        _ = try check(chdir(GuestShares.rootMountPoint), "chdir to the container's rootfs")
        _ = try check(mount(".", "/", nil, UInt(MS_MOVE), nil), "move the container's rootfs onto /")
        _ = try check(chroot("."), "chroot into the container's rootfs")
        _ = try check(chdir("/"), "chdir to /")
        try FileSystemSetup.mountBase()
        procDescriptor = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }

    /// init's own /proc, which names processes by init's pids: the container's process mounts
    /// its pid namespace's /proc over it, where a pod member's pid (`PodMemberRoot.join`) is
    /// another number or none.
    nonisolated(unsafe) private(set) static var procDescriptor: Int32 = -1

    /// The path to mount for a process description's mount source: a bind source in the control
    /// share is reached through the kept descriptor once `/` is the container's.
    static func guestPath(of source: String) -> String {
        if let member = memberBinds, source.hasPrefix(member.prefix) {
            return "/proc/self/fd/\(member.descriptor)/" + source.dropFirst(member.prefix.count)
        }
        let prefix = GuestShares.controlMountPoint + "/" + GuestShares.bindsDirectoryName + "/"
        guard isActive, bindsDescriptor >= 0, source.hasPrefix(prefix) else { return source }
        return "/proc/self/fd/\(bindsDescriptor)/" + source.dropFirst(prefix.count)
    }

    /// How long a mount waits for its share's 9pfs channel: 0 for a booted guest, whose shares
    /// connect before init runs; a guest restored from a template meets its shares only as it
    /// resumes (`TemplateResume`), and 9pnet_xen refuses an unknown tag with EINVAL until then.
    nonisolated(unsafe) static var channelWaitSeconds = 0.0

    private static func mountShare(_ tag: String, at target: String, flags: Int, what: String) throws(InitFailure) {
        try makeDirectories(target, mode: 0o700)
        let deadline = monotonicMilliseconds() + Int64(channelWaitSeconds * 1000)
        while mount(tag, target, "9p", UInt(flags), GuestShares.mountOptions) != 0 {
            let code = errno
            if (code == EINVAL || code == ENOENT) && monotonicMilliseconds() < deadline {
                usleep(10_000)
                continue
            }
            throw InitFailure(
                "mount \(what) (9p tag \(tag), \(GuestShares.mountOptions)): \(errnoText(code)); "
                    + "modules loaded: \(GuestModules.loadedModules())")
        }
    }
}
