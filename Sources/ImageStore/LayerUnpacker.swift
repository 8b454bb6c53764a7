public import Archive
public import RunxlBase

/// The unpacker's limits are Archive's `LayerLimits`, shared with the streamed initramfs.
public typealias UnpackLimits = LayerLimits

/// Applies OCI image layers to a root file system directory, refusing anything that would touch
/// a file outside it.
public struct LayerUnpacker: Sendable {
    public let rootfs: String
    public let limits: UnpackLimits

    /// rootfs: target directory (created if missing). Layers are applied in order by calling
    /// apply repeatedly.
    public init(rootfs: String, limits: UnpackLimits = .standard) throws(RunxlError) {
        self.rootfs = rootfs
        self.limits = limits
        if !FileSystem.exists(rootfs) { try FileSystem.makeDirectories(rootfs, mode: 0o755) }
        guard FileSystem.isDirectory(rootfs) else {
            throw RunxlError(.io, "the unpack target \(rootfs) exists and is not a directory")
        }
    }

    /// Applies one layer blob (compression detected from content: gzip, zstd or none), streaming.
    ///
    /// With a `diffID` (the image config's `rootfs.diff_ids` entry), the whole uncompressed
    /// stream is hashed as it is inflated and must match it, or the layer fails with
    /// `digestMismatch` after its entries were written. nil only where no image config exists
    /// (`runxl unpack-layers`, which times the unpacker alone).
    ///
    /// A refused entry stops the layer with `unsafeLayerEntry` (or `layerLimitExceeded`) naming
    /// it; nothing outside `rootfs` has been touched, but the rootfs holds the entries before it,
    /// so callers unpack into a directory they discard on failure.
    public func apply(layerAt path: String, diffID: String?) throws(RunxlError) {
        try LayerApplication(layerPath: path, diffID: diffID, rootfs: rootfs, limits: limits).run()
    }
}
