public import Archive
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A host file copied into the guest's root, e.g. the source of a bind mount of `/etc/hosts`.
public struct GuestFile: Sendable, Equatable {
    public var guestPath: String
    public var hostPath: String
    public var permissions: UInt32

    public init(guestPath: String, hostPath: String, permissions: UInt32 = 0o644) {
        self.guestPath = guestPath
        self.hostPath = hostPath
        self.permissions = permissions
    }
}

/// Everything that goes into one container's initramfs.
public struct InitramfsRequest: Sendable {
    /// The container's root file system; it becomes `/` of the guest.
    public var rootfs: String
    /// The runxl-init binary (static), stored at `GuestLayout.initPath`.
    public var initBinary: String
    /// The encoded `ProcessDescription`, stored at `ProcessDescription.path`.
    public var processFile: [UInt8]
    public var compression: ArchiveCompression
    public var modules: [KernelModuleFile]
    public var extraFiles: [GuestFile]

    public init(
        rootfs: String, initBinary: String, processFile: [UInt8], compression: ArchiveCompression = .gzip,
        modules: [KernelModuleFile] = [], extraFiles: [GuestFile] = []
    ) {
        self.rootfs = rootfs
        self.initBinary = initBinary
        self.processFile = processFile
        self.compression = compression
        self.modules = modules
        self.extraFiles = extraFiles
    }
}

/// A built (or reused) initramfs.
public struct Initramfs: Sendable, Equatable {
    public var path: String
    /// The content key the file is stored under.
    public var key: String
    public var cacheHit: Bool
    /// Size of the file Xen loads.
    public var compressedBytes: Int64
    /// Bytes of file content the guest unpacks into RAM.
    public var contentBytes: Int64
    /// Seconds spent (key computation, and the build on a miss).
    public var seconds: Double
}

/// Builds initramfs images, keyed by their content so that starting the same container twice
/// builds once.
///
/// The key covers a listing of the rootfs (path, type, mode, owner, size, mtime, ctime, inode,
/// link target), the identity of the init binary and each extra file, the process file's bytes
/// and the compression. ctime and inode are in it because images built reproducibly give every
/// file the same mtime: two different rootfs trees can agree on paths, sizes and mtimes, but
/// not on ctimes, which no user can set.
public struct InitramfsBuilder: Sendable {
    public let cacheDirectory: String
    /// The cache's size bound (`initramfsCacheMiB` of the host config); nil: the default of
    /// `InitramfsCacheBound`.
    public let cacheLimitMiB: Int?

    public init(cacheDirectory: String, cacheLimitMiB: Int? = nil) {
        self.cacheDirectory = cacheDirectory
        self.cacheLimitMiB = cacheLimitMiB
    }

    /// Where the images live, and the bound that keeps them in check before each build.
    var cacheBound: InitramfsCacheBound {
        InitramfsCacheBound(directory: cacheDirectory + "/initramfs", limitMiB: cacheLimitMiB)
    }

    /// Entries of the rootfs that never go into a guest: overlay whiteouts (`.wh.*`, an
    /// unpacking leftover that would resurrect as files) and the rootfs's own `/.runxl`,
    /// which is runxl-init's.
    public static func includes(_ item: TreeItem) -> Bool {
        if item.name.hasPrefix(".wh.") { return false }
        if item.relativePath == ".runxl" { return false }
        return true
    }

    public func build(_ request: InitramfsRequest) throws(RunxlError) -> Initramfs {
        let started = Clock.monotonicSeconds()
        guard FileSystem.isDirectory(request.rootfs) else {
            throw RunxlError(.bundleNotFound, "rootfs \(request.rootfs) is not a directory")
        }
        var hasher = SHA256()
        hasher.update("runxl-initramfs-v1\0\(request.compression.rawValue)\0")
        let treeBytes = try hashTree(request.rootfs, into: &hasher)
        let initSize = try Self.hashFileIdentity(request.initBinary, role: "runxl-init binary", into: &hasher)
        var contentBytes = treeBytes + initSize + Int64(request.processFile.count)
        hasher.update("process\0\(request.processFile.count)\0")
        hasher.update(request.processFile)
        for module in request.modules {
            hasher.update("module\0\(module.guestName)\0")
            contentBytes += try Self.hashFileIdentity(module.hostPath, role: "kernel module", into: &hasher)
        }
        for file in request.extraFiles {
            hasher.update("extra\0\(file.guestPath)\0\(file.permissions)\0")
            contentBytes += try Self.hashFileIdentity(file.hostPath, role: "file for \(file.guestPath)", into: &hasher)
        }
        let key = String(hasher.finalizeHex().prefix(32))
        let directory = cacheDirectory + "/initramfs"
        let path = directory + "/initramfs-" + key + ".cpio" + request.compression.fileExtension

        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 {
            // Touch it, so that a cache clean-up can drop the least recently used first.
            utimensat(AT_FDCWD, path, nil, 0)
            return Initramfs(
                path: path, key: key, cacheHit: true, compressedBytes: Int64(info.st_size),
                contentBytes: contentBytes, seconds: Clock.monotonicSeconds() - started)
        }

        try FileSystem.makeDirectories(directory, mode: 0o700)
        // The uncompressed size bounds the archive's from above.
        cacheBound.makeRoom(for: contentBytes)
        let temporary = "\(path).\(getpid())\(FileSystem.temporarySuffix)"
        do throws(RunxlError) {
            let size = try write(request, to: temporary)
            guard rename(temporary, path) == 0 else {
                let err = errno
                throw RunxlError(.io, "cannot store initramfs at \(path)", cause: SystemCallError("rename", errno: err))
            }
            return Initramfs(
                path: path, key: key, cacheHit: false, compressedBytes: Int64(size), contentBytes: contentBytes,
                seconds: Clock.monotonicSeconds() - started)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes the archive: the rootfs first, then runxl's own files, so that if the rootfs has
    /// any of those paths ours come later and win when the kernel unpacks.
    private func write(_ request: InitramfsRequest, to path: String) throws(RunxlError) -> Int {
        let writer = try CpioWriter(path: path, compression: request.compression)
        try writer.addTree(from: request.rootfs, to: "/", options: TreeOptions(include: Self.includes))
        try Self.appendOwnFiles(
            to: writer, lookup: RootfsLookup(rootfs: request.rootfs), initBinary: request.initBinary,
            processFile: request.processFile, modules: request.modules, extraFiles: request.extraFiles)
        return try writer.finish()
    }

    /// runxl's files, after the rootfs: /dev and /dev/console when the rootfs lacks them,
    /// runxl-init, the process file, kernel modules and copied host files.
    static func appendOwnFiles(
        to writer: CpioWriter, lookup: RootfsLookup, initBinary: String, processFile: [UInt8],
        modules: [KernelModuleFile], extraFiles: [GuestFile]
    ) throws(RunxlError) {
        // The kernel opens /dev/console for init's stdio before anything is mounted: without
        // the node, init starts with no stdout and early messages are lost.
        if lookup.hostPath(of: "/dev") == nil {
            try writer.addDirectory("/dev", metadata: EntryMetadata(permissions: 0o755))
        }
        if lookup.hostPath(of: "/dev/console") == nil {
            try writer.addSpecial(
                "/dev/console", kind: .characterDevice, major: 5, minor: 1, metadata: EntryMetadata(permissions: 0o600))
        }
        let root = EntryMetadata(permissions: 0o700)
        try writer.addDirectory("/.runxl", metadata: root)
        try writer.addFile(GuestLayout.initPath, copyingFrom: initBinary, metadata: EntryMetadata(permissions: 0o755))
        // Readable by root only: the environment in it may carry secrets. A share-mode initramfs
        // has none: init then reads it from the control share (GuestShares).
        if !processFile.isEmpty {
            try writer.addFile("/.runxl/process", contents: processFile, metadata: EntryMetadata(permissions: 0o400))
        }
        if !modules.isEmpty {
            try writer.addDirectory(GuestLayout.modulesDirectory, metadata: root)
            for module in modules {
                try writer.addFile(
                    GuestLayout.modulesDirectory + "/" + module.guestName, copyingFrom: module.hostPath,
                    metadata: EntryMetadata(permissions: 0o600))
            }
            let order = modules.map { $0.guestName + "\n" }.joined()
            try writer.addFile(GuestLayout.moduleOrderPath, contents: Array(order.utf8), metadata: EntryMetadata(permissions: 0o600))
        }
        for file in extraFiles {
            // The kernel does not create missing parents: add them when the rootfs lacks them.
            var parent = ""
            for component in file.guestPath.split(separator: "/").dropLast() {
                parent += "/" + component
                if lookup.hostPath(of: parent) == nil {
                    try writer.addDirectory(parent, metadata: EntryMetadata(permissions: 0o755))
                }
            }
            try writer.addFile(file.guestPath, copyingFrom: file.hostPath, metadata: EntryMetadata(permissions: file.permissions))
        }
    }

    /// Hashes size, times, inode and device of a file; returns its size.
    static func hashFileIdentity(_ path: String, role: String, into hasher: inout SHA256) throws(RunxlError) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            let err = errno
            throw RunxlError(.io, "\(role) \(path) is missing or not a regular file", cause: SystemCallError("stat", errno: err))
        }
        hasher.update(
            "\(path)\0\(info.st_dev)\0\(info.st_ino)\0\(info.st_size)\0\(info.st_mode)\0"
                + "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\0\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)\0")
        return Int64(info.st_size)
    }

    /// Hashes the listing of the tree in the order the writer uses; returns the content bytes.
    ///
    /// This walk is what a cache hit costs, on every create. Each entry is one fstatat relative
    /// to its open directory, so the kernel resolves one name, not the whole path again (on
    /// network and 9p file systems every component of a path is a round trip). Symlink targets
    /// are not read: a target cannot change in place, replacing the link gives it a new inode
    /// and ctime, and its size (the target's length) is in the record too.
    private func hashTree(_ root: String, into hasher: inout SHA256) throws(RunxlError) -> Int64 {
        var total: Int64 = 0
        func visit(_ directory: Int32, _ hostPath: String, _ relative: String) throws(RunxlError) {
            let names: [String]
            do {
                names = try directoryNames(descriptor: directory)
            } catch {
                throw RunxlError(.io, "cannot list \(hostPath) in the rootfs", cause: error)
            }
            for name in names {
                let relativePath = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                let kind: ArchiveEntryKind
                switch info.st_mode & S_IFMT {
                case S_IFDIR: kind = .directory
                case S_IFLNK: kind = .symlink
                case S_IFREG: kind = .regular
                default: kind = .fifo  // every other kind is content-free for the key
                }
                guard Self.includes(TreeItem(relativePath: relativePath, name: name, kind: kind)) else { continue }
                var record = "\(relativePath)\0\(info.st_mode)\0\(info.st_uid)\0\(info.st_gid)\0\(info.st_size)\0"
                record += "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)\0\(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)\0"
                record += "\(info.st_ino)\0\(info.st_dev)\0\(info.st_rdev)\n"
                hasher.update(record)
                if kind == .regular { total += Int64(info.st_size) }
                if kind == .directory {
                    let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard child >= 0 else {
                        let err = errno
                        throw RunxlError(
                            .io, "cannot open \(hostPath)/\(name) in the rootfs", cause: SystemCallError("openat", errno: err))
                    }
                    defer { close(child) }
                    try visit(child, hostPath + "/" + name, relativePath)
                }
            }
        }
        let top = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot open the rootfs \(root)", cause: SystemCallError("open", errno: err))
        }
        defer { close(top) }
        var rootInfo = stat()
        if fstat(top, &rootInfo) == 0 {
            hasher.update("\(rootInfo.st_mode)\0\(rootInfo.st_uid)\0\(rootInfo.st_gid)\0\(rootInfo.st_mtim.tv_sec)\n")
        }
        try visit(top, root, "")
        return total
    }
}
