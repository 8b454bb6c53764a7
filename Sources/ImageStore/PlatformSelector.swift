public import OCI
public import RunxlBase

/// Which manifest of a multi-platform image to take: `os/architecture[/variant]`.
public struct PlatformSelector: Sendable, Equatable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    /// Guests are x86-64 Xen domains: linux/amd64 unless asked otherwise.
    public static let linuxAMD64 = PlatformSelector(os: "linux", architecture: "amd64", variant: nil)

    public init(os: String, architecture: String, variant: String?) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    public init(parsing text: String) throws(RunxlError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } })
        else {
            throw RunxlError(.usage, "--platform takes OS/ARCH[/VARIANT] (e.g. linux/amd64, linux/arm64/v8), not '\(text)'")
        }
        self.init(os: parts[0].lowercased(), architecture: parts[1].lowercased(), variant: parts.count == 3 ? parts[2].lowercased() : nil)
    }

    public var description: String { "\(os)/\(architecture)" + (variant.map { "/\($0)" } ?? "") }

    /// Variant rules as containerd's: a selector without a variant takes any; arm64's default is v8.
    public func matches(os: String, architecture: String, variant: String?) -> Bool {
        guard os == self.os, architecture == self.architecture else { return false }
        guard let wanted = self.variant else { return true }
        let found = variant ?? (architecture == "arm64" ? "v8" : nil)
        return found == wanted
    }

    public func matches(_ platform: Platform) -> Bool {
        matches(os: platform.os, architecture: platform.architecture, variant: platform.variant)
    }

    /// The manifest of an index for this platform. The error lists what the index offers.
    public func select(from index: Index, source: String) throws(RunxlError) -> Descriptor {
        let images = index.manifests.filter { MediaType.manifestTypes.contains($0.mediaType) || MediaType.indexTypes.contains($0.mediaType) }
        if let found = images.first(where: { $0.platform.map(matches) ?? false }) { return found }
        let offered = index.manifests.compactMap { descriptor in
            descriptor.platform.map { PlatformSelector(os: $0.os, architecture: $0.architecture, variant: $0.variant).description }
        }
        let list = offered.isEmpty ? "no platform" : offered.joined(separator: ", ")
        throw RunxlError(.imageNotFound, "\(source): no manifest for \(self) (the index has \(list)); choose one with --platform")
    }

    /// Refuses an image whose config says it is for another platform.
    public func check(_ config: ImageConfig, source: String) throws(RunxlError) {
        guard matches(os: config.os, architecture: config.architecture, variant: config.variant) else {
            let found = PlatformSelector(os: config.os, architecture: config.architecture, variant: config.variant)
            throw RunxlError(.imageNotFound, "\(source): the image is for \(found) only, not \(self); choose it with --platform \(found)")
        }
    }
}
