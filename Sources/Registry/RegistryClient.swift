internal import FoundationEssentials
public import OCI
public import RunxlBase
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// How to reach a registry.
public struct RegistryOptions: Sendable {
    /// Plain http for a registry that is not on the loopback interface.
    public var insecure: Bool
    /// `--creds`; when nil, docker's config.json is consulted.
    public var credentials: RegistryCredentials?
    /// nil: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    public var dockerConfigPath: String?
    /// Where credential helpers are looked for, in PATH's form; nil: `$PATH`. Tests give their
    /// own directory rather than change the process's PATH under other threads.
    public var credentialHelperSearchPath: String?
    /// Connect timeout and stall timeout of every request, in seconds.
    public var timeoutSeconds: Int
    /// Tries of a blob download that keeps dropping mid-way (each resumes where the last stopped).
    public var attempts: Int

    public init(
        insecure: Bool = false, credentials: RegistryCredentials? = nil, dockerConfigPath: String? = nil,
        credentialHelperSearchPath: String? = nil, timeoutSeconds: Int = RegistryOptions.timeoutFromEnvironment(), attempts: Int = 4
    ) {
        self.insecure = insecure
        self.credentials = credentials
        self.dockerConfigPath = dockerConfigPath
        self.credentialHelperSearchPath = credentialHelperSearchPath
        self.timeoutSeconds = timeoutSeconds
        self.attempts = attempts
    }

    /// `RUNXL_REGISTRY_TIMEOUT` (seconds), else 30. Tests set it low to see a hung registry fail fast.
    public static func timeoutFromEnvironment() -> Int {
        if let text = getenv("RUNXL_REGISTRY_TIMEOUT").map({ String(cString: $0) }), let value = Int(text), value > 0 {
            return value
        }
        return 30
    }
}

/// A manifest or index as the registry served it, its digest checked.
public struct FetchedManifest: Sendable {
    public var bytes: [UInt8]
    public var mediaType: String
    /// `sha256:` of `bytes`.
    public var digest: String
    public var url: String
}

/// Receives the byte count of a blob as it arrives.
public typealias TransferProgress = (_ received: Int64) -> Void

/// The OCI distribution API (v2) for one repository: manifests and blobs, with the
/// `WWW-Authenticate` token flow, retries and resumption, and digests checked as bytes arrive.
public final class RegistryClient {
    public let reference: ImageReference
    public let options: RegistryOptions
    private let transport: HTTPTransport
    private let baseURL: String
    /// The `Authorization` header value once a challenge has been answered.
    private var authorization: String?
    private var credentialsLooked = false
    private var credentials: RegistryCredentials?

    /// Manifests and indexes are small; a bigger one is refused rather than buffered.
    public static let manifestLimit = 4 << 20
    public static let acceptedManifestTypes = [
        MediaType.imageIndex, MediaType.imageManifest, MediaType.dockerManifestList, MediaType.dockerManifest,
    ]

    public init(reference: ImageReference, options: RegistryOptions) throws(RunxlError) {
        self.reference = reference
        self.options = options
        transport = try HTTPTransport()
        let scheme = options.insecure || reference.isLoopback ? "http" : "https"
        baseURL = "\(scheme)://\(reference.registryHost)/v2/\(reference.repository)"
        credentials = options.credentials
        credentialsLooked = options.credentials != nil
    }

    /// A second client for the same repository with a connection of its own, already holding
    /// this one's answer to the registry's challenge: blobs download in parallel, one client
    /// per thread (a libcurl easy handle is not shared between threads).
    public func sibling() throws(RunxlError) -> RegistryClient {
        let other = try RegistryClient(reference: reference, options: options)
        other.authorization = authorization
        other.credentials = credentials
        other.credentialsLooked = credentialsLooked
        return other
    }

    private var smallTimeouts: HTTPTimeouts {
        HTTPTimeouts(connectSeconds: options.timeoutSeconds, stallSeconds: options.timeoutSeconds, totalSeconds: options.timeoutSeconds * 4)
    }

    private var blobTimeouts: HTTPTimeouts {
        HTTPTimeouts(connectSeconds: options.timeoutSeconds, stallSeconds: options.timeoutSeconds, totalSeconds: nil)
    }

    /// GET /v2/NAME/manifests/REFERENCE (a tag or a digest).
    public func fetchManifest(_ tagOrDigest: String) throws(RunxlError) -> FetchedManifest {
        let url = "\(baseURL)/manifests/\(tagOrDigest)"
        let exchange = try request(url, accept: Self.acceptedManifestTypes.joined(separator: ", ")) {
            HTTPExchange(bodyLimit: Self.manifestLimit)
        }
        guard exchange.isSuccess else { throw failure(exchange, url: url, what: "manifest \(reference.name):\(tagOrDigest)") }
        if exchange.bodyOverflow {
            throw RunxlError(.invalidImage, "\(url): the manifest is larger than \(Self.manifestLimit) bytes")
        }
        let bytes = exchange.body
        let digest = Digester.digest(bytes)
        if ImageReference.isDigest(tagOrDigest), digest != tagOrDigest {
            throw RunxlError(.digestMismatch, "\(url): manifest content has digest \(digest), expected \(tagOrDigest)")
        }
        if let announced = exchange.header("docker-content-digest"), ImageReference.isDigest(announced), announced != digest {
            throw RunxlError(.digestMismatch, "\(url): manifest content has digest \(digest), the registry announced \(announced)")
        }
        var mediaType = exchange.header("content-type").map { Self.trimmed($0.split(separator: ";").first ?? "") } ?? ""
        if mediaType.isEmpty || mediaType == "application/json" || mediaType == "text/plain" {
            mediaType = Self.embeddedMediaType(bytes) ?? mediaType
        }
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest, url: url)
    }

    /// The `mediaType` member of a manifest, for registries that serve a generic content type.
    static func embeddedMediaType(_ bytes: [UInt8]) -> String? {
        guard case .object(let members)? = try? JSONValue.parse(bytes), case .string(let type)? = members["mediaType"] else {
            return nil
        }
        return type
    }

    /// GET /v2/NAME/blobs/DIGEST into a new file at `path`, hashed as it arrives. A connection
    /// that drops mid-way is resumed with a Range request (or restarted if the registry ignores
    /// ranges); the file is fsynced. Throws `.digestMismatch` naming both digests when the
    /// content is not what the descriptor says.
    public func fetchBlob(_ descriptor: Descriptor, to path: String, progress: TransferProgress? = nil) throws(RunxlError) {
        let url = "\(baseURL)/blobs/\(descriptor.digest)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let err = errno
            throw RunxlError(.io, "cannot create \(path)", cause: SystemCallError("open", errno: err))
        }
        defer { close(fd) }
        let digester = Digester()
        var written: Int64 = 0
        var attempt = 0
        while true {
            attempt += 1
            let resumeFrom = written > 0 ? written : nil
            var first = true
            let exchange = try send(url, accept: "*/*", rangeFrom: resumeFrom) {
                HTTPExchange { (exchange: HTTPExchange, bytes: UnsafeRawBufferPointer) throws(RunxlError) in
                    if first {
                        first = false
                        // 200 to a Range request: the registry sends everything again.
                        if exchange.status != 206 && written > 0 {
                            guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
                                let err = errno
                                throw RunxlError(.io, "cannot rewind \(path)", cause: SystemCallError("ftruncate", errno: err))
                            }
                            written = 0
                            digester.reset()
                        }
                    }
                    guard written + Int64(bytes.count) <= descriptor.size else {
                        throw RunxlError(.digestMismatch, "\(url): blob \(descriptor.digest) is longer than its descriptor's \(descriptor.size) bytes")
                    }
                    digester.update(bytes)
                    try Descriptors.writeAll(fd, bytes, path: path)
                    written += Int64(bytes.count)
                    progress?(written)
                }
            } onInterruption: { (failure: CurlFailure, exchange: HTTPExchange) in
                // Worth another try only if this attempt moved forward (a drop, not a dead server).
                exchange.received > 0 && attempt < self.options.attempts
            }
            if let exchange {
                if exchange.status == 416 && written > 0 {
                    // The registry cannot resume from here: start over.
                    guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
                        throw RunxlError(.io, "cannot rewind \(path)")
                    }
                    written = 0
                    digester.reset()
                    continue
                }
                guard exchange.isSuccess else { throw failure(exchange, url: url, what: "blob \(descriptor.digest)") }
                break
            }
        }
        guard written == descriptor.size else {
            throw RunxlError(.digestMismatch, "\(url): blob \(descriptor.digest) has \(written) bytes, its descriptor says \(descriptor.size)")
        }
        let digest = digester.finalizeDigest()
        guard digest == descriptor.digest else {
            throw RunxlError(.digestMismatch, "\(url): blob content has digest \(digest), expected \(descriptor.digest)")
        }
        guard fsync(fd) == 0 else {
            let err = errno
            throw RunxlError(.io, "cannot write \(path)", cause: SystemCallError("fsync", errno: err))
        }
    }

    /// One request with authentication: a 401 with a challenge is answered once (token or basic
    /// credentials) and the request repeated. Returns nil when `onInterruption` asks for
    /// another try of a dropped transfer.
    private func send(
        _ url: String, accept: String, rangeFrom: Int64? = nil, makeExchange: () -> HTTPExchange,
        onInterruption: ((CurlFailure, HTTPExchange) -> Bool)? = nil
    ) throws(RunxlError) -> HTTPExchange? {
        var answeredChallenge = false
        while true {
            var headers = ["Accept: \(accept)"]
            if let authorization { headers.append("Authorization: \(authorization)") }
            let exchange = makeExchange()
            let timeouts = rangeFrom == nil && onInterruption == nil ? smallTimeouts : blobTimeouts
            if let failure = transport.get(url, headers: headers, rangeFrom: rangeFrom, timeouts: timeouts, into: exchange) {
                if let error = exchange.sinkError { throw error }
                if failure.isInterruption, let onInterruption, onInterruption(failure, exchange) {
                    FileHandleOutput.standardError("runxl: \(url): \(failure.text); resuming after \(exchange.received) bytes\n")
                    return nil
                }
                if failure.isTimeout {
                    throw RunxlError(
                        .registryFailed,
                        "\(url): timed out (no data for \(options.timeoutSeconds) s; RUNXL_REGISTRY_TIMEOUT sets the limit)",
                        cause: failure)
                }
                throw RunxlError(.registryFailed, "\(url): \(failure.text)", cause: failure)
            }
            if exchange.status == 401, !answeredChallenge, let challenge = exchange.header("www-authenticate") {
                answeredChallenge = true
                authorization = try answer(challenge, for: url)
                continue
            }
            return exchange
        }
    }

    private func request(
        _ url: String, accept: String, makeExchange: () -> HTTPExchange
    ) throws(RunxlError) -> HTTPExchange {
        // Without an interruption handler `send` never returns nil.
        guard let exchange = try send(url, accept: accept, rangeFrom: nil, makeExchange: makeExchange, onInterruption: nil) else {
            throw RunxlError(.internal, "\(url): no response")
        }
        return exchange
    }

    private func resolvedCredentials() throws(RunxlError) -> RegistryCredentials? {
        if !credentialsLooked {
            credentialsLooked = true
            if let path = options.dockerConfigPath ?? RegistryCredentials.defaultDockerConfigPath {
                // A helper may go to the network (ECR, gcloud): it gets twice a request's timeout.
                credentials = try RegistryCredentials.fromDockerConfig(
                    path: path, domain: reference.domain, helperSearchPath: options.credentialHelperSearchPath,
                    helperTimeoutSeconds: Double(options.timeoutSeconds * 2))
            }
        }
        return credentials
    }

    /// The Authorization header value that answers a `WWW-Authenticate` challenge.
    private func answer(_ challengeText: String, for url: String) throws(RunxlError) -> String {
        guard let challenge = AuthChallenge(parsing: challengeText) else {
            throw RunxlError(.registryFailed, "\(url): cannot understand the registry's challenge '\(challengeText)'")
        }
        switch challenge.scheme {
        case "basic":
            guard let credentials = try resolvedCredentials() else {
                throw RunxlError(
                    .registryFailed,
                    "\(url): the registry wants a user name and password (401): give --creds USER:PASSWORD or log in with docker login")
            }
            return credentials.basicAuthorization
        case "bearer":
            return "Bearer " + (try fetchToken(challenge, for: url))
        default:
            throw RunxlError(.registryFailed, "\(url): unsupported authentication scheme '\(challenge.scheme)'")
        }
    }

    /// The token flow of the distribution spec (token.md): GET realm?service=&scope=, with basic
    /// credentials when there are some, anonymously otherwise.
    private func fetchToken(_ challenge: AuthChallenge, for url: String) throws(RunxlError) -> String {
        guard let realm = challenge.parameters["realm"], realm.hasPrefix("http://") || realm.hasPrefix("https://") else {
            throw RunxlError(.registryFailed, "\(url): the Bearer challenge has no http(s) realm")
        }
        var query: [String] = []
        if let service = challenge.parameters["service"] { query.append("service=" + Self.percentEncode(service)) }
        query.append("scope=" + Self.percentEncode(challenge.parameters["scope"] ?? "repository:\(reference.repository):pull"))
        let tokenURL = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        var headers = ["Accept: application/json"]
        if let credentials = try resolvedCredentials() { headers.append("Authorization: \(credentials.basicAuthorization)") }
        let exchange = HTTPExchange(bodyLimit: 1 << 20)
        if let failure = transport.get(tokenURL, headers: headers, timeouts: smallTimeouts, into: exchange) {
            throw RunxlError(.registryFailed, "token server \(realm): \(failure.text)", cause: failure)
        }
        guard exchange.isSuccess else {
            let hint = exchange.status == 401 || exchange.status == 403
                ? " (wrong or missing credentials: give --creds USER:PASSWORD)" : ""
            throw RunxlError(
                .registryFailed, "token server \(realm) answered \(exchange.status) for \(url)\(hint)\(Self.excerpt(exchange.body))")
        }
        struct TokenResponse: Decodable {
            var token: String?
            var access_token: String?
        }
        let response = try JSONDocument.decode(TokenResponse.self, from: exchange.body, documentName: "token from \(realm)", code: .registryFailed)
        guard let token = response.token ?? response.access_token, !token.isEmpty else {
            throw RunxlError(.registryFailed, "token server \(realm) sent no token")
        }
        return token
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let char = Character(Unicode.Scalar(byte))
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "-_.~".contains(char)
            {
                out.append(char)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// The error for a response that is not 2xx, naming the URL and the registry's own words.
    private func failure(_ exchange: HTTPExchange, url: String, what: String) -> RunxlError {
        let registryWords = Self.excerpt(exchange.body)
        switch exchange.status {
        case 404:
            return RunxlError(.imageNotFound, "\(url): \(what) not found (404)\(registryWords)")
        case 401, 403:
            return RunxlError(
                .registryFailed,
                "\(url): \(what): access denied (\(exchange.status)); give --creds USER:PASSWORD or log in with docker login\(registryWords)")
        default:
            return RunxlError(.registryFailed, "\(url): \(what): the registry answered \(exchange.status)\(registryWords)")
        }
    }

    /// A short, printable piece of an error body (registries send JSON `errors`).
    static func excerpt(_ body: [UInt8]) -> String {
        guard !body.isEmpty else { return "" }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
            .map { $0.isNewline || $0 == "\t" ? " " : $0 }
        let cleaned = trimmed(String(text.filter { $0.isASCII ? ($0.asciiValue ?? 0) >= 0x20 : true }))
        return cleaned.isEmpty ? "" : ": " + cleaned
    }
}

/// A `WWW-Authenticate` value: `Bearer realm="...",service="...",scope="..."`.
struct AuthChallenge: Equatable {
    var scheme: String
    var parameters: [String: String]

    init?(parsing text: String) {
        let trimmed = text.drop { $0 == " " }
        guard let space = trimmed.firstIndex(of: " ") else {
            guard !trimmed.isEmpty else { return nil }
            scheme = trimmed.lowercased()
            parameters = [:]
            return
        }
        scheme = trimmed[..<space].lowercased()
        var parameters: [String: String] = [:]
        var rest = Substring(trimmed[trimmed.index(after: space)...])
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = RegistryClient.trimmed(rest[..<equals]).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                var end = rest.endIndex
                for index in rest.indices {
                    let char = rest[index]
                    if escaped {
                        value.append(char)
                        escaped = false
                    } else if char == "\\" {
                        escaped = true
                    } else if char == "\"" {
                        end = index
                        break
                    } else {
                        value.append(char)
                    }
                }
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[rest.endIndex...]
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            parameters[key] = value
        }
        self.parameters = parameters
    }
}

/// stderr without Foundation's FileHandle: status lines of a pull.
enum FileHandleOutput {
    static func standardError(_ text: String) {
        Descriptors.writeAllIfPossible(2, Array(text.utf8))
    }
}
