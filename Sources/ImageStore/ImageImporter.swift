import OCI
public import Registry
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl image import PATH`: an OCI image layout directory, an oci-archive (a tar of one) or a
/// docker-archive (`docker save`), every blob's digest checked on the way in, all or nothing.
public struct ImageImporter {
    public var platform: PlatformSelector
    /// `--name`: the name to store the image under instead of the one the source carries.
    public var name: ImageReference?
    public var reporter: TransferReporter

    public init(platform: PlatformSelector = .linuxAMD64, name: ImageReference? = nil, reporter: TransferReporter) {
        self.platform = platform
        self.name = name
        self.reporter = reporter
    }

    /// A directory's or file's contents, wherever they were extracted to.
    private struct Source {
        /// What the user named, for messages.
        var origin: String
        /// An extracted file for a path inside the source, or nil.
        var file: (String) -> String?
        /// Extracted files belong to the operation and may be moved instead of copied.
        var consumable: Bool
    }

    public func importImage(at path: String, into store: ContentStore) throws(RunxlError) -> [StoredImage] {
        guard FileSystem.exists(path) else { throw RunxlError(.imageNotFound, "\(path) does not exist") }
        let operation = try store.beginOperation("import")
        defer { operation.close() }
        let source: Source
        if FileSystem.isDirectory(path) {
            source = Source(origin: path, file: { relative in Self.fileInside(path, relative) }, consumable: false)
        } else {
            let extracted = operation.staging + "/archive"
            var extractor = TarExtractor(archive: path, destination: extracted)
            try FileSystem.makeDirectories(extracted, mode: 0o700)
            try extractor.extract()
            let finished = extractor
            source = Source(origin: path, file: { relative in finished.resolve(relative) }, consumable: true)
        }
        let images: [StoredImage]
        if source.file("oci-layout") != nil || source.file("index.json") != nil {
            images = try importLayout(source, operation: operation)
        } else if source.file("manifest.json") != nil {
            images = try importDockerArchive(source, operation: operation)
        } else {
            throw RunxlError(
                .invalidImage,
                "\(path) is neither an OCI image layout (oci-layout, index.json), an oci-archive nor a docker-archive (manifest.json)")
        }
        try operation.commit(images)
        for image in images { reporter.note("\(image.name): \(image.manifest.digest)") }
        return images
    }

    /// A regular file inside `root` whose path has no symlink leading out of it; nil otherwise.
    static func fileInside(_ root: String, _ relative: String) -> String? {
        var current = root
        for component in relative.split(separator: "/") {
            guard component != "..", component != "." else { return nil }
            current += "/" + component
            var info = stat()
            guard lstat(current, &info) == 0 else { return nil }
            // Blobs are regular files; a symlink could lead anywhere on the host.
            if (info.st_mode & S_IFMT) == S_IFLNK { return nil }
        }
        return FileSystem.isDirectory(current) ? nil : current
    }

    // MARK: OCI image layout

    private func importLayout(_ source: Source, operation: StoreOperation) throws(RunxlError) -> [StoredImage] {
        guard let indexFile = source.file("index.json") else {
            throw RunxlError(.invalidImage, "\(source.origin): the image layout has no index.json")
        }
        if let layoutFile = source.file("oci-layout") {
            let layout = try ImageLayout.decode(try FileSystem.read(layoutFile), documentName: "\(source.origin): oci-layout")
            guard layout.imageLayoutVersion.hasPrefix("1.") else {
                throw RunxlError(.invalidImage, "\(source.origin): image layout version \(layout.imageLayoutVersion) is not supported")
            }
        }
        let index = try Index.decode(try FileSystem.read(indexFile), documentName: "\(source.origin): index.json")
        var entries = index.manifests
        guard !entries.isEmpty else { throw RunxlError(.imageNotFound, "\(source.origin): index.json lists no image") }
        if let name, entries.count > 1 {
            // Several images: --name picks the one whose ref.name is its tag (or the whole name).
            let matching = entries.filter { entry in
                let refName = entry.annotations?[ContentStore.refNameAnnotation]
                return refName == name.tag || refName == name.description
            }
            guard matching.count == 1 else {
                let names = entries.compactMap { $0.annotations?[ContentStore.refNameAnnotation] }
                throw RunxlError(
                    .usage,
                    "\(source.origin) holds \(entries.count) images (\(names.joined(separator: ", "))); --name must be one of their tags")
            }
            entries = matching
        }
        var images: [StoredImage] = []
        for entry in entries {
            let storedName = try nameFor(entry.annotations?[ContentStore.refNameAnnotation], origin: source.origin)
            guard !images.contains(where: { $0.name == storedName.description }) else {
                throw RunxlError(.usage, "\(source.origin) holds several images that would all be named \(storedName); import one with --name")
            }
            var manifestDescriptor = entry
            var indexDigest: String?
            let where_ = "\(source.origin) \(entry.digest)"
            switch try ImageDocuments.kind(of: entry.mediaType, source: where_) {
            case .index:
                let bytes = try ingestDocument(entry, from: source, operation: operation)
                let nested = try Index.decode(bytes, documentName: where_)
                manifestDescriptor = try platform.select(from: nested, source: where_)
                guard try ImageDocuments.kind(of: manifestDescriptor.mediaType, source: where_) == .manifest else {
                    throw RunxlError(.invalidImage, "\(where_): nested image indexes are not supported")
                }
                indexDigest = entry.digest
            case .manifest:
                break
            }
            let manifestBytes = try ingestDocument(manifestDescriptor, from: source, operation: operation)
            let manifestSource = "\(source.origin) manifest \(manifestDescriptor.digest)"
            let manifest = try ImageDocuments.manifest(manifestBytes, source: manifestSource)
            let configBytes = try ingestDocument(manifest.config, from: source, operation: operation)
            let config = try ImageDocuments.config(configBytes, manifest: manifest, source: manifestSource)
            try platform.check(config, source: "\(source.origin) (\(storedName))")
            for layer in manifest.layers {
                try ingestBlob(layer, from: source, operation: operation)
            }
            var descriptor = Descriptor(mediaType: manifestDescriptor.mediaType, digest: manifestDescriptor.digest, size: manifestDescriptor.size)
            descriptor.platform = Platform(architecture: config.architecture, os: config.os, variant: config.variant)
            images.append(StoredImage(name: storedName.description, manifest: descriptor, indexDigest: indexDigest))
        }
        return images
    }

    /// `--name`, else the source's own name: a full reference as is, a bare tag (what skopeo and
    /// umoci write as ref.name) under `localhost/ARCHIVE-NAME`.
    private func nameFor(_ annotation: String?, origin: String) throws(RunxlError) -> ImageReference {
        if let name { return name }
        if let annotation, annotation.contains("/") {
            return try ImageReference(parsing: annotation)
        }
        let tag = annotation.flatMap { ImageReference.isTag($0) ? $0 : nil } ?? ImageReference.defaultTag
        return ImageReference(domain: "localhost", repository: Self.repositoryName(from: origin), tag: tag, digest: nil)
    }

    /// `/x/busybox-oci.tar` → `busybox-oci`: lowercase, only characters a repository name allows.
    static func repositoryName(from path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? "image"
        for suffix in [".tar", ".oci", ".tgz"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
        let cleaned = base.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }
        let trimmed = String(cleaned).split(separator: "-").joined(separator: "-")
        return trimmed.isEmpty ? "image" : trimmed
    }

    private func blobFile(_ descriptor: Descriptor, in source: Source) throws(RunxlError) -> String {
        guard ImageReference.isDigest(descriptor.digest) else {
            throw RunxlError(.invalidImage, "\(source.origin): \(descriptor.digest): only sha256 digests are supported")
        }
        guard let file = source.file("blobs/sha256/" + descriptor.digest.dropFirst(7)) else {
            throw RunxlError(.invalidImage, "\(source.origin): blob \(descriptor.digest) is missing")
        }
        return file
    }

    private func ingestBlob(_ descriptor: Descriptor, from source: Source, operation: StoreOperation) throws(RunxlError) {
        if operation.has(descriptor.digest) { return }
        let file = try blobFile(descriptor, in: source)
        try operation.ingestFile(file, expected: descriptor, consume: source.consumable)
    }

    /// A small document, ingested and returned (read back from the verified copy).
    private func ingestDocument(_ descriptor: Descriptor, from source: Source, operation: StoreOperation) throws(RunxlError) -> [UInt8] {
        guard descriptor.size <= 16 << 20 else {
            throw RunxlError(.invalidImage, "\(source.origin): document \(descriptor.digest) claims \(descriptor.size) bytes")
        }
        try ingestBlob(descriptor, from: source, operation: operation)
        return try FileSystem.read(try operation.path(of: descriptor.digest))
    }

    // MARK: docker-archive

    private struct DockerManifestEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    /// `docker save`: manifest.json lists each image's config file and layer tars (uncompressed,
    /// so a layer's digest is its diff_id). Each becomes an OCI manifest in the store.
    private func importDockerArchive(_ source: Source, operation: StoreOperation) throws(RunxlError) -> [StoredImage] {
        guard let manifestFile = source.file("manifest.json") else { throw RunxlError(.invalidImage, "\(source.origin): no manifest.json") }
        let entries = try JSONDocument.decode(
            [DockerManifestEntry].self, from: try FileSystem.read(manifestFile), documentName: "\(source.origin): manifest.json",
            code: .invalidImage)
        guard !entries.isEmpty else { throw RunxlError(.imageNotFound, "\(source.origin): manifest.json lists no image") }
        if name != nil, entries.count > 1 {
            throw RunxlError(.usage, "\(source.origin) holds \(entries.count) images; --name needs an archive of one")
        }
        var images: [StoredImage] = []
        for entry in entries {
            guard let configFile = source.file(entry.Config) else {
                throw RunxlError(.invalidImage, "\(source.origin): config \(entry.Config) named by manifest.json is missing")
            }
            let configBytes = try FileSystem.read(configFile)
            guard configBytes.count <= 16 << 20 else { throw RunxlError(.invalidImage, "\(source.origin): \(entry.Config) is too large") }
            let configDigest = Digester.digest(configBytes)
            // `HEX.json` (docker) or `blobs/sha256/HEX` (newer docker): the name is the digest.
            let namedHex = String((entry.Config.split(separator: "/").last ?? "").prefix { $0 != "." })
            if ImageReference.isDigest("sha256:" + namedHex), "sha256:" + namedHex != configDigest {
                throw RunxlError(.digestMismatch, "\(source.origin): \(entry.Config) has digest \(configDigest), expected sha256:\(namedHex)")
            }
            let config = try ImageConfig.decode(configBytes, documentName: "\(source.origin): \(entry.Config)")
            guard config.rootfs.diffIDs.count == entry.Layers.count else {
                throw RunxlError(
                    .invalidImage,
                    "\(source.origin): \(entry.Config) lists \(config.rootfs.diffIDs.count) diff_ids for \(entry.Layers.count) layers")
            }
            try platform.check(config, source: source.origin)
            let configDescriptor = Descriptor(mediaType: MediaType.imageConfig, digest: configDigest, size: Int64(configBytes.count))
            try operation.stageVerifiedFile(try Self.writeStaged(configBytes, operation: operation), digest: configDigest)

            var layers: [Descriptor] = []
            for (position, layerName) in entry.Layers.enumerated() {
                guard let layerFile = source.file(layerName) else {
                    throw RunxlError(.invalidImage, "\(source.origin): layer \(layerName) named by manifest.json is missing")
                }
                let compressed = try Self.compression(of: layerFile)
                let diffID = config.rootfs.diffIDs[position]
                let target = operation.newFilePath("layer")
                // Layers may be shared by several images or named twice: copy, never move.
                let copied = try BlobCopier.copy(layerFile, to: target)
                if compressed == nil, copied.digest != diffID {
                    throw RunxlError(.digestMismatch, "\(source.origin): layer \(layerName) has digest \(copied.digest), expected \(diffID)")
                }
                try operation.stageVerifiedFile(target, digest: copied.digest)
                layers.append(Descriptor(mediaType: compressed ?? MediaType.imageLayer, digest: copied.digest, size: copied.size))
            }
            let manifest = Manifest(schemaVersion: 2, mediaType: MediaType.imageManifest, config: configDescriptor, layers: layers)
            let manifestBytes = Array(try manifest.encoded(pretty: false))
            let manifestDigest = try operation.stageBytes(manifestBytes)
            let descriptor = Descriptor(
                mediaType: MediaType.imageManifest, digest: manifestDigest, size: Int64(manifestBytes.count),
                platform: Platform(architecture: config.architecture, os: config.os, variant: config.variant))
            var names: [ImageReference] = []
            if let name {
                names = [name]
            } else {
                for tag in entry.RepoTags ?? [] { names.append(try ImageReference(parsing: tag)) }
                if names.isEmpty { names = [try nameFor(nil, origin: source.origin)] }
            }
            for reference in names {
                images.removeAll { $0.name == reference.description }
                images.append(StoredImage(name: reference.description, manifest: descriptor, indexDigest: nil))
            }
        }
        return images
    }

    private static func writeStaged(_ bytes: [UInt8], operation: StoreOperation) throws(RunxlError) -> String {
        let path = operation.newFilePath("config")
        try FileSystem.writeAtomically(path, bytes)
        return path
    }

    /// The layer media type for a compressed layer tar, nil for a plain one.
    static func compression(of path: String) throws(RunxlError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot read \(path)", cause: SystemCallError("open", errno: err))
        }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        let count = magic.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4) }
        if count >= 2, magic[0] == 0x1F, magic[1] == 0x8B { return MediaType.imageLayerGzip }
        if count == 4, magic == [0x28, 0xB5, 0x2F, 0xFD] { return MediaType.imageLayerZstd }
        return nil
    }
}
