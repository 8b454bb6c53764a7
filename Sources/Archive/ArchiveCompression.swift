/// How an initramfs (or any archive runxl writes) is compressed.
///
/// Every choice here is one the Linux initramfs unpacker reads (`CONFIG_RD_GZIP`, `RD_ZSTD`,
/// `RD_LZ4`), so the choice is a trade between build time, size in dom0 and guest memory, and how
/// long the guest kernel spends unpacking: `none` costs the kernel nothing but a copy, which
/// matters most under slow (emulated) CPUs.
public enum ArchiveCompression: String, Codable, Sendable, CaseIterable {
    case none
    case gzip
    case zstd
    /// LZ4 in the legacy format (`lz4 -l`), the only lz4 flavour the kernel's initramfs code reads.
    case lz4

    /// The suffix conventionally added to a file so compressed, e.g. `.gz`; empty for `none`.
    public var fileExtension: String {
        switch self {
        case .none: return ""
        case .gzip: return ".gz"
        case .zstd: return ".zst"
        case .lz4: return ".lz4"
        }
    }
}

/// The type of one archive entry, as stored in its mode bits.
public enum ArchiveEntryKind: String, Codable, Sendable {
    case regular
    case directory
    case symlink
    case characterDevice
    case blockDevice
    case fifo
    case socket

    init?(mode: UInt32) {
        switch mode & 0o170000 {
        case 0o100000: self = .regular
        case 0o040000: self = .directory
        case 0o120000: self = .symlink
        case 0o020000: self = .characterDevice
        case 0o060000: self = .blockDevice
        case 0o010000: self = .fifo
        case 0o140000: self = .socket
        default: return nil
        }
    }

    /// The `S_IF*` type bits.
    var typeBits: UInt32 {
        switch self {
        case .regular: return 0o100000
        case .directory: return 0o040000
        case .symlink: return 0o120000
        case .characterDevice: return 0o020000
        case .blockDevice: return 0o060000
        case .fifo: return 0o010000
        case .socket: return 0o140000
        }
    }
}

/// Ownership, permissions and time for an entry that does not come from a file on disk.
public struct EntryMetadata: Sendable, Equatable {
    /// Permission bits only (`0o755`); the type comes from the call that adds the entry.
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Seconds since the epoch. A fixed default keeps archives built from the same inputs identical.
    public var modificationTime: Int64

    public init(permissions: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, modificationTime: Int64 = 0) {
        self.permissions = permissions & 0o7777
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime
    }
}
