public import Archive
import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A root file system known only as a listing, as when it streams from image layers into an
/// initramfs and never exists on disk: each path's type, permissions and symlink target, plus
/// the bytes of the few files lookups read (`/etc/passwd`, `/etc/group`).
public struct RootfsListing: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var kind: ArchiveEntryKind
        public var permissions: UInt32
        public var symlinkTarget: String?

        public init(kind: ArchiveEntryKind, permissions: UInt32, symlinkTarget: String? = nil) {
            self.kind = kind
            self.permissions = permissions
            self.symlinkTarget = symlinkTarget
        }
    }

    /// Keyed by the path relative to the root (`etc/passwd`); `""` is the root.
    public var nodes: [String: Node]
    /// Contents of the captured files, by the same keys.
    public var files: [String: [UInt8]]

    /// The files whose contents are kept while streaming: what user lookups read.
    public static let capturedFiles: Set<String> = ["etc/passwd", "etc/group"]

    public init(nodes: [String: Node] = ["": Node(kind: .directory, permissions: 0o755)], files: [String: [UInt8]] = [:]) {
        self.nodes = nodes
        self.files = files
    }
}

/// Path lookups inside a container's rootfs as the guest will see them: symlinks are followed
/// with the rootfs as `/`, so an absolute link target or a `..` can never reach the host's files.
/// The rootfs is a directory on disk or a `RootfsListing`.
public struct RootfsLookup: Sendable {
    /// The directory, or `""` for a listing.
    public let rootfs: String
    private let listing: RootfsListing?
    /// Linux's own limit on symlinks followed in one lookup.
    static let maximumSymlinks = 40

    public init(rootfs: String) {
        self.rootfs = rootfs
        self.listing = nil
    }

    public init(listing: RootfsListing) {
        self.rootfs = ""
        self.listing = listing
    }

    /// What `lstat` would say about a path relative to the root; nil when absent.
    private func node(_ relative: String) -> RootfsListing.Node? {
        if let listing { return listing.nodes[relative] }
        var info = stat()
        let path = relative.isEmpty ? rootfs : rootfs + "/" + relative
        guard lstat(path, &info) == 0 else { return nil }
        let kind: ArchiveEntryKind
        switch info.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFREG: kind = .regular
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFIFO: kind = .fifo
        default: kind = .socket
        }
        return RootfsListing.Node(
            kind: kind, permissions: UInt32(info.st_mode) & 0o7777,
            symlinkTarget: kind == .symlink ? try? FileSystem.readLink(path) : nil)
    }

    /// The path relative to the root of `guestPath` after following every symlink inside the
    /// rootfs, with what the final `lstat` says; nil when some component does not exist or is
    /// not a directory.
    func resolve(_ guestPath: String) -> (relative: String, node: RootfsListing.Node)? {
        var resolved: [Substring] = []
        var pending = guestPath.split(separator: "/", omittingEmptySubsequences: true).reversed().map { $0 }
        var followed = 0
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            guard let found = node((resolved + [component]).joined(separator: "/")) else { return nil }
            if found.kind == .symlink {
                followed += 1
                guard followed <= Self.maximumSymlinks, let target = found.symlinkTarget else { return nil }
                if target.hasPrefix("/") { resolved.removeAll() }
                pending.append(contentsOf: target.split(separator: "/", omittingEmptySubsequences: true).reversed())
                continue
            }
            if !pending.isEmpty, found.kind != .directory { return nil }
            resolved.append(component)
        }
        let relative = resolved.joined(separator: "/")
        guard let found = node(relative) else { return nil }
        return (relative, found)
    }

    /// The host path of `guestPath` with every symlink followed inside the rootfs; nil when it
    /// does not exist.
    /// For a listing, the resolved guest path.
    public func hostPath(of guestPath: String) -> String? {
        guard let relative = resolve(guestPath)?.relative else { return nil }
        if listing != nil { return "/" + relative }
        return relative.isEmpty ? rootfs : rootfs + "/" + relative
    }

    /// Finds the executable the guest's `execvp` would run for `name`: a path (relative to
    /// `cwd`) when it has a `/`, otherwise the first match along `PATH` from `env`.
    public func findExecutable(_ name: String, env: [String], cwd: String) -> String? {
        if name.contains("/") {
            let path = name.hasPrefix("/") ? name : cwd + "/" + name
            return isExecutable(path) ? path : nil
        }
        let searchPath = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let base = directory.isEmpty ? cwd : String(directory)
            let candidate = base.hasPrefix("/") ? base + "/" + name : cwd + "/" + base + "/" + name
            if isExecutable(candidate) { return candidate }
        }
        return nil
    }

    private func isExecutable(_ guestPath: String) -> Bool {
        guard let (_, node) = resolve(guestPath) else { return false }
        return node.kind == .regular && (node.permissions & 0o111) != 0
    }

    /// A user of the rootfs's `/etc/passwd`, with the groups `/etc/group` lists it in.
    public struct Account: Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var additionalGids: [UInt32]
    }

    /// Looks `username` up in the rootfs's `/etc/passwd`; nil when it is not there.
    public func account(named username: String) -> Account? {
        guard let passwd = readText("/etc/passwd") else { return nil }
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, fields[0] == username, let uid = UInt32(fields[2]), let gid = UInt32(fields[3])
            else { continue }
            var groups: [UInt32] = []
            for groupLine in (readText("/etc/group") ?? "").split(separator: "\n") {
                let groupFields = groupLine.split(separator: ":", omittingEmptySubsequences: false)
                guard groupFields.count >= 4, let groupID = UInt32(groupFields[2]), groupID != gid else { continue }
                if groupFields[3].split(separator: ",").contains(Substring(username)) { groups.append(groupID) }
            }
            return Account(uid: uid, gid: gid, additionalGids: groups)
        }
        return nil
    }

    private func readText(_ guestPath: String) -> String? {
        guard let (relative, node) = resolve(guestPath), node.kind == .regular else { return nil }
        if let listing {
            return listing.files[relative].map { String(decoding: $0, as: UTF8.self) }
        }
        let hostPath = rootfs + "/" + relative
        var info = stat()
        guard stat(hostPath, &info) == 0, info.st_size < 16 << 20, let bytes = try? FileSystem.read(hostPath) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
