public import RunxlBase

/// Bounds on what an image's layers may make runxl do, so that a hostile or broken image (a
/// gzip bomb, a huge sparse file, millions of empty files, thousands of layers) stops with
/// `layerLimitExceeded` instead of filling the disk or memory or running for hours.
///
/// One set of numbers for both readers of layers: the unpacker (`LayerUnpacker`, into a rootfs)
/// and the streamed initramfs (`image convert`/`launch` of an image), so an image refused by one
/// is refused by the other with the same words.
public struct LayerLimits: Sendable, Equatable {
    /// Entries (of any kind, whiteouts included) in one layer.
    public var maxEntries: Int
    /// Bytes of file contents one layer writes: the unpacker counts what it writes, the streamed
    /// initramfs the files' sizes (a sparse file's holes become zeros in a cpio archive).
    public var maxBytesWritten: Int64
    /// Bytes of one entry's path, as stored in the layer.
    public var maxPathLength: Int
    /// Components of one entry's path (nesting depth).
    public var maxPathDepth: Int
    /// Layers in one image.
    public var maxLayers: Int

    public init(maxEntries: Int, maxBytesWritten: Int64, maxPathLength: Int, maxPathDepth: Int, maxLayers: Int = 128) {
        self.maxEntries = maxEntries
        self.maxBytesWritten = maxBytesWritten
        self.maxPathLength = maxPathLength
        self.maxPathDepth = maxPathDepth
        self.maxLayers = maxLayers
    }

    /// Generous for real images (a full Debian with toolchains has about 100 000 entries and a few
    /// GB; Docker's overlay2 cannot mount more than 128 layers), small enough to stop a bomb
    /// before it fills a typical disk.
    public static let standard = LayerLimits(
        maxEntries: 1_000_000, maxBytesWritten: 64 << 30, maxPathLength: 4096, maxPathDepth: 256, maxLayers: 128)

    /// Refuses an image of more than `maxLayers` layers; `image` names it in the message.
    public func checkLayerCount(_ count: Int, image: String) throws(RunxlError) {
        guard count <= maxLayers else {
            throw RunxlError(
                .layerLimitExceeded, "\(image) has \(count) layers, more than the limit of \(maxLayers)")
        }
    }

    /// Refuses a stored path longer than `maxPathLength`, before it is even read.
    public func checkPathLength(_ storedLength: Int, entry: String, what: String) throws(RunxlError) {
        guard storedLength <= maxPathLength else {
            throw RunxlError(
                .layerLimitExceeded,
                "layer entry \(entry): \(what) is \(storedLength) bytes long, more than the limit of \(maxPathLength)")
        }
    }

    /// Refuses a path of more than `maxPathDepth` components (as `LayerEntryPath` reads it).
    public func checkPathDepth(_ components: Int, entry: String, what: String) throws(RunxlError) {
        guard components <= maxPathDepth else {
            throw RunxlError(
                .layerLimitExceeded,
                "layer entry \(entry): \(what) has \(components) components, more than the limit of \(maxPathDepth)")
        }
    }
}
