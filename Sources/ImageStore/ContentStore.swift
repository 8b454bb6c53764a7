public import OCI
public import RunxlBase
import JSON
import Registry

#if canImport(Glibc)
import Glibc
#endif

/// An image the store holds: a name and the descriptor of its (platform-specific) manifest.
public struct StoredImage: Sendable, Equatable {
    /// The normalized reference: `docker.io/library/busybox:latest`.
    public var name: String
    /// The image manifest; `platform` says which one when it came from an index.
    public var manifest: Descriptor
    /// The image index (or manifest list) the manifest was chosen from, kept in the store too.
    public var indexDigest: String?
}

/// The content-addressed image store.
///
/// Layout (itself an OCI image layout, so `skopeo` and `umoci` can read it):
/// ```
/// ROOT/oci-layout          {"imageLayoutVersion": "1.0.0"}
/// ROOT/index.json          the references: one manifest descriptor per name (ref.name annotation)
/// ROOT/blobs/sha256/HEX    every blob, verified before it got its name
/// ROOT/lock                held exclusively while index.json or blobs/ change
/// ROOT/gc.lock             shared by every pull, import and unpack; exclusive for gc
/// ROOT/tmp/OP-PID-N/       an operation's staging directory
/// ROOT/snapshots/KEY/      a layer chain's unpacked tree (LayerSnapshots.swift)
/// ```
/// A pull or import downloads into its own staging directory and verifies every digest there;
/// only when all of it is in place does `commit` rename the blobs into `blobs/sha256` and
/// replace index.json, under `lock`. So a failed or killed operation changes nothing visible,
/// and what it leaves in tmp/ the next garbage collection removes.
public struct ContentStore: Sendable {
    public static let defaultRoot = "/var/lib/runxl/images"
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
    public static let indexDigestAnnotation = "io.runxl.image.index"

    public let root: String
    var blobsDirectory: String { root + "/blobs/sha256" }
    var temporaryDirectory: String { root + "/tmp" }
    var indexPath: String { root + "/index.json" }
    var indexLockPath: String { root + "/lock" }
    var gcLockPath: String { root + "/gc.lock" }

    /// Opens the store, creating its directories the first time.
    public init(root: String) throws(RunxlError) {
        self.root = root
        try FileSystem.makeDirectories(blobsDirectory, mode: 0o700)
        try FileSystem.makeDirectories(temporaryDirectory, mode: 0o700)
        let layout = root + "/oci-layout"
        if !FileSystem.exists(layout) {
            try FileSystem.writeAtomically(layout, Array("{\"imageLayoutVersion\":\"1.0.0\"}\n".utf8))
        }
        // The lock files exist from the start, so that a store's listing does not change with
        // the first operation that takes them.
        for path in [indexLockPath, gcLockPath] where !FileSystem.exists(path) {
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        }
        if !FileSystem.exists(indexPath) {
            let lock = try StoreLock(path: indexLockPath, exclusive: true, timeoutSeconds: 60)
            defer { lock.unlock() }
            if !FileSystem.exists(indexPath) { try writeIndex([]) }
        }
    }

    // MARK: Blobs

    /// `blobs/sha256/HEX`; only sha256 digests name files here.
    public func blobPath(_ digest: String) throws(RunxlError) -> String {
        guard ImageReference.isDigest(digest) else {
            throw RunxlError(.invalidImage, "'\(digest)' is not a sha256 digest runxl can store")
        }
        return blobsDirectory + "/" + digest.dropFirst(7)
    }

    public func hasBlob(_ digest: String) -> Bool {
        guard let path = try? blobPath(digest) else { return false }
        return FileSystem.exists(path)
    }

    /// A small blob (manifest, index, config), its digest checked again on the way in.
    public func readBlob(_ digest: String, limit: Int = 16 << 20) throws(RunxlError) -> [UInt8] {
        let path = try blobPath(digest)
        guard FileSystem.exists(path) else {
            throw RunxlError(.imageNotFound, "blob \(digest) is not in the store \(root) (pull or import the image again)")
        }
        let bytes = try FileSystem.read(path)
        guard bytes.count <= limit else { throw RunxlError(.invalidImage, "blob \(digest) is larger than \(limit) bytes") }
        let actual = Digester.digest(bytes)
        guard actual == digest else {
            throw RunxlError(.digestMismatch, "blob \(digest) in \(root) has content \(actual): the store is damaged; remove the image and pull it again")
        }
        return bytes
    }

    // MARK: References

    /// Every image by name, sorted.
    public func images() throws(RunxlError) -> [StoredImage] {
        let index = try Index.load(path: indexPath)
        return index.manifests.compactMap { descriptor in
            guard let name = descriptor.annotations?[Self.refNameAnnotation] else { return nil }
            var manifest = descriptor
            manifest.annotations = nil
            return StoredImage(name: name, manifest: manifest, indexDigest: descriptor.annotations?[Self.indexDigestAnnotation])
        }.sorted { $0.name < $1.name }
    }

    /// The image a user named: a reference (normalized as docker does) or a manifest digest.
    public func image(_ text: String) throws(RunxlError) -> StoredImage {
        let all = try images()
        if ImageReference.isDigest(text) {
            if let found = all.first(where: { $0.manifest.digest == text || $0.indexDigest == text }) { return found }
            throw RunxlError(.imageNotFound, "no image with digest \(text) in \(root) (see runxl image ls)")
        }
        let reference = try ImageReference(parsing: text)
        if let found = all.first(where: { $0.name == reference.description }) { return found }
        throw RunxlError(.imageNotFound, "image \(reference) is not in \(root): pull or import it first (see runxl image ls)")
    }

    func writeIndex(_ images: [StoredImage]) throws(RunxlError) {
        let descriptors = images.sorted { $0.name < $1.name }.map { image in
            var descriptor = image.manifest
            var annotations = [Self.refNameAnnotation: image.name]
            if let indexDigest = image.indexDigest { annotations[Self.indexDigestAnnotation] = indexDigest }
            descriptor.annotations = annotations
            return descriptor
        }
        let index = Index(schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: descriptors)
        try FileSystem.writeAtomically(indexPath, Array(try index.encoded(pretty: true)) + [0x0A])
    }

    /// Removes a name. The blobs stay until `collectGarbage` (which `image rm` runs next).
    @discardableResult
    public func removeImage(_ text: String) throws(RunxlError) -> StoredImage {
        let lock = try StoreLock(path: indexLockPath, exclusive: true, timeoutSeconds: 60)
        defer { lock.unlock() }
        let image = try image(text)
        try writeIndex(try images().filter { $0.name != image.name })
        return image
    }

    // MARK: Operations

    /// Starts a pull, import or unpack: holds off garbage collection until the operation ends.
    public func beginOperation(_ label: String) throws(RunxlError) -> StoreOperation {
        try StoreOperation(store: self, label: label)
    }

    // MARK: Garbage collection

    public struct GarbageReport: Sendable, Equatable {
        public var blobsRemoved: Int
        public var bytesFreed: Int64
        public var leftoversRemoved: Int
        /// Layer-chain snapshots no stored image wants any more.
        public var snapshotsRemoved: Int = 0
    }

    /// Removes blobs no name reaches, snapshots of layer chains no stored image wants, and
    /// whatever dead operations left in tmp/. Returns nil without waiting when a pull, import or
    /// unpack is running (`wait` false): the next collection will catch up.
    public func collectGarbage(wait: Bool = true) throws(RunxlError) -> GarbageReport? {
        let gcLock: StoreLock
        if wait {
            gcLock = try StoreLock(path: gcLockPath, exclusive: true, timeoutSeconds: 120)
        } else {
            guard let attempt = try StoreLock.attempt(path: gcLockPath, exclusive: true) else { return nil }
            gcLock = attempt
        }
        defer { gcLock.unlock() }
        let lock = try StoreLock(path: indexLockPath, exclusive: true, timeoutSeconds: 60)
        defer { lock.unlock() }

        var reachable: Set<String> = []
        for image in try images() {
            try markReachable(image.manifest.digest, into: &reachable)
            if let indexDigest = image.indexDigest { reachable.insert(indexDigest) }
        }
        var report = GarbageReport(blobsRemoved: 0, bytesFreed: 0, leftoversRemoved: 0)
        for name in try FileSystem.listDirectory(blobsDirectory) {
            let path = blobsDirectory + "/" + name
            guard !reachable.contains("sha256:" + name) else { continue }
            var info = stat()
            let size = lstat(path, &info) == 0 ? Int64(info.st_size) : 0
            try FileSystem.removeTree(path)
            if ImageReference.isDigest("sha256:" + name) {
                report.blobsRemoved += 1
                report.bytesFreed += size
            } else {
                report.leftoversRemoved += 1
            }
        }
        // Nobody holds gc.lock shared, so every staging directory belongs to a dead operation.
        for name in try FileSystem.listDirectory(temporaryDirectory) {
            try FileSystem.removeTree(temporaryDirectory + "/" + name)
            report.leftoversRemoved += 1
        }
        for name in try FileSystem.listDirectory(root) where name.hasSuffix(FileSystem.temporarySuffix) {
            try FileSystem.removeTree(root + "/" + name)
            report.leftoversRemoved += 1
        }
        if report.blobsRemoved > 0 { Self.syncDirectory(blobsDirectory) }
        report.snapshotsRemoved = try removeUnwantedSnapshots()
        return report
    }

    /// Marks a manifest or index and everything it names that the store has.
    private func markReachable(_ digest: String, into reachable: inout Set<String>) throws(RunxlError) {
        guard !reachable.contains(digest), hasBlob(digest) else { return }
        reachable.insert(digest)
        // A damaged document keeps only itself alive; gc must not fail because of it.
        guard case .object(let members)? = try? JSONValue.parse(try FileSystem.read(try blobPath(digest))) else { return }
        var children: [JSONValue] = []
        if case .object? = members["config"], let config = members["config"] { children.append(config) }
        if case .array(let layers)? = members["layers"] { children += layers }
        if case .array(let manifests)? = members["manifests"] {
            for case .object(let manifest) in manifests {
                if case .string(let child)? = manifest["digest"] { try markReachable(child, into: &reachable) }
            }
        }
        for case .object(let child) in children {
            if case .string(let childDigest)? = child["digest"] { reachable.insert(childDigest) }
        }
    }

    /// fsync of a directory, so that renames into it survive a crash.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// One pull, import or unpack: a staging directory for blobs on their way in, and the shared
/// hold on `gc.lock` that keeps garbage collection away until it ends.
public final class StoreOperation {
    public let store: ContentStore
    /// `ROOT/tmp/LABEL-PID-N`.
    public let staging: String
    private var gcLock: StoreLock?
    /// Blobs verified and waiting for `commit`: digest → staged file.
    private var staged: [String: String] = [:]
    private var counter = 0

    init(store: ContentStore, label: String) throws(RunxlError) {
        self.store = store
        gcLock = try StoreLock(path: store.gcLockPath, exclusive: false, timeoutSeconds: 120)
        var attempt = 0
        while true {
            let candidate = "\(store.temporaryDirectory)/\(label)-\(getpid())-\(attempt)"
            if try FileSystem.makeDirectory(candidate, mode: 0o700) {
                staging = candidate
                break
            }
            attempt += 1
        }
    }

    deinit { close() }

    /// Removes the staging directory and lets garbage collection run again.
    public func close() {
        try? FileSystem.removeTree(staging)
        gcLock?.unlock()
        gcLock = nil
    }

    /// True when the blob is in the store already or staged by this operation.
    public func has(_ digest: String) -> Bool {
        staged[digest] != nil || store.hasBlob(digest)
    }

    /// Where a blob in the store or staged here can be read.
    public func path(of digest: String) throws(RunxlError) -> String {
        if let path = staged[digest] { return path }
        return try store.blobPath(digest)
    }

    /// A fresh file name inside the staging directory.
    public func newFilePath(_ hint: String = "blob") -> String {
        counter += 1
        return "\(staging)/\(hint)-\(counter)"
    }

    /// Records a file the caller verified to have `digest` (renamed into the staging directory).
    public func stageVerifiedFile(_ path: String, digest: String) throws(RunxlError) {
        guard ImageReference.isDigest(digest) else { throw RunxlError(.invalidImage, "'\(digest)' is not a sha256 digest") }
        let target = staging + "/" + digest.dropFirst(7)
        if path != target {
            guard rename(path, target) == 0 else {
                let err = errno
                throw RunxlError(.io, "cannot move \(path) to \(target)", cause: SystemCallError("rename", errno: err))
            }
        }
        staged[digest] = target
    }

    /// Writes a small document as a blob and returns its digest.
    @discardableResult
    public func stageBytes(_ bytes: [UInt8]) throws(RunxlError) -> String {
        let digest = Digester.digest(bytes)
        if has(digest) { return digest }
        let path = newFilePath("doc")
        try FileSystem.writeAtomically(path, bytes)
        try stageVerifiedFile(path, digest: digest)
        return digest
    }

    /// Copies (or moves, when the source may be consumed) a local file into staging, checking
    /// its size and digest as it goes. The error names the expected digest and the file.
    public func ingestFile(_ source: String, expected descriptor: Descriptor, consume: Bool) throws(RunxlError) {
        if has(descriptor.digest) { return }
        let target = newFilePath()
        let result = try BlobCopier.copy(source, to: consume ? nil : target)
        guard result.size == descriptor.size else {
            try? FileSystem.removeTree(target)
            throw RunxlError(.digestMismatch, "\(source): blob \(descriptor.digest) has \(result.size) bytes, its descriptor says \(descriptor.size)")
        }
        guard result.digest == descriptor.digest else {
            try? FileSystem.removeTree(target)
            throw RunxlError(.digestMismatch, "\(source): content has digest \(result.digest), expected \(descriptor.digest)")
        }
        if consume {
            try stageVerifiedFile(source, digest: descriptor.digest)
        } else {
            try stageVerifiedFile(target, digest: descriptor.digest)
        }
    }

    /// Publishes the staged blobs and the given names, atomically with respect to other runxl
    /// processes. Names that exist are replaced. Every blob the images reach must be present.
    public func commit(_ images: [StoredImage]) throws(RunxlError) {
        let lock = try StoreLock(path: store.indexLockPath, exclusive: true, timeoutSeconds: 60)
        defer { lock.unlock() }
        for (digest, path) in staged.sorted(by: { $0.key < $1.key }) {
            let target = try store.blobPath(digest)
            guard rename(path, target) == 0 else {
                let err = errno
                throw RunxlError(.io, "cannot move \(path) to \(target)", cause: SystemCallError("rename", errno: err))
            }
        }
        staged = [:]
        ContentStore.syncDirectory(store.blobsDirectory)
        let names = Set(images.map(\.name))
        try store.writeIndex(try store.images().filter { !names.contains($0.name) } + images)
        ContentStore.syncDirectory(store.root)
    }
}

/// Streams a file through the digester, optionally into a copy.
enum BlobCopier {
    struct Result {
        var size: Int64
        var digest: String
    }

    static func copy(_ source: String, to target: String?) throws(RunxlError) -> Result {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot read \(source)", cause: SystemCallError("open", errno: err))
        }
        defer { close(input) }
        var output: Int32 = -1
        if let target {
            output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard output >= 0 else {
                let err = errno
                throw RunxlError(.io, "cannot create \(target)", cause: SystemCallError("open", errno: err))
            }
        }
        defer { if output >= 0 { close(output) } }
        let digester = Digester()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var size: Int64 = 0
        while true {
            let count = read(input, buffer.baseAddress, buffer.count)
            if count < 0 {
                let err = errno
                if err == EINTR { continue }
                throw RunxlError(.io, "cannot read \(source)", cause: SystemCallError("read", errno: err))
            }
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            digester.update(chunk)
            size += Int64(count)
            if output >= 0, let target {
                try Descriptors.writeAll(output, chunk, path: target)
            }
        }
        if output >= 0, fsync(output) != 0 {
            let err = errno
            throw RunxlError(.io, "cannot write \(target ?? "")", cause: SystemCallError("fsync", errno: err))
        }
        return Result(size: size, digest: digester.finalizeDigest())
    }
}
