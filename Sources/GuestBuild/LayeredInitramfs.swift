public import Archive
public import RunxlBase

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An image's root file system as its layer blobs, converted without being unpacked.
public struct ImageLayers: Sendable {
    /// Layer blobs, bottom first (gzip, zstd or plain tar, told apart by content).
    public var paths: [String]
    /// The image config's `rootfs.diff_ids`, one per path: what each layer's uncompressed
    /// stream must hash to. The identity below covers them (manifest → config → diff_ids), but
    /// only these checks tie the blobs' contents to them. nil: not checked (hand-made layers
    /// in tests).
    public var diffIDs: [String]?
    /// A content address of everything the layers hold: the image's manifest digest.
    public var identity: String
    /// Hashes the uncompressed streams. GuestBuild cannot load libcrypto itself (Registry owns
    /// it), so the image store's caller passes its digester; the portable one otherwise.
    public var makeDigester: StreamDigesterFactory

    public init(
        paths: [String], diffIDs: [String]?, identity: String,
        makeDigester: @escaping StreamDigesterFactory = { PortableStreamDigester() }
    ) {
        self.paths = paths
        self.diffIDs = diffIDs
        self.identity = identity
        self.makeDigester = makeDigester
    }
}

/// Everything that goes into the initramfs of an image streamed from its layers.
public struct LayeredInitramfsRequest: Sendable {
    public var layers: ImageLayers
    public var initBinary: String
    /// What decides the process file besides the rootfs (the spec before its lookups in the
    /// rootfs): part of the cache key, since the process file itself is known only after the
    /// layers were read.
    public var processInputs: [UInt8]
    public var compression: ArchiveCompression
    public var modules: [KernelModuleFile]
    public var extraFiles: [GuestFile]
    /// The unpacker's limits, applied to the streamed layers (not part of the cache key: an
    /// archive that was built was within them).
    public var limits: LayerLimits

    public init(
        layers: ImageLayers, initBinary: String, processInputs: [UInt8], compression: ArchiveCompression = .gzip,
        modules: [KernelModuleFile] = [], extraFiles: [GuestFile] = [], limits: LayerLimits = .standard
    ) {
        self.limits = limits
        self.layers = layers
        self.initBinary = initBinary
        self.processInputs = processInputs
        self.compression = compression
        self.modules = modules
        self.extraFiles = extraFiles
    }
}

extension InitramfsBuilder {
    /// Builds (or reuses) the initramfs of an image straight from its layers: no rootfs on disk,
    /// no tree walk for the key. `processFile` turns the listing of the streamed tree into the
    /// process file's bytes (it resolves the command and user names there); it runs after the
    /// layers and before runxl's own files are appended. Returns the initramfs with the process
    /// file it holds.
    ///
    /// The key is the layers' identity (the manifest digest: content-addressed, so equal digests
    /// mean equal trees) with the process inputs, the init binary, compression, modules and extra
    /// files. The process file is stored next to the archive (`.process`), so that a cache hit
    /// reads no layer at all.
    public func build(
        _ request: LayeredInitramfsRequest, processFile: (RootfsListing) throws(RunxlError) -> [UInt8]
    ) throws(RunxlError) -> (initramfs: Initramfs, processFile: [UInt8]) {
        let started = Clock.monotonicSeconds()
        try request.limits.checkLayerCount(request.layers.paths.count, image: "image \(request.layers.identity)")
        var hasher = SHA256()
        // v2: layers are checked against their diff_ids; a v1 archive may hold one that fails.
        hasher.update("runxl-initramfs-layers-v2\0\(request.compression.rawValue)\0\(request.layers.identity)\0")
        hasher.update("process-inputs\0\(request.processInputs.count)\0")
        hasher.update(request.processInputs)
        var ownBytes = try InitramfsBuilder.hashFileIdentity(request.initBinary, role: "runxl-init binary", into: &hasher)
        for module in request.modules {
            hasher.update("module\0\(module.guestName)\0")
            ownBytes += try InitramfsBuilder.hashFileIdentity(module.hostPath, role: "kernel module", into: &hasher)
        }
        for file in request.extraFiles {
            hasher.update("extra\0\(file.guestPath)\0\(file.permissions)\0")
            ownBytes += try InitramfsBuilder.hashFileIdentity(file.hostPath, role: "file for \(file.guestPath)", into: &hasher)
        }
        let key = String(hasher.finalizeHex().prefix(32))
        let directory = cacheDirectory + "/initramfs"
        let path = directory + "/initramfs-" + key + ".cpio" + request.compression.fileExtension
        let sidecar = path + LayeredSidecar.suffix

        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0,
            let stored = try? FileSystem.read(sidecar), let (contentBytes, process) = Self.parseSidecar(stored)
        {
            utimensat(AT_FDCWD, path, nil, 0)
            let initramfs = Initramfs(
                path: path, key: key, cacheHit: true, compressedBytes: Int64(info.st_size), contentBytes: contentBytes,
                seconds: Clock.monotonicSeconds() - started)
            return (initramfs, process)
        }

        try FileSystem.makeDirectories(directory, mode: 0o700)
        // The compressed layers: about the size of the compressed archive made from them.
        cacheBound.makeRoom(for: request.layers.paths.reduce(ownBytes) { $0 + InitramfsCacheBound.fileBytes($1) })
        let temporary = "\(path).\(getpid())\(FileSystem.temporarySuffix)"
        do throws(RunxlError) {
            let writer = try CpioWriter(path: temporary, compression: request.compression)
            let listing = try LayerStreamer(layers: request.layers, writer: writer, limits: request.limits).run()
            let rootfsBytes = writer.contentBytes
            let process = try processFile(listing)
            try Self.appendOwnFiles(
                to: writer, lookup: RootfsLookup(listing: listing), initBinary: request.initBinary, processFile: process,
                modules: request.modules, extraFiles: request.extraFiles)
            let size = try writer.finish()
            let contentBytes = rootfsBytes + ownBytes + Int64(process.count)
            // The sidecar first: a hit needs both, and the archive's name is what says "done".
            try FileSystem.writeAtomically(sidecar, Array("\(contentBytes)\n".utf8) + process, mode: 0o600)
            guard rename(temporary, path) == 0 else {
                let err = errno
                throw RunxlError(.io, "cannot store initramfs at \(path)", cause: SystemCallError("rename", errno: err))
            }
            let initramfs = Initramfs(
                path: path, key: key, cacheHit: false, compressedBytes: Int64(size), contentBytes: contentBytes,
                seconds: Clock.monotonicSeconds() - started)
            return (initramfs, process)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// The listing of the tree the layers unpack to, reading headers only (and the captured
    /// files): for checks when no initramfs is built from the image.
    public static func listing(of layers: ImageLayers, limits: LayerLimits = .standard) throws(RunxlError) -> RootfsListing {
        try limits.checkLayerCount(layers.paths.count, image: "image \(layers.identity)")
        return try LayerStreamer(layers: layers, writer: nil, limits: limits).run()
    }

    /// `CONTENT-BYTES\n` then the process file.
    private static func parseSidecar(_ bytes: [UInt8]) -> (Int64, [UInt8])? {
        guard let newline = bytes.firstIndex(of: 0x0A),
            let contentBytes = Int64(String(decoding: bytes[..<newline], as: UTF8.self))
        else { return nil }
        let process = Array(bytes[(newline + 1)...])
        return process.isEmpty ? nil : (contentBytes, process)
    }
}
