internal import CArchive
public import RunxlBase

/// One entry of an archive as read back, for tests and diagnostics.
public struct ArchiveEntryInfo: Sendable, Equatable {
    public var path: String
    public var kind: ArchiveEntryKind
    /// Permission bits only.
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var modificationTime: Int64
    public var inode: Int64
    public var linkCount: UInt32
    public var symlinkTarget: String?
    /// For a later name of a hard-linked file: the first name libarchive saw for it.
    public var hardlinkTarget: String?
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// The entry's bytes, when asked for and no larger than the limit given.
    public var data: [UInt8]?
}

/// Reads archives of any format and compression libarchive knows.
public enum ArchiveReader {
    /// Lists every entry of the archive at `path`; entries of at most `dataLimit` bytes also carry
    /// their contents.
    public static func entries(inArchiveAt path: String, dataLimit: Int = 0) throws(RunxlError) -> [ArchiveEntryInfo] {
        try ArchiveLibraries.load()
        guard let archive = rx_archive_read_new() else {
            throw RunxlError(.internal, "libarchive could not allocate a reader")
        }
        defer { rx_archive_read_free(archive) }
        rx_archive_read_support_filter_all(archive)
        rx_archive_read_support_format_all(archive)
        guard rx_archive_read_open_filename(archive, path, 64 << 10) == ARCHIVE_OK else {
            throw RunxlError(.io, "cannot open archive \(path)", cause: LibArchiveError(archive, status: ARCHIVE_FATAL))
        }
        var result: [ArchiveEntryInfo] = []
        var entry: OpaquePointer?
        while true {
            let status = rx_archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else {
                throw RunxlError(.io, "cannot read archive \(path)", cause: LibArchiveError(archive, status: status))
            }
            let mode = UInt32(rx_archive_entry_mode(entry))
            guard let kind = ArchiveEntryKind(mode: mode) else { continue }
            let size = rx_archive_entry_size(entry)
            var info = ArchiveEntryInfo(
                path: rx_archive_entry_pathname(entry).map { String(cString: $0) } ?? "",
                kind: kind, permissions: mode & 0o7777,
                uid: UInt32(truncatingIfNeeded: rx_archive_entry_uid(entry)),
                gid: UInt32(truncatingIfNeeded: rx_archive_entry_gid(entry)),
                size: size, modificationTime: Int64(rx_archive_entry_mtime(entry)),
                inode: rx_archive_entry_ino64(entry), linkCount: rx_archive_entry_nlink(entry),
                symlinkTarget: rx_archive_entry_symlink(entry).map { String(cString: $0) },
                hardlinkTarget: rx_archive_entry_hardlink(entry).map { String(cString: $0) },
                deviceMajor: UInt32(truncatingIfNeeded: rx_archive_entry_rdevmajor(entry)),
                deviceMinor: UInt32(truncatingIfNeeded: rx_archive_entry_rdevminor(entry)),
                data: nil)
            if kind == .regular, size <= dataLimit {
                var bytes = [UInt8](repeating: 0, count: Int(size))
                var offset = 0
                while offset < bytes.count {
                    let count = bytes.withUnsafeMutableBytes { buffer in
                        rx_archive_read_data(archive, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                    }
                    guard count > 0 else {
                        throw RunxlError(.io, "cannot read \(info.path) in \(path)", cause: LibArchiveError(archive, status: Int32(count)))
                    }
                    offset += count
                }
                info.data = bytes
            }
            result.append(info)
        }
        return result
    }
}
