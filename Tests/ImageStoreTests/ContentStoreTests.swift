import Foundation
import ImageStore
import OCI
import Registry
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Edits of a copied OCI layout that keep its digests consistent (or break them on purpose).
enum LayoutSurgery {
    static func blobPath(_ layout: String, _ digest: String) -> String { layout + "/blobs/sha256/" + digest.dropFirst(7) }

    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
    }

    static func writeBlob(_ layout: String, _ object: [String: Any]) throws -> (digest: String, size: Int) {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        let digest = Digester.digest([UInt8](data))
        try data.write(to: URL(fileURLWithPath: blobPath(layout, digest)))
        return (digest, data.count)
    }

    /// The first manifest of index.json, edited by `change`, written back with new digests.
    static func editManifest(_ layout: String, _ change: (inout [String: Any]) -> Void) throws {
        var index = try json(layout + "/index.json")
        var entries = index["manifests"] as? [[String: Any]] ?? []
        var manifest = try json(blobPath(layout, entries[0]["digest"] as? String ?? ""))
        change(&manifest)
        let written = try writeBlob(layout, manifest)
        entries[0]["digest"] = written.digest
        entries[0]["size"] = written.size
        index["manifests"] = entries
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: layout + "/index.json"))
    }

    static func firstLayerDigest(_ layout: String) throws -> String {
        let index = try json(layout + "/index.json")
        let entries = index["manifests"] as? [[String: Any]] ?? []
        let manifest = try json(blobPath(layout, entries[0]["digest"] as? String ?? ""))
        return ((manifest["layers"] as? [[String: Any]])?.first?["digest"] as? String) ?? ""
    }
}

@Suite(.enabled(if: StoreFixtures.fixtureToolsPresent, "umoci, skopeo, python3 or busybox-static missing: run Scripts/bootstrap"))
struct ContentStoreTests {
    let quiet = TransferReporter(style: .quiet)

    @Test func importsALayoutAnOCIArchiveAndADockerArchive() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let importer = ImageImporter(reporter: quiet)
        let layout = try importer.importImage(at: fixtures + "/layout", into: store)
        let archive = try importer.importImage(at: fixtures + "/busybox-oci.tar", into: store)
        let docker = try importer.importImage(at: fixtures + "/busybox-docker.tar", into: store)
        #expect(layout.map(\.name) == ["localhost/layout:latest"])
        #expect(archive.map(\.name) == ["localhost/busybox-oci:latest"])
        #expect(docker.map(\.name) == ["docker.io/library/busybox:latest"])
        // The archive is the layout, byte for byte: the same manifest.
        #expect(layout[0].manifest.digest == archive[0].manifest.digest)
        #expect(Set(try store.images().map(\.name)) == ["localhost/layout:latest", "localhost/busybox-oci:latest", "docker.io/library/busybox:latest"])

        // docker-archive: an OCI manifest whose layer digest is the layer tar's, its diff_id.
        let dockerImage = try store.image("busybox")
        let manifest = try store.manifest(of: dockerImage)
        let config = try store.config(of: dockerImage, manifest: manifest)
        #expect(manifest.mediaType == MediaType.imageManifest)
        #expect(manifest.layers.map(\.digest) == config.rootfs.diffIDs)
        #expect(manifest.layers.map(\.mediaType) == [MediaType.imageLayer])
        #expect(config.config?.cmd == ["sh"])
        for layer in manifest.layers { #expect(store.hasBlob(layer.digest)) }
    }

    @Test func importPicksThePlatformOfAnIndex() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let amd = try ImageImporter(reporter: quiet).importImage(at: fixtures + "/multi", into: store)[0]
        let arm = try ImageImporter(platform: try PlatformSelector(parsing: "linux/arm64"), name: try ImageReference(parsing: "multi:arm"), reporter: quiet)
            .importImage(at: fixtures + "/multi", into: store)[0]
        #expect(amd.manifest.platform?.architecture == "amd64")
        #expect(arm.manifest.platform?.architecture == "arm64")
        #expect(amd.indexDigest != nil && amd.indexDigest == arm.indexDigest)
        #expect(amd.manifest.digest != arm.manifest.digest)
    }

    @Test func anotherPlatformOnlyIsRefusedAndTheStoreUnchanged() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let before = StoreFixtures.listing(store.root)
        do {
            _ = try ImageImporter(reporter: quiet).importImage(at: fixtures + "/arm64-only", into: store)
            Issue.record("an arm64-only image was imported as linux/amd64")
        } catch {
            #expect(error.code == .imageNotFound)
            #expect(error.message.contains("linux/arm64") && error.message.contains("arm64-only"), "\(error.message)")
        }
        #expect(StoreFixtures.listing(store.root) == before)
    }

    @Test func aTamperedBlobIsRefusedNamingItsDigest() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let layout = scratch.path + "/tampered"
        try StoreFixtures.copy(fixtures + "/layout", to: layout)
        let digest = try LayoutSurgery.firstLayerDigest(layout)
        let blob = LayoutSurgery.blobPath(layout, digest)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: blob)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: blob))
        let store = try scratch.store()
        let before = StoreFixtures.listing(store.root)
        do {
            _ = try ImageImporter(reporter: quiet).importImage(at: layout, into: store)
            Issue.record("a tampered layer was imported")
        } catch {
            #expect(error.code == .digestMismatch)
            #expect(error.message.contains(digest), "\(error.message)")
        }
        #expect(StoreFixtures.listing(store.root) == before)
    }

    @Test func aTamperedDockerArchiveLayerIsRefused() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let extracted = scratch.path + "/docker"
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        try StoreFixtures.run("tar", ["-xf", fixtures + "/busybox-docker.tar", "-C", extracted])
        let layer = try FileManager.default.contentsOfDirectory(atPath: extracted).first { $0.hasSuffix(".tar") } ?? ""
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: extracted + "/" + layer))
        try handle.seek(toOffset: 600)
        try handle.write(contentsOf: Data([0x42]))
        try handle.close()
        try StoreFixtures.run("tar", ["-cf", scratch.path + "/tampered.tar", "-C", extracted, "."])
        let store = try scratch.store()
        let before = StoreFixtures.listing(store.root)
        #expect(throws: RunxlError.self) { try ImageImporter(reporter: quiet).importImage(at: scratch.path + "/tampered.tar", into: store) }
        do {
            _ = try ImageImporter(reporter: quiet).importImage(at: scratch.path + "/tampered.tar", into: store)
        } catch {
            #expect(error.code == .digestMismatch)
            #expect(error.message.contains("sha256:" + layer.dropLast(4)), "names the expected diff_id: \(error.message)")
        }
        #expect(StoreFixtures.listing(store.root) == before)
    }

    @Test func anUnknownLayerMediaTypeIsRefused() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let layout = scratch.path + "/odd"
        try StoreFixtures.copy(fixtures + "/layout", to: layout)
        try LayoutSurgery.editManifest(layout) { manifest in
            var layers = manifest["layers"] as? [[String: Any]] ?? []
            layers[0]["mediaType"] = "application/vnd.example.layer.v1.tar+lzip"
            manifest["layers"] = layers
        }
        let store = try scratch.store()
        let before = StoreFixtures.listing(store.root)
        do {
            _ = try ImageImporter(reporter: quiet).importImage(at: layout, into: store)
            Issue.record("a layer of unknown media type was imported")
        } catch {
            #expect(error.code == .invalidImage)
            #expect(error.message.contains("application/vnd.example.layer.v1.tar+lzip"), "\(error.message)")
        }
        #expect(StoreFixtures.listing(store.root) == before)
    }

    @Test func hostileArchivePathsAreRefused() throws {
        let scratch = try StoreScratch()
        // A tar whose entry climbs out with `..`, written with Python's tarfile.
        try StoreFixtures.run("python3", ["-c", """
            import io, tarfile, sys
            with tarfile.open(sys.argv[1], "w") as t:
                data = b"owned"
                info = tarfile.TarInfo("../../escaped")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            """, scratch.path + "/evil.tar"])
        let store = try scratch.store()
        do {
            _ = try ImageImporter(reporter: quiet).importImage(at: scratch.path + "/evil.tar", into: store)
            Issue.record("an archive entry with .. was accepted")
        } catch {
            #expect(error.message.contains("../../escaped"), "\(error.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/escaped"))
        #expect(!FileManager.default.fileExists(atPath: store.root + "/escaped"))
    }

    @Test func removeCollectsUnreferencedBlobsAndLeftovers() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let importer = ImageImporter(reporter: quiet)
        _ = try importer.importImage(at: fixtures + "/layout", into: store)
        _ = try ImageImporter(name: try ImageReference(parsing: "second"), reporter: quiet).importImage(at: fixtures + "/busybox-docker.tar", into: store)
        let blobs = store.root + "/blobs/sha256"
        let allBlobs = try FileManager.default.contentsOfDirectory(atPath: blobs).count
        // What a process killed mid-pull leaves: a staging directory and a half-written index.
        try FileManager.default.createDirectory(atPath: store.root + "/tmp/pull-99999-0", withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: store.root + "/tmp/pull-99999-0/layer-1"))
        try Data("{".utf8).write(to: URL(fileURLWithPath: store.root + "/index.json.99999" + FileSystem.temporarySuffix))

        try store.removeImage("second")
        let report = try #require(try store.collectGarbage(wait: true))
        // The docker-archive's manifest and uncompressed layer; its config is the layout's too.
        #expect(report.blobsRemoved == 2)
        #expect(report.leftoversRemoved == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs).count == allBlobs - 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root + "/tmp").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: store.root + "/index.json.99999" + FileSystem.temporarySuffix))
        // What is still named is intact.
        let image = try store.image("localhost/layout")
        let manifest = try store.manifest(of: image)
        for layer in manifest.layers { #expect(store.hasBlob(layer.digest)) }
        #expect(throws: RunxlError.self) { try store.image("second") }
    }

    /// A running operation (holding gc.lock shared) keeps garbage collection away from its blobs.
    @Test func garbageCollectionWaitsForRunningOperations() throws {
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let operation = try store.beginOperation("test")
        let staged = try operation.stageBytes(Array("{}".utf8))
        #expect(try store.collectGarbage(wait: false) == nil)
        #expect(FileManager.default.fileExists(atPath: operation.staging))
        operation.close()
        #expect(!FileManager.default.fileExists(atPath: operation.staging))
        #expect(try store.collectGarbage(wait: false) != nil)
        #expect(!store.hasBlob(staged))
    }

    @Test func unpackMatchesUmoci() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let image = try ImageImporter(reporter: quiet).importImage(at: fixtures + "/busybox-docker.tar", into: store)[0]
        try store.unpack(image, into: scratch.path + "/ours")
        try StoreFixtures.run("umoci", ["unpack", "--image", fixtures + "/layout:latest", scratch.path + "/bundle"])
        func tree(_ root: String) throws -> String {
            try StoreFixtures.run("sh", ["-c", "cd \"$1\" && find . -printf '%p %y %m %U %G %s %l\\n' | sort", "sh", root])
        }
        #expect(try tree(scratch.path + "/ours") == tree(scratch.path + "/bundle/rootfs"))
    }

    @Test func aTruncatedGzipLayerFailsTheUnpackNamingTheLayer() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let image = try ImageImporter(reporter: quiet).importImage(at: fixtures + "/truncated", into: store)[0]
        let layer = try store.manifest(of: image).layers[0].digest
        let target = scratch.path + "/rootfs"
        do {
            try store.unpack(image, into: target)
            Issue.record("a truncated gzip layer unpacked")
        } catch {
            #expect(error.message.contains(layer), "\(error.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: target), "a failed unpack leaves no half rootfs")
    }

    @Test func convertBundleFromAnImage() throws {
        let fixtures = try StoreFixtures.directory()
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let image = try ImageImporter(reporter: quiet).importImage(at: fixtures + "/layout", into: store)[0]
        let spec = try ImageBundle.create(image, store: store, at: scratch.path + "/bundle")
        #expect(spec.process?.args == ["sh"])
        #expect(spec.process?.cwd == "/home/user")
        #expect(spec.process?.user?.uid == 1000 && spec.process?.user?.gid == 1000)
        #expect(spec.process?.env?.contains("RUNXL_FIXTURE=1") == true)
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/bundle/rootfs/bin/busybox"))
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/bundle/config.json"))
    }
}
