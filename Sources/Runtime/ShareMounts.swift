public import Hypervisor
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("unshare") private func c_unshare(_ flags: Int32) -> Int32
@_silgen_name("setns") private func c_setns(_ fd: Int32, _ type: Int32) -> Int32
@_silgen_name("open_tree") private func c_open_tree(_ directory: Int32, _ path: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
@_silgen_name("move_mount") private func c_move_mount(
    _ fromDirectory: Int32, _ fromPath: UnsafePointer<CChar>, _ toDirectory: Int32, _ toPath: UnsafePointer<CChar>, _ flags: UInt32
) -> Int32

/// The host side of the guest's 9pfs shares: the bind mounts that put the container's rootfs and
/// every bind-mount source under the shared directories, made where only the 9pfs backend sees
/// them.
///
/// libxl forks the domain's QEMU backend from the thread that calls `libxl_domain_create_new`.
/// That thread first leaves for a mount namespace of its own (`unshare(CLONE_NEWNS)` acts on the
/// calling thread only), makes the mounts there, lets libxl create the domain, and then returns
/// to the host's namespace. The backend is the only process left in the private namespace, so
/// the mounts live exactly as long as it does: a destroyed domain, a killed `runxl create`, a
/// crashed host process leave no mount behind, and the host's own mount table never shows them.
public enum ShareMounts {
    /// CLONE_NEWNS, which Glibc's module leaves out (it needs _GNU_SOURCE).
    private static let newMountNamespace: Int32 = 0x0002_0000
    /// CLONE_FS, likewise.
    private static let fileSystemContext: Int32 = 0x0000_0200

    /// Runs `body` (the domain's creation) with `mounts` in place for the processes it forks.
    /// With no mounts it only runs `body`.
    public static func withMounts<T>(_ mounts: [HostMount], _ body: () throws(RunxlError) -> T) throws(RunxlError) -> T {
        guard !mounts.isEmpty else { return try body() }
        let place = try ThreadPlace.current()
        defer { place.close() }
        guard c_unshare(newMountNamespace) == 0 else {
            throw failure("cannot create a mount namespace for the 9pfs backend (runxl needs CAP_SYS_ADMIN)", call: "unshare")
        }
        // Whatever happens below, this thread goes back to the host's namespace: the supervisor
        // and the hooks that create spawns later belong there.
        defer { place.restore() }
        // Slave: nothing mounted here reaches the host, while host mounts made later (a volume
        // mounted under a bind source) still propagate in.
        guard mount("none", "/", nil, UInt(MS_REC | MS_SLAVE), nil) == 0 else {
            throw failure("cannot make the backend's mount namespace a slave of the host's", call: "mount MS_SLAVE /")
        }
        for entry in mounts { try bind(entry) }
        return try body()
    }

    /// Adds `mounts` to the namespace of a backend that runs already (a pod's VM taking a further
    /// container, docs/pods.md). Each source is copied here first (`open_tree`), where it is
    /// mounted (podman's overlay of the container), then attached in the backend's namespace,
    /// which need not see the host's later mounts. On failure the ones made are taken away.
    public static func attach(_ mounts: [HostMount], toBackend backend: Int32) throws(RunxlError) {
        var trees: [Int32] = []
        defer { for tree in trees { close(tree) } }
        for entry in mounts {
            let flags = openTreeClone | UInt32(O_CLOEXEC) | (entry.recursive ? recursiveTree : 0)
            let tree = c_open_tree(AT_FDCWD, entry.source, flags)
            guard tree >= 0 else {
                throw failure("cannot take \(entry.source) for the pod's 9pfs share", call: "open_tree \(entry.source)")
            }
            trees.append(tree)
        }
        try inNamespace(of: backend) { () throws(RunxlError) in
            var made: [String] = []
            do throws(RunxlError) {
                for (entry, tree) in zip(mounts, trees) {
                    guard c_move_mount(tree, "", AT_FDCWD, entry.target, moveFromEmptyPath) == 0 else {
                        throw failure("cannot attach \(entry.source) in the pod's 9pfs backend", call: "move_mount \(entry.target)")
                    }
                    made.append(entry.target)
                    try restrict(entry)
                }
            } catch {
                for target in made.reversed() { _ = umount2(target, Int32(MNT_DETACH)) }
                throw error
            }
        }
    }

    /// Takes `targets` away from a running backend's namespace, last first; gone ones are skipped.
    public static func detach(_ targets: [String], fromBackend backend: Int32) throws(RunxlError) {
        try inNamespace(of: backend) { () throws(RunxlError) in
            for target in targets.reversed() { _ = umount2(target, Int32(MNT_DETACH)) }
        }
    }

    /// Runs `body` in the mount namespace of process `pid`, then comes back with this thread's
    /// working directory as it was (setns moves it to the namespace's root).
    private static func inNamespace(of pid: Int32, _ body: () throws(RunxlError) -> Void) throws(RunxlError) {
        let place = try ThreadPlace.current()
        defer { place.close() }
        let target = open("/proc/\(pid)/ns/mnt", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else {
            throw failure("cannot reach the mount namespace of the pod's 9pfs backend (pid \(pid))", call: "open /proc/\(pid)/ns/mnt")
        }
        defer { close(target) }
        // setns refuses a thread whose file-system context is shared (`ThreadPlace.restore`).
        guard c_unshare(fileSystemContext) == 0, c_setns(target, newMountNamespace) == 0 else {
            throw failure("cannot enter the mount namespace of the pod's 9pfs backend (pid \(pid))", call: "setns")
        }
        defer { place.restore() }
        try body()
    }

    /// Where this thread is, to come back to: its mount namespace, and its working directory,
    /// since setns moves a thread to the namespace's root (a relative --pid-file written after
    /// create must still land where the caller meant).
    private struct ThreadPlace {
        let namespace: Int32
        let directory: Int32

        static func current() throws(RunxlError) -> ThreadPlace {
            let namespace = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)
            guard namespace >= 0 else {
                throw failure("cannot open this thread's mount namespace", call: "open /proc/thread-self/ns/mnt")
            }
            return ThreadPlace(namespace: namespace, directory: open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC))
        }

        /// Back to the host's namespace whatever happened. setns refuses a thread whose
        /// file-system context is shared, and libxenstore starts its watch thread (which shares
        /// it) during a create: the thread first takes a private copy.
        func restore() {
            _ = c_unshare(fileSystemContext)
            _ = c_setns(namespace, newMountNamespace)
            if directory >= 0 { _ = fchdir(directory) }
        }

        func close() {
            Glibc.close(namespace)
            if directory >= 0 { Glibc.close(directory) }
        }
    }

    /// OPEN_TREE_CLONE, AT_RECURSIVE, MOVE_MOUNT_F_EMPTY_PATH.
    private static let openTreeClone: UInt32 = 1
    private static let recursiveTree: UInt32 = 0x8000
    private static let moveFromEmptyPath: UInt32 = 0x0000_0004

    /// A bind mount, then its flags: never device nodes or set-id programs through the share
    /// (the guest's kernel is not trusted to ask only for what its container may open), and
    /// read-only when the container's mount is.
    static func bind(_ entry: HostMount) throws(RunxlError) {
        let recursive = entry.recursive ? MS_REC : 0
        guard mount(entry.source, entry.target, nil, UInt(MS_BIND | recursive), nil) == 0 else {
            throw failure("cannot bind \(entry.source) for the guest's 9pfs share", call: "mount --bind \(entry.source) \(entry.target)")
        }
        try restrict(entry)
    }

    /// The flags of a bind made for the backend.
    private static func restrict(_ entry: HostMount) throws(RunxlError) {
        var flags = MS_BIND | MS_REMOUNT | MS_NODEV | MS_NOSUID
        if entry.readOnly { flags |= MS_RDONLY }
        guard mount("none", entry.target, nil, UInt(flags), nil) == 0 else {
            throw failure("cannot restrict the bind of \(entry.source) (nodev, nosuid\(entry.readOnly ? ", ro" : ""))",
                call: "mount -o remount,bind \(entry.target)")
        }
    }

    private static func failure(_ message: String, call: String) -> RunxlError {
        let code = errno
        return RunxlError(.sharesUnavailable, message, cause: SystemCallError(call, errno: code))
    }
}
