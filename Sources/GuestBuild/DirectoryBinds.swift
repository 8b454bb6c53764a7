import GuestProtocol
public import Hypervisor
public import OCI
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A bind mount of a host directory. A VM cannot see the host's files, so the directory is
/// copied into an ext4 image at create, given to the guest as a Xen disk and mounted by
/// runxl-init at the destination. The guest writes into the image, never into the host
/// directory, and the image goes with the container at delete.
public struct DirectoryBind: Sendable, Equatable {
    /// Its position in config.json's `mounts`: init mounts it in that order among the others.
    public var mountIndex: Int
    /// The host directory (config.json's `source`).
    public var source: String
    public var destination: String
    /// `ro` among the mount's options: the disk is read-only for the guest too.
    public var readOnly: Bool
    /// The mount's flag options for the ext4 mount in the guest (`bind`, `rbind` and file-system
    /// data such as `mode=` dropped: they mean nothing to ext4).
    public var guestOptions: [String]
    /// The name the guest sees, `xvdb`, `xvdc`, ... in mount order (`xvda` stays free).
    public var virtualDevice: String
    /// Bytes the directory's files take (`du`-like, blocks allocated), measured at selection.
    public var usedBytes: Int64
    /// Files, directories and other entries under the source, itself included.
    public var entries: Int

    /// The guest's device node.
    public var guestDevice: String { "/dev/" + virtualDevice }
}

/// Picks the directory bind mounts of a spec, checks them and builds their disk images.
public enum DirectoryBinds {
    /// More source data than this is refused: the image is a full copy, kept in the container's
    /// state directory (a tmpfs, RAM, under the default `/run/runxl`).
    public static let maximumSourceBytes: Int64 = 1 << 30
    /// Entries counted before giving up on a tree (a bind of `/` should fail fast, not walk).
    public static let maximumEntries = 1_000_000
    /// Fixed headroom on top of 25% of the used bytes: ext4's journal, inode tables and room for
    /// the guest to write.
    public static let headroomBytes: Int64 = 16 << 20
    /// xvdb ... xvdz.
    public static let maximumCount = 25
    /// What init loads before mounting: the Xen disk frontend, ext4 and crc32c (ext4 asks the
    /// crypto API for it at mount time; there is no modprobe in the guest to fetch it).
    public static let guestModules = ["xen-blkfront", "crc32c_generic", "ext4"]
    /// Image files in the container's state directory: `binds/xvdb.img`, ...
    public static let imageDirectoryName = "binds"

    /// Mount options that are mount(2) flags runc knows; anything else (`bind`, `rbind`, `mode=`,
    /// podman's `Z`, ...) is not for an ext4 mount.
    static let flagOptions: Set<String> = [
        "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync", "noatime", "atime",
        "nodiratime", "diratime", "relatime", "norelatime", "strictatime", "nostrictatime", "private", "rprivate",
        "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
    ]

    /// Destinations that name kernel objects of the guest, where the host's directory means
    /// nothing: init mounts its own /dev/shm, /proc and /sys belong to the guest's kernel.
    static func isGuestKernelPath(_ destination: String) -> Bool {
        let path = normalized(destination)
        return path == "/dev/shm" || path.hasPrefix("/dev/shm/") || path == "/proc" || path.hasPrefix("/proc/")
            || path == "/sys" || path.hasPrefix("/sys/")
    }

    /// A bind mount of config.json whose source has been checked: absolute, present, a file or
    /// a directory (symlinks resolved), with the destination absolute.
    struct CheckedBind {
        var mountIndex: Int
        var mount: OCI.Mount
        /// The source with symlinks resolved: what gets copied or shared.
        var source: String
        var isDirectory: Bool
        /// `mounts[N] (/destination)`, for messages.
        var name: String
    }

    /// Every bind mount of the spec in mount order, each checked; a bind whose source is missing
    /// or is neither a file nor a directory fails with its index and destination. Binds onto
    /// the guest kernel's own trees (/proc, /sys, /dev/shm) are left out.
    static func checkedBinds(_ spec: Spec) throws(RunxlError) -> [CheckedBind] {
        var binds: [CheckedBind] = []
        for (index, mount) in (spec.mounts ?? []).enumerated() where mount.isBind {
            let name = "mounts[\(index)] (\(mount.destination))"
            guard let source = mount.source, source.hasPrefix("/") else {
                throw RunxlError(.invalidConfig, "bind mount \(name) needs an absolute source, not '\(mount.source ?? "")'")
            }
            guard mount.destination.hasPrefix("/") else {
                throw RunxlError(.invalidConfig, "bind mount \(name) needs an absolute destination")
            }
            var info = stat()
            guard stat(source, &info) == 0 else {
                let code = errno
                throw RunxlError(
                    .invalidConfig, "bind mount \(name): source \(source) cannot be used",
                    cause: SystemCallError("stat", errno: code))
            }
            let isDirectory: Bool
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                isDirectory = false
            case S_IFDIR:
                isDirectory = true
            default:
                throw RunxlError(
                    .invalidConfig,
                    "bind mount \(name): source \(source) is neither a file nor a directory; a VM cannot share "
                        + "sockets or devices with the host")
            }
            if isGuestKernelPath(mount.destination) { continue }
            // A symlinked source is resolved once here, as the bind mount(2) of runc resolves it.
            let resolved = realpath(source, nil).map { resolved in
                defer { free(resolved) }
                return String(cString: resolved)
            } ?? source
            binds.append(CheckedBind(mountIndex: index, mount: mount, source: resolved, isDirectory: isDirectory, name: name))
        }
        return binds
    }

    /// The spec's bind mounts of directories, in mount order, each checked (`checkedBinds`);
    /// binds of regular files are left to the initramfs.
    public static func select(_ spec: Spec) throws(RunxlError) -> [DirectoryBind] {
        var binds: [DirectoryBind] = []
        for checked in try checkedBinds(spec) where checked.isDirectory {
            let (name, mount, directory, index) = (checked.name, checked.mount, checked.source, checked.mountIndex)
            guard binds.count < maximumCount else {
                throw RunxlError(
                    .invalidConfig, "bind mount \(name): more than \(maximumCount) directory bind mounts (one Xen disk each)")
            }
            let (usedBytes, entries) = try measure(directory, mountName: name)
            let options = mount.options ?? []
            binds.append(DirectoryBind(
                mountIndex: index, source: directory, destination: mount.destination, readOnly: mount.isReadOnly,
                guestOptions: options.filter { flagOptions.contains($0) },
                virtualDevice: virtualDevice(binds.count), usedBytes: usedBytes, entries: entries))
        }
        return binds
    }

    /// `xvdb` for the first bind, `xvdc` for the second, ...
    static func virtualDevice(_ position: Int) -> String {
        let letters = Array("bcdefghijklmnopqrstuvwxyz")
        return "xvd" + String(letters[min(position, letters.count - 1)])
    }

    /// Bytes allocated under `path` (as `du` counts them, hard links once) and the number of
    /// entries, without following symlinks; stops with an error past the limits.
    static func measure(
        _ path: String, mountName: String, byteLimit: Int64 = maximumSourceBytes, entryLimit: Int = maximumEntries
    ) throws(RunxlError) -> (usedBytes: Int64, entries: Int) {
        var usedBytes: Int64 = 0
        var entries = 0
        var seenInodes = Set<UInt64>()
        var pending = [path]
        while let directory = pending.popLast() {
            var info = stat()
            if lstat(directory, &info) == 0 {
                usedBytes += Int64(info.st_blocks) * 512
                entries += 1
            }
            guard let handle = opendir(directory) else {
                let code = errno
                throw RunxlError(
                    .invalidConfig, "bind mount \(mountName): cannot read \(directory)",
                    cause: SystemCallError("opendir", errno: code))
            }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let child = directory + "/" + name
                var childInfo = stat()
                guard lstat(child, &childInfo) == 0 else { continue }
                if (childInfo.st_mode & S_IFMT) == S_IFDIR {
                    pending.append(child)
                    continue
                }
                entries += 1
                if childInfo.st_nlink > 1, !seenInodes.insert(UInt64(childInfo.st_ino)).inserted { continue }
                usedBytes += Int64(childInfo.st_blocks) * 512
                if usedBytes > byteLimit {
                    throw RunxlError(
                        .invalidConfig,
                        "bind mount \(mountName): \(path) holds more than \(byteLimit >> 20) MiB; a directory bind is "
                            + "copied into a disk image at create, and that is the most runxl copies")
                }
                if entries > entryLimit {
                    throw RunxlError(
                        .invalidConfig,
                        "bind mount \(mountName): \(path) holds more than \(entryLimit) entries; a directory bind is "
                            + "copied into a disk image at create, and that is the most runxl copies")
                }
            }
        }
        return (usedBytes, entries)
    }

    /// The image size for a directory of `usedBytes`: +25% and `headroomBytes`, whole MiB.
    static func imageBytes(usedBytes: Int64) -> Int64 {
        let wanted = usedBytes + usedBytes / 4 + headroomBytes
        let mebibyte: Int64 = 1 << 20
        return (wanted + mebibyte - 1) / mebibyte * mebibyte
    }

    /// Inodes to ask mke2fs for: the entries with room to create as many again, so a tree of
    /// many small files does not run out of inodes before it runs out of blocks.
    static func inodeCount(entries: Int) -> Int {
        max(entries * 2, 1024)
    }

    /// The guest-side mounts, in the builder's `mounts` order.
    static func guestMount(_ bind: DirectoryBind) -> ProcessDescription.Mount {
        ProcessDescription.Mount(
            destination: bind.destination, type: "ext4", source: bind.guestDevice, options: bind.guestOptions,
            waitForSource: true)
    }

    /// Builds one image per bind in `directory` (created 0700) and returns the disks, in order.
    /// On any failure the images made so far are removed.
    public static func buildImages(
        _ binds: [DirectoryBind], in directory: String, formatter: ImageFormatter = ImageFormatter()
    ) throws(RunxlError) -> [DiskSpec] {
        guard !binds.isEmpty else { return [] }
        let existed = FileSystem.isDirectory(directory)
        try FileSystem.makeDirectories(directory, mode: 0o700)
        var made: [String] = []
        do {
            var disks: [DiskSpec] = []
            for bind in binds {
                let image = directory + "/" + bind.virtualDevice + ".img"
                made.append(image)
                try formatter.format(bind, image: image)
                disks.append(DiskSpec(path: image, virtualDevice: bind.virtualDevice, readOnly: bind.readOnly, format: .raw))
            }
            return disks
        } catch {
            for image in made { unlink(image) }
            if !existed { rmdir(directory) }
            throw error
        }
    }
}

/// Runs mke2fs (e2fsprogs) to turn a directory into an ext4 image.
public struct ImageFormatter: Sendable {
    /// The mke2fs to run; nil finds it (`ToolRun.find`).
    public var mke2fs: String?

    public init(mke2fs: String? = nil) {
        self.mke2fs = mke2fs
    }

    /// The image file (0600, sparse) holds an ext4 copy of the bind's source whose root
    /// directory has the source's owner and mode.
    func format(_ bind: DirectoryBind, image: String) throws(RunxlError) {
        guard let program = mke2fs ?? ToolRun.find("mke2fs") else {
            throw RunxlError(
                .io, "mke2fs is missing (install e2fsprogs): it builds the disk image for bind mount \(bind.destination)")
        }
        var info = stat()
        guard stat(bind.source, &info) == 0 else {
            let code = errno
            throw RunxlError(
                .invalidConfig, "bind mount \(bind.destination): source \(bind.source) cannot be used",
                cause: SystemCallError("stat", errno: code))
        }
        let bytes = DirectoryBinds.imageBytes(usedBytes: bind.usedBytes)
        // Made here rather than by mke2fs: mode 0600 (the copy may hold secrets) and no chatter.
        let fd = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            throw RunxlError(.io, "cannot create the disk image \(image)", cause: SystemCallError("open", errno: code))
        }
        let sized = ftruncate(fd, off_t(bytes))
        let sizeError = errno
        close(fd)
        guard sized == 0 else {
            throw RunxlError(.io, "cannot size the disk image \(image)", cause: SystemCallError("ftruncate", errno: sizeError))
        }
        let rootMode = String(UInt32(info.st_mode) & 0o7777, radix: 8)
        let arguments = [
            "-t", "ext4", "-d", bind.source, "-F", "-q", "-N", String(DirectoryBinds.inodeCount(entries: bind.entries)),
            "-E", "root_owner=\(info.st_uid):\(info.st_gid)", "-L", String(bind.virtualDevice), image,
        ]
        try run(program, arguments, what: "mke2fs for bind mount \(bind.destination) (\(bind.source))")
        if rootMode != "755" {
            // mke2fs gives the root directory 0755 whatever the source's mode (a 1777 scratch
            // directory must stay writable for a non-root process).
            let debugfs = String(program[..<(program.lastIndex(of: "/") ?? program.startIndex)]) + "/debugfs"
            let mode = String(UInt32(S_IFDIR) | (UInt32(info.st_mode) & 0o7777), radix: 8)
            try run(
                debugfs, ["-w", "-R", "set_inode_field / mode 0\(mode)", image],
                what: "debugfs setting the mode of bind mount \(bind.destination)")
        }
    }

    /// Runs a tool; what it printed becomes the error's text. The bound is generous: a
    /// directory at the size limit takes a while to copy.
    private func run(_ program: String, _ arguments: [String], what: String) throws(RunxlError) {
        _ = try ToolRun(path: program, arguments: arguments, timeoutSeconds: 600).output(failing: .io, what: what)
    }
}

extension DirectoryBinds {
    /// `/a//b/` is `/a/b`, for comparisons.
    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }
}
