public import RunxlBase

/// A parsed image reference, normalized the way docker does: `busybox` is
/// `docker.io/library/busybox:latest`, `127.0.0.1:5000/app@sha256:...` keeps its registry.
///
/// The store keys images by the normalized text, so that `busybox`, `library/busybox` and
/// `docker.io/library/busybox:latest` name one image, as they do for docker and podman.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry: `docker.io`, `quay.io`, `127.0.0.1:5000`, `localhost`.
    public var domain: String
    /// The path inside the registry: `library/busybox`.
    public var repository: String
    /// nil only when the reference names a digest alone.
    public var tag: String?
    /// `sha256:` and 64 hex digits.
    public var digest: String?

    public static let defaultDomain = "docker.io"
    public static let defaultTag = "latest"

    public init(domain: String, repository: String, tag: String?, digest: String?) {
        self.domain = domain
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses docker's grammar (distribution/reference): `[domain[:port]/]path[:tag][@digest]`.
    public init(parsing text: String) throws(RunxlError) {
        func refuse(_ why: String) -> RunxlError {
            RunxlError(.usage, "'\(text)' is not an image reference: \(why) (e.g. busybox, docker.io/library/busybox:latest, 127.0.0.1:5000/app@sha256:<64 hex>)")
        }
        guard !text.isEmpty else { throw refuse("it is empty") }
        guard text.utf8.count <= 4096, !text.contains(where: { $0.isWhitespace }) else {
            throw refuse("it has white space or is too long")
        }
        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let value = String(rest[rest.index(after: at)...])
            guard Self.isDigest(value) else { throw refuse("'\(value)' is not a digest (sha256: and 64 lowercase hex digits)") }
            digest = value
            rest = rest[..<at]
        }
        var tag: String?
        // A colon after the last slash starts the tag; one before it belongs to a port.
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let value = String(rest[rest.index(after: colon)...])
            guard Self.isTag(value) else { throw refuse("'\(value)' is not a tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})") }
            tag = value
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var domain = Self.defaultDomain
        if components.count > 1, let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: { $0.isUppercase })
        {
            guard Self.isDomain(first) else { throw refuse("'\(first)' is not a registry host[:port]") }
            domain = first == "index.docker.io" ? Self.defaultDomain : first
            components.removeFirst()
        }
        guard !components.isEmpty else { throw refuse("it names no repository") }
        for component in components {
            guard Self.isPathComponent(component) else {
                throw refuse(component.isEmpty ? "it has an empty path component" : "'\(component)' is not a lowercase repository name component")
            }
        }
        if domain == Self.defaultDomain && components.count == 1 { components.insert("library", at: 0) }
        let repository = components.joined(separator: "/")
        guard domain.utf8.count + 1 + repository.utf8.count <= 255 else { throw refuse("the name is longer than 255 characters") }
        if tag == nil && digest == nil { tag = Self.defaultTag }
        self.init(domain: domain, repository: repository, tag: tag, digest: digest)
    }

    /// `domain/repository[:tag][@digest]`.
    public var description: String {
        var text = domain + "/" + repository
        if let tag { text += ":" + tag }
        if let digest { text += "@" + digest }
        return text
    }

    /// `domain/repository`, without tag or digest.
    public var name: String { domain + "/" + repository }

    /// What the registry's manifest endpoint takes: the digest when there is one, else the tag.
    public var manifestReference: String { digest ?? tag ?? Self.defaultTag }

    /// The host to connect to: Docker Hub's API does not live at docker.io itself.
    public var registryHost: String { domain == Self.defaultDomain ? "registry-1.docker.io" : domain }

    /// Loopback registries are spoken to over plain http, as docker and skopeo allow without flags.
    public var isLoopback: Bool {
        let host = Self.hostWithoutPort(domain)
        return host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host.hasPrefix("127.")
    }

    static func hostWithoutPort(_ domain: String) -> String {
        if domain.hasPrefix("[") {
            guard let end = domain.firstIndex(of: "]") else { return domain }
            return String(domain[...end])
        }
        return domain.split(separator: ":", maxSplits: 1).first.map(String.init) ?? domain
    }

    public static func isDigest(_ text: String) -> Bool {
        guard text.hasPrefix("sha256:") else { return false }
        let hex = text.utf8.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    public static func isTag(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWordByte(first) else { return false }
        return bytes.allSatisfy { isWordByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    static func isPathComponent(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlphanumeric(first), isLowerAlphanumeric(last) else {
            return false
        }
        var index = 0
        while index < bytes.count {
            if isLowerAlphanumeric(bytes[index]) {
                index += 1
                continue
            }
            var end = index
            while end < bytes.count, !isLowerAlphanumeric(bytes[end]) { end += 1 }
            let separator = bytes[index..<end]
            let allDashes = separator.allSatisfy { $0 == UInt8(ascii: "-") }
            guard allDashes || separator.elementsEqual([UInt8(ascii: ".")]) || separator.elementsEqual([UInt8(ascii: "_")])
                || separator.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")])
            else { return false }
            index = end
        }
        return true
    }

    static func isDomain(_ text: String) -> Bool {
        var host = Substring(text)
        if let colon = text.lastIndex(of: ":"), !text.hasSuffix("]") {
            let port = text[text.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber) else { return false }
            host = text[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            return host.count > 2 && host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" }
        }
        guard !host.isEmpty else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            guard let first = label.first, let last = label.last, first != "-", last != "-" else { return false }
            return label.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
        }
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A)
    }
}
