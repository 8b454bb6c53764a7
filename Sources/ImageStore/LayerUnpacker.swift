public import RunxlBase

/// Bounds on what one layer may do, so that a hostile or broken layer (a gzip bomb, millions of
/// empty files) stops with an error instead of filling the disk or running for hours.
public struct UnpackLimits: Sendable, Equatable {
    /// Entries (of any kind, whiteouts included) in one layer.
    public var maxEntries: Int
    /// Bytes of file contents written by one layer.
    public var maxBytesWritten: Int64
    /// Bytes of one entry's path, as stored in the layer.
    public var maxPathLength: Int
    /// Components of one entry's path (nesting depth).
    public var maxPathDepth: Int

    public init(maxEntries: Int, maxBytesWritten: Int64, maxPathLength: Int, maxPathDepth: Int) {
        self.maxEntries = maxEntries
        self.maxBytesWritten = maxBytesWritten
        self.maxPathLength = maxPathLength
        self.maxPathDepth = maxPathDepth
    }

    /// Generous for real images (a full Debian with toolchains has about 100 000 entries and a few
    /// GB), small enough to stop a bomb before it fills a typical disk.
    public static let standard = UnpackLimits(
        maxEntries: 1_000_000, maxBytesWritten: 64 << 30, maxPathLength: 4096, maxPathDepth: 256)
}

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
    /// A refused entry stops the layer with `unsafeLayerEntry` (or `layerLimitExceeded`) naming
    /// it; nothing outside `rootfs` has been touched, but the rootfs holds the entries before it,
    /// so callers unpack into a directory they discard on failure.
    public func apply(layerAt path: String) throws(RunxlError) {
        try LayerApplication(layerPath: path, rootfs: rootfs, limits: limits).run()
    }
}
