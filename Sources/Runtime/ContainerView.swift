public import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

// syscall(2) for calls glibc has no wrapper for; integer and pointer arguments travel in the same
// registers, so one declaration with word-sized arguments serves them all.
@_silgen_name("syscall") private func c_syscall(_ number: Int, _ a: Int, _ b: Int, _ c: Int, _ d: Int, _ e: Int) -> Int
@_silgen_name("unshare") private func c_unshare_view(_ flags: Int32) -> Int32

/// The container's file system as host tools look for it: podman's `cp`, `stat` and `mount`
/// of a running container enter the mount namespace of the container's pid
/// (`/proc/PID/ns/mnt`) and read paths from its root, as they find a runc container's rootfs
/// with its volumes there. The pid runxl reports is a host process, so that process makes such
/// a namespace of its own: the bundle's rootfs as `/`, each bind source at its destination.
/// The guest shares the same files over 9pfs, so what a tool reads or writes here is what the
/// container sees.
public struct ContainerView: Sendable, Equatable {
    public struct Bind: Sendable, Equatable {
        public var source: String
        public var destination: String
        public var readOnly: Bool
        public var recursive: Bool
    }

    public var rootfs: String
    public var binds: [Bind]

    /// The binds of `spec` that a host tool would find at their destination under runc: bind
    /// mounts whose source is a file or a directory, in order, except those under a mount only
    /// the guest makes (a tmpfs, /proc, /sys, /dev), whose files the host cannot see anyway.
    public static func plan(spec: Spec, rootfs: String) -> ContainerView {
        var binds: [Bind] = []
        var guestOnly: [String] = []
        for mount in spec.mounts ?? [] {
            let destination = normalized(mount.destination)
            guard mount.isBind else {
                guestOnly.append(destination)
                continue
            }
            guard let source = mount.source, source.hasPrefix("/"), destination != "/",
                !guestOnly.contains(where: { destination == $0 || destination.hasPrefix($0 + "/") })
            else { continue }
            var info = stat()
            guard stat(source, &info) == 0, [S_IFREG, S_IFDIR].contains(info.st_mode & S_IFMT) else { continue }
            binds.append(Bind(
                source: source, destination: destination,
                readOnly: mount.isReadOnly, recursive: (mount.options ?? []).contains("rbind")))
        }
        return ContainerView(rootfs: rootfs, binds: binds)
    }

    /// Moves the calling process (single-threaded, before anything else runs) into a new mount
    /// namespace rooted at the rootfs with the binds mounted. `staging` is an empty directory
    /// of runxl's own where the rootfs is attached before it becomes `/`. A bind whose mount point
    /// cannot be made is skipped: the view is for tools, the guest does not depend on it.
    public func enter(staging: String) throws(RunxlError) {
        // Detached copies of the trees, taken while the host's paths are still reachable.
        let root = try Self.cloneTree(rootfs, recursive: true)
        defer { close(root) }
        var sources: [(bind: Bind, tree: Int32)] = []
        defer { for source in sources { close(source.tree) } }
        for bind in binds {
            guard let tree = try? Self.cloneTree(bind.source, recursive: bind.recursive) else { continue }
            sources.append((bind, tree))
        }
        guard c_unshare_view(Self.newMountNamespace) == 0 else { throw Self.failure("unshare(CLONE_NEWNS)") }
        guard mount("none", "/", nil, UInt(MS_REC | MS_SLAVE), nil) == 0 else { throw Self.failure("make / a slave") }
        try FileSystem.makeDirectories(staging, mode: 0o700)
        try Self.attach(root, at: staging)
        // runc's way to a new root without a directory for the old one: stack it on top, then detach it.
        guard chdir(staging) == 0, ".".withCString({ c_syscall(Self.pivotRootNumber, Int(bitPattern: $0), Int(bitPattern: $0), 0, 0, 0) }) == 0,
            umount2(".", Int32(MNT_DETACH)) == 0, chdir("/") == 0
        else { throw Self.failure("pivot_root into \(rootfs)") }
        for (bind, tree) in sources {
            // Resolved inside the new root: a symlink in the image cannot point the mount outside.
            guard Self.makeMountPoint(bind.destination, directory: Self.isDirectory(tree)) else { continue }
            guard (try? Self.attach(tree, at: bind.destination)) != nil else { continue }
            if bind.readOnly {
                _ = mount("none", bind.destination, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil)
            }
        }
    }

    // Linux's numbers for the new mount API are the same on every architecture.
    private static let openTreeNumber = 428
    private static let moveMountNumber = 429
    #if arch(x86_64)
    private static let pivotRootNumber = 155
    #elseif arch(arm64)
    private static let pivotRootNumber = 41
    #endif
    private static let openTreeClone: UInt32 = 1
    private static let atRecursive: UInt32 = 0x8000
    private static let moveMountEmptyPath: UInt32 = 0x4
    private static let newMountNamespace: Int32 = 0x0002_0000

    private static func cloneTree(_ path: String, recursive: Bool) throws(RunxlError) -> Int32 {
        let flags = openTreeClone | UInt32(O_CLOEXEC) | (recursive ? atRecursive : 0)
        let fd = path.withCString { c_syscall(openTreeNumber, Int(AT_FDCWD), Int(bitPattern: $0), Int(flags), 0, 0) }
        guard fd >= 0 else { throw failure("open_tree \(path)") }
        return Int32(fd)
    }

    private static func attach(_ tree: Int32, at target: String) throws(RunxlError) {
        let moved = "".withCString { empty in
            target.withCString { c_syscall(moveMountNumber, Int(tree), Int(bitPattern: empty), Int(AT_FDCWD), Int(bitPattern: $0), Int(moveMountEmptyPath)) }
        }
        guard moved == 0 else {
            throw failure("move_mount onto \(target)")
        }
    }

    private static func isDirectory(_ fd: Int32) -> Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// A directory (with its parents) or an empty file, as runc makes mount points in the rootfs.
    private static func makeMountPoint(_ path: String, directory: Bool) -> Bool {
        var info = stat()
        if lstat(path, &info) == 0 { return ((info.st_mode & S_IFMT) == S_IFDIR) == directory }
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !parent.isEmpty, (try? FileSystem.makeDirectories(parent, mode: 0o755)) == nil { return false }
        if directory { return mkdir(path, 0o755) == 0 }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    private static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    private static func failure(_ what: String) -> RunxlError {
        let code = errno
        return RunxlError(.io, "cannot make the container's file system view: \(what)", cause: SystemCallError(what, errno: code))
    }
}
