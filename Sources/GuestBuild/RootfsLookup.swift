import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Path lookups inside a container's rootfs as the guest will see them: symlinks are followed
/// with the rootfs as `/`, so an absolute link target or a `..` can never reach the host's files.
public struct RootfsLookup: Sendable {
    public let rootfs: String
    /// Linux's own limit on symlinks followed in one lookup.
    static let maximumSymlinks = 40

    public init(rootfs: String) {
        self.rootfs = rootfs
    }

    /// The host path of `guestPath` after following every symlink inside the rootfs, with the
    /// final `lstat`; nil when some component does not exist or is not a directory.
    func resolve(_ guestPath: String) -> (hostPath: String, info: stat)? {
        var resolved: [Substring] = []
        var pending = guestPath.split(separator: "/", omittingEmptySubsequences: true).reversed().map { $0 }
        var followed = 0
        var info = stat()
        if pending.isEmpty {
            guard lstat(rootfs, &info) == 0 else { return nil }
            return (rootfs, info)
        }
        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = rootfs + "/" + (resolved + [component]).joined(separator: "/")
            guard lstat(candidate, &info) == 0 else { return nil }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                followed += 1
                guard followed <= Self.maximumSymlinks, let target = readLink(candidate) else { return nil }
                if target.hasPrefix("/") { resolved.removeAll() }
                pending.append(contentsOf: target.split(separator: "/", omittingEmptySubsequences: true).reversed())
                continue
            }
            if !pending.isEmpty, (info.st_mode & S_IFMT) != S_IFDIR { return nil }
            resolved.append(component)
        }
        let hostPath = rootfs + (resolved.isEmpty ? "" : "/" + resolved.joined(separator: "/"))
        guard lstat(hostPath, &info) == 0 else { return nil }
        return (hostPath, info)
    }

    /// The host path of `guestPath` with every symlink followed inside the rootfs; nil when it
    /// does not exist.
    public func hostPath(of guestPath: String) -> String? {
        resolve(guestPath)?.hostPath
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
        guard let (_, info) = resolve(guestPath) else { return false }
        return (info.st_mode & S_IFMT) == S_IFREG && (info.st_mode & 0o111) != 0
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
        guard let (hostPath, info) = resolve(guestPath), (info.st_mode & S_IFMT) == S_IFREG,
            info.st_size < 16 << 20, let bytes = try? FileSystem.read(hostPath)
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = buffer.withUnsafeMutableBufferPointer { pointer -> Int in
            guard let base = pointer.baseAddress else { return -1 }
            return readlink(path, base, 4096)
        }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
