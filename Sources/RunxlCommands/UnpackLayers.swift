import ImageStore
import RunxlBase

/// `runxl unpack-layers ROOTFS LAYER...`: hidden. Applies layer blobs to a directory with the
/// image store's LayerUnpacker and nothing else (no store, no manifest), so Scripts/bench can time
/// the unpack alone against `tar -xzf` and `umoci unpack`.
struct UnpackLayers: Verb {
    static let spec = VerbSpec(
        name: "unpack-layers", summary: "internal: apply layer blobs to a directory", usage: "ROOTFS LAYER...",
        flags: [], hidden: true)

    let rootfs: String
    let layers: [String]

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        rootfs = try arguments.positional(0, "rootfs directory")
        _ = try arguments.positional(1, "layer blob")
        layers = Array(arguments.positionals.dropFirst())
    }

    func run() throws(RunxlError) -> Int32 {
        let unpacker = try LayerUnpacker(rootfs: rootfs)
        try unpacker.limits.checkLayerCount(layers.count, image: "the layers given")
        for layer in layers { try unpacker.apply(layerAt: layer, diffID: nil) }
        return 0
    }
}
