import Foundation
@testable import Registry
import RunxlBase
import Testing

/// References as docker and podman normalize them, the registry's auth challenge and the docker
/// config's credentials: Registry's own parsing, without a store or a network.
@Suite struct ImageReferenceTests {
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runxl-registry-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/config.json"
        let auth = "YWxpY2U6czNjcjp0"  // alice:s3cr:t
        try #"{"auths":{"https://index.docker.io/v1/":{"auth":"\#(auth)"},"127.0.0.1:5000":{"username":"bob","password":"pw"}}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try RegistryCredentials.fromDockerConfig(path: path, domain: "docker.io") == RegistryCredentials(username: "alice", password: "s3cr:t"))
        #expect(try RegistryCredentials.fromDockerConfig(path: path, domain: "127.0.0.1:5000") == RegistryCredentials(username: "bob", password: "pw"))
        #expect(try RegistryCredentials.fromDockerConfig(path: path, domain: "quay.io") == nil)
        #expect(throws: RunxlError.self) { try RegistryCredentials(parsing: "nocolon") }
    }
}
