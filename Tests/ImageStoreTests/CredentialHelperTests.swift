import Foundation
import ImageStore
import Registry
import RunxlBase
import Testing

/// Docker credential helpers (`credHelpers`, `credsStore`) run as docker runs them: fake
/// `docker-credential-NAME` scripts in a directory given as the helpers' search path.
struct CredentialHelperTests {
    /// A directory of helper scripts and a Docker config beside them.
    final class Helpers {
        let directory: String
        var config: String { directory + "/config.json" }

        init() throws {
            directory = NSTemporaryDirectory() + "runxl-helpers-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }

        /// `docker-credential-NAME`: a shell script that saves its stdin as NAME.stdin and its
        /// arguments as NAME.args, then runs `body` with the address in $address.
        func add(_ name: String, _ body: String) throws {
            let path = directory + "/docker-credential-" + name
            let script = """
                #!/bin/sh
                echo "$@" > "\(directory)/\(name).args"
                read -r address
                printf '%s\\n' "$address" > "\(directory)/\(name).stdin"
                \(body)
                """
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }

        /// A helper that answers every address with USER (and a warning on stderr, which must
        /// not reach the JSON).
        func answering(_ name: String, user: String) throws {
            try add(name, """
                echo "warning: this helper is chatty" >&2
                printf '{"ServerURL":"%s","Username":"\(user)","Secret":"secret-of-\(user)"}\\n' "$address"
                """)
        }

        func write(config: String) throws { try config.write(toFile: self.config, atomically: true, encoding: .utf8) }

        func stdin(_ name: String) -> String? { try? String(contentsOfFile: directory + "/\(name).stdin", encoding: .utf8) }

        func credentials(_ domain: String) throws(RunxlError) -> RegistryCredentials? {
            try RegistryCredentials.fromDockerConfig(path: config, domain: domain, helperSearchPath: "/nonexistent:" + directory)
        }
    }

    static func basic(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func credHelpersWinOverCredsStoreWhichWinsOverAuths() throws {
        let helpers = try Helpers()
        try helpers.answering("hostly", user: "from-credHelpers")
        try helpers.add("storey", """
            if [ "$address" = nothing.example ]; then echo "credentials not found in native keychain"; exit 1; fi
            printf '{"ServerURL":"%s","Username":"from-credsStore","Secret":"s"}\\n' "$address"
            """)
        try helpers.write(config: """
            {"credsStore": "storey", "credHelpers": {"127.0.0.1:5000": "hostly"},
             "auths": {"127.0.0.1:5000": {"auth": "\(Self.basic("from-auths:a"))"},
                       "quay.io": {"auth": "\(Self.basic("from-auths:a"))"},
                       "nothing.example": {"username": "from-auths", "password": "p"}}}
            """)
        #expect(try helpers.credentials("127.0.0.1:5000") == RegistryCredentials(username: "from-credHelpers", password: "secret-of-from-credHelpers"))
        #expect(helpers.stdin("hostly") == "127.0.0.1:5000\n", "the helper gets the registry host on stdin")
        #expect(try String(contentsOfFile: helpers.directory + "/hostly.args", encoding: .utf8) == "get\n")
        #expect(try helpers.credentials("quay.io")?.username == "from-credsStore")
        // The store has nothing for it: the auths entry is used.
        #expect(try helpers.credentials("nothing.example") == RegistryCredentials(username: "from-auths", password: "p"))
        // Docker Hub is asked for by its index address, as docker login stored it.
        #expect(try helpers.credentials("docker.io")?.username == "from-credsStore")
        #expect(helpers.stdin("storey") == "https://index.docker.io/v1/\n")
    }

    @Test func aCredHelpersKeyMayBeAURL() throws {
        let helpers = try Helpers()
        try helpers.answering("hub", user: "hub-user")
        try helpers.write(config: #"{"credHelpers": {"https://index.docker.io/v1/": "hub"}}"#)
        #expect(try helpers.credentials("docker.io")?.username == "hub-user")
        #expect(try helpers.credentials("quay.io") == nil, "no helper and no auths: anonymous")
    }

    /// Each broken helper gives `credentialHelperFailed` naming it (and what it said).
    @Test(arguments: [
        ("broken", "echo 'keychain is locked'; echo 'detail on stderr' >&2; exit 3", ["status 3", "keychain is locked", "detail on stderr"]),
        ("garbled", "echo 'this is not JSON'", ["JSON"]),
        ("partial", #"echo '{"Username": "only"}'"#, ["Secret"]),
        ("tokened", #"echo '{"Username": "<token>", "Secret": "refresh"}'"#, ["identity token"]),
    ])
    func aHelperThatFailsOrPrintsBadJSONIsNamed(name: String, body: String, expected: [String]) throws {
        let helpers = try Helpers()
        try helpers.add(name, body)
        try helpers.write(config: #"{"credHelpers": {"registry.example": "\#(name)"}}"#)
        do {
            _ = try helpers.credentials("registry.example")
            Issue.record("\(name) gave credentials")
        } catch {
            #expect(error.code == .credentialHelperFailed)
            for part in ["docker-credential-\(name)", "credHelpers[\"registry.example\"]"] + expected {
                #expect(error.message.contains(part), "\(name): \(error.message)")
            }
        }
    }

    @Test func aMissingHelperOrABadNameIsNamed() throws {
        let helpers = try Helpers()
        for (store, expected) in [("absent", "docker-credential-absent (credsStore in"), ("../../bin/sh", "not a credential helper name")] {
            try helpers.write(config: #"{"credsStore": "\#(store)"}"#)
            do {
                _ = try helpers.credentials("registry.example")
                Issue.record("\(store) gave credentials")
            } catch {
                #expect(error.code == .credentialHelperFailed)
                #expect(error.message.contains(expected), "\(error.message)")
            }
        }
    }

    /// A pull from the fake registry's Bearer flow, whose token server wants runxl:secret: the
    /// helper's credentials are what it gets; a failing helper fails the pull, store unchanged.
    @Test(.enabled(if: StoreFixtures.fixtureToolsPresent, "umoci, skopeo or python3 missing: run Scripts/bootstrap"))
    func aPullUsesTheHelpersCredentials() throws {
        let fixtures = try StoreFixtures.directory()
        let registry = try LocalRegistry(fakeServing: fixtures + "/layout")
        defer { registry.stop() }
        let helpers = try Helpers()
        try helpers.add("fake", #"printf '{"ServerURL":"%s","Username":"runxl","Secret":"secret"}\n' "$address""#)
        try helpers.add("broken", "echo 'no access'; exit 1")
        let scratch = try StoreScratch()
        let reference = try ImageReference(parsing: "\(registry.host)/bearer/busybox:latest")
        func puller() -> ImagePuller {
            ImagePuller(
                registry: RegistryOptions(dockerConfigPath: helpers.config, credentialHelperSearchPath: helpers.directory, timeoutSeconds: 10),
                reporter: TransferReporter(style: .quiet))
        }

        try helpers.write(config: #"{"credsStore": "broken", "credHelpers": {"\#(registry.host)": "fake"}}"#)
        let image = try puller().pull(reference, into: try scratch.store())
        #expect(image.name == reference.description)
        #expect(helpers.stdin("fake") == registry.host + "\n")

        try helpers.write(config: #"{"credsStore": "broken"}"#)
        let store = try ContentStore(root: scratch.path + "/other")
        let before = StoreFixtures.listing(store.root)
        do {
            _ = try puller().pull(reference, into: store)
            Issue.record("pulled with a broken helper")
        } catch {
            #expect(error.code == .credentialHelperFailed)
            #expect(error.message.contains("docker-credential-broken") && error.message.contains("no access"), "\(error.message)")
        }
        #expect(StoreFixtures.listing(store.root) == before)
    }
}
