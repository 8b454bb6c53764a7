import ImageStore
import OCI
@testable import Registry
import RunxlBase
import Testing

@Suite struct ReferenceTests {
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36"),
        ("index.docker.io/user/app", "docker.io/user/app:latest"),
        ("quay.io/org/app:v1", "quay.io/org/app:v1"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        ("localhost/app:dev", "localhost/app:dev"),
        ("localhost:5000/a/b/c:x.y-z", "localhost:5000/a/b/c:x.y-z"),
        ("registry.example.com:443/a__b/c-d:t", "registry.example.com:443/a__b/c-d:t"),
        ("busybox@sha256:" + String(repeating: "ab", count: 32), "docker.io/library/busybox@sha256:" + String(repeating: "ab", count: 32)),
        ("busybox:1@sha256:" + String(repeating: "0", count: 64), "docker.io/library/busybox:1@sha256:" + String(repeating: "0", count: 64)),
    ])
    func normalizesLikeDocker(_ input: String, _ expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test(arguments: [
        "", "Busybox", "busybox:", ":tag", "/busybox", "busybox/", "a//b", "busybox@sha256:abc", "busybox@md5:" + String(repeating: "a", count: 32),
        "bad ref", "app:-tag", "a..b", "-app", "host:port/app", "app@", "ba$d",
    ])
    func refusesWhatDockerRefuses(_ input: String) {
        #expect(throws: RunxlError.self) { try ImageReference(parsing: input) }
        do {
            _ = try ImageReference(parsing: input)
        } catch {
            #expect(error.message.contains("'\(input)'"), "the error names the reference: \(error.message)")
            #expect(error.code == .usage)
        }
    }

    @Test func loopbackRegistriesUsePlainHTTP() throws {
        #expect(try ImageReference(parsing: "127.0.0.1:5000/a").isLoopback)
        #expect(try ImageReference(parsing: "localhost/a").isLoopback)
        #expect(try !ImageReference(parsing: "quay.io/a").isLoopback)
        #expect(try ImageReference(parsing: "busybox").registryHost == "registry-1.docker.io")
    }

    @Test func platformSelection() throws {
        #expect(try PlatformSelector(parsing: "linux/arm64/v8") == PlatformSelector(os: "linux", architecture: "arm64", variant: "v8"))
        #expect(throws: RunxlError.self) { try PlatformSelector(parsing: "linux") }
        #expect(throws: RunxlError.self) { try PlatformSelector(parsing: "linux/amd64/x/y") }
        let arm = try PlatformSelector(parsing: "linux/arm64/v8")
        #expect(arm.matches(os: "linux", architecture: "arm64", variant: nil), "arm64's default variant is v8")
        #expect(!arm.matches(os: "linux", architecture: "amd64", variant: nil))
        let index = Index(schemaVersion: 2, manifests: [
            Descriptor(mediaType: MediaType.imageManifest, digest: "sha256:" + String(repeating: "1", count: 64), size: 1,
                       platform: Platform(architecture: "s390x", os: "linux")),
        ])
        do {
            _ = try PlatformSelector.linuxAMD64.select(from: index, source: "test-index")
            Issue.record("selected a manifest for the wrong platform")
        } catch {
            #expect(error.message.contains("linux/s390x") && error.message.contains("linux/amd64") && error.message.contains("test-index"))
        }
    }

    @Test func bearerChallengeParsing() throws {
        let challenge = try #require(AuthChallenge(
            parsing: #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#))
        #expect(challenge.scheme == "bearer")
        #expect(challenge.parameters["realm"] == "https://auth.docker.io/token")
        #expect(challenge.parameters["service"] == "registry.docker.io")
        #expect(challenge.parameters["scope"] == "repository:library/busybox:pull,push")
        #expect(AuthChallenge(parsing: #"Basic realm="x""#)?.scheme == "basic")
        #expect(RegistryClient.percentEncode("repository:a/b:pull") == "repository%3Aa%2Fb%3Apull")
    }

    @Test func credentialsFromDockerConfig() throws {
        let scratch = try StoreScratch()
        let path = scratch.path + "/config.json"
        let auth = "YWxpY2U6czNjcjp0"  // alice:s3cr:t
        try #"{"auths":{"https://index.docker.io/v1/":{"auth":"\#(auth)"},"127.0.0.1:5000":{"username":"bob","password":"pw"}}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try RegistryCredentials.fromDockerConfig(path: path, domain: "docker.io") == RegistryCredentials(username: "alice", password: "s3cr:t"))
        #expect(try RegistryCredentials.fromDockerConfig(path: path, domain: "127.0.0.1:5000") == RegistryCredentials(username: "bob", password: "pw"))
        #expect(try RegistryCredentials.fromDockerConfig(path: path, domain: "quay.io") == nil)
        #expect(throws: RunxlError.self) { try RegistryCredentials(parsing: "nocolon") }
    }
}

@Suite struct DigestTests {
    static let vectors: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    @Test func knownVectors() {
        for (input, expected) in Self.vectors {
            var hasher = SHA256()
            hasher.update(input)
            #expect(hasher.finalizeHex() == expected)
            #expect(Digester.digest(Array(input.utf8)) == "sha256:" + expected)
        }
        var million = SHA256()
        million.update([UInt8](repeating: 0x61, count: 1_000_000))
        #expect(million.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Pieces of every size across block boundaries give the digest of the whole.
    @Test func chunkedUpdatesMatchTheWhole() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var whole = SHA256()
        whole.update(data)
        let expected = whole.finalizeHex()
        for step in [1, 3, 63, 64, 65, 127, 1000] {
            var pieces = SHA256()
            let digester = Digester()
            var offset = 0
            while offset < data.count {
                let end = min(data.count, offset + step)
                pieces.update(data[offset..<end])
                data[offset..<end].withUnsafeBytes { digester.update($0) }
                offset = end
            }
            #expect(pieces.finalizeHex() == expected, "step \(step)")
            #expect(digester.finalizeDigest() == "sha256:" + expected, "step \(step)")
        }
    }

    @Test func blobDigestsUseLibcrypto() {
        #expect(Digester().usesLibcrypto, "libcrypto.so.3 should load where libcurl4 is installed")
    }
}
