internal import FoundationEssentials
import OCI
public import RunxlBase

/// A user name and password (or token) for a registry.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `user:password`, as `--creds` takes it (the password may contain colons).
    public init(parsing text: String) throws(RunxlError) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw RunxlError(.usage, "--creds takes USER:PASSWORD")
        }
        self.init(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }

    var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }

    /// The credentials docker would use for `domain`, from its config.json, or nil: in docker's
    /// order, the helper `credHelpers` names for the registry, else the `credsStore` helper, else
    /// the inline `auths` entry (`auth` base64, or `username`/`password`).
    ///
    /// A helper that has nothing for the registry (it says "credentials not found") passes on to
    /// the next source, as podman does (docker would then go anonymous); one that is missing,
    /// fails, or prints no JSON answer is `credentialHelperFailed` naming it. Helpers are looked
    /// up in `helperSearchPath` (PATH's form; nil: `$PATH`) and run only when a registry asks
    /// for credentials.
    public static func fromDockerConfig(
        path: String, domain: String, helperSearchPath: String? = nil, helperTimeoutSeconds: Double = 30
    ) throws(RunxlError) -> RegistryCredentials? {
        guard FileSystem.exists(path) else { return nil }
        let bytes = try FileSystem.read(path)
        let config = try JSONDocument.decode(DockerConfig.self, from: bytes, documentName: path, code: .invalidDocument)
        let wanted = domain == ImageReference.defaultDomain
            ? ["docker.io", "index.docker.io", "registry-1.docker.io"] : [domain]
        let searchPath = helperSearchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? ""
        // docker asks about Docker Hub by its index address, the key `docker login` stores it under.
        let serverAddress = domain == ImageReference.defaultDomain ? dockerHubServerAddress : domain

        // An exact key first, then a key that names the same host (a URL, say).
        let helperKeys = (config.credHelpers ?? [:]).keys.sorted()
        if let key = helperKeys.first(where: { wanted.contains($0) })
            ?? helperKeys.first(where: { wanted.contains(Self.host(ofAuthKey: $0)) }),
            let name = config.credHelpers?[key]
        {
            let helper = CredentialHelper(name: name, source: "credHelpers[\"\(key)\"] in \(path)")
            if let found = try helper.credentials(for: serverAddress, searchPath: searchPath, timeoutSeconds: helperTimeoutSeconds) {
                return found
            }
        }
        if let name = config.credsStore, !name.isEmpty {
            let helper = CredentialHelper(name: name, source: "credsStore in \(path)")
            if let found = try helper.credentials(for: serverAddress, searchPath: searchPath, timeoutSeconds: helperTimeoutSeconds) {
                return found
            }
        }
        for (key, entry) in (config.auths ?? [:]).sorted(by: { $0.key < $1.key }) where wanted.contains(Self.host(ofAuthKey: key)) {
            if let auth = entry.auth, !auth.isEmpty {
                guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8) else {
                    throw RunxlError(.invalidDocument, "\(path): auths[\"\(key)\"].auth is not base64 of user:password")
                }
                return try RegistryCredentials(parsing: text)
            }
            if let username = entry.username, let password = entry.password {
                return RegistryCredentials(username: username, password: password)
            }
        }
        return nil
    }

    /// Docker Hub's address in docker's config and to its credential helpers.
    static let dockerHubServerAddress = "https://index.docker.io/v1/"

    /// `https://index.docker.io/v1/` → `index.docker.io`; `host:5000` stays.
    static func host(ofAuthKey key: String) -> String {
        var text = Substring(key)
        if let scheme = text.firstRange(of: "://") { text = text[scheme.upperBound...] }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        return String(text)
    }

    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    public static var defaultDockerConfigPath: String? {
        if let directory = ProcessInfo.processInfo.environment["DOCKER_CONFIG"], !directory.isEmpty {
            return directory + "/config.json"
        }
        guard let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty else { return nil }
        return home + "/.docker/config.json"
    }
}

private struct DockerConfig: Decodable {
    struct Entry: Decodable {
        var auth: String?
        var username: String?
        var password: String?
    }
    var auths: [String: Entry]?
    /// The helper for every registry without a `credHelpers` entry (`docker-credential-NAME`).
    var credsStore: String?
    /// Registry host → helper name.
    var credHelpers: [String: String]?
}
