import Foundation
import ImageStore
import OCI
import Registry
import RunxlBase
import Testing

/// Pulls from Debian's docker-registry on 127.0.0.1 (plain and with token auth), started and
/// stopped by each test.
@Suite(.enabled(if: StoreFixtures.registryPresent, "docker-registry, skopeo, umoci, openssl or curl missing: run Scripts/bootstrap"))
struct RegistryPullTests {
    let quiet = TransferReporter(style: .quiet)

    func puller(platform: PlatformSelector = .linuxAMD64, credentials: RegistryCredentials? = nil, dockerConfig: String? = nil) -> ImagePuller {
        ImagePuller(
            platform: platform,
            registry: RegistryOptions(credentials: credentials, dockerConfigPath: dockerConfig ?? "/nonexistent/config.json", timeoutSeconds: 10),
            reporter: quiet)
    }

    @Test func pullsAnImageAndItsIndex() throws {
        let fixtures = try StoreFixtures.directory()
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.push("oci:\(fixtures)/layout:latest", as: "busybox:latest")
        try registry.push("oci:\(fixtures)/multi:latest", as: "multi:latest")
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let imported = try ImageImporter(reporter: quiet).importImage(at: fixtures + "/layout", into: try ContentStore(root: scratch.path + "/other"))[0]

        let image = try puller().pull(try ImageReference(parsing: "\(registry.host)/busybox"), into: store)
        #expect(image.name == "\(registry.host)/busybox:latest")
        #expect(image.manifest.digest == imported.manifest.digest, "the registry serves the layout's manifest unchanged")
        try store.unpack(image, into: scratch.path + "/rootfs")
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/rootfs/bin/busybox"))

        let amd = try puller().pull(try ImageReference(parsing: "\(registry.host)/multi:latest"), into: store)
        let arm = try puller(platform: try PlatformSelector(parsing: "linux/arm64")).pull(
            try ImageReference(parsing: "\(registry.host)/multi:latest"), into: try ContentStore(root: scratch.path + "/arm"))
        #expect(amd.manifest.platform?.architecture == "amd64")
        #expect(arm.manifest.platform?.architecture == "arm64")
        #expect(amd.indexDigest != nil)
        // Pulling by digest checks the manifest against it.
        let byDigest = try puller().pull(try ImageReference(parsing: "\(registry.host)/busybox@\(image.manifest.digest)"), into: store)
        #expect(byDigest.manifest.digest == image.manifest.digest)
    }

    /// Four layers, three of them missing from the store: they download at once, one connection
    /// each, and the image unpacks with every layer's files.
    @Test(arguments: [1, 3]) func pullsALayeredImageOneOrSeveralLayersAtOnce(parallelLayers: Int) throws {
        let fixtures = try StoreFixtures.directory()
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.push("oci:\(fixtures)/layered:latest", as: "layered:latest")
        let scratch = try StoreScratch()
        let store = try scratch.store()
        // The busybox layer is there already: only the three new ones travel.
        _ = try ImageImporter(reporter: quiet).importImage(at: fixtures + "/layout", into: store)
        var layeredPuller = puller()
        layeredPuller.parallelLayers = parallelLayers
        let image = try layeredPuller.pull(try ImageReference(parsing: "\(registry.host)/layered"), into: store)
        let layers = try store.manifest(of: image).layers
        #expect(layers.count == 4)
        for layer in layers { #expect(store.hasBlob(layer.digest)) }
        try store.unpack(image, into: scratch.path + "/rootfs")
        for n in 1...3 {
            let size = (try? FileManager.default.attributesOfItem(atPath: scratch.path + "/rootfs/layer-\(n).bin")[.size] as? Int) ?? 0
            #expect(size == 200_000 * n)
        }
        #expect(try String(contentsOfFile: scratch.path + "/rootfs/etc/last-layer", encoding: .utf8) == "layer 3\n")
    }

    @Test func tokenAuthWithCredentialsFromTheFlagOrDockerConfig() throws {
        let fixtures = try StoreFixtures.directory()
        let registry = try LocalRegistry(token: "alice:s3cret")
        defer { registry.stop() }
        try registry.push("oci:\(fixtures)/layout:latest", as: "private/busybox:latest", creds: "alice:s3cret")
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let reference = try ImageReference(parsing: "\(registry.host)/private/busybox")
        let before = StoreFixtures.listing(store.root)
        for wrong in [nil, RegistryCredentials(username: "alice", password: "wrong")] {
            do {
                _ = try puller(credentials: wrong).pull(reference, into: store)
                Issue.record("pulled without the right credentials")
            } catch {
                #expect(error.code == .registryFailed)
                #expect(error.message.contains("127.0.0.1"), "names the URL: \(error.message)")
            }
            #expect(StoreFixtures.listing(store.root) == before)
        }
        _ = try puller(credentials: RegistryCredentials(username: "alice", password: "s3cret")).pull(reference, into: store)
        let config = scratch.path + "/docker-config.json"
        let auth = Data("alice:s3cret".utf8).base64EncodedString()
        try #"{"auths":{"\#(registry.host)":{"auth":"\#(auth)"}}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let other = try ContentStore(root: scratch.path + "/other")
        let image = try puller(dockerConfig: config).pull(reference, into: other)
        #expect(image.name == reference.description)
    }
}

/// Pulls from Tests/images/fake-registry.py, a registry that misbehaves on purpose. Every failure
/// must exit with a message naming the URL or digest and leave the store as it was.
@Suite(.enabled(if: StoreFixtures.fixtureToolsPresent, "umoci, skopeo or python3 missing: run Scripts/bootstrap"))
struct FaultyRegistryTests {
    let quiet = TransferReporter(style: .quiet)

    func pull(_ path: String, registry: LocalRegistry, store: ContentStore, credentials: RegistryCredentials? = nil, timeout: Int = 10)
        throws(RunxlError) -> StoredImage
    {
        let puller = ImagePuller(
            registry: RegistryOptions(credentials: credentials, dockerConfigPath: "/nonexistent/config.json", timeoutSeconds: timeout),
            reporter: quiet)
        return try puller.pull(try ImageReference(parsing: "\(registry.host)/\(path)"), into: store)
    }

    /// Runs a pull that must fail; returns its error after checking the store did not change.
    func failingPull(
        _ path: String, timeout: Int = 10, credentials: RegistryCredentials? = nil, layout: String = "layout"
    ) throws -> RunxlError {
        let fixtures = try StoreFixtures.directory()
        let registry = try LocalRegistry(fakeServing: fixtures + "/" + layout)
        defer { registry.stop() }
        let scratch = try StoreScratch()
        let store = try scratch.store()
        let before = StoreFixtures.listing(store.root)
        do {
            let image = try pull(path, registry: registry, store: store, credentials: credentials, timeout: timeout)
            Issue.record("pull of \(path) succeeded: \(image)")
            return RunxlError(.internal, "no error")
        } catch {
            #expect(StoreFixtures.listing(store.root) == before, "the store changed after a failed pull of \(path)")
            #expect(error.message.contains("127.0.0.1:\(registry.port)"), "the message names the registry: \(error.message)")
            return error
        }
    }

    @Test func tamperedBlob() throws {
        let error = try failingPull("tamper/busybox:latest")
        #expect(error.code == .digestMismatch)
        #expect(error.message.contains("expected sha256:"), "\(error.message)")
    }

    /// Four layers downloading at once, every one tampered: the first mismatch fails the pull,
    /// and nothing of the layers that did arrive is left in the store.
    @Test func tamperedBlobAmongLayersDownloadingAtOnce() throws {
        let error = try failingPull("tamper/layered:latest", layout: "layered")
        #expect(error.code == .digestMismatch)
        #expect(error.message.contains("expected sha256:"), "\(error.message)")
    }

    @Test func missingManifest() throws {
        let error = try failingPull("missing/busybox:latest")
        #expect(error.code == .imageNotFound)
        #expect(error.message.contains("404") && error.message.contains("/v2/missing/busybox/manifests/latest"))
    }

    @Test func deniedAccess() throws {
        let error = try failingPull("denied/busybox:latest")
        #expect(error.code == .registryFailed)
        #expect(error.message.contains("401"))
    }

    @Test func serverError() throws {
        let error = try failingPull("error/busybox:latest")
        #expect(error.code == .registryFailed)
        #expect(error.message.contains("500"))
    }

    @Test func hangingRegistryTimesOut() throws {
        let started = Date()
        let error = try failingPull("hang/busybox:latest", timeout: 2)
        #expect(error.code == .registryFailed)
        #expect(error.message.contains("timed out"))
        #expect(Date().timeIntervalSince(started) < 20)
    }

    /// A blob whose transfer stops half-way with the connection left open: the stall timeout
    /// ends each attempt (resumed ones too), and the pull fails naming the time-out.
    @Test func stallingBlobTimesOut() throws {
        let started = Date()
        let error = try failingPull("stall/busybox:latest", timeout: 2)
        #expect(error.code == .registryFailed, "\(error.code) \(error)")
        #expect(error.message.contains("timed out") || error.description.contains("timed out"), "\(error)")
        #expect(Date().timeIntervalSince(started) < 60)
    }

    @Test func unknownManifestMediaType() throws {
        let error = try failingPull("oddtype/busybox:latest")
        #expect(error.code == .invalidImage)
        #expect(error.message.contains("application/vnd.example.unknown+json"))
    }

    @Test func indexWithAnotherPlatformOnly() throws {
        let error = try failingPull("armonly/busybox:latest")
        #expect(error.code == .imageNotFound)
        #expect(error.message.contains("linux/arm64") && error.message.contains("linux/amd64"))
    }

    @Test func bearerFlowWithoutCredentialsFails() throws {
        let error = try failingPull("bearer/busybox:latest")
        #expect(error.code == .registryFailed)
        #expect(error.message.contains("token server"))
    }

    @Test func bearerFlowAndResumedDownloads() throws {
        let fixtures = try StoreFixtures.directory()
        let registry = try LocalRegistry(fakeServing: fixtures + "/layout")
        defer { registry.stop() }
        let scratch = try StoreScratch()
        let bearer = try pull(
            "bearer/busybox:latest", registry: registry, store: try scratch.store(),
            credentials: RegistryCredentials(username: "runxl", password: "secret"))
        // Every blob's first response breaks off half-way: the pull resumes with Range requests.
        let dropped = try pull("drop/busybox:latest", registry: registry, store: try ContentStore(root: scratch.path + "/drop"))
        #expect(bearer.manifest.digest == dropped.manifest.digest)
        let store = try ContentStore(root: scratch.path + "/drop")
        for layer in try store.manifest(of: dropped).layers { #expect(store.hasBlob(layer.digest)) }
    }
}
