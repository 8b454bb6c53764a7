import Archive
import Foundation
import GuestBuild
import ImageStore
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every layer's uncompressed stream is checked against the config's diff_id wherever layers
/// are read: the unpack (and its snapshots) and the initramfs streamed from layers. The layer
/// blobs of Tests/images/make-tampered-layer.py all match their manifest descriptors, so the
/// store takes them in; only the diff_id check can refuse them.
@Suite(.enabled(if: StoreFixtures.tool("python3"), "needs python3 for the fixture"))
struct DiffIDTests {
    /// A store with the fixture's images imported (localhost/layout:TAG) and what the fixture
    /// says each bad image's failing layer is.
    final class TamperedImages {
        let scratch: StoreScratch
        let store: ContentStore
        let expected: [String: Expected]

        struct Expected: Decodable {
            var layer: String
            var diffID: String
            var actual: String
            var chain: [String]
        }

        init() throws {
            scratch = try StoreScratch()
            let layout = scratch.path + "/layout"
            try StoreFixtures.run("python3", [StoreFixtures.scripts + "/make-tampered-layer.py", layout])
            store = try scratch.store()
            _ = try ImageImporter(reporter: TransferReporter(style: .quiet)).importImage(at: layout, into: store)
            expected = try JSONDecoder().decode(
                [String: Expected].self, from: Data(contentsOf: URL(fileURLWithPath: layout + "/expected.json")))
        }

        func image(_ tag: String) throws -> StoredImage { try store.image("localhost/layout:\(tag)") }

        func layers(_ tag: String) throws -> ImageLayers {
            let image = try image(tag)
            let manifest = try store.manifest(of: image)
            return ImageLayers(
                paths: try store.layerPaths(of: image, manifest: manifest),
                diffIDs: try store.config(of: image, manifest: manifest).rootfs.diffIDs, identity: image.manifest.digest,
                makeDigester: ContentStore.makeLayerDigester)
        }

        /// The message names the layer, the diff_id claimed and the digest found.
        func checkMismatch(_ error: RunxlError, _ tag: String) {
            #expect(error.code == .digestMismatch, "\(tag): \(error)")
            guard let expected = expected[tag] else {
                Issue.record("no expectation for \(tag)")
                return
            }
            for part in [String(expected.layer.dropFirst(7)), expected.diffID, expected.actual] {
                #expect(error.message.contains(part), "\(tag): the message names \(part): \(error.message)")
            }
        }
    }

    static let badImages = ["tampered", "trailing", "plain"]

    @Test(arguments: badImages, [RootfsSharing.copies, .hardLinks])
    func unpackRefusesALayerThatDoesNotInflateToItsDiffID(tag: String, sharing: RootfsSharing) throws {
        let images = try TamperedImages()
        let before = StoreFixtures.listing(images.store.root)
        let target = images.scratch.path + "/rootfs"
        do {
            try images.store.unpack(try images.image(tag), into: target, sharing: sharing)
            Issue.record("\(tag) unpacked (\(sharing))")
        } catch let error as RunxlError {
            images.checkMismatch(error, tag)
        }
        #expect(!FileManager.default.fileExists(atPath: target), "the half-made rootfs is removed")
        #expect(try FileSystem.listDirectory(images.store.root + "/tmp").isEmpty)
        // Nothing of the failing chain is kept. Only a hard-link unpack of `tampered` may store
        // the snapshot of its first layer, which is right and shared with `good`.
        let chain = try #require(images.expected[tag]).chain
        let allowed = sharing == .hardLinks && chain.count > 1 ? [ContentStore.snapshotKey(for: chain.prefix(1))] : []
        #expect(Set(try images.store.snapshotKeys()).isSubset(of: allowed))
        if allowed.isEmpty { #expect(StoreFixtures.listing(images.store.root) == before, "the store is as it was") }
    }

    @Test(arguments: [RootfsSharing.copies, .hardLinks])
    func anImageWhoseLayersMatchTheirDiffIDsUnpacks(sharing: RootfsSharing) throws {
        let images = try TamperedImages()
        let target = images.scratch.path + "/rootfs"
        let report = try images.store.unpack(try images.image("good"), into: target, sharing: sharing)
        #expect(report.appliedLayers == 2)
        #expect(try String(contentsOfFile: target + "/bin/app", encoding: .utf8).contains("good"))
        #expect(FileManager.default.fileExists(atPath: target + "/etc/motd"))
    }

    /// A snapshot stored by a runxl that did not check diff_ids (format v1) may hold a layer that
    /// fails the check: it must not be reused, so the chain is applied, and refused, again.
    @Test func aSnapshotStoredBeforeDiffIDsWereCheckedIsNotReused() throws {
        let images = try TamperedImages()
        let chain = try #require(images.expected["trailing"]).chain
        var text = "runxl-snapshot-v1\n" + (geteuid() == 0 ? "" : "unprivileged\n")
        for digest in chain { text += digest + "\n" }
        var hasher = SHA256()
        hasher.update(text)
        let oldKey = hasher.finalizeHex()
        let oldSnapshot = images.store.root + "/snapshots/" + oldKey + "/rootfs/bin"
        try FileManager.default.createDirectory(atPath: oldSnapshot, withIntermediateDirectories: true)
        try "#!/bin/sh\necho from the old snapshot\n".write(toFile: oldSnapshot + "/app", atomically: true, encoding: .utf8)

        let target = images.scratch.path + "/rootfs"
        do {
            let report = try images.store.unpack(try images.image("trailing"), into: target, sharing: .hardLinks)
            Issue.record("the image came from the old snapshot: \(report)")
        } catch let error as RunxlError {
            images.checkMismatch(error, "trailing")
        }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test(arguments: badImages)
    func streamedInitramfsRefusesALayerThatDoesNotInflateToItsDiffID(tag: String) throws {
        let images = try TamperedImages()
        let cache = images.scratch.path + "/cache"
        let initBinary = images.scratch.path + "/runxl-init"
        try FileSystem.writeAtomically(initBinary, Array("not really init\n".utf8), mode: 0o755)
        let request = LayeredInitramfsRequest(
            layers: try images.layers(tag), initBinary: initBinary, processInputs: [], compression: .none)
        do {
            _ = try InitramfsBuilder(cacheDirectory: cache).build(request) { _ throws(RunxlError) in Array("{}\n".utf8) }
            Issue.record("an initramfs was built from \(tag)")
        } catch {
            images.checkMismatch(error, tag)
        }
        #expect(try FileSystem.listDirectory(cache + "/initramfs") == [], "no archive, no temporary file")
        // The listing alone (a guest with its own initrd) reads the layers the same way.
        do {
            _ = try InitramfsBuilder.listing(of: try images.layers(tag))
            Issue.record("\(tag) was listed")
        } catch let error as RunxlError {
            images.checkMismatch(error, tag)
        }

        let good = LayeredInitramfsRequest(
            layers: try images.layers("good"), initBinary: initBinary, processInputs: [], compression: .none)
        let (built, _) = try InitramfsBuilder(cacheDirectory: cache).build(good) { _ throws(RunxlError) in Array("{}\n".utf8) }
        #expect(!built.cacheHit && FileManager.default.fileExists(atPath: built.path))
    }

    /// The digest covers the stream past the tar's end-of-archive blocks, and a stream without
    /// a digester cannot be asked for one.
    @Test func theUncompressedDigestCoversTheWholeStream() throws {
        let images = try TamperedImages()
        let trailing = try #require(images.expected["trailing"])
        let path = try images.store.blobPath(trailing.layer)
        let stream = try ArchiveEntryStream(tarAt: path, uncompressedDigester: ContentStore.makeLayerDigester())
        var names: [String] = []
        while let header = try stream.nextHeader() { names.append(String(decoding: header.path, as: UTF8.self)) }
        #expect(names == ["bin/", "bin/app", "etc/", "etc/passwd"], "the tar itself is the good one")
        #expect(try stream.uncompressedDigest() == trailing.actual)
        #expect(throws: RunxlError.self) { _ = try stream.nextHeader() }

        // Stopped after the first entry: the rest is read for the digest all the same.
        let early = try ArchiveEntryStream(tarAt: path, uncompressedDigester: PortableStreamDigester())
        _ = try early.nextHeader()
        #expect(try early.uncompressedDigest() == trailing.actual)

        let unhashed = try ArchiveEntryStream(tarAt: path)
        #expect(throws: RunxlError.self) { _ = try unhashed.uncompressedDigest() }
    }
}
