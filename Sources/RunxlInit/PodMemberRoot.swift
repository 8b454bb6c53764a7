import Glibc
import GuestProtocol
import RunxlBase

@_silgen_name("setns") private func c_setns(_ fd: Int32, _ type: Int32) -> Int32
@_silgen_name("open_tree") private func c_open_tree(_ directory: Int32, _ path: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
@_silgen_name("move_mount") private func c_move_mount(
    _ fromDirectory: Int32, _ fromPath: UnsafePointer<CChar>, _ toDirectory: Int32, _ toPath: UnsafePointer<CChar>, _ flags: UInt32
) -> Int32

/// The file system of a pod's further container (docs/pods.md), made in its own process before
/// anything else of `Launcher`'s child: a mount namespace of its own, rooted at the member's
/// directory of the control share, with the description's mounts inside it, as runc builds a
/// container that joins a pod's network, ipc and uts but has its own mounts.
///
/// Why a detached copy (`open_tree`): init's root share covers the control share's mount point,
/// and a mount reached through a descriptor from init's namespace cannot be bind-mounted in a new
/// one. A copy made before `unshare` belongs to no namespace and can be attached in the new one.
enum PodMemberRoot {
    private static let openTreeClone: UInt32 = 1
    private static let openTreeCloseOnExec = UInt32(O_CLOEXEC)
    private static let moveMountFromEmptyPath: UInt32 = 0x0000_0004
    /// CLONE_NEWNS, which Glibc's module leaves out.
    private static let newMountNamespace: Int32 = 0x0002_0000
    /// Where the member's directory is attached in its namespace: a mount of init's that every
    /// guest has, covered only in the member's namespace and unreachable once it is chrooted.
    private static let attachPoint = "/dev"

    /// Makes `member`'s root this process's `/`, then builds its file system from `description`.
    static func enter(_ member: String, _ description: ProcessDescription, console: Console) throws(InitFailure) {
        let control = SharedRoot.controlDescriptor
        guard control >= 0 else {
            throw InitFailure("pod member \(member): this guest has no control share to find its rootfs in")
        }
        let tree = c_open_tree(control, GuestShares.podMemberDirectory(member), openTreeClone | openTreeCloseOnExec)
        guard tree >= 0 else {
            let code = errno
            throw InitFailure(
                "pod member \(member): its directory in the control share (\(GuestShares.podMemberDirectory(member))): \(errnoText(code))")
        }
        try check(c_unshare(newMountNamespace), "pod member \(member): unshare the mount namespace")
        // Nothing mounted here reaches init's namespace, which the pod's other containers share.
        try check(mount("none", "/", nil, UInt(MS_REC | MS_SLAVE), nil), "pod member \(member): make / a slave")
        try check(c_move_mount(tree, "", AT_FDCWD, attachPoint, moveMountFromEmptyPath), "pod member \(member): attach its rootfs")
        close(tree)
        // The copy kept the control share's noexec, nosuid and nodev; dom0's bind already refuses
        // device nodes and set-id programs, as for the pod's first container.
        try check(mount("none", attachPoint, nil, UInt(MS_BIND | MS_REMOUNT), nil), "pod member \(member): allow exec on its rootfs")
        let binds = open(attachPoint + "/" + GuestShares.bindsDirectoryName, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if binds >= 0 {
            SharedRoot.memberBinds = (GuestShares.podMemberBindsPrefix(member), binds)
        }
        // Its root a mount of its own, as runc's pivot_root makes it: root.readonly remounts `/`.
        let root = attachPoint + "/root"
        try check(mount(root, root, nil, UInt(MS_BIND | MS_REC), nil), "pod member \(member): bind its rootfs onto itself")
        try check(chdir(root), "pod member \(member): chdir to its rootfs")
        try check(chroot("."), "pod member \(member): chroot into its rootfs")
        try check(chdir("/"), "pod member \(member): chdir to /")
        try FileSystemSetup.mountBase()
        try FileSystemSetup.apply(description, console: console)
    }

    /// Runs `body` (one fork) with init's children made in the pid namespace at `path` under
    /// init's own /proc, then puts init's back. setns(CLONE_NEWPID) moves only the caller's future
    /// children, so init itself stays where it is; a failure to put it back is reported, as every
    /// later process of the pod would otherwise start in that namespace.
    static func forkingInPidNamespace<Result>(
        _ path: String, of owner: String, warn: (String) -> Void, _ body: () throws(InitFailure) -> Result
    ) throws(InitFailure) -> Result {
        let proc = SharedRoot.procDescriptor
        let own = try check(openat(proc, "self/ns/pid_for_children", O_RDONLY | O_CLOEXEC), "open init's pid namespace for children")
        defer { close(own) }
        let target = try check(openat(proc, path, O_RDONLY | O_CLOEXEC), "\(owner): open its pid namespace")
        defer { close(target) }
        try check(c_setns(target, Linux.cloneNewPID), "\(owner): enter its pid namespace")
        defer {
            if c_setns(own, Linux.cloneNewPID) != 0 {
                warn("runxl-init: cannot return to the pod's pid namespace after a fork in \(owner)'s: \(errnoText(errno))")
            }
        }
        return try body()
    }

    /// Makes this process's mount namespace and root those of the member's running `process`,
    /// for an exec into it (as `nsenter -m -r`): the root is opened first, through init's own
    /// /proc, since setns moves the caller to the new namespace's own root.
    static func join(_ member: String, process: pid_t) throws(InitFailure) {
        let proc = SharedRoot.procDescriptor
        let namespace = try check(
            openat(proc, "\(process)/ns/mnt", O_RDONLY | O_CLOEXEC), "pod member \(member): open its mount namespace")
        let root = try check(
            openat(proc, "\(process)/root", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "pod member \(member): open its root")
        try check(c_setns(namespace, newMountNamespace), "pod member \(member): enter its mount namespace")
        try check(fchdir(root), "pod member \(member): chdir to its root")
        try check(chroot("."), "pod member \(member): chroot into its root")
        try check(chdir("/"), "pod member \(member): chdir to /")
        close(namespace)
        close(root)
    }
}
