import OCI
public import Registry
public import RunxlBase

/// `runxl image pull`: from an OCI distribution registry into the store, all or nothing.
public struct ImagePuller {
    public var platform: PlatformSelector
    public var registry: RegistryOptions
    public var reporter: TransferReporter

    public init(platform: PlatformSelector = .linuxAMD64, registry: RegistryOptions = RegistryOptions(), reporter: TransferReporter) {
        self.platform = platform
        self.registry = registry
        self.reporter = reporter
    }

    /// Fetches the manifest (choosing the platform's from an index), the config and the layers
    /// the store lacks, every digest checked as it streams; then publishes the name. On any
    /// error the store is as it was.
    public func pull(_ reference: ImageReference, into store: ContentStore) throws(RunxlError) -> StoredImage {
        let client = try RegistryClient(reference: reference, options: registry)
        let operation = try store.beginOperation("pull")
        defer { operation.close() }

        let top = try client.fetchManifest(reference.manifestReference)
        var manifestDocument = top
        var indexDigest: String?
        switch try ImageDocuments.kind(of: top.mediaType, source: top.url) {
        case .index:
            let index = try Index.decode(top.bytes, documentName: top.url)
            let chosen = try platform.select(from: index, source: "\(reference) (\(top.url))")
            manifestDocument = try client.fetchManifest(chosen.digest)
            guard try ImageDocuments.kind(of: manifestDocument.mediaType, source: manifestDocument.url) == .manifest else {
                throw RunxlError(.invalidImage, "\(manifestDocument.url): nested image indexes are not supported")
            }
            indexDigest = try operation.stageBytes(top.bytes)
        case .manifest:
            break
        }
        let manifest = try ImageDocuments.manifest(manifestDocument.bytes, source: manifestDocument.url)

        // The config first: it says whether the image is for this platform at all, before any
        // layer is downloaded.
        try fetch(manifest.config, what: "config", client: client, operation: operation)
        let configBytes = try FileSystem.read(try operation.path(of: manifest.config.digest))
        let config = try ImageDocuments.config(configBytes, manifest: manifest, source: manifestDocument.url)
        try platform.check(config, source: "\(reference) (\(manifestDocument.url))")

        for layer in manifest.layers {
            try fetch(layer, what: "layer", client: client, operation: operation)
        }
        let manifestDigest = try operation.stageBytes(manifestDocument.bytes)
        let descriptor = Descriptor(
            mediaType: manifestDocument.mediaType, digest: manifestDigest, size: Int64(manifestDocument.bytes.count),
            platform: Platform(architecture: config.architecture, os: config.os, variant: config.variant))
        let image = StoredImage(name: Self.storedName(reference), manifest: descriptor, indexDigest: indexDigest)
        try operation.commit([image])
        reporter.note("\(image.name): \(manifestDigest)")
        return image
    }

    /// The name an image is stored under: the reference as given, normalized.
    static func storedName(_ reference: ImageReference) -> String { reference.description }

    private func fetch(_ descriptor: Descriptor, what: String, client: RegistryClient, operation: StoreOperation) throws(RunxlError) {
        if operation.has(descriptor.digest) {
            if reporter.style == .lines { reporter.note("\(what) \(TransferReporter.short(descriptor.digest)): already in the store") }
            return
        }
        let path = operation.newFilePath(what)
        reporter.begin(descriptor.digest, size: descriptor.size, what: what)
        do {
            try client.fetchBlob(descriptor, to: path) { received in reporter.advance(received) }
        } catch {
            reporter.abandon()
            throw error
        }
        reporter.end()
        try operation.stageVerifiedFile(path, digest: descriptor.digest)
    }
}
