import ImageStore
import OCI
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The ImageStore fuzz targets' bodies: Scripts/fuzz compiles this file into the libFuzzer
/// binaries and FuzzRegressionTests replays the committed corpus and crash inputs through it.
/// Each returns the invariants the input broke; a thrown `RunxlError` is the expected answer.
enum ImageStoreFuzzHarness {
    static let targets: [String: @Sendable ([UInt8]) -> [String]] = [
        "image-manifest": imageManifest,
        "image-index": imageIndex,
        "image-config": imageConfig,
        "layer-unpack": layerUnpack,
    ]

    static func imageManifest(_ input: [UInt8]) -> [String] {
        guard let manifest = try? ImageDocuments.manifest(input, source: "fuzz") else { return [] }
        if let mediaType = manifest.mediaType { _ = try? ImageDocuments.kind(of: mediaType, source: "fuzz") }
        return roundTrip(manifest)
    }

    static func imageIndex(_ input: [UInt8]) -> [String] {
        guard let index = try? Index.decode(input) else { return [] }
        for descriptor in index.manifests { _ = try? ImageDocuments.kind(of: descriptor.mediaType, source: "fuzz") }
        return roundTrip(index)
    }

    /// The config is checked against a manifest with as many layers as the input's first byte says.
    static func imageConfig(_ input: [UInt8]) -> [String] {
        guard let first = input.first else { return [] }
        let layer = Descriptor(mediaType: MediaType.imageLayerGzip, digest: "sha256:" + String(repeating: "0", count: 64), size: 1)
        let manifest = Manifest(
            schemaVersion: 2, mediaType: MediaType.imageManifest,
            config: Descriptor(mediaType: MediaType.imageConfig, digest: "sha256:" + String(repeating: "1", count: 64), size: 1),
            layers: Array(repeating: layer, count: Int(first % 4)))
        guard let config = try? ImageDocuments.config(Array(input.dropFirst()), manifest: manifest, source: "fuzz") else { return [] }
        return roundTrip(config)
    }

    private static func roundTrip<Document: OCIDocument>(_ document: Document) -> [String] {
        do {
            let again = try Document.decode([UInt8](document.encoded(pretty: false)))
            return again == document ? [] : ["\(Document.documentName) does not survive encode and decode"]
        } catch {
            return ["decoded \(Document.documentName) does not decode again after encoding: \(error)"]
        }
    }

    /// A layer blob (tar, gzip or zstd) applied to an empty rootfs three directories down a
    /// scratch tree whose other files are fixed: whether it unpacks or is refused, nothing
    /// outside the rootfs may change. Traversal out of the rootfs lands in the scratch tree first.
    static func layerUnpack(_ input: [UInt8]) -> [String] {
        let scratch = "/tmp/runxl-fuzz-layer-\(getpid())"
        let rootfs = scratch + "/a/b/rootfs"
        do {
            if FileSystem.exists(scratch) { try FileSystem.removeTree(scratch) }
            try FileSystem.makeDirectories(scratch + "/a/b/sibling", mode: 0o755)
            try FileSystem.makeDirectories(rootfs, mode: 0o755)
            try FileSystem.writeAtomically(scratch + "/secret", Array("secret\n".utf8))
            try FileSystem.writeAtomically(scratch + "/a/b/sibling/secret", Array("secret\n".utf8))
            try FileSystem.writeAtomically(scratch + "/layer", input)
        } catch {
            return ["cannot prepare the scratch tree: \(error)"]
        }
        let before = outsideSnapshot(scratch, rootfs: rootfs)
        do {
            try LayerUnpacker(rootfs: rootfs).apply(layerAt: scratch + "/layer", diffID: nil)
        } catch {}
        let after = outsideSnapshot(scratch, rootfs: rootfs)
        // Owner write permission first, so that removeTree can enter what the layer made read-only.
        makeWritable(rootfs)
        try? FileSystem.removeTree(scratch)
        return before == after ? [] : ["layer changed files outside its rootfs: \(Set(after).symmetricDifference(before).sorted())"]
    }

    /// Every path under `root` except the rootfs, with its type, mode, size and link target.
    private static func outsideSnapshot(_ root: String, rootfs: String) -> [String] {
        var entries: [String] = []
        func walk(_ path: String) {
            guard path != rootfs else { return }
            var status = stat()
            guard lstat(path, &status) == 0 else { return }
            var line = "\(path) \(String(status.st_mode, radix: 8)) \(status.st_size) \(status.st_nlink)"
            if status.st_mode & S_IFMT == S_IFLNK {
                var target = [CChar](repeating: 0, count: 4097)
                let count = readlink(path, &target, 4096)
                if count >= 0 { line += " -> " + String(decoding: target[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            }
            if status.st_mode & S_IFMT == S_IFREG, let bytes = try? FileSystem.read(path) {
                line += " " + String(decoding: bytes.prefix(64), as: UTF8.self)
            }
            entries.append(line)
            if status.st_mode & S_IFMT == S_IFDIR, let names = try? FileSystem.listDirectory(path) {
                for name in names.sorted() { walk(path + "/" + name) }
            }
        }
        walk(root)
        return entries
    }

    private static func makeWritable(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else { return }
        chmod(path, (status.st_mode & 0o7777) | 0o700)
        for name in (try? FileSystem.listDirectory(path)) ?? [] { makeWritable(path + "/" + name) }
    }
}
