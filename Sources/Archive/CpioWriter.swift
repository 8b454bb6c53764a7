internal import CArchive
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One entry of a directory tree as `CpioWriter.addTree` meets it, for include/exclude decisions.
public struct TreeItem: Sendable {
    /// The path relative to the tree's root, without a leading `/` (`bin/sh`).
    public let relativePath: String
    /// The last path component.
    public let name: String
    public let kind: ArchiveEntryKind

    public init(relativePath: String, name: String, kind: ArchiveEntryKind) {
        self.relativePath = relativePath
        self.name = name
        self.kind = kind
    }
}

/// How `CpioWriter.addTree` maps a tree on disk into the archive.
public struct TreeOptions {
    /// Returns false to leave an entry out; a directory left out is not descended into.
    public var include: (TreeItem) -> Bool
    /// When set, every entry is written with this owner instead of the one on disk: for trees
    /// unpacked by an unprivileged user whose files should be root's inside the guest.
    public var owner: (uid: UInt32, gid: UInt32)?

    public init(include: @escaping (TreeItem) -> Bool = { _ in true }, owner: (uid: UInt32, gid: UInt32)? = nil) {
        self.include = include
        self.owner = owner
    }
}

/// A streaming writer of `newc` cpio archives, the format the Linux kernel unpacks as initramfs.
///
/// Trees are read with `lstat` semantics straight into the archive in sorted order, so no copy of
/// a rootfs is ever made on disk and the same tree always yields the same archive bytes. Inode
/// numbers are renumbered from 1 (the host's are meaningless in the guest and would make output
/// depend on the file system); files that share an inode keep sharing one, which newc expresses
/// as entries with the same inode number, the body written with the first of them.
public final class CpioWriter {
    private var archive: OpaquePointer?
    private let entry: OpaquePointer
    private let sink: OutputSink
    private let buffer: UnsafeMutableRawBufferPointer
    private var nextInode: Int64 = 1
    private var inodesByHostFile: [HostFileIdentity: Int64] = [:]
    private var finished = false

    /// Entries written so far.
    public private(set) var entryCount = 0
    /// Bytes of file content written so far (before compression).
    public private(set) var contentBytes: Int64 = 0

    /// Creates (or truncates) `path` and prepares an archive compressed as asked.
    /// `level` overrides the compressor's level (gzip 1...9, zstd 1...19); by default gzip uses 1
    /// and zstd 3, fast levels, because a guest is built on the container's start path.
    public init(path: String, compression: ArchiveCompression = .none, level: Int? = nil) throws(RunxlError) {
        try ArchiveLibraries.load()
        guard let archive = rx_archive_write_new() else {
            throw RunxlError(.internal, "libarchive could not allocate a writer")
        }
        guard let entry = rx_archive_entry_new() else {
            rx_archive_write_free(archive)
            throw RunxlError(.internal, "libarchive could not allocate an entry")
        }
        self.archive = archive
        self.entry = entry
        self.buffer = .allocate(byteCount: 256 << 10, alignment: 16)
        do {
            sink = try OutputSink(path: path, legacyLZ4: compression == .lz4)
        } catch {
            rx_archive_entry_free(entry)
            rx_archive_write_free(archive)
            buffer.deallocate()
            throw error
        }
        do throws(RunxlError) {
            try configure(compression: compression, level: level)
        } catch {
            rx_archive_write_free(archive)
            self.archive = nil
            throw error
        }
    }

    deinit {
        if let archive { rx_archive_write_free(archive) }
        rx_archive_entry_free(entry)
        buffer.deallocate()
    }

    private func configure(compression: ArchiveCompression, level: Int?) throws(RunxlError) {
        guard let archive else { return }
        try check(rx_archive_write_set_format_cpio_newc(archive), "select the newc cpio format")
        switch compression {
        case .none, .lz4:
            // lz4 is applied by the sink: libarchive's lz4 filter writes a format the kernel rejects.
            try check(rx_archive_write_add_filter_none(archive), "select no compression")
        case .gzip:
            try check(rx_archive_write_add_filter_gzip(archive), "select gzip")
            try check(rx_archive_write_set_filter_option(archive, "gzip", "compression-level", String(level ?? 1)),
                "set the gzip level")
            // A gzip header without a timestamp keeps identical inputs identical outputs.
            _ = rx_archive_write_set_filter_option(archive, "gzip", "timestamp", nil)
        case .zstd:
            try check(rx_archive_write_add_filter_zstd(archive), "select zstd")
            try check(rx_archive_write_set_filter_option(archive, "zstd", "compression-level", String(level ?? 3)),
                "set the zstd level")
        }
        // Unpadded output: the kernel does not need tape blocks.
        try check(rx_archive_write_set_bytes_per_block(archive, 64 << 10), "set the block size")
        try check(rx_archive_write_set_bytes_in_last_block(archive, 1), "set the last block size")
        let clientData = Unmanaged.passUnretained(sink).toOpaque()
        let status = rx_archive_write_open(
            archive, clientData, nil,
            { _, clientData, buffer, length in
                guard let clientData, let buffer else { return -1 }
                let sink = Unmanaged<OutputSink>.fromOpaque(clientData).takeUnretainedValue()
                return sink.accept(UnsafeRawBufferPointer(start: buffer, count: length)) ? la_ssize_t(length) : -1
            }, nil)
        try check(status, "open \(sink.path) for writing")
    }

    // MARK: - Single entries

    /// Adds a regular file with the given bytes.
    public func addFile(_ path: String, contents: [UInt8], metadata: EntryMetadata) throws(RunxlError) {
        try writeHeader(
            name: archiveName(path), type: .regular, metadata: metadata, size: Int64(contents.count))
        let outcome = contents.withUnsafeBytes { bytes in Result { () throws(RunxlError) in try writeBody(bytes) } }
        try outcome.get()
        contentBytes += Int64(contents.count)
    }

    /// Adds a regular file whose bytes are streamed from `hostPath` (which is followed if it is a
    /// symlink), with ownership and mode from `metadata` rather than from the host file.
    public func addFile(_ path: String, copyingFrom hostPath: String, metadata: EntryMetadata) throws(RunxlError) {
        let fd = open(hostPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot read \(hostPath)", cause: SystemCallError("open", errno: err))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw RunxlError(.io, "\(hostPath) is not a regular file")
        }
        try writeHeader(name: archiveName(path), type: .regular, metadata: metadata, size: Int64(info.st_size))
        try copyBody(from: fd, size: Int64(info.st_size), displayPath: hostPath)
    }

    /// Adds a regular file whose bytes arrive in pieces, each at its offset in the file (as an
    /// image layer hands them out): holes between pieces and after the last are written as zeros,
    /// since newc has no sparse files. Returns the inode number the entry got, for `addHardLink`.
    ///
    /// `linkCount` is what the kernel's unpacker reads to decide whether later entries with the
    /// same inode number become hard links to this one: give 2 or more only when they will follow.
    @discardableResult
    public func addFile(
        _ path: [UInt8], size: Int64, metadata: EntryMetadata, linkCount: UInt32 = 1,
        contents: (_ body: CpioFileBody) throws(RunxlError) -> Void
    ) throws(RunxlError) -> Int64 {
        let inode = nextInode
        nextInode += 1
        let name = archiveName(bytes: path)
        try writeHeader(name: name, type: .regular, metadata: metadata, size: size, linkCount: linkCount, inode: inode)
        let body = CpioFileBody(size: size, name: name.displayString) { [self] bytes throws(RunxlError) in
            try writeBody(bytes)
        }
        try contents(body)
        try body.finish { [self] bytes throws(RunxlError) in try writeBody(bytes) }
        contentBytes += size
        return inode
    }

    /// Adds another name for a regular file added before with `linkCount` of 2 or more: a newc
    /// entry with the same inode number and no body, which the kernel turns into a hard link.
    public func addHardLink(_ path: [UInt8], inode: Int64, metadata: EntryMetadata, linkCount: UInt32 = 2)
        throws(RunxlError)
    {
        try writeHeader(
            name: archiveName(bytes: path), type: .regular, metadata: metadata, size: 0, linkCount: max(linkCount, 2),
            inode: inode)
    }

    /// Adds a directory, symlink, device node or fifo named by raw path bytes (relative to the
    /// archive root; `[]` is the root itself), as image layers name them: not always UTF-8.
    public func addEntry(
        _ path: [UInt8], kind: ArchiveEntryKind, metadata: EntryMetadata, symlinkTarget: [UInt8]? = nil,
        device: (major: UInt32, minor: UInt32)? = nil
    ) throws(RunxlError) {
        let name = archiveName(bytes: path)
        switch kind {
        case .regular:
            throw RunxlError(.internal, "addEntry called for the regular file \(name.displayString)")
        case .directory:
            try writeHeader(name: name, type: .directory, metadata: metadata, size: 0, linkCount: 2)
        case .symlink:
            guard let symlinkTarget, !symlinkTarget.isEmpty else {
                throw RunxlError(.invalidImage, "symlink \(name.displayString) has no target")
            }
            try writeHeader(name: name, type: .symlink, metadata: metadata, size: 0, symlinkTarget: symlinkTarget)
        case .characterDevice, .blockDevice, .fifo, .socket:
            try writeHeader(name: name, type: kind, metadata: metadata, size: 0, deviceNumbers: device ?? (0, 0))
        }
    }

    public func addDirectory(_ path: String, metadata: EntryMetadata) throws(RunxlError) {
        try writeHeader(name: archiveName(path), type: .directory, metadata: metadata, size: 0, linkCount: 2)
    }

    public func addSymlink(_ path: String, target: String, metadata: EntryMetadata = EntryMetadata(permissions: 0o777))
        throws(RunxlError)
    {
        try writeHeader(
            name: archiveName(path), type: .symlink, metadata: metadata, size: 0, symlinkTarget: Array(target.utf8))
    }

    /// Adds a character or block device node (or a fifo, with `major`/`minor` 0).
    public func addSpecial(
        _ path: String, kind: ArchiveEntryKind, major: UInt32 = 0, minor: UInt32 = 0, metadata: EntryMetadata
    ) throws(RunxlError) {
        guard kind == .characterDevice || kind == .blockDevice || kind == .fifo || kind == .socket else {
            throw RunxlError(.internal, "addSpecial called for a \(kind.rawValue) entry \(path)")
        }
        try writeHeader(
            name: archiveName(path), type: kind, metadata: metadata, size: 0, deviceNumbers: (major, minor))
    }

    // MARK: - Trees

    /// Streams the tree at `source` into the archive under `destination` (`""` or `"/"` for the
    /// archive root, whose own entry is then `.`, carrying the tree root's mode and owner).
    ///
    /// Symlinks are stored, never followed; every directory is opened relative to its parent
    /// with `O_NOFOLLOW`, so a symlink swapped in during the walk cannot lead outside the tree.
    public func addTree(from source: String, to destination: String = "", options: TreeOptions = TreeOptions())
        throws(RunxlError)
    {
        let rootFD = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot open directory \(source)", cause: SystemCallError("open", errno: err))
        }
        defer { close(rootFD) }
        var info = stat()
        guard fstat(rootFD, &info) == 0 else {
            let err = errno
            throw RunxlError(.io, "cannot stat \(source)", cause: SystemCallError("fstat", errno: err))
        }
        let base = archiveName(destination)
        try writeHostEntry(name: base, info: info, options: options, symlinkTarget: nil)
        let prefix: [UInt8] = base == Array(".".utf8) ? [] : base + [UInt8(ascii: "/")]
        try walk(directoryFD: rootFD, hostPath: source, relative: [], archivePrefix: prefix, options: options)
    }

    private func walk(
        directoryFD: Int32, hostPath: String, relative: [UInt8], archivePrefix: [UInt8], options: TreeOptions
    ) throws(RunxlError) {
        for name in try sortedNames(directoryFD: directoryFD, hostPath: hostPath) {
            let relativePath = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            let childHostPath = hostPath + "/" + name.displayString
            var info = stat()
            let statStatus = try name.withCPath { fstatat(directoryFD, $0, &info, AT_SYMLINK_NOFOLLOW) }
            guard statStatus == 0 else {
                let err = errno
                if err == ENOENT { continue }  // removed while we walked: it is simply not there
                throw RunxlError(.io, "cannot stat \(childHostPath)", cause: SystemCallError("lstat", errno: err))
            }
            guard let kind = ArchiveEntryKind(mode: UInt32(info.st_mode)) else { continue }
            let item = TreeItem(relativePath: relativePath.displayString, name: name.displayString, kind: kind)
            guard options.include(item) else { continue }
            let archivePath = archivePrefix + relativePath

            switch kind {
            case .directory:
                try writeHostEntry(name: archivePath, info: info, options: options, symlinkTarget: nil)
                let childFD = try name.withCPath {
                    openat(directoryFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                guard childFD >= 0 else {
                    let err = errno
                    throw RunxlError(.io, "cannot open directory \(childHostPath)", cause: SystemCallError("openat", errno: err))
                }
                defer { close(childFD) }
                try walk(
                    directoryFD: childFD, hostPath: childHostPath, relative: relativePath,
                    archivePrefix: archivePrefix, options: options)
            case .symlink:
                let target = try readLink(directoryFD: directoryFD, name: name, size: Int(info.st_size), hostPath: childHostPath)
                try writeHostEntry(name: archivePath, info: info, options: options, symlinkTarget: target)
            case .regular:
                let identity = HostFileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                if info.st_nlink > 1, inodesByHostFile[identity] != nil {
                    // A later name of a file already written: same inode number, no body.
                    try writeHostEntry(name: archivePath, info: info, options: options, symlinkTarget: nil, bodyless: true)
                    continue
                }
                let fd = try name.withCPath { openat(directoryFD, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY) }
                guard fd >= 0 else {
                    let err = errno
                    throw RunxlError(.io, "cannot read \(childHostPath)", cause: SystemCallError("openat", errno: err))
                }
                defer { close(fd) }
                try writeHostEntry(name: archivePath, info: info, options: options, symlinkTarget: nil)
                try copyBody(from: fd, size: Int64(info.st_size), displayPath: childHostPath)
            case .characterDevice, .blockDevice, .fifo, .socket:
                try writeHostEntry(name: archivePath, info: info, options: options, symlinkTarget: nil)
            }
        }
    }

    private func sortedNames(directoryFD: Int32, hostPath: String) throws(RunxlError) -> [[UInt8]] {
        // fdopendir takes ownership of its descriptor: give it a duplicate so the caller's stays open.
        let listFD = fcntl(directoryFD, F_DUPFD_CLOEXEC, 0)
        guard listFD >= 0, let directory = fdopendir(listFD) else {
            let err = errno
            if listFD >= 0 { close(listFD) }
            throw RunxlError(.io, "cannot list \(hostPath)", cause: SystemCallError("fdopendir", errno: err))
        }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let record = readdir(directory) {
            let name = withUnsafeBytes(of: record.pointee.d_name) { raw -> [UInt8] in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        // Byte order, not String order: stable whatever the names' encoding.
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    private func readLink(directoryFD: Int32, name: [UInt8], size: Int, hostPath: String) throws(RunxlError) -> [UInt8] {
        var capacity = max(size, 64) + 1
        while true {
            var target = [UInt8](repeating: 0, count: capacity)
            let count = try name.withCPath { cName in
                target.withUnsafeMutableBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { chars in
                        guard let base = chars.baseAddress else { return -1 }
                        return readlinkat(directoryFD, cName, base, capacity)
                    }
                }
            }
            guard count >= 0 else {
                let err = errno
                throw RunxlError(.io, "cannot read link \(hostPath)", cause: SystemCallError("readlink", errno: err))
            }
            if count < capacity { return Array(target[0..<count]) }
            capacity *= 2  // the link grew between lstat and readlink
        }
    }

    private func writeHostEntry(
        name: [UInt8], info: stat, options: TreeOptions, symlinkTarget: [UInt8]?, bodyless: Bool = false
    ) throws(RunxlError) {
        guard let kind = ArchiveEntryKind(mode: UInt32(info.st_mode)) else { return }
        let metadata = EntryMetadata(
            permissions: UInt32(info.st_mode) & 0o7777,
            uid: options.owner?.uid ?? info.st_uid, gid: options.owner?.gid ?? info.st_gid,
            modificationTime: Int64(info.st_mtim.tv_sec))
        var inode: Int64?
        var linkCount: UInt32 = kind == .directory ? 2 : 1
        if kind == .regular, info.st_nlink > 1 {
            let identity = HostFileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            if let known = inodesByHostFile[identity] {
                inode = known
            } else {
                inode = nextInode
                inodesByHostFile[identity] = nextInode
                nextInode += 1
            }
            linkCount = UInt32(clamping: info.st_nlink)
        }
        let size: Int64 = (kind == .regular && !bodyless) ? Int64(info.st_size) : 0
        try writeHeader(
            name: name, type: kind, metadata: metadata, size: size, linkCount: linkCount, inode: inode,
            symlinkTarget: symlinkTarget,
            device: (kind == .characterDevice || kind == .blockDevice) ? info.st_rdev : 0)
    }

    // MARK: - Low level

    private func writeHeader(
        name: [UInt8], type: ArchiveEntryKind, metadata: EntryMetadata, size: Int64, linkCount: UInt32 = 1,
        inode: Int64? = nil, symlinkTarget: [UInt8]? = nil, device: dev_t = 0,
        deviceNumbers: (major: UInt32, minor: UInt32)? = nil
    ) throws(RunxlError) {
        guard let archive, !finished else {
            throw RunxlError(.internal, "entry \(name.displayString) added to a finished archive")
        }
        rx_archive_entry_clear(entry)
        try name.withCPath { rx_archive_entry_copy_pathname(entry, $0) }
        rx_archive_entry_set_mode(entry, mode_t(type.typeBits | metadata.permissions))
        rx_archive_entry_set_uid(entry, Int64(metadata.uid))
        rx_archive_entry_set_gid(entry, Int64(metadata.gid))
        rx_archive_entry_set_mtime(entry, time_t(metadata.modificationTime), 0)
        rx_archive_entry_set_nlink(entry, linkCount)
        rx_archive_entry_set_size(entry, size)
        if let inode {
            rx_archive_entry_set_ino64(entry, inode)
        } else {
            rx_archive_entry_set_ino64(entry, nextInode)
            nextInode += 1
        }
        if let symlinkTarget { try symlinkTarget.withCPath { rx_archive_entry_copy_symlink(entry, $0) } }
        if device != 0 { rx_archive_entry_set_rdev(entry, device) }
        if let deviceNumbers {
            rx_archive_entry_set_rdevmajor(entry, dev_t(deviceNumbers.major))
            rx_archive_entry_set_rdevminor(entry, dev_t(deviceNumbers.minor))
        }
        let status = rx_archive_write_header(archive, entry)
        if status < ARCHIVE_WARN {
            throw failure(status, "cannot add \(name.displayString) to \(sink.path)")
        }
        entryCount += 1
    }

    private func writeBody(_ bytes: UnsafeRawBufferPointer) throws(RunxlError) {
        guard let archive, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = rx_archive_write_data(archive, base + offset, bytes.count - offset)
            guard written > 0 else { throw failure(Int32(written), "cannot write to \(sink.path)") }
            offset += written
        }
    }

    private func copyBody(from fd: Int32, size: Int64, displayPath: String) throws(RunxlError) {
        var remaining = size
        while remaining > 0 {
            guard let base = buffer.baseAddress else { return }
            let count = read(fd, base, Int(min(Int64(buffer.count), remaining)))
            if count < 0 {
                let err = errno
                if err == EINTR { continue }
                throw RunxlError(.io, "cannot read \(displayPath)", cause: SystemCallError("read", errno: err))
            }
            if count == 0 {
                // The header already promised `size` bytes: a file that shrank would leave a corrupt archive.
                throw RunxlError(.io, "\(displayPath) shrank while it was being archived; try again")
            }
            try writeBody(UnsafeRawBufferPointer(start: base, count: count))
            remaining -= Int64(count)
            contentBytes += Int64(count)
        }
    }

    /// Writes the trailer, flushes the compressor and closes the file; returns its size in bytes.
    @discardableResult
    public func finish() throws(RunxlError) -> Int {
        guard let archive, !finished else { return sink.bytesWritten }
        finished = true
        let status = rx_archive_write_close(archive)
        if status < ARCHIVE_WARN {
            let error = failure(status, "cannot finish \(sink.path)")
            try? sink.finish()
            throw error
        }
        try sink.finish()
        return sink.bytesWritten
    }

    private func check(_ status: Int32, _ what: String) throws(RunxlError) {
        if status < ARCHIVE_WARN { throw failure(status, "cannot \(what)") }
    }

    /// The sink's own error when it has one (it knows the errno), libarchive's otherwise.
    private func failure(_ status: Int32, _ message: String) -> RunxlError {
        if let sinkFailure = sink.failure { return sinkFailure }
        return RunxlError(.io, message, cause: LibArchiveError(archive, status: status))
    }

    /// Archive names are relative (`bin/sh`); the archive root is `.`.
    private func archiveName(_ path: String) -> [UInt8] {
        archiveName(bytes: Array(path.utf8))
    }

    private func archiveName(bytes path: [UInt8]) -> [UInt8] {
        var bytes = path
        while bytes.first == UInt8(ascii: "/") { bytes.removeFirst() }
        while bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        return bytes.isEmpty ? Array(".".utf8) : bytes
    }
}

/// The body of one file entry being written piece by piece (see `CpioWriter.addFile(_:size:...)`).
public final class CpioFileBody {
    private let size: Int64
    private let name: String
    private let write: (UnsafeRawBufferPointer) throws(RunxlError) -> Void
    private var written: Int64 = 0

    init(size: Int64, name: String, write: @escaping (UnsafeRawBufferPointer) throws(RunxlError) -> Void) {
        self.size = size
        self.name = name
        self.write = write
    }

    /// Appends `bytes` found at `offset` in the file; offsets must not go backwards.
    public func append(offset: Int64, _ bytes: UnsafeRawBufferPointer) throws(RunxlError) {
        guard offset >= written, offset + Int64(bytes.count) <= size else {
            throw RunxlError(
                .invalidImage, "\(name): data at offset \(offset) (\(bytes.count) bytes) does not fit a file of \(size) bytes")
        }
        try zeros(upTo: offset, write)
        try write(bytes)
        written = offset + Int64(bytes.count)
    }

    func finish(_ write: (UnsafeRawBufferPointer) throws(RunxlError) -> Void) throws(RunxlError) {
        try zeros(upTo: size, write)
    }

    private static let zeroBlock = [UInt8](repeating: 0, count: 64 << 10)

    private func zeros(upTo end: Int64, _ write: (UnsafeRawBufferPointer) throws(RunxlError) -> Void) throws(RunxlError) {
        while written < end {
            let count = Int(min(Int64(Self.zeroBlock.count), end - written))
            let outcome = Self.zeroBlock.withUnsafeBytes { zeros in
                Result { () throws(RunxlError) in try write(UnsafeRawBufferPointer(rebasing: zeros[0..<count])) }
            }
            try outcome.get()
            written += Int64(count)
        }
    }
}

private struct HostFileIdentity: Hashable {
    let device: UInt64
    let inode: UInt64
}
