import Archive
import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One layer applied to a rootfs: the state that lives as long as one `LayerUnpacker.apply`.
final class LayerApplication {
    private let layerPath: String
    /// What the layer's uncompressed stream must hash to; nil: not checked.
    private let diffID: String?
    private let limits: UnpackLimits
    private let directories: UnpackDirectories
    /// Everything this layer put in place (and the directories above it). image-spec: a whiteout
    /// hides only what lower layers made, never an entry of its own layer, in whatever order.
    private var present: Set<UnpackPath> = [UnpackPath.root]
    /// Directory times are set last, children first, since every later entry inside a directory
    /// would move its mtime again.
    private var directoryTimes: [(path: UnpackPath, time: timespec)] = []
    private var entryCount = 0
    private var bytesWritten: Int64 = 0
    /// Without root, ownership is kept where the kernel allows it and otherwise left to the
    /// caller, as tar does for ordinary users.
    private let ownershipRequired = geteuid() == 0

    init(layerPath: String, diffID: String?, rootfs: String, limits: UnpackLimits) throws(RunxlError) {
        self.layerPath = layerPath
        self.diffID = diffID
        self.limits = limits
        self.directories = try UnpackDirectories(rootfs: rootfs)
    }

    func run() throws(RunxlError) {
        let stream = try ArchiveEntryStream(
            tarAt: layerPath, uncompressedDigester: diffID.map { _ in ContentStore.makeLayerDigester() })
        while let header = try stream.nextHeader() {
            directories.trim()
            try apply(header, from: stream)
        }
        if let diffID { try stream.verifyUncompressedDigest(diffID: diffID) }
        applyDirectoryTimes()
    }

    // MARK: - One entry

    private func apply(_ header: ArchiveEntryHeader, from stream: ArchiveEntryStream) throws(RunxlError) {
        entryCount += 1
        let entry = String(decoding: header.path, as: UTF8.self)
        guard entryCount <= limits.maxEntries else {
            throw RunxlError(
                .layerLimitExceeded,
                "layer \(layerPath) has more than \(limits.maxEntries) entries (stopped at \(entry))")
        }
        let path = try UnpackPath(stored: header.path, entry: entry, what: "path", limits: limits)
        if path.isRoot {
            try applyRootEntry(header, entry: entry)
            return
        }
        switch LayerWhiteout.kind(of: path.name) {
        case .opaque:
            try hideLowerEntries(in: path.parent, entry: entry)
            return
        case .metadata:
            return
        case .hide(let name):
            guard !name.isEmpty, name != [UInt8(ascii: ".")], name != [UInt8(ascii: "."), UInt8(ascii: ".")] else {
                throw RunxlError(.unsafeLayerEntry, "layer entry \(entry): a whiteout of '\(String(decoding: name, as: UTF8.self))' names no file in its directory")
            }
            try whiteout(path.parent.appending(name), entry: entry)
            return
        case .none:
            break
        }

        if let target = header.hardlinkTarget {
            try makeHardLink(path, to: target, entry: entry)
        } else {
            switch header.kind {
            case .regular:
                try writeFile(path, header, from: stream, entry: entry)
            case .directory:
                try makeDirectory(path, header, entry: entry)
            case .symlink:
                try makeSymlink(path, header, entry: entry)
            case .characterDevice, .blockDevice, .fifo:
                try makeNode(path, header, entry: entry)
            case .socket, nil:
                // tar cannot carry a socket's meaning, and unknown types have no defined content.
                return
            }
        }
        markPresent(path)
    }

    private func markPresent(_ path: UnpackPath) {
        var current = path
        while present.insert(current).inserted, !current.isRoot { current = current.parent }
    }

    /// The parent directory of a new entry, created as needed.
    private func parentDescriptor(of path: UnpackPath, entry: String) throws(RunxlError) -> Int32 {
        guard let fd = try directories.descriptor(of: path.parent, entry: entry, missing: .create({ [self] in markPresent($0) }))
        else {
            throw RunxlError(.internal, "layer entry \(entry): no descriptor for \(path.parent.display)")
        }
        return fd
    }

    private func applyRootEntry(_ header: ArchiveEntryHeader, entry: String) throws(RunxlError) {
        guard header.kind == .directory, header.hardlinkTarget == nil else {
            throw RunxlError(.unsafeLayerEntry, "layer entry \(entry) would replace the rootfs directory itself")
        }
        let fd = directories.rootDescriptor
        try setOwner(fd, header, path: .root, entry: entry)
        try setPermissions(fd, header, path: .root, entry: entry)
        try setExtendedAttributes(fd, header, path: .root, entry: entry)
        directoryTimes.append((.root, Self.time(header)))
    }

    // MARK: - Kinds

    private func writeFile(
        _ path: UnpackPath, _ header: ArchiveEntryHeader, from stream: ArchiveEntryStream, entry: String
    ) throws(RunxlError) {
        let parent = try parentDescriptor(of: path, entry: entry)
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var fd = path.name.withCName { openat(parent, $0, flags, 0o600) }
        if fd < 0, errno == EEXIST {
            try remove(path.name, in: parent, path: path, entry: entry)
            fd = path.name.withCName { openat(parent, $0, flags, 0o600) }
        }
        guard fd >= 0 else { throw failure("openat", errno, "create", path, entry) }
        defer { close(fd) }
        var end: Int64 = 0
        let limit = limits.maxBytesWritten
        try stream.readData { offset, bytes throws(RunxlError) in
            guard bytesWritten + Int64(bytes.count) <= limit else {
                throw RunxlError(
                    .layerLimitExceeded,
                    "layer \(layerPath) writes more than \(limit) bytes (stopped at \(entry))")
            }
            guard let base = bytes.baseAddress else { return }
            var done = 0
            while done < bytes.count {
                let count = pwrite(fd, base + done, bytes.count - done, off_t(offset) + off_t(done))
                if count < 0 {
                    if errno == EINTR { continue }
                    throw failure("pwrite", errno, "write", path, entry)
                }
                done += count
            }
            bytesWritten += Int64(done)
            end = max(end, offset + Int64(done))
        }
        // A sparse file's trailing hole has no data block.
        if end < header.size, ftruncate(fd, off_t(header.size)) != 0 {
            throw failure("ftruncate", errno, "write", path, entry)
        }
        try setOwner(fd, header, path: path, entry: entry)
        try setPermissions(fd, header, path: path, entry: entry)
        try setExtendedAttributes(fd, header, path: path, entry: entry)
        var times = (Self.time(header), Self.time(header))
        let timed = withUnsafePointer(to: &times) {
            $0.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(fd, $0) }
        }
        if timed != 0 { throw failure("futimens", errno, "set the time of", path, entry) }
    }

    private func makeDirectory(_ path: UnpackPath, _ header: ArchiveEntryHeader, entry: String) throws(RunxlError) {
        let parent = try parentDescriptor(of: path, entry: entry)
        if path.name.withCName({ mkdirat(parent, $0, 0o700) }) != 0 {
            let err = errno
            guard err == EEXIST else { throw failure("mkdirat", err, "create", path, entry) }
            // An existing directory is merged into; anything else gives way to the directory.
            if kind(of: path.name, in: parent) != S_IFDIR {
                try remove(path.name, in: parent, path: path, entry: entry)
                if path.name.withCName({ mkdirat(parent, $0, 0o700) }) != 0 {
                    throw failure("mkdirat", errno, "create", path, entry)
                }
            }
        }
        guard let fd = try directories.descriptor(of: path, entry: entry, missing: .absent) else {
            throw failure("openat", ENOENT, "open", path, entry)
        }
        try setOwner(fd, header, path: path, entry: entry)
        try setPermissions(fd, header, path: path, entry: entry)
        try setExtendedAttributes(fd, header, path: path, entry: entry)
        directoryTimes.append((path, Self.time(header)))
    }

    /// The target text is stored as given, whatever it points at: nothing is ever written through
    /// a symlink, so where it points matters only to the container that later runs.
    private func makeSymlink(_ path: UnpackPath, _ header: ArchiveEntryHeader, entry: String) throws(RunxlError) {
        guard let target = header.symlinkTarget, !target.isEmpty else {
            throw RunxlError(.invalidImage, "layer entry \(entry): a symlink without a target")
        }
        let parent = try parentDescriptor(of: path, entry: entry)
        let make = { target.withCName { target in path.name.withCName { symlinkat(target, parent, $0) } } }
        if make() != 0 {
            guard errno == EEXIST else { throw failure("symlinkat", errno, "create", path, entry) }
            try remove(path.name, in: parent, path: path, entry: entry)
            if make() != 0 { throw failure("symlinkat", errno, "create", path, entry) }
        }
        try setOwnerAndTime(of: path.name, in: parent, header, path: path, entry: entry)
    }

    private func makeNode(_ path: UnpackPath, _ header: ArchiveEntryHeader, entry: String) throws(RunxlError) {
        let parent = try parentDescriptor(of: path, entry: entry)
        let type: mode_t
        switch header.kind {
        case .characterDevice: type = S_IFCHR
        case .blockDevice: type = S_IFBLK
        default: type = S_IFIFO
        }
        let device = type == S_IFIFO ? 0 : UnpackSystemCalls.device(major: header.deviceMajor, minor: header.deviceMinor)
        let make = { path.name.withCName { mknodat(parent, $0, type | 0o600, device) } }
        if make() != 0 {
            guard errno == EEXIST else { throw failure("mknodat", errno, "create", path, entry) }
            try remove(path.name, in: parent, path: path, entry: entry)
            if make() != 0 { throw failure("mknodat", errno, "create", path, entry) }
        }
        try setOwnerAndTime(of: path.name, in: parent, header, path: path, entry: entry, permissions: true)
    }

    /// The target is resolved like any other entry path (inside the rootfs, no symlink on the
    /// way) and linked without following it: a hard link to a symlink is a second name for the
    /// symlink, never for what it points at.
    private func makeHardLink(_ path: UnpackPath, to stored: [UInt8], entry: String) throws(RunxlError) {
        let target = try UnpackPath(stored: stored, entry: entry, what: "hard link target", limits: limits)
        guard !target.isRoot else {
            throw RunxlError(.unsafeLayerEntry, "layer entry \(entry): hard link to a directory (\(target.display))")
        }
        if target == path { return }
        let parent = try parentDescriptor(of: path, entry: entry)
        // Resolved again after a removal, which may have closed descriptors below `path`.
        let link = { [self] () throws(RunxlError) -> Int32 in
            guard let targetParent = try directories.descriptor(of: target.parent, entry: entry, missing: .absent),
                let targetKind = kind(of: target.name, in: targetParent)
            else {
                throw RunxlError(
                    .unsafeLayerEntry, "layer entry \(entry): hard link target \(target.display) does not exist in the rootfs")
            }
            guard targetKind != S_IFDIR else {
                throw RunxlError(.unsafeLayerEntry, "layer entry \(entry): hard link to a directory (\(target.display))")
            }
            return target.name.withCName { targetName in
                path.name.withCName { linkat(targetParent, targetName, parent, $0, 0) }
            }
        }
        if try link() != 0 {
            guard errno == EEXIST else { throw failure("linkat", errno, "create", path, entry) }
            try remove(path.name, in: parent, path: path, entry: entry)
            if try link() != 0 { throw failure("linkat", errno, "create", path, entry) }
        }
    }

    // MARK: - Whiteouts

    private func whiteout(_ path: UnpackPath, entry: String) throws(RunxlError) {
        guard let parent = try directories.descriptor(of: path.parent, entry: entry, missing: .absent) else { return }
        if present.contains(path) {
            // Made by this same layer: only what lower layers had below it is hidden.
            if kind(of: path.name, in: parent) == S_IFDIR { try hideLowerEntries(in: path, entry: entry) }
            return
        }
        try remove(path.name, in: parent, path: path, entry: entry)
    }

    /// An opaque directory: everything in it that lower layers made goes.
    private func hideLowerEntries(in directory: UnpackPath, entry: String) throws(RunxlError) {
        guard let fd = try directories.descriptor(of: directory, entry: entry, missing: .absent) else { return }
        for name in try names(in: fd, path: directory, entry: entry) {
            let child = directory.appending(name)
            if present.contains(child) {
                if kind(of: name, in: fd) == S_IFDIR { try hideLowerEntries(in: child, entry: entry) }
            } else {
                try remove(name, in: fd, path: child, entry: entry)
            }
        }
    }

    // MARK: - Removal

    /// Removes `name` in `parent`, a whole tree if it is a directory, never following a symlink.
    /// An absent name is fine.
    private func remove(_ name: [UInt8], in parent: Int32, path: UnpackPath, entry: String) throws(RunxlError) {
        if name.withCName({ unlinkat(parent, $0, 0) }) == 0 { return }
        let err = errno
        if err == ENOENT { return }
        guard err == EISDIR else { throw failure("unlinkat", err, "remove", path, entry) }
        directories.forget(path)
        try removeTree(name, in: parent, path: path, entry: entry)
    }

    private func removeTree(_ name: [UInt8], in parent: Int32, path: UnpackPath, entry: String) throws(RunxlError) {
        let fd = name.withCName { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw failure("openat", errno, "remove", path, entry) }
        defer { close(fd) }
        for child in try names(in: fd, path: path, entry: entry) {
            if child.withCName({ unlinkat(fd, $0, 0) }) == 0 { continue }
            let err = errno
            guard err == EISDIR else { throw failure("unlinkat", err, "remove", path.appending(child), entry) }
            try removeTree(child, in: fd, path: path.appending(child), entry: entry)
        }
        if name.withCName({ unlinkat(parent, $0, AT_REMOVEDIR) }) != 0 {
            throw failure("unlinkat", errno, "remove", path, entry)
        }
    }

    /// Names in an open directory, read through a fresh descriptor so the cached one's position
    /// is untouched.
    private func names(in directory: Int32, path: UnpackPath, entry: String) throws(RunxlError) -> [[UInt8]] {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            let err = errno
            if fd >= 0 { close(fd) }
            throw failure("opendir", err, "list", path, entry)
        }
        defer { closedir(stream) }
        var result: [[UInt8]] = []
        while let item = readdir(stream) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            result.append(name)
        }
        return result
    }

    /// The `S_IFMT` bits of `name` in `parent`, not following a symlink; nil when absent.
    private func kind(of name: [UInt8], in parent: Int32) -> mode_t? {
        var info = stat()
        guard name.withCName({ fstatat(parent, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    // MARK: - Metadata

    private func owner(_ header: ArchiveEntryHeader, entry: String) throws(RunxlError) -> (uid_t, gid_t) {
        guard let uid = uid_t(exactly: header.uid), let gid = gid_t(exactly: header.gid), uid != uid_t.max, gid != gid_t.max
        else {
            throw RunxlError(.invalidImage, "layer entry \(entry): owner \(header.uid):\(header.gid) is out of range")
        }
        return (uid, gid)
    }

    private func setOwner(_ fd: Int32, _ header: ArchiveEntryHeader, path: UnpackPath, entry: String) throws(RunxlError) {
        let (uid, gid) = try owner(header, entry: entry)
        if fchown(fd, uid, gid) != 0, ownershipRequired || errno != EPERM {
            throw failure("fchown", errno, "set the owner of", path, entry)
        }
    }

    /// After the owner: chown clears setuid and setgid.
    private func setPermissions(_ fd: Int32, _ header: ArchiveEntryHeader, path: UnpackPath, entry: String) throws(RunxlError) {
        if fchmod(fd, mode_t(header.permissions)) != 0 { throw failure("fchmod", errno, "set the mode of", path, entry) }
    }

    /// user.* and security.capability (file capabilities, as in ping); others (trusted.*,
    /// security.selinux, ACLs) describe the host that built the image, not the image.
    /// After the owner: chown clears security.capability.
    private func setExtendedAttributes(_ fd: Int32, _ header: ArchiveEntryHeader, path: UnpackPath, entry: String) throws(RunxlError) {
        for attribute in header.extendedAttributes {
            let isUser = attribute.name.hasPrefix("user.")
            guard isUser || attribute.name == "security.capability" else { continue }
            let result = attribute.value.withUnsafeBytes { value in
                UnpackSystemCalls.setExtendedAttribute(fd, attribute.name, value)
            }
            if result != 0 {
                let err = errno
                // A file system without user xattrs loses only user metadata.
                if isUser && err == EOPNOTSUPP { continue }
                throw failure("fsetxattr \(attribute.name)", err, "set an extended attribute of", path, entry)
            }
        }
    }

    /// For symlinks and nodes, which are never opened.
    private func setOwnerAndTime(
        of name: [UInt8], in parent: Int32, _ header: ArchiveEntryHeader, path: UnpackPath, entry: String,
        permissions: Bool = false
    ) throws(RunxlError) {
        let (uid, gid) = try owner(header, entry: entry)
        if name.withCName({ fchownat(parent, $0, uid, gid, AT_SYMLINK_NOFOLLOW) }) != 0, ownershipRequired || errno != EPERM {
            throw failure("fchownat", errno, "set the owner of", path, entry)
        }
        // Only nodes this entry just created get here, so the name is not a symlink.
        if permissions, name.withCName({ fchmodat(parent, $0, mode_t(header.permissions), 0) }) != 0 {
            throw failure("fchmodat", errno, "set the mode of", path, entry)
        }
        var times = (Self.time(header), Self.time(header))
        let timed = withUnsafePointer(to: &times) {
            $0.withMemoryRebound(to: timespec.self, capacity: 2) { times in
                name.withCName { utimensat(parent, $0, times, AT_SYMLINK_NOFOLLOW) }
            }
        }
        if timed != 0 { throw failure("utimensat", errno, "set the time of", path, entry) }
    }

    private func applyDirectoryTimes() {
        for (path, time) in directoryTimes.reversed() {
            directories.trim()
            // A directory removed or replaced later in the layer has no time to keep.
            guard let fd = try? directories.descriptor(of: path, entry: path.display, missing: .absent) else { continue }
            var times = (time, time)
            _ = withUnsafePointer(to: &times) {
                $0.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(fd, $0) }
            }
        }
    }

    private static func time(_ header: ArchiveEntryHeader) -> timespec {
        timespec(tv_sec: time_t(header.modificationTime), tv_nsec: header.modificationNanoseconds)
    }

    private func failure(_ call: String, _ err: Int32, _ action: String, _ path: UnpackPath, _ entry: String) -> RunxlError {
        RunxlError(
            .io, "layer entry \(entry): cannot \(action) \(path.display) in \(directories.rootfs)",
            cause: SystemCallError(call, errno: err))
    }
}
