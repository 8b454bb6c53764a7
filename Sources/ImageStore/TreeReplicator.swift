import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a rootfs made from a layer-chain snapshot shares storage with the snapshot.
public enum RootfsSharing: Sendable, Equatable {
    /// Every regular file is a file of its own (a reflink where the file system can, else a
    /// copy): the result can be changed freely. For anything a user gets to write to
    /// (`image unpack DIR`).
    case copies
    /// Regular files are hard links to the snapshot's inodes. Only for trees runxl itself reads
    /// and deletes (launch's temporary rootfs, packed into an initramfs): a write through one of
    /// these names would change the snapshot, and with it every later unpack of the image.
    case hardLinks
}

/// Copies a directory tree as the layer unpacker would have made it: directories created
/// fresh, regular files hard-linked or copied (`RootfsSharing`), symlinks, device nodes and
/// fifos recreated; owners, modes, `user.*` and `security.capability` xattrs and times kept.
///
/// Both trees are walked through directory descriptors with `O_NOFOLLOW`, every entry created
/// with an `*at()` call, so a symlink in either tree is never followed. The source's hard-link
/// groups stay groups in the target.
final class TreeReplicator {
    private let sharing: RootfsSharing
    private let ownershipRequired = geteuid() == 0
    /// Cleared after the first refusal (a file system without reflinks, or two file systems),
    /// so that a large tree does not pay a failing ioctl per file.
    private var tryClone = true
    private var tryLink = true
    /// Copies mode: the first target name of each source inode that has more than one link,
    /// so that the source's hard-link groups come out as groups.
    private var firstCopies: [UInt64: [[UInt8]]] = [:]
    private var sourceRoot = ""
    private var targetRoot = ""
    private var targetRootDescriptor: Int32 = -1
    /// Regular files done by hard link and by copy (for the tests and the report).
    private(set) var linkedFiles = 0
    private(set) var copiedFiles = 0

    init(sharing: RootfsSharing) {
        self.sharing = sharing
    }

    /// `target` must be absent or an empty directory; its own metadata becomes the source's.
    func replicate(from source: String, to target: String) throws(RunxlError) {
        sourceRoot = source
        targetRoot = target
        if !FileSystem.exists(target) { try FileSystem.makeDirectories(target, mode: 0o700) }
        let from = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard from >= 0 else { throw failure("open", errno, "open", source) }
        defer { close(from) }
        let to = open(target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard to >= 0 else { throw failure("open", errno, "open", target) }
        defer { close(to) }
        targetRootDescriptor = to
        var info = stat()
        guard fstat(from, &info) == 0 else { throw failure("fstat", errno, "read", source) }
        try copyDirectory(from, to, relative: [])
        try copyMetadata(of: from, to: to, info, display: target)
        try setTimes(to, info, display: target)
    }

    // MARK: - Walk

    /// Children first, then this directory's times: every entry made inside it moves its mtime.
    private func copyDirectory(_ from: Int32, _ to: Int32, relative: [[UInt8]]) throws(RunxlError) {
        for name in try names(in: from, display: display(relative, in: sourceRoot)) {
            let path = relative + [name]
            var info = stat()
            guard name.withCName({ fstatat(from, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                throw failure("fstatat", errno, "read", display(path, in: sourceRoot))
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try copySubdirectory(name, from, to, info, path: path)
            case S_IFREG:
                try copyRegularFile(name, from, to, info, path: path)
            case S_IFLNK:
                try copySymlink(name, from, to, info, path: path)
            case S_IFCHR, S_IFBLK, S_IFIFO:
                try copyNode(name, to, info, path: path)
            default:
                // Sockets: the unpacker never makes one.
                continue
            }
        }
    }

    private func copySubdirectory(_ name: [UInt8], _ from: Int32, _ to: Int32, _ info: stat, path: [[UInt8]]) throws(RunxlError) {
        let shown = display(path, in: targetRoot)
        if name.withCName({ mkdirat(to, $0, 0o700) }) != 0 { throw failure("mkdirat", errno, "create", shown) }
        let child = name.withCName { openat(from, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard child >= 0 else { throw failure("openat", errno, "open", display(path, in: sourceRoot)) }
        defer { close(child) }
        let made = name.withCName { openat(to, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard made >= 0 else { throw failure("openat", errno, "open", shown) }
        defer { close(made) }
        try copyDirectory(child, made, relative: path)
        try copyMetadata(of: child, to: made, info, display: shown)
        try setTimes(made, info, display: shown)
    }

    private func copyRegularFile(_ name: [UInt8], _ from: Int32, _ to: Int32, _ info: stat, path: [[UInt8]]) throws(RunxlError) {
        let shown = display(path, in: targetRoot)
        if sharing == .hardLinks && tryLink {
            if name.withCName({ source in name.withCName { linkat(from, source, to, $0, 0) } }) == 0 {
                linkedFiles += 1
                return
            }
            let err = errno
            // Another file system (launch's /tmp on a tmpfs), or one that has no hard links:
            // copies from here on. Too many links to one inode (EMLINK): this file only.
            guard err == EXDEV || err == EPERM || err == EMLINK || err == EOPNOTSUPP else {
                throw failure("linkat", err, "link", shown)
            }
            if err != EMLINK { tryLink = false }
        }
        if info.st_nlink > 1 {
            let inode = UInt64(info.st_ino)
            if let first = firstCopies[inode] {
                try linkToEarlierCopy(first, name: name, in: to, display: shown)
                copiedFiles += 1
                return
            }
            firstCopies[inode] = path
        }
        let input = name.withCName { openat(from, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY) }
        guard input >= 0 else { throw failure("openat", errno, "read", display(path, in: sourceRoot)) }
        defer { close(input) }
        let output = name.withCName { openat(to, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard output >= 0 else { throw failure("openat", errno, "create", shown) }
        defer { close(output) }
        try copyContents(input, output, size: Int64(info.st_size), display: shown)
        try copyMetadata(of: input, to: output, info, display: shown)
        try setTimes(output, info, display: shown)
        copiedFiles += 1
    }

    /// The earlier name is reached again one directory at a time with O_NOFOLLOW: the target
    /// is a user's directory, and nothing may be linked through a symlink swapped in meanwhile.
    private func linkToEarlierCopy(_ first: [[UInt8]], name: [UInt8], in to: Int32, display shown: String) throws(RunxlError) {
        var directory = fcntl(targetRootDescriptor, F_DUPFD_CLOEXEC, 0)
        guard directory >= 0 else { throw failure("fcntl", errno, "open", targetRoot) }
        defer { close(directory) }
        for component in first.dropLast() {
            let next = component.withCName { openat(directory, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard next >= 0 else { throw failure("openat", errno, "open", display(first, in: targetRoot)) }
            close(directory)
            directory = next
        }
        let linked = (first.last ?? []).withCName { source in name.withCName { linkat(directory, source, to, $0, 0) } }
        if linked != 0 { throw failure("linkat", errno, "link", shown) }
    }

    private func copySymlink(_ name: [UInt8], _ from: Int32, _ to: Int32, _ info: stat, path: [[UInt8]]) throws(RunxlError) {
        let shown = display(path, in: targetRoot)
        var target = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        let count = target.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                guard let base = chars.baseAddress else { return -1 }
                return name.withCName { readlinkat(from, $0, base, chars.count) }
            }
        }
        guard count >= 0 else { throw failure("readlinkat", errno, "read", display(path, in: sourceRoot)) }
        // A link that grew since the stat: a snapshot never changes, so this is damage.
        guard count <= Int(info.st_size) else {
            throw RunxlError(.io, "symlink \(display(path, in: sourceRoot)) changed while it was copied")
        }
        let text = Array(target[0..<count])
        if text.withCName({ link in name.withCName { symlinkat(link, to, $0) } }) != 0 {
            throw failure("symlinkat", errno, "create", shown)
        }
        try setOwnerAndTimes(name, in: to, info, display: shown, permissions: false)
    }

    private func copyNode(_ name: [UInt8], _ to: Int32, _ info: stat, path: [[UInt8]]) throws(RunxlError) {
        let shown = display(path, in: targetRoot)
        if name.withCName({ mknodat(to, $0, (info.st_mode & S_IFMT) | 0o600, info.st_rdev) }) != 0 {
            throw failure("mknodat", errno, "create", shown)
        }
        try setOwnerAndTimes(name, in: to, info, display: shown, permissions: true)
    }

    // MARK: - Contents

    /// A reflink when the file system shares extents (btrfs, xfs); else copy_file_range over
    /// the data segments only, so that holes stay holes; else read and write.
    private func copyContents(_ input: Int32, _ output: Int32, size: Int64, display shown: String) throws(RunxlError) {
        if size == 0 { return }
        if tryClone {
            if ReplicatorCalls.cloneFile(from: input, to: output) == 0 { return }
            tryClone = false
        }
        var offset: off_t = 0
        while offset < off_t(size) {
            let data = lseek(input, offset, ReplicatorCalls.seekData)
            if data < 0 {
                // ENXIO: only a hole is left.
                if errno == ENXIO { break }
                throw failure("lseek", errno, "read", shown)
            }
            var hole = lseek(input, data, ReplicatorCalls.seekHole)
            if hole < 0 { hole = off_t(size) }
            try copyRange(input, output, from: data, to: min(hole, off_t(size)), display: shown)
            offset = hole
        }
        if ftruncate(output, off_t(size)) != 0 { throw failure("ftruncate", errno, "write", shown) }
    }

    private func copyRange(_ input: Int32, _ output: Int32, from start: off_t, to end: off_t, display shown: String) throws(RunxlError) {
        var position = start
        while position < end {
            var inputOffset = Int64(position)
            var outputOffset = Int64(position)
            let copied = ReplicatorCalls.copyFileRange(input, &inputOffset, output, &outputOffset, Int(end - position))
            if copied > 0 {
                position += off_t(copied)
                continue
            }
            if copied == 0 { throw RunxlError(.io, "\(shown): the source ended early while it was copied") }
            let err = errno
            if err == EINTR { continue }
            guard err == EXDEV || err == ENOSYS || err == EINVAL || err == EOPNOTSUPP else {
                throw failure("copy_file_range", err, "write", shown)
            }
            try copyByReading(input, output, from: position, to: end, display: shown)
            return
        }
    }

    private func copyByReading(_ input: Int32, _ output: Int32, from start: off_t, to end: off_t, display shown: String) throws(RunxlError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var position = start
        while position < end {
            let count = pread(input, buffer.baseAddress, min(buffer.count, Int(end - position)), position)
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("pread", errno, "read", shown)
            }
            if count == 0 { throw RunxlError(.io, "\(shown): the source ended early while it was copied") }
            var done = 0
            while done < count {
                let written = pwrite(output, buffer.baseAddress.unsafelyUnwrapped + done, count - done, position + off_t(done))
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("pwrite", errno, "write", shown)
                }
                done += written
            }
            position += off_t(count)
        }
    }

    // MARK: - Metadata

    /// Owner before mode (chown clears setuid and setgid), xattrs after the owner (chown clears
    /// security.capability). Hard-linked files share the inode, so they never get here.
    private func copyMetadata(of source: Int32, to target: Int32, _ info: stat, display shown: String) throws(RunxlError) {
        if fchown(target, info.st_uid, info.st_gid) != 0, ownershipRequired || errno != EPERM {
            throw failure("fchown", errno, "set the owner of", shown)
        }
        if fchmod(target, info.st_mode & 0o7777) != 0 { throw failure("fchmod", errno, "set the mode of", shown) }
        for name in ReplicatorCalls.attributeNames(source) where name.hasPrefix("user.") || name == "security.capability" {
            guard let value = ReplicatorCalls.attribute(source, name) else { continue }
            let result = value.withUnsafeBytes { UnpackSystemCalls.setExtendedAttribute(target, name, $0) }
            if result != 0 {
                let err = errno
                if name.hasPrefix("user.") && err == EOPNOTSUPP { continue }
                throw failure("fsetxattr \(name)", err, "set an extended attribute of", shown)
            }
        }
    }

    private func setTimes(_ fd: Int32, _ info: stat, display shown: String) throws(RunxlError) {
        var times = (info.st_atim, info.st_mtim)
        let result = withUnsafePointer(to: &times) {
            $0.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(fd, $0) }
        }
        if result != 0 { throw failure("futimens", errno, "set the time of", shown) }
    }

    /// For symlinks and nodes, which are never opened.
    private func setOwnerAndTimes(_ name: [UInt8], in parent: Int32, _ info: stat, display shown: String, permissions: Bool) throws(RunxlError) {
        if name.withCName({ fchownat(parent, $0, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) }) != 0,
            ownershipRequired || errno != EPERM
        {
            throw failure("fchownat", errno, "set the owner of", shown)
        }
        // Only a node made just now gets here, so the name is not a symlink.
        if permissions, name.withCName({ fchmodat(parent, $0, info.st_mode & 0o7777, 0) }) != 0 {
            throw failure("fchmodat", errno, "set the mode of", shown)
        }
        var times = (info.st_atim, info.st_mtim)
        let result = withUnsafePointer(to: &times) {
            $0.withMemoryRebound(to: timespec.self, capacity: 2) { times in
                name.withCName { utimensat(parent, $0, times, AT_SYMLINK_NOFOLLOW) }
            }
        }
        if result != 0 { throw failure("utimensat", errno, "set the time of", shown) }
    }

    // MARK: - Helpers

    private func names(in directory: Int32, display shown: String) throws(RunxlError) -> [[UInt8]] {
        let fd = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            let err = errno
            if fd >= 0 { close(fd) }
            throw failure("opendir", err, "list", shown)
        }
        defer { closedir(stream) }
        var result: [[UInt8]] = []
        while let item = readdir(stream) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            result.append(name)
        }
        return result
    }

    private func display(_ path: [[UInt8]], in root: String) -> String {
        path.isEmpty ? root : root + "/" + path.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
    }

    private func failure(_ call: String, _ err: Int32, _ action: String, _ path: String) -> RunxlError {
        RunxlError(.io, "cannot \(action) \(path) while copying \(sourceRoot) to \(targetRoot)", cause: SystemCallError(call, errno: err))
    }
}

/// C calls the Glibc module does not export (<sys/xattr.h>, the variadic ioctl, the _GNU_SOURCE
/// ones), looked up once.
enum ReplicatorCalls {
    /// lseek whences from <unistd.h> (Linux values; _GNU_SOURCE only).
    static let seekData: Int32 = 3
    static let seekHole: Int32 = 4

    private typealias CopyRange = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
    private typealias SyncFileSystem = @convention(c) (Int32) -> Int32
    private static let copyRange: CopyRange? = dlsym(nil, "copy_file_range").map { unsafeBitCast($0, to: CopyRange.self) }
    private static let syncFileSystemCall: SyncFileSystem? = dlsym(nil, "syncfs").map { unsafeBitCast($0, to: SyncFileSystem.self) }

    /// copy_file_range(2); -1 with ENOSYS when the C library lacks it.
    static func copyFileRange(
        _ input: Int32, _ inputOffset: UnsafeMutablePointer<Int64>, _ output: Int32, _ outputOffset: UnsafeMutablePointer<Int64>, _ count: Int
    ) -> Int {
        guard let copyRange else {
            errno = ENOSYS
            return -1
        }
        return copyRange(input, inputOffset, output, outputOffset, count, 0)
    }

    /// syncfs(2): flushes the file system holding `fd`; sync(2) when the C library lacks it.
    static func syncFileSystem(_ fd: Int32) -> Int32 {
        guard let syncFileSystemCall else {
            sync()
            return 0
        }
        return syncFileSystemCall(fd)
    }

    private typealias ListAttributes = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int
    private typealias GetAttribute = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    /// ioctl(2) is variadic; on x86-64 and arm64 Linux a third integer argument is passed as
    /// for a fixed one, so calling it through this type is the same call.
    private typealias Control = @convention(c) (Int32, UInt, Int32) -> Int32

    private static let listAttributes: ListAttributes? = dlsym(nil, "flistxattr").map { unsafeBitCast($0, to: ListAttributes.self) }
    private static let getAttribute: GetAttribute? = dlsym(nil, "fgetxattr").map { unsafeBitCast($0, to: GetAttribute.self) }
    private static let control: Control? = dlsym(nil, "ioctl").map { unsafeBitCast($0, to: Control.self) }
    /// FICLONE from <linux/fs.h>: _IOW(0x94, 9, int).
    private static let ficlone: UInt = 0x4004_9409

    /// ioctl(FICLONE): 0 when `to` now shares `from`'s extents.
    static func cloneFile(from input: Int32, to output: Int32) -> Int32 {
        guard let control else { return -1 }
        return control(output, ficlone, input)
    }

    static func attributeNames(_ fd: Int32) -> [String] {
        guard let listAttributes else { return [] }
        let size = listAttributes(fd, nil, 0)
        guard size > 0 else { return [] }
        var buffer = [CChar](repeating: 0, count: size)
        let count = buffer.withUnsafeMutableBufferPointer { listAttributes(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return [] }
        return buffer[0..<count].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    static func attribute(_ fd: Int32, _ name: String) -> [UInt8]? {
        guard let getAttribute else { return nil }
        let size = name.withCString { getAttribute(fd, $0, nil, 0) }
        guard size >= 0 else { return nil }
        var value = [UInt8](repeating: 0, count: size)
        let count = value.withUnsafeMutableBytes { buffer in name.withCString { getAttribute(fd, $0, buffer.baseAddress, buffer.count) } }
        guard count >= 0 else { return nil }
        return Array(value[0..<count])
    }
}
