import ImageStore
import OCI
import RunxlBase

/// `runxl image inspect REF`: the stored image as JSON (name, digest, platform, manifest, config).
struct ImageInspect: ImageAction {
    static let name = "inspect"
    static let usage = "IMAGE"
    static let flags = [ImageVerb.storeFlag]

    /// What inspect prints; field names as in the store's index and the image spec.
    struct Inspection: Encodable {
        var name: String
        var digest: String
        var mediaType: String
        var platform: Platform?
        var index: String?
        var size: Int64
        var manifest: Manifest
        var config: ImageConfig
    }

    let reference: String
    let store: ContentStore

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        reference = try arguments.positional(0, "image")
        try arguments.expectPositionals(atMost: 1)
        store = try ImageVerb.store(arguments, global: global)
    }

    func run() throws(RunxlError) -> Int32 {
        let image = try store.image(reference)
        let manifest = try store.manifest(of: image)
        let config = try store.config(of: image, manifest: manifest)
        let inspection = Inspection(
            name: image.name, digest: image.manifest.digest, mediaType: image.manifest.mediaType, platform: image.manifest.platform,
            index: image.indexDigest, size: manifest.layers.reduce(manifest.config.size) { $0 + $1.size }, manifest: manifest,
            config: config)
        print(String(decoding: try JSONDocument.encode(inspection, pretty: true), as: UTF8.self))
        return 0
    }
}
