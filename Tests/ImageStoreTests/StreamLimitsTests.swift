import Archive
import Foundation
import GuestBuild
import ImageStore
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The streamed initramfs (`image convert`/`launch IMAGE`) reads the same hostile layers as the
/// unpacker (Tests/images/make-hostile.py) under the same `LayerLimits`: a limit stops it with
/// `layerLimitExceeded`, and whatever it does with a hostile case, nothing is written but its
/// own archive, no path in that archive leaves the root, and a failure leaves no cache file.
@Suite struct StreamLimitsTests {
    /// Writes the named make-hostile.py case next to a sentinel directory; streams it.
    struct Streamed {
        let scratch: UnpackScratch
        let layers: [String]
        let sentinel: String
        let cache: String
        let initBinary: String

        init(_ name: String) throws {
            scratch = try UnpackScratch("stream-\(name)")
            sentinel = scratch.path + "/sentinel"
            try FileSystem.makeDirectories(sentinel, mode: 0o755)
            try FileSystem.writeAtomically(sentinel + "/secret", Array("secret\n".utf8))
            let directory = scratch.path + "/layers"
            try UnpackFixtures.run("python3", [UnpackFixtures.imagesDirectory + "/make-hostile.py", directory, sentinel, name])
            layers = try FileSystem.listDirectory(directory).map { directory + "/" + $0 }
            cache = scratch.path + "/cache"
            initBinary = scratch.path + "/runxl-init"
            try FileSystem.writeAtomically(initBinary, Array("not really init\n".utf8), mode: 0o755)
        }

        func build(limits: LayerLimits) throws(RunxlError) -> Initramfs {
            let request = LayeredInitramfsRequest(
                layers: ImageLayers(paths: layers, diffIDs: nil, identity: "sha256:" + String(repeating: "c", count: 64)),
                initBinary: initBinary, processInputs: [], compression: ArchiveCompression.none, limits: limits)
            return try InitramfsBuilder(cacheDirectory: cache).build(request) { _ in Array("{}\n".utf8) }.initramfs
        }

        /// Files in the cache other than finished archives and their process files.
        var leftovers: [String] {
            let directory = cache + "/initramfs"
            return ((try? FileSystem.listDirectory(directory)) ?? []).filter { $0.hasSuffix(FileSystem.temporarySuffix) }
        }
    }

    /// A lowered limit for the cases below: small enough to be hit by the bomb and the sparse
    /// file, large enough for every other case.
    static var testLimits: LayerLimits {
        var limits = LayerLimits.standard
        limits.maxBytesWritten = 32 << 20
        return limits
    }

    private func expectLimit(
        _ name: String, naming: String, limits: LayerLimits, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let streamed = try Streamed(name)
        do {
            _ = try streamed.build(limits: limits)
            Issue.record("\(name) was streamed", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == .layerLimitExceeded, "\(name): \(error.code) \(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(naming), "\(error.message) names \(naming)", sourceLocation: sourceLocation)
        }
        #expect(streamed.leftovers.isEmpty, "\(streamed.leftovers)", sourceLocation: sourceLocation)
    }

    @Test func gzipBombStopsAtTheByteLimit() throws {
        var limits = LayerLimits.standard
        limits.maxBytesWritten = 1 << 20
        try expectLimit("bomb", naming: "bomb", limits: limits)
    }

    /// A cpio archive spells out holes: a 16 GiB sparse file counts as 16 GiB.
    @Test func hugeSparseFileCountsItsWholeSize() throws {
        try expectLimit("sparse", naming: "sparse", limits: Self.testLimits)
    }

    @Test func tooManyEntriesStopAtTheEntryLimit() throws {
        var limits = LayerLimits.standard
        limits.maxEntries = 100
        try expectLimit("many-entries", naming: "f100", limits: limits)
    }

    @Test func tooLongAPathIsRefused() throws {
        try expectLimit("long-path", naming: "xxxxxxxx", limits: .standard)
    }

    @Test func tooDeepAPathIsRefused() throws {
        try expectLimit("deep-path", naming: "d/d/d", limits: .standard)
    }

    @Test func tooManyLayersAreRefused() throws {
        var limits = LayerLimits.standard
        limits.maxLayers = 4
        try expectLimit("many-layers", naming: "5 layers", limits: limits)
        // The listing-only path (an image booted with a given initrd) checks the count too.
        let streamed = try Streamed("many-layers")
        #expect(throws: RunxlError.self) {
            try InitramfsBuilder.listing(of: ImageLayers(paths: streamed.layers, diffIDs: nil, identity: "sha256:x"), limits: limits)
        }
    }

    static let hostileCases = [
        "dotdot", "dotdot-nested", "absolute", "symlink-write", "symlink-absolute-write", "symlink-mkdir", "symlink-layers",
        "symlink-deep", "symlink-overwrite", "hardlink-dotdot", "hardlink-absolute", "hardlink-through-symlink",
        "hardlink-to-symlink", "whiteout-dotdot", "whiteout-parent", "whiteout-self", "whiteout-symlink", "opaque-symlink",
        "root-symlink", "bomb", "many-entries", "long-path", "deep-path", "truncated", "device", "setuid", "duplicate",
        "conflict", "invalid-utf8", "long-name", "sparse", "many-layers", "same-layer",
    ]

    /// Every hostile case: refused with a runxl error, or an archive whose paths all stay below
    /// the root; the sentinel next to the layers is never touched, a failure leaves no file.
    @Test(arguments: hostileCases)
    func hostileCaseIsRefusedOrStaysInsideTheArchive(name: String) throws {
        let streamed = try Streamed(name)
        let before = unpackTreeSnapshot(streamed.sentinel)
        do {
            let initramfs = try streamed.build(limits: Self.testLimits)
            let tree = try CpioTree(path: initramfs.path)
            for path in tree.nodes.keys {
                #expect(!path.hasPrefix("/") && !path.split(separator: "/").contains(".."), "\(name): \(path) in the archive")
            }
        } catch let error as RunxlError {
            let expected: Set<RunxlError.Code> = [.unsafeLayerEntry, .layerLimitExceeded, .invalidImage]
            #expect(expected.contains(error.code), "\(name): \(error.code) \(error)")
            #expect(streamed.leftovers.isEmpty, "\(name): \(streamed.leftovers)")
        }
        #expect(unpackTreeSnapshot(streamed.sentinel) == before)
    }
}
