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

    /// The `auths` entry for `domain` in docker's config.json (`docker login` writes it), or nil.
    ///
    /// Credential helpers (`credsStore`, `credHelpers`) are not run: only inline `auth` values
    /// (or `username`/`password`) are read.
    public static func fromDockerConfig(path: String, domain: String) throws(RunxlError) -> RegistryCredentials? {
        guard FileSystem.exists(path) else { return nil }
        let bytes = try FileSystem.read(path)
        let config = try JSONDocument.decode(DockerConfig.self, from: bytes, documentName: path, code: .invalidDocument)
        let wanted = domain == ImageReference.defaultDomain
            ? ["docker.io", "index.docker.io", "registry-1.docker.io"] : [domain]
        for (key, entry) in config.auths ?? [:] where wanted.contains(Self.host(ofAuthKey: key)) {
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
}
