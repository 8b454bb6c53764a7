import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Directories of a rootfs being unpacked, opened one component at a time from the rootfs's own
/// descriptor with O_NOFOLLOW, and kept open by path.
///
/// Every file the unpack creates is created with an `*at()` call relative to one of these
/// descriptors, so no path the kernel resolves for us ever has more than one component. A
/// symlink on the way (a usr-merged `/lib -> usr/lib` that a later layer writes below) is
/// resolved by the kernel as umoci and containerd resolve it, inside the rootfs: openat2 with
/// RESOLVE_IN_ROOT treats the rootfs as `/`, so neither an absolute target nor `..` leaves it.
/// The cache turns the walk into one lookup for the next file of the same directory, which is
/// how tar layers are ordered.
final class UnpackDirectories {
    let rootfs: String
    let rootDescriptor: Int32
    private var open: [UnpackPath: Int32] = [:]
    private static let cacheLimit = 256

    init(rootfs: String) throws(RunxlError) {
        self.rootfs = rootfs
        let fd = Glibc.open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot open the rootfs \(rootfs)", cause: SystemCallError("open", errno: err))
        }
        rootDescriptor = fd
    }

    deinit {
        closeCached()
        close(rootDescriptor)
    }

    /// What `descriptor(of:)` does when a directory on the way is missing.
    enum Missing {
        /// Create it (mode 0755, owned by the caller): an entry whose parent entries the layer
        /// omits, as tar allows. `created` hears of each one.
        case create((UnpackPath) -> Void)
        /// Answer nil: nothing there to act on (a whiteout of something never unpacked).
        case absent
    }

    /// The open directory at `path`, walked without following any symlink. A symlink on the way
    /// is refused as unsafe; a non-directory on the way is a broken layer.
    func descriptor(of path: UnpackPath, entry: String, missing: Missing) throws(RunxlError) -> Int32? {
        if path.isRoot { return rootDescriptor }
        if let cached = open[path] { return cached }
        // Start from the deepest open ancestor.
        var depth = path.components.count - 1
        var current = rootDescriptor
        while depth > 0 {
            if let cached = open[UnpackPath(components: Array(path.components.prefix(depth)))] {
                current = cached
                break
            }
            depth -= 1
        }
        for index in depth..<path.components.count {
            let component = path.components[index]
            let prefix = UnpackPath(components: Array(path.components.prefix(index + 1)))
            var fd = openDirectory(current, component)
            if fd < 0, errno == ENOENT, case .create(let created) = missing {
                let made = component.withCName { mkdirat(current, $0, 0o755) }
                if made != 0, errno != EEXIST {
                    let err = errno
                    throw RunxlError(
                        .io, "layer entry \(entry): cannot create directory \(prefix.display) in \(rootfs)",
                        cause: SystemCallError("mkdirat", errno: err))
                }
                if made == 0 {
                    // mkdirat applied the umask; implicit parents are 0755 as with umoci.
                    _ = component.withCName { fchmodat(current, $0, 0o755, 0) }
                    created(prefix)
                }
                fd = openDirectory(current, component)
            }
            if fd < 0, errno == ELOOP || errno == ENOTDIR, isSymlink(current, component) {
                fd = try resolveInRoot(prefix, entry: entry, missing: missing)
                if fd < 0 { return nil }
            }
            if fd < 0 {
                let err = errno
                let failure = walkFailure(err, parent: current, component: component, prefix: prefix, entry: entry)
                // A whiteout below a name that is now a file (umoci writes `dir/.wh.child` after
                // turning `dir` into a file) has nothing left to hide; a symlink stays refused.
                if case .absent = missing, err == ENOENT || failure.code == .invalidImage { return nil }
                throw failure
            }
            open[prefix] = fd
            current = fd
        }
        return current
    }

    /// Forgets every open directory at or below `path` (it was removed or replaced).
    func forget(_ path: UnpackPath) {
        for (key, fd) in open where key.isWithin(path) {
            close(fd)
            open[key] = nil
        }
    }

    /// Bounds the number of open descriptors. Called between entries only, never while a caller
    /// holds a descriptor from `descriptor(of:)`; a rare full reset is cheap next to the walk it
    /// saves in the common case.
    func trim() {
        if open.count >= Self.cacheLimit { closeCached() }
    }

    func closeCached() {
        for fd in open.values { close(fd) }
        open = [:]
    }

    private func isSymlink(_ parent: Int32, _ name: [UInt8]) -> Bool {
        var info = stat()
        return name.withCName { fstatat(parent, $0, &info, AT_SYMLINK_NOFOLLOW) } == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    /// The directory a symlink at `prefix` leads to, resolved inside the rootfs; -1 when it
    /// leads nowhere and `missing` is `.absent` (nothing to act on there). A target that does
    /// not exist, or is no directory, is a broken layer: it is not created through the link.
    private func resolveInRoot(_ prefix: UnpackPath, entry: String, missing: Missing) throws(RunxlError) -> Int32 {
        let path = Array(prefix.components.joined(separator: [UInt8(ascii: "/")]))
        let fd = UnpackSystemCalls.openDirectoryInRoot(rootDescriptor, path)
        if fd >= 0 { return fd }
        let err = errno
        switch err {
        case ENOSYS:
            throw RunxlError(
                .unsafeLayerEntry,
                "layer entry \(entry): \(prefix.display) is a symlink, and this kernel (before Linux 5.6, no openat2) "
                    + "cannot resolve it inside the rootfs")
        case ENOENT, ENOTDIR:
            if case .absent = missing { return -1 }
            throw RunxlError(
                .invalidImage,
                "layer entry \(entry): \(prefix.display) is a symlink to \(err == ENOENT ? "nothing" : "something that is not a directory") "
                    + "inside the rootfs (its target is resolved with the rootfs as /)")
        default:
            throw RunxlError(
                .io, "layer entry \(entry): cannot resolve the symlink \(prefix.display) inside \(rootfs)",
                cause: SystemCallError("openat2", errno: err))
        }
    }

    private func openDirectory(_ parent: Int32, _ name: [UInt8]) -> Int32 {
        name.withCName { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }

    private func walkFailure(
        _ err: Int32, parent: Int32, component: [UInt8], prefix: UnpackPath, entry: String
    ) -> RunxlError {
        if err == ELOOP || err == ENOTDIR {
            var info = stat()
            let kind = component.withCName { fstatat(parent, $0, &info, AT_SYMLINK_NOFOLLOW) } == 0
                ? info.st_mode & S_IFMT : 0
            if kind == S_IFLNK {
                return RunxlError(
                    .unsafeLayerEntry,
                    "layer entry \(entry): \(prefix.display) is a symlink; a layer may not write through a symlink")
            }
            return RunxlError(.invalidImage, "layer entry \(entry): \(prefix.display) is not a directory")
        }
        return RunxlError(
            .io, "layer entry \(entry): cannot open directory \(prefix.display) in \(rootfs)",
            cause: SystemCallError("openat", errno: err))
    }
}

extension Array where Element == UInt8 {
    /// The bytes as a NUL-terminated C string for one system call, on the stack when short.
    func withCName<Result>(_ body: (UnsafePointer<CChar>) -> Result) -> Result {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
            withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
            }
            buffer[count] = 0
            guard let base = buffer.baseAddress else { return body("") }
            return body(UnsafePointer(base))
        }
    }
}
