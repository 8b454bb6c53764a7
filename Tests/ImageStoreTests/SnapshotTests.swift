import Archive
import Foundation
import GuestBuild
import ImageStore
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Layer-chain snapshots (Sources/ImageStore/LayerSnapshots.swift): an unpack reuses the
/// longest stored prefix of its layer chain, the result is the tree a from-scratch unpack makes,
/// and nothing done to a result or by later layers reaches a snapshot.
@Suite(.enabled(if: geteuid() == 0 && StoreFixtures.tool("python3"), "needs root (owners, device nodes) and python3"))
struct SnapshotTests {
    let quiet = TransferReporter(style: .quiet)

    /// A store holding Tests/images/make-shared-base.py's three images: base [L1],
    /// first [L1, L2], second [L1, L3].
    final class SharedBase {
        let scratch: StoreScratch
        let store: ContentStore
        let layout: String

        init() throws {
            scratch = try StoreScratch()
            layout = scratch.path + "/layout"
            try StoreFixtures.run("python3", [StoreFixtures.scripts + "/make-shared-base.py", layout])
            store = try scratch.store()
            _ = try ImageImporter(reporter: TransferReporter(style: .quiet)).importImage(at: layout, into: store)
        }

        func image(_ tag: String) throws -> StoredImage { try store.image("localhost/layout:\(tag)") }

        func layers(_ tag: String) throws -> [String] { try store.manifest(of: try image(tag)).layers.map(\.digest) }

        /// The image unpacked the old way, every layer applied by LayerUnpacker into a fresh tree.
        func fromScratch(_ tag: String) throws -> String {
            let target = scratch.path + "/scratch-\(tag)-\(UUID().uuidString)"
            let unpacker = try LayerUnpacker(rootfs: target)
            for digest in try layers(tag) { try unpacker.apply(layerAt: try store.blobPath(digest), diffID: nil) }
            return target
        }
    }

    /// compare-rootfs.py with mtimes: file list, types, contents, modes, owners, link targets,
    /// device numbers, hard-link groups, xattrs.
    /// A directory that a layer adds to without a directory entry of its own keeps the time of
    /// the unpack that made it (as with umoci), so such times differ between a tree from a
    /// snapshot and one unpacked later; they are the only difference allowed: both times are
    /// from this test run, never from a layer.
    static func differences(_ expected: String, _ actual: String) throws -> String {
        let output: String
        do {
            output = try StoreFixtures.run("python3", [StoreFixtures.scripts + "/compare-rootfs.py", expected, actual, "--mtimes"])
        } catch {
            output = "\(error)"
        }
        guard output.contains("compared ") else { return output }
        let unpackTimes = (Int(Date().timeIntervalSince1970) - 3600)...
        var kept: [String] = []
        for line in output.split(separator: "\n") {
            guard let start = ["differs: ", "missing: ", "extra: "].compactMap({ line.range(of: $0)?.lowerBound }).min() else { continue }
            let difference = line[start...]
            if difference.hasPrefix("differs: "), let range = difference.range(of: ": mtime: expected ") {
                let times = difference[range.upperBound...].components(separatedBy: ", got ").compactMap { Int($0) }
                if times.count == 2 && times.allSatisfy({ unpackTimes.contains($0) }) { continue }
            }
            kept.append(String(difference))
        }
        return kept.isEmpty ? "compared: 0 differences" : kept.joined(separator: "\n")
    }

    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return lstat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    @Test func secondUnpackCopiesTheSnapshotAndAppliesNoLayer() throws {
        let fixture = try SharedBase()
        // Copies (image unpack DIR) store no snapshot: that would be a second copy of each file.
        let copied = try fixture.store.unpack(try fixture.image("first"), into: fixture.scratch.path + "/copied")
        #expect(copied.appliedLayers == 2 && copied.snapshotsStored == 0 && copied.snapshotKey == nil)
        #expect(try fixture.store.snapshotKeys().isEmpty)
        // Hard links (launch) do, the result's files being the snapshot's.
        let first = fixture.scratch.path + "/first-1"
        let report = try fixture.store.unpack(try fixture.image("first"), into: first, sharing: .hardLinks)
        #expect(report.layers == 2 && report.reusedLayers == 0 && report.appliedLayers == 2)
        let key = try #require(report.snapshotKey)
        #expect(key == ContentStore.snapshotKey(for: try fixture.layers("first")))
        #expect(FileManager.default.fileExists(atPath: fixture.store.snapshotRootfs(key) + "/etc/hello"))

        // No layer is read the second time: without the layer blobs it still works.
        for digest in try fixture.layers("first") { unlink(try fixture.store.blobPath(digest)) }
        let second = fixture.scratch.path + "/first-2"
        let again = try fixture.store.unpack(try fixture.image("first"), into: second)
        #expect(again.reusedLayers == 2 && again.appliedLayers == 0 && again.snapshotsStored == 0)
        let comparison = try Self.differences(first, second)
        #expect(comparison.contains(": 0 differences"), "\(comparison)")
        // Copies: the user's tree has inodes of its own.
        #expect(Self.inode(second + "/etc/hello") != Self.inode(fixture.store.snapshotRootfs(key) + "/etc/hello"))

        // Hard links (launch's temporary rootfs): the snapshot's own inodes.
        let linked = fixture.scratch.path + "/first-linked"
        let linkedReport = try fixture.store.unpack(try fixture.image("first"), into: linked, sharing: .hardLinks)
        #expect(linkedReport.appliedLayers == 0)
        #expect(Self.inode(linked + "/etc/hello") == Self.inode(fixture.store.snapshotRootfs(key) + "/etc/hello"))
        let linkedComparison = try Self.differences(first, linked)
        #expect(linkedComparison.contains(": 0 differences"), "\(linkedComparison)")
    }

    /// first and second share L1: unpacking first keeps [L1] too, and second starts from it.
    /// Applying first's L2 (which rewrites L1's files every way a layer can) onto a tree of
    /// hard links to the [L1] snapshot leaves that snapshot exactly as it was.
    @Test func imagesSharingABaseLayerReuseItsSnapshot() throws {
        let fixture = try SharedBase()
        let baseKey = ContentStore.snapshotKey(for: try fixture.layers("base"))

        let first = fixture.scratch.path + "/first"
        let firstReport = try fixture.store.unpack(try fixture.image("first"), into: first, sharing: .hardLinks)
        #expect(firstReport.reusedLayers == 0 && firstReport.snapshotsStored == 2)
        #expect(Set(try fixture.store.snapshotKeys())
            == [baseKey, ContentStore.snapshotKey(for: try fixture.layers("first"))])
        let baseReference = fixture.scratch.path + "/base-reference"
        try StoreFixtures.run("cp", ["-a", fixture.store.snapshotRootfs(baseKey), baseReference])

        let second = fixture.scratch.path + "/second"
        let secondReport = try fixture.store.unpack(try fixture.image("second"), into: second, sharing: .hardLinks)
        #expect(secondReport.reusedLayers == 1 && secondReport.appliedLayers == 1)
        // base is exactly [L1]: its whole chain is stored already.
        let base = fixture.scratch.path + "/base"
        #expect(try fixture.store.unpack(try fixture.image("base"), into: base).appliedLayers == 0)
        // first again, built from [L1] with L2 applied on hard links to it.
        try FileSystem.removeTree(fixture.store.root + "/snapshots/" + ContentStore.snapshotKey(for: try fixture.layers("first")))
        let firstAgain = fixture.scratch.path + "/first-again"
        let againReport = try fixture.store.unpack(try fixture.image("first"), into: firstAgain, sharing: .hardLinks)
        #expect(againReport.reusedLayers == 1 && againReport.appliedLayers == 1)

        // A copy from the [L1] snapshot with L3 applied on the copy.
        try FileSystem.removeTree(fixture.store.root + "/snapshots/" + ContentStore.snapshotKey(for: try fixture.layers("second")))
        let secondCopy = fixture.scratch.path + "/second-copy"
        let copyReport = try fixture.store.unpack(try fixture.image("second"), into: secondCopy)
        #expect(copyReport.reusedLayers == 1 && copyReport.appliedLayers == 1 && copyReport.snapshotsStored == 0)

        for (tag, result) in [("first", first), ("second", second), ("base", base), ("first", firstAgain), ("second", secondCopy)] {
            let comparison = try Self.differences(try fixture.fromScratch(tag), result)
            #expect(comparison.contains(": 0 differences"), "\(tag) at \(result): \(comparison)")
        }
        let untouched = try Self.differences(baseReference, fixture.store.snapshotRootfs(baseKey))
        #expect(untouched.contains(": 0 differences"), "the base snapshot changed: \(untouched)")
        #expect(unpackReadText(fixture.store.snapshotRootfs(baseKey) + "/bin/tool") == "#!/bin/sh\necho base\n")
        #expect(unpackReadText(firstAgain + "/bin/another-alias") == "#!/bin/sh\necho base\n")
    }

    /// What a user does to `image unpack`'s output stays in the output.
    @Test func changingAnUnpackedTreeLeavesTheSnapshotIntact() throws {
        let fixture = try SharedBase()
        _ = try fixture.store.unpack(try fixture.image("first"), into: fixture.scratch.path + "/warm", sharing: .hardLinks)
        let key = ContentStore.snapshotKey(for: try fixture.layers("first"))
        let reference = fixture.scratch.path + "/reference"
        try StoreFixtures.run("cp", ["-a", fixture.store.snapshotRootfs(key), reference])

        let mine = fixture.scratch.path + "/mine"
        #expect(try fixture.store.unpack(try fixture.image("first"), into: mine).appliedLayers == 0)
        // Writes in place, the way an editor with `backupcopy=yes` or `echo >>` would.
        for file in ["etc/hello", "bin/tool", "bin/another-alias", "big"] {
            let fd = open(mine + "/" + file, O_WRONLY | O_TRUNC)
            #expect(fd >= 0, "\(file)")
            _ = write(fd, "changed by the user\n", 20)
            close(fd)
        }
        #expect(chmod(mine + "/etc/secret", 0o777) == 0)
        #expect(chown(mine + "/etc/secret", 1234, 1234) == 0)
        try StoreFixtures.run("python3", ["-c", "import os, sys; os.setxattr(sys.argv[1], 'user.note', b'user')", mine + "/etc/hello"])
        var times = [timespec(tv_sec: 1, tv_nsec: 0), timespec(tv_sec: 1, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, mine + "/etc/secret", &times, 0) == 0)

        let comparison = try Self.differences(reference, fixture.store.snapshotRootfs(key))
        #expect(comparison.contains(": 0 differences"), "the snapshot changed: \(comparison)")
        let next = fixture.scratch.path + "/next"
        _ = try fixture.store.unpack(try fixture.image("first"), into: next)
        #expect(unpackReadText(next + "/etc/hello") == "hello from the first image\n")
    }

    @Test func garbageCollectionRemovesSnapshotsNoImageWants() throws {
        let fixture = try SharedBase()
        let baseKey = ContentStore.snapshotKey(for: try fixture.layers("base"))
        let firstKey = ContentStore.snapshotKey(for: try fixture.layers("first"))
        let secondKey = ContentStore.snapshotKey(for: try fixture.layers("second"))
        _ = try fixture.store.unpack(try fixture.image("first"), into: fixture.scratch.path + "/first", sharing: .hardLinks)
        _ = try fixture.store.unpack(try fixture.image("second"), into: fixture.scratch.path + "/second", sharing: .hardLinks)
        #expect(Set(try fixture.store.snapshotKeys()) == [baseKey, firstKey, secondKey])
        // What a process killed while publishing would leave, were it not in tmp/.
        try FileManager.default.createDirectory(atPath: fixture.store.root + "/snapshots/stray", withIntermediateDirectories: true)

        // Everything is still wanted: base's whole chain is [L1].
        var report = try #require(try fixture.store.collectGarbage())
        #expect(report.snapshotsRemoved == 1)
        #expect(Set(try fixture.store.snapshotKeys()) == [baseKey, firstKey, secondKey])

        try fixture.store.removeImage("localhost/layout:second")
        report = try #require(try fixture.store.collectGarbage())
        #expect(report.snapshotsRemoved == 1)
        #expect(Set(try fixture.store.snapshotKeys()) == [baseKey, firstKey])

        // [L1] stays while two images start with it, and goes with the last but one.
        try fixture.store.removeImage("localhost/layout:base")
        report = try #require(try fixture.store.collectGarbage())
        #expect(Set(try fixture.store.snapshotKeys()) == [firstKey])

        try fixture.store.removeImage("localhost/layout:first")
        report = try #require(try fixture.store.collectGarbage())
        #expect(report.snapshotsRemoved == 1)
        #expect(try fixture.store.snapshotKeys().isEmpty)
        #expect(try FileSystem.listDirectory(fixture.store.root + "/snapshots").isEmpty)
    }

    /// A layer that fails half way stores no snapshot of its chain and leaves nothing behind.
    @Test(.enabled(if: StoreFixtures.fixtureToolsPresent, "needs umoci, skopeo and busybox for the fixtures"))
    func failedLayerStoresNoSnapshot() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let image = try #require(try ImageImporter(reporter: quiet).importImage(at: fixtures + "/truncated", into: store).first)
        let target = scratch.path + "/rootfs"
        for sharing in [RootfsSharing.hardLinks, .copies] {
            #expect(throws: RunxlError.self) { try store.unpack(image, into: target, sharing: sharing) }
            #expect(!FileManager.default.fileExists(atPath: target))
        }
        #expect(try store.snapshotKeys().isEmpty)
        #expect(try FileSystem.listDirectory(store.root + "/tmp").isEmpty)
    }

    /// The multi-layer umoci-made image (whiteouts, opaque directories, hard-link groups, device
    /// nodes, xattrs, zstd): its tags `latest` and `gzip` share layers 1-3.
    @Test(.enabled(if: UnpackFixtures.umociAvailable && StoreFixtures.tool("zstd") && StoreFixtures.tool("setcap"), "needs umoci, zstd, setcap"))
    func layeredImageThroughSnapshotsEqualsFromScratch() throws {
        let scratch = try StoreScratch()
        let layout = scratch.path + "/layered"
        try UnpackFixtures.run(UnpackFixtures.imagesDirectory + "/make-layered.sh", [layout])
        let store = try scratch.store()
        _ = try ImageImporter(reporter: quiet).importImage(at: layout, into: store)
        let latest = try store.image("localhost/layered:latest")
        let gzip = try store.image("localhost/layered:gzip")

        let first = try store.unpack(latest, into: scratch.path + "/latest", sharing: .hardLinks)
        #expect(first.appliedLayers == 5 && first.snapshotsStored == 2)
        let shared = try store.unpack(gzip, into: scratch.path + "/gzip", sharing: .hardLinks)
        #expect(shared.reusedLayers == 3 && shared.appliedLayers == 2)
        let again = try store.unpack(latest, into: scratch.path + "/latest-again")
        #expect(again.appliedLayers == 0)

        for (image, result) in [(latest, "latest"), (gzip, "gzip"), (latest, "latest-again")] {
            let reference = scratch.path + "/scratch-\(result)"
            let unpacker = try LayerUnpacker(rootfs: reference)
            for layer in try store.manifest(of: image).layers { try unpacker.apply(layerAt: try store.blobPath(layer.digest), diffID: nil) }
            let comparison = try Self.differences(reference, scratch.path + "/" + result)
            #expect(comparison.contains(": 0 differences"), "\(result): \(comparison)")
        }
    }

    /// launch's bundles (`.hardLinks`) read the whole chain's snapshot in place, so the tree the
    /// initramfs cache key walks is the same on every launch: the second build is a cache hit.
    @Test func launchBundlesReadTheSnapshotInPlaceAndHitTheInitramfsCache() throws {
        let fixture = try SharedBase()
        let image = try fixture.image("first")
        let firstBundle = fixture.scratch.path + "/launch-1"
        let secondBundle = fixture.scratch.path + "/launch-2"
        let first = try ImageBundle.create(image, store: fixture.store, at: firstBundle, sharing: .hardLinks)
        let second = try ImageBundle.create(image, store: fixture.store, at: secondBundle, sharing: .hardLinks)
        let snapshot = try #require(try fixture.store.wholeChainSnapshot(of: image))
        #expect(first.root?.path == snapshot)
        #expect(second.root?.path == snapshot)
        #expect(!FileManager.default.fileExists(atPath: firstBundle + "/rootfs"), "the first launch's own copy is removed")

        #expect(FileManager.default.createFile(
            atPath: fixture.scratch.path + "/init-binary", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        let builder = InitramfsBuilder(cacheDirectory: fixture.scratch.path + "/cache")
        let request = InitramfsRequest(
            rootfs: snapshot, initBinary: fixture.scratch.path + "/init-binary", processFile: Array("p".utf8),
            compression: ArchiveCompression.none)
        #expect(try !builder.build(request).cacheHit)
        _ = try ImageBundle.create(image, store: fixture.store, at: fixture.scratch.path + "/launch-3", sharing: .hardLinks)
        #expect(try builder.build(request).cacheHit)
    }
}
