import OCI
public import Registry
public import RunxlBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `runxl image pull`: from an OCI distribution registry into the store, all or nothing.
public struct ImagePuller {
    public var platform: PlatformSelector
    public var registry: RegistryOptions
    public var reporter: TransferReporter
    /// How many layers download at once, each over a connection of its own (skopeo's
    /// containers/image runs 6); bounded so that a registry sees a few streams, not dozens.
    public var parallelLayers = 3

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

        var missing: [Descriptor] = []
        for layer in manifest.layers where !operation.has(layer.digest) && !missing.contains(where: { $0.digest == layer.digest }) {
            missing.append(layer)
        }
        for layer in manifest.layers where operation.has(layer.digest) {
            if reporter.style == .lines { reporter.note("layer \(TransferReporter.short(layer.digest)): already in the store") }
        }
        if missing.count > 1 && parallelLayers > 1 {
            try fetchInParallel(missing, client: client, operation: operation)
        } else {
            for layer in missing { try fetch(layer, what: "layer", client: client, operation: operation) }
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

    /// Downloads `layers` over `parallelLayers` connections at once, each verified as it streams
    /// (`fetchBlob`); they are staged only once all have arrived, so a failure leaves nothing.
    private func fetchInParallel(_ layers: [Descriptor], client: RegistryClient, operation: StoreOperation) throws(RunxlError) {
        let workers = min(parallelLayers, layers.count)
        var clients = [client]
        for _ in 1..<workers { clients.append(try client.sibling()) }
        let paths = layers.map { _ in operation.newFilePath("layer") }
        let pool = ParallelDownloads(layers: layers, paths: paths, clients: clients, reporter: reporter)
        reporter.beginGroup(count: layers.count, size: layers.reduce(0) { $0 + $1.size }, what: "layer")
        runOnThreads(workers) { worker in pool.work(as: worker) }
        if let error = pool.firstError {
            reporter.abandon()
            throw error
        }
        reporter.end()
        for (layer, path) in zip(layers, paths) { try operation.stageVerifiedFile(path, digest: layer.digest) }
    }

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

/// The shared state of one parallel download: the next layer to take, the bytes received per
/// layer (for one progress bar), the first error. Each worker thread owns one `RegistryClient`
/// and touches no other; everything shared goes through the lock, the reporter included.
private final class ParallelDownloads: @unchecked Sendable {
    private struct Progress {
        var next = 0
        var received: [Int64]
        var firstError: RunxlError?
    }

    private let layers: [Descriptor]
    private let paths: [String]
    private let clients: [RegistryClient]
    private let reporter: TransferReporter
    private let progress: Mutex<Progress>

    init(layers: [Descriptor], paths: [String], clients: [RegistryClient], reporter: TransferReporter) {
        self.layers = layers
        self.paths = paths
        self.clients = clients
        self.reporter = reporter
        progress = Mutex(Progress(received: Array(repeating: 0, count: layers.count)))
    }

    var firstError: RunxlError? { progress.withLock { $0.firstError } }

    /// Takes layers until none is left or one has failed (the others then stop at their next).
    func work(as worker: Int) {
        let client = clients[worker]
        while let index = take() {
            let layer = layers[index]
            let started = Clock.monotonicSeconds()
            do {
                try client.fetchBlob(layer, to: paths[index]) { [self] received in advance(index, received) }
            } catch {
                progress.withLock { if $0.firstError == nil { $0.firstError = error } }
                return
            }
            progress.withLock { _ in
                reporter.groupMemberDone(layer.digest, size: layer.size, what: "layer", seconds: Clock.monotonicSeconds() - started)
            }
        }
    }

    private func take() -> Int? {
        progress.withLock { state -> Int? in
            guard state.firstError == nil, state.next < layers.count else { return nil }
            defer { state.next += 1 }
            return state.next
        }
    }

    private func advance(_ index: Int, _ received: Int64) {
        progress.withLock { state in
            state.received[index] = received
            reporter.advance(state.received.reduce(0, +))
        }
    }
}
