import Registry
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What one unpack did: how many of the image's layers came from a snapshot and how many were
/// applied, so callers and tests can tell a cache hit without timing it.
public struct UnpackReport: Sendable, Equatable {
    /// Layers in the image.
    public var layers: Int
    /// Leading layers whose result came from a stored snapshot.
    public var reusedLayers: Int
    /// Snapshots this unpack added to the store.
    public var snapshotsStored: Int
    /// The snapshot the result was made from (the one stored for the whole chain, or reused).
    public var snapshotKey: String?

    public var appliedLayers: Int { layers - reusedLayers }
}

/// Layer-chain snapshots: the tree after layers 1...k of an image, kept in the store so that
/// the next unpack of an image starting with the same k layers copies it instead of applying
/// them again.
///
/// ```
/// ROOT/snapshots/KEY/rootfs    the tree (directories 0700 up to here: its files are an image's,
///                              setuid binaries included, and must not be reachable by users)
/// ROOT/snapshots/KEY/chain     the layer digests, one a line (for people and gc messages)
/// ```
/// KEY is the SHA-256 of "runxl-snapshot-v2\n" and each compressed layer digest followed by a
/// newline (see `key(for:)`). A snapshot is built in the operation's staging directory and
/// renamed into place whole, after a syncfs, so a crash leaves only staging directories that
/// garbage collection removes, never a partial or unflushed snapshot under its name.
///
/// Nothing ever writes into a snapshot after the rename: the unpacker replaces a file by unlink
/// and create and never opens, chmods, chowns or retimes an existing non-directory, so a tree
/// of hard links to a snapshot can have layers applied on top without changing the snapshot.
extension ContentStore {
    var snapshotsDirectory: String { root + "/snapshots" }

    /// Bumped when the unpacker's output for the same layers changes (a fix in how a layer is
    /// applied), so that old snapshots stop matching and gc removes them. v2: layers are
    /// checked against the config's diff_ids; a v1 snapshot may hold a layer that fails that.
    static let snapshotFormat = "runxl-snapshot-v2"

    /// The key of the tree after `layers` (compressed blob digests, bottom first).
    ///
    /// Keyed by the compressed digests, not the OCI ChainID over diff_ids: the store verified
    /// each blob's digest when it came in, so a key over them names exactly the bytes that
    /// were applied, and each layer's uncompressed stream was checked against its diff_id while
    /// it was applied (a snapshot is only stored after that). The cost is that the same layer
    /// compressed twice (gzip and zstd) gets two keys. Without root, owners are not applied, so such
    /// trees get keys of their own.
    public static func snapshotKey(for layers: some Collection<String>) -> String {
        var text = snapshotFormat + "\n"
        if geteuid() != 0 { text += "unprivileged\n" }
        for digest in layers { text += digest + "\n" }
        return String(Digester.digest(Array(text.utf8)).dropFirst(7))
    }

    /// `ROOT/snapshots/KEY/rootfs`, whether or not it exists.
    public func snapshotRootfs(_ key: String) -> String { snapshotsDirectory + "/" + key + "/rootfs" }

    /// Keys of the snapshots stored now.
    public func snapshotKeys() throws(RunxlError) -> [String] {
        guard FileSystem.exists(snapshotsDirectory) else { return [] }
        return try FileSystem.listDirectory(snapshotsDirectory).filter(Self.isSnapshotKey)
    }

    static func isSnapshotKey(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    func hasSnapshot(_ key: String) -> Bool { FileSystem.isDirectory(snapshotRootfs(key)) }

    /// The stored tree of `image`'s whole layer chain, nil until an unpack with `.hardLinks`
    /// stored it. Read-only by contract: runxl reads it in place, nothing may write to it.
    public func wholeChainSnapshot(of image: StoredImage) throws(RunxlError) -> String? {
        let chain = try manifest(of: image).layers.map(\.digest)
        let key = Self.snapshotKey(for: chain)
        return hasSnapshot(key) ? snapshotRootfs(key) : nil
    }

    /// Which layer-chain prefixes are worth a snapshot: every image's whole chain (the next
    /// unpack of that image), and each prefix where stored images part ways (two images go on
    /// with different layers, or one ends there). Seen as a tree of layers, these are the leaves
    /// and the forks: an unpack of any stored image finds its longest shared run of base layers
    /// stored, while a run of layers that every image sharing it continues alike (the layers
    /// below the fork) is not kept twice, each snapshot costing a tree of links.
    func wantedSnapshotPrefixes(_ chains: [[String]]) -> Set<String> {
        var continuations: [String: Set<String>] = [:]
        var wanted: Set<String> = []
        for chain in chains where !chain.isEmpty {
            wanted.insert(Self.snapshotKey(for: chain))
            for length in 1..<chain.count { continuations[Self.snapshotKey(for: chain.prefix(length)), default: []].insert(chain[length]) }
        }
        for (key, next) in continuations where next.count > 1 { wanted.insert(key) }
        return wanted
    }

    /// The layer chains of every stored image whose manifest can be read (a damaged one keeps
    /// no snapshot).
    func storedLayerChains() throws(RunxlError) -> [[String]] {
        try images().compactMap { image in (try? manifest(of: image))?.layers.map(\.digest) }
    }

    // MARK: - Unpack through snapshots

    /// The body of `unpack(_:into:sharing:)`, under an operation that holds gc away.
    func unpackThroughSnapshots(
        _ image: StoredImage, into rootfs: String, sharing: RootfsSharing, operation: StoreOperation
    ) throws(RunxlError) -> UnpackReport {
        let manifest = try manifest(of: image)
        let chain = manifest.layers.map(\.digest)
        // Read (and its layer count checked against the manifest's) before any layer is applied.
        let diffIDs = try config(of: image, manifest: manifest).rootfs.diffIDs
        let keys = (0...chain.count).map { Self.snapshotKey(for: chain.prefix($0)) }
        var report = UnpackReport(layers: chain.count, reusedLayers: 0, snapshotsStored: 0, snapshotKey: nil)
        if chain.isEmpty {
            try FileSystem.makeDirectories(rootfs, mode: 0o755)
            return report
        }
        if let cached = stride(from: chain.count, to: 0, by: -1).first(where: { hasSnapshot(keys[$0]) }) {
            report.reusedLayers = cached
            report.snapshotKey = keys[cached]
        }
        for digest in chain[report.reusedLayers...] {
            guard FileSystem.exists(try blobPath(digest)) else {
                throw RunxlError(.imageNotFound, "layer \(digest) of \(image.name) is missing from \(root): pull or import the image again")
            }
        }
        if report.reusedLayers == chain.count, let key = report.snapshotKey {
            try TreeReplicator(sharing: sharing).replicate(from: snapshotRootfs(key), to: rootfs)
            return report
        }

        if sharing == .copies {
            // A snapshot for a tree the user owns would have to be a second copy of every file:
            // on minbase that doubles the first unpack (4.9 s to 10.7 s) to save 9% on the next
            // one, since creating inodes, not applying layers, is what an unpack costs. So copies
            // use what snapshots there are and add none; hard-link unpacks (launch) store them.
            if let key = report.snapshotKey {
                try TreeReplicator(sharing: .copies).replicate(from: snapshotRootfs(key), to: rootfs)
            }
            try apply(chain, diffIDs: diffIDs, from: report.reusedLayers, of: image, to: LayerUnpacker(rootfs: rootfs))
            return report
        }

        // Built in staging, so that whatever a failure leaves goes with the operation.
        let work = operation.staging + "/chain"
        _ = try FileSystem.makeDirectory(work, mode: 0o700)
        let workRootfs = work + "/rootfs"
        if let key = report.snapshotKey {
            try TreeReplicator(sharing: .hardLinks).replicate(from: snapshotRootfs(key), to: workRootfs)
        }
        let wanted = wantedSnapshotPrefixes(try storedLayerChains() + [chain])
        let unpacker = try LayerUnpacker(rootfs: workRootfs)
        try apply(chain, diffIDs: diffIDs, from: report.reusedLayers, of: image, to: unpacker) { length in
            if length < chain.count, wanted.contains(keys[length]), !hasSnapshot(keys[length]) {
                if publishLinkedCopy(of: workRootfs, chain: chain.prefix(length), key: keys[length], operation: operation) {
                    report.snapshotsStored += 1
                }
            }
        }
        try TreeReplicator(sharing: sharing).replicate(from: workRootfs, to: rootfs)
        report.snapshotKey = keys[chain.count]
        // The work tree is the whole chain's snapshot as it stands; the result is done, so a
        // snapshot that cannot be stored costs only the next unpack's time.
        if (try? publishSnapshot(work, chain: chain[...], key: keys[chain.count])) == true { report.snapshotsStored += 1 }
        return report
    }

    /// Applies `chain[start...]`, each layer checked against its diff_id; `applied` hears the
    /// chain length reached after each layer, so a snapshot is only ever taken of checked layers.
    private func apply(
        _ chain: [String], diffIDs: [String], from start: Int, of image: StoredImage, to unpacker: LayerUnpacker,
        applied: (Int) -> Void = { _ in }
    ) throws(RunxlError) {
        try unpacker.limits.checkLayerCount(chain.count, image: image.name)
        guard diffIDs.count == chain.count else {
            throw RunxlError(.invalidImage, "\(image.name): the config lists \(diffIDs.count) diff_ids for \(chain.count) layers")
        }
        for index in start..<chain.count {
            let digest = chain[index]
            do {
                try unpacker.apply(layerAt: try blobPath(digest), diffID: diffIDs[index])
            } catch {
                throw RunxlError(error.code, "layer \(digest) of \(image.name): \(error.message)", cause: error.cause)
            }
            applied(index + 1)
        }
    }

    /// A snapshot of a prefix while later layers are still to be applied to `rootfs`: a tree
    /// of hard links, safe because the unpacker never changes an existing file in place.
    private func publishLinkedCopy(of rootfs: String, chain: ArraySlice<String>, key: String, operation: StoreOperation) -> Bool {
        let directory = operation.staging + "/prefix-\(chain.count)"
        do {
            _ = try FileSystem.makeDirectory(directory, mode: 0o700)
            try TreeReplicator(sharing: .hardLinks).replicate(from: rootfs, to: directory + "/rootfs")
            return try publishSnapshot(directory, chain: chain, key: key)
        } catch {
            try? FileSystem.removeTree(directory)
            return false
        }
    }

    /// Renames `directory` (holding `rootfs`) to `snapshots/KEY`. False when another process
    /// stored the same snapshot first (both are the same tree; ours goes).
    private func publishSnapshot(_ directory: String, chain: ArraySlice<String>, key: String) throws(RunxlError) -> Bool {
        try FileSystem.writeAtomically(directory + "/chain", Array(chain.map { $0 + "\n" }.joined().utf8), mode: 0o600)
        try FileSystem.makeDirectories(snapshotsDirectory, mode: 0o700)
        // The rename must not reach the disk before the tree does: after a power cut, a snapshot
        // with empty files would be copied into every later unpack.
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = ReplicatorCalls.syncFileSystem(fd)
            close(fd)
        }
        let target = snapshotsDirectory + "/" + key
        guard rename(directory, target) == 0 else {
            let err = errno
            try? FileSystem.removeTree(directory)
            if err == EEXIST || err == ENOTEMPTY { return false }
            throw RunxlError(.io, "cannot store snapshot \(target)", cause: SystemCallError("rename", errno: err))
        }
        Self.syncDirectory(snapshotsDirectory)
        return true
    }

    /// Removes the snapshots no stored image wants (see `wantedSnapshotPrefixes`) and anything
    /// else in snapshots/. Called by `collectGarbage` with gc.lock held exclusively, so no
    /// unpack is reading or storing one.
    func removeUnwantedSnapshots() throws(RunxlError) -> Int {
        guard FileSystem.exists(snapshotsDirectory) else { return 0 }
        let wanted = wantedSnapshotPrefixes(try storedLayerChains())
        var removed = 0
        for name in try FileSystem.listDirectory(snapshotsDirectory) where !wanted.contains(name) {
            try FileSystem.removeTree(snapshotsDirectory + "/" + name)
            removed += 1
        }
        return removed
    }
}
