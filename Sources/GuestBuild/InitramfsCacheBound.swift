import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Keeps the initramfs cache inside a size bound, dropping the least recently used images.
///
/// Why: every distinct rootfs (and every distinct process file) is one image, and a host that
/// runs many containers would otherwise fill the file system the cache lives on (in the lab,
/// dom0's RAM, where runtime-tools' 58 bundles filled it and later creates failed).
///
/// An image is "used" when it is built or hit (both set its mtime). Images used in the last
/// `graceSeconds` are never removed, whatever the bound: a create that has just picked an image
/// hands its path to libxl some seconds later, and must find it there. So the bound can be
/// exceeded for a while by images in use; it is met again by the first build after them.
/// Concurrent runxl processes need no lock: removing a file twice is harmless, and a reader
/// holds the image by path only within the grace time.
struct InitramfsCacheBound: Sendable {
    /// The bound when `/etc/runxl/config.json` sets no `initramfsCacheMiB`: a quarter of the
    /// cache's file system, at most this.
    static let defaultCeilingBytes: Int64 = 2 << 30
    static let graceSeconds: Int = 600

    let directory: String
    let limitBytes: Int64

    /// `limitMiB` from the host config; nil means the default described above.
    init(directory: String, limitMiB: Int?) {
        self.directory = directory
        if let limitMiB {
            limitBytes = Int64(max(limitMiB, 0)) << 20
        } else {
            limitBytes = min(Self.defaultCeilingBytes, Self.fileSystemBytes(of: directory) / 4)
        }
    }

    init(directory: String, limitBytes: Int64) {
        self.directory = directory
        self.limitBytes = limitBytes
    }

    struct Entry: Equatable {
        /// The archive; its `.process` sidecar (layered images) goes with it.
        var path: String
        var bytes: Int64
        var lastUsed: Int
    }

    /// Makes room for an image of about `incomingBytes` before it is written: the cache then
    /// holds at most `limitBytes - incomingBytes`, and the file system has `incomingBytes`
    /// free, as far as images outside the grace time allow. Leftover temporaries of builds
    /// that died go too. Returns the archives removed.
    @discardableResult
    func makeRoom(for incomingBytes: Int64, now: Int = Int(time(nil))) -> [String] {
        let (entries, leftovers) = listing()
        for leftover in leftovers where leftover.lastUsed < now - Self.graceSeconds { unlink(leftover.path) }
        var total = entries.reduce(0) { $0 + $1.bytes }
        var free = Self.freeBytes(of: directory)
        var removed: [String] = []
        for entry in entries.sorted(by: { $0.lastUsed < $1.lastUsed }) {
            let overBound = total + incomingBytes > limitBytes
            let short = free >= 0 && free < incomingBytes
            guard overBound || short else { break }
            guard entry.lastUsed < now - Self.graceSeconds else { break }
            unlink(entry.path)
            unlink(entry.path + LayeredSidecar.suffix)
            total -= entry.bytes
            if free >= 0 { free += entry.bytes }
            removed.append(entry.path)
        }
        return removed
    }

    /// The images (archive plus sidecar bytes) and the temporaries of unfinished builds.
    func listing() -> (images: [Entry], leftovers: [Entry]) {
        guard let names = try? FileSystem.listDirectory(directory) else { return ([], []) }
        var images: [Entry] = []
        var leftovers: [Entry] = []
        for name in names where name.hasPrefix("initramfs-") {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let entry = Entry(path: path, bytes: Int64(info.st_size), lastUsed: Int(info.st_mtim.tv_sec))
            if name.hasSuffix(FileSystem.temporarySuffix) {
                leftovers.append(entry)
            } else if !name.hasSuffix(LayeredSidecar.suffix) {
                var sidecar = stat()
                let sidecarBytes = stat(path + LayeredSidecar.suffix, &sidecar) == 0 ? Int64(sidecar.st_size) : 0
                images.append(Entry(path: path, bytes: entry.bytes + sidecarBytes, lastUsed: entry.lastUsed))
            }
        }
        return (images, leftovers)
    }

    /// 0 for a file that cannot be asked.
    static func fileBytes(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// -1 when the file system cannot be asked (the directory does not exist yet).
    static func freeBytes(of directory: String) -> Int64 {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return -1 }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    static func fileSystemBytes(of directory: String) -> Int64 {
        var info = statvfs()
        var path = directory
        // The cache directory may not exist yet: ask the nearest existing parent.
        while statvfs(path, &info) != 0 {
            guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
                guard statvfs("/", &info) == 0 else { return defaultCeilingBytes * 4 }
                break
            }
            path = String(path[..<slash])
        }
        return Int64(info.f_blocks) * Int64(info.f_frsize)
    }
}

/// The name of the file beside a layered image that holds its process file.
enum LayeredSidecar {
    static let suffix = ".process"
}
