import Archive
public import OCI
public import RunxlBase

/// What runxl accepts as an image: the media type checks shared by pull and import, so both
/// refuse the same things with the same words.
public enum ImageDocuments {
    public static let configTypes: Set<String> = [MediaType.imageConfig, MediaType.dockerImageConfig]

    public enum Kind: Sendable {
        case index
        case manifest
    }

    /// Index or manifest; anything else is refused naming the type and where it came from.
    public static func kind(of mediaType: String, source: String) throws(RunxlError) -> Kind {
        if MediaType.indexTypes.contains(mediaType) { return .index }
        if MediaType.manifestTypes.contains(mediaType) { return .manifest }
        if mediaType == MediaType.dockerManifestV1Signed || mediaType == "application/vnd.docker.distribution.manifest.v1+json" {
            throw RunxlError(.invalidImage, "\(source): Docker schema 1 manifests are not supported (push the image again with a current client)")
        }
        throw RunxlError(.invalidImage, "\(source): unknown media type '\(mediaType)' (runxl reads OCI and Docker v2 manifests and indexes)")
    }

    /// Decodes an image manifest and checks that runxl can run what it describes.
    public static func manifest(_ bytes: [UInt8], source: String) throws(RunxlError) -> Manifest {
        let manifest = try Manifest.decode(bytes, documentName: source)
        if let declared = manifest.mediaType, !MediaType.manifestTypes.contains(declared) {
            throw RunxlError(.invalidImage, "\(source): unknown media type '\(declared)' for an image manifest")
        }
        guard configTypes.contains(manifest.config.mediaType) else {
            throw RunxlError(
                .invalidImage,
                "\(source): config \(manifest.config.digest) has media type '\(manifest.config.mediaType)': not a container image")
        }
        for layer in manifest.layers where !MediaType.layerTypes.contains(layer.mediaType) {
            throw RunxlError(.invalidImage, "\(source): layer \(layer.digest) has unknown media type '\(layer.mediaType)'")
        }
        for descriptor in [manifest.config] + manifest.layers where !descriptor.digest.hasPrefix("sha256:") {
            throw RunxlError(.invalidImage, "\(source): \(descriptor.digest): only sha256 digests are supported")
        }
        // Refused before any layer is fetched: an image of thousands of layers is a bomb too.
        try LayerLimits.standard.checkLayerCount(manifest.layers.count, image: source)
        return manifest
    }

    /// Decodes an image config and checks it against its manifest.
    public static func config(_ bytes: [UInt8], manifest: Manifest, source: String) throws(RunxlError) -> ImageConfig {
        let config = try ImageConfig.decode(bytes, documentName: "\(source) config \(manifest.config.digest)")
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw RunxlError(
                .invalidImage,
                "\(source): the config lists \(config.rootfs.diffIDs.count) layers (diff_ids), the manifest \(manifest.layers.count)")
        }
        return config
    }
}
