import Foundation
import ImageStore
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One case of Tests/images/make-hostile.py: its layers, a rootfs to unpack into and a sentinel
/// directory right next to it (`../sentinel` from the rootfs) holding a file `secret`.
private struct HostileCase {
    let scratch: UnpackScratch
    let rootfs: String
    let sentinel: String
    let layers: [String]

    init(_ name: String) throws {
        scratch = try UnpackScratch(name)
        rootfs = scratch.path + "/rootfs"
        sentinel = scratch.path + "/sentinel"
        try FileSystem.makeDirectories(sentinel, mode: 0o755)
        try FileSystem.makeDirectories(rootfs, mode: 0o755)
        try FileSystem.writeAtomically(sentinel + "/secret", Array("secret\n".utf8))
        let layerDirectory = scratch.path + "/layers"
        try UnpackFixtures.run("python3", [UnpackFixtures.imagesDirectory + "/make-hostile.py", layerDirectory, sentinel, name])
        layers = try FileSystem.listDirectory(layerDirectory).map { layerDirectory + "/" + $0 }
        guard !layers.isEmpty else { throw RunxlError(.internal, "make-hostile.py wrote no layer for \(name)") }
    }

    /// The sentinel and everything else next to the rootfs.
    var outside: [String] {
        unpackTreeSnapshot(sentinel) + ((try? FileSystem.listDirectory(scratch.path)) ?? [])
    }

    /// Applies every layer in order; the first error ends it.
    func unpack(limits: UnpackLimits = .standard) -> RunxlError? {
        do {
            let unpacker = try LayerUnpacker(rootfs: rootfs, limits: limits)
            for layer in layers { try unpacker.apply(layerAt: layer, diffID: nil) }
            return nil
        } catch {
            return error
        }
    }
}

@Suite struct UnpackHostileTests {
    /// The case is refused with `code`, the message names the entry, nothing outside changed.
    private func expectRefused(
        _ name: String, code: RunxlError.Code = .unsafeLayerEntry, naming entry: String,
        limits: UnpackLimits = .standard, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let hostile = try HostileCase(name)
        let before = hostile.outside
        let error = hostile.unpack(limits: limits)
        #expect(error?.code == code, "\(name): \(error.map { "\($0.code) \($0)" } ?? "accepted")", sourceLocation: sourceLocation)
        #expect(error?.message.contains(entry) == true, "\(name): \(error?.message ?? "") names \(entry)", sourceLocation: sourceLocation)
        #expect(hostile.outside == before, "\(name) changed something outside the rootfs", sourceLocation: sourceLocation)
    }

    /// The case is accepted and nothing outside the rootfs changed; the caller checks what
    /// landed inside.
    private func expectAccepted(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> HostileCase {
        let hostile = try HostileCase(name)
        let before = hostile.outside
        let error = hostile.unpack()
        #expect(error == nil, "\(name): \(error.map { "\($0.code) \($0)" } ?? "")", sourceLocation: sourceLocation)
        #expect(hostile.outside == before, "\(name) changed something outside the rootfs", sourceLocation: sourceLocation)
        return hostile
    }

    @Test func dotDotLeavingTheRootfsIsRefused() throws {
        try expectRefused("dotdot", naming: "../sentinel/pwned")
    }

    @Test func dotDotAfterADetourIsRefused() throws {
        try expectRefused("dotdot-nested", naming: "a/../../sentinel/pwned")
    }

    // A symlink on an entry's path is resolved with the rootfs as `/` (openat2 RESOLVE_IN_ROOT),
    // as umoci and containerd resolve it: `../sentinel` and the sentinel's absolute path name
    // `<rootfs>/sentinel` and `<rootfs><sentinel>`, which these images lack: refused as broken,
    // nothing outside touched.

    @Test func writingThroughASymlinkOfTheSameLayerStaysInside() throws {
        try expectRefused("symlink-write", code: .invalidImage, naming: "escape/pwned")
    }

    @Test func writingThroughAnAbsoluteSymlinkStaysInside() throws {
        try expectRefused("symlink-absolute-write", code: .invalidImage, naming: "escape/pwned")
    }

    @Test func makingADirectoryThroughASymlinkStaysInside() throws {
        try expectRefused("symlink-mkdir", code: .invalidImage, naming: "escape/newdir")
    }

    @Test func writingThroughASymlinkOfAnEarlierLayerStaysInside() throws {
        try expectRefused("symlink-layers", code: .invalidImage, naming: "escape/pwned")
    }

    @Test func aSymlinkClimbingWithDotDotStopsAtTheRootfs() throws {
        // `d/up -> ../..` is the rootfs itself: d/up/sentinel/pwned is <rootfs>/sentinel/pwned.
        let hostile = try expectAccepted("symlink-deep")
        #expect(unpackReadText(hostile.rootfs + "/sentinel/pwned") == "pwned\n")
    }

    @Test(arguments: ["symlink-inside-write", "symlink-absolute-inside"])
    func aSymlinkWhoseTargetIsInsideIsWrittenThrough(name: String) throws {
        let hostile = try expectAccepted(name)
        let target = name == "symlink-inside-write" ? "/sentinel" : hostile.sentinel
        #expect(unpackReadText(hostile.rootfs + target + "/pwned") == "pwned\n")
        #expect(unpackFileKind(hostile.rootfs + "/escape") == S_IFLNK, "the link itself stays")
    }

    @Test func aLaterLayerWritesBelowAUsrMergedLink() throws {
        let hostile = try HostileCase("usrmerge")
        #expect(hostile.unpack() == nil)
        #expect(unpackReadText(hostile.rootfs + "/usr/lib/modules/file") == "merged\n")
        #expect(unpackFileKind(hostile.rootfs + "/lib") == S_IFLNK)
    }

    @Test func hardLinkOutsideByDotDotIsRefused() throws {
        try expectRefused("hardlink-dotdot", naming: "link")
    }

    @Test func hardLinkToAnAbsolutePathStaysInsideTheRootfs() throws {
        // The absolute target names the real sentinel; read relative to the rootfs it does not exist.
        try expectRefused("hardlink-absolute", naming: "link")
    }

    @Test func hardLinkThroughASymlinkStaysInside() throws {
        // escape -> ../sentinel is <rootfs>/sentinel: the target does not exist in the rootfs.
        try expectRefused("hardlink-through-symlink", naming: "link")
    }

    @Test func whiteoutWithDotDotIsRefused() throws {
        try expectRefused("whiteout-dotdot", naming: "../sentinel/.wh.secret")
    }

    @Test func whiteoutOfTheParentDirectoryIsRefused() throws {
        // `.wh...` hides `..`: without the check, the rootfs's parent (and the sentinel) would go.
        try expectRefused("whiteout-parent", naming: ".wh...")
    }

    @Test func whiteoutOfTheDirectoryItselfIsRefused() throws {
        try expectRefused("whiteout-self", naming: "sub/.wh..")
    }

    /// A whiteout below a symlink hides something inside the rootfs or nothing: here there is
    /// nothing at `<rootfs>/sentinel`, so the layer applies and the real sentinel keeps its file.
    @Test(arguments: ["whiteout-symlink", "opaque-symlink"])
    func whiteoutThroughASymlinkTouchesNothingOutside(name: String) throws {
        let hostile = try expectAccepted(name)
        #expect(unpackReadText(hostile.sentinel + "/secret") == "secret\n")
    }

    @Test func replacingTheRootfsWithASymlinkIsRefused() throws {
        try expectRefused("root-symlink", naming: "./")
    }

    @Test func gzipBombStopsAtTheByteLimit() throws {
        let limit: Int64 = 1 << 20
        var limits = UnpackLimits.standard
        limits.maxBytesWritten = limit
        try expectRefused("bomb", code: .layerLimitExceeded, naming: "bomb", limits: limits)
        // And what was written stayed under the limit.
        let hostile = try HostileCase("bomb")
        _ = hostile.unpack(limits: limits)
        var info = stat()
        #expect(stat(hostile.rootfs + "/bomb", &info) == 0)
        #expect(Int64(info.st_size) <= limit)
    }

    @Test func tooManyEntriesStopAtTheEntryLimit() throws {
        var limits = UnpackLimits.standard
        limits.maxEntries = 100
        try expectRefused("many-entries", code: .layerLimitExceeded, naming: "f100", limits: limits)
    }

    @Test func tooLongAPathIsRefused() throws {
        try expectRefused("long-path", code: .layerLimitExceeded, naming: "xxxxxxxx")
    }

    @Test func tooDeepAPathIsRefused() throws {
        try expectRefused("deep-path", code: .layerLimitExceeded, naming: "d/d/d")
    }

    @Test func truncatedGzipIsAnInvalidImage() throws {
        let hostile = try HostileCase("truncated")
        let error = hostile.unpack()
        #expect(error?.code == .invalidImage)
        #expect(error?.message.contains("truncated.tar.gz") == true, "\(error?.message ?? "accepted")")
    }

    // Accepted cases: stored inside the rootfs, nothing written through a link.

    @Test func absolutePathLandsInsideTheRootfs() throws {
        let hostile = try expectAccepted("absolute")
        #expect(unpackReadText(hostile.rootfs + hostile.sentinel + "/pwned") == "pwned\n")
    }

    @Test func fileEntryReplacesASymlinkInsteadOfWritingThroughIt() throws {
        let hostile = try expectAccepted("symlink-overwrite")
        #expect(unpackFileKind(hostile.rootfs + "/victim") == S_IFREG)
        #expect(unpackReadText(hostile.rootfs + "/victim") == "pwned\n")
    }

    @Test func hardLinkToASymlinkLinksTheSymlinkNotItsTarget() throws {
        let hostile = try expectAccepted("hardlink-to-symlink")
        #expect(unpackFileKind(hostile.rootfs + "/link") == S_IFLNK)
        var info = stat()
        #expect(lstat(hostile.sentinel + "/secret", &info) == 0 && info.st_nlink == 1)
    }

    @Test func whiteoutsHideOnlyLowerLayers() throws {
        let hostile = try HostileCase("same-layer")
        #expect(hostile.unpack() == nil)
        // The opaque marker came after dir/upper of its own layer: only dir/lower goes.
        #expect(unpackReadText(hostile.rootfs + "/dir/upper") == "upper\n")
        #expect(unpackFileKind(hostile.rootfs + "/dir/lower") == nil)
        // `.wh.new` follows `new` in the same layer and does not hide it.
        #expect(unpackReadText(hostile.rootfs + "/new") == "new\n")
        // `.wh.kept` then `kept`: the lower file is hidden, the layer's own one stays.
        #expect(unpackReadText(hostile.rootfs + "/kept") == "upper\n")
    }

    // Applied as the image says, inside the rootfs only.

    @Test(.enabled(if: geteuid() == 0, "mknod needs root"))
    func deviceNodesAreMadeInsideTheRootfsOnly() throws {
        let hostile = try expectAccepted("device")
        #expect(unpackFileKind(hostile.rootfs + "/dev/null") == S_IFCHR)
        #expect(unpackFileKind(hostile.rootfs + "/dev/disk") == S_IFBLK)
    }

    @Test func setuidFileKeepsItsModeInsideTheRootfs() throws {
        let hostile = try expectAccepted("setuid")
        var info = stat()
        #expect(lstat(hostile.rootfs + "/bin/su", &info) == 0)
        if geteuid() == 0 { #expect(info.st_mode & 0o7777 == 0o4755) }
    }

    @Test func duplicateEntryLastOneWins() throws {
        let hostile = try HostileCase("duplicate")
        #expect(hostile.unpack() == nil)
        #expect(unpackReadText(hostile.rootfs + "/twice") == "second\n")
    }

    @Test func conflictingEntriesReplaceEachOtherWithoutFollowingLinks() throws {
        let hostile = try expectAccepted("conflict")
        #expect(unpackReadText(hostile.rootfs + "/x/inside") == "inside\n")
        #expect(unpackReadText(hostile.rootfs + "/d") == "file now\n")
        #expect(unpackFileKind(hostile.rootfs + "/s") == S_IFDIR, "the directory replaces the symlink, not its target")
    }

    @Test func invalidUTF8NameIsKeptByteForByte() throws {
        let hostile = try HostileCase("invalid-utf8")
        #expect(hostile.unpack() == nil)
        let names = try FileSystem.listDirectory(hostile.rootfs)
        #expect(names.count == 1)
        let bytes = Array("bad-".utf8) + [0xFF, 0xFE] + Array("-name".utf8)
        let path = Array(hostile.rootfs.utf8) + [UInt8(ascii: "/")] + bytes + [0]
        var info = stat()
        #expect(path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &info) } } == 0)
    }

    @Test func componentLongerThanNameMaxFailsNamingTheEntry() throws {
        let hostile = try HostileCase("long-name")
        let before = hostile.outside
        let error = hostile.unpack()
        #expect(error?.code == .io, "\(error.map { "\($0.code) \($0)" } ?? "accepted")")
        #expect(error?.message.contains("nnnnnnnn") == true)
        #expect(hostile.outside == before)
    }

    /// 16 GiB long, a few bytes of data: written as a sparse file, the holes cost no disk and
    /// do not count against the byte limit (1 MiB here).
    @Test func hugeSparseFileStaysSparse() throws {
        let hostile = try HostileCase("sparse")
        var limits = UnpackLimits.standard
        limits.maxBytesWritten = 1 << 20
        #expect(hostile.unpack(limits: limits) == nil)
        var info = stat()
        #expect(stat(hostile.rootfs + "/sparse", &info) == 0)
        #expect(Int64(info.st_size) == 16 << 30)
        #expect(Int64(info.st_blocks) * 512 < 1 << 20, "allocated \(info.st_blocks) blocks")
        let handle = try #require(FileHandle(forReadingAtPath: hostile.rootfs + "/sparse"))
        try handle.seek(toOffset: 8 << 30)
        #expect(String(decoding: try handle.read(upToCount: 19) ?? Data(), as: UTF8.self) == "data in the middle\n")
    }
}

@Suite struct LayerCountLimitTests {
    /// A manifest of more layers than the limit is refused when read (pull, import), before any
    /// layer is fetched.
    @Test func manifestWithTooManyLayersIsRefused() throws {
        let layer = #"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:"# + String(repeating: "a", count: 64) + #"","size":1}"#
        let count = UnpackLimits.standard.maxLayers + 1
        let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:"# + String(repeating: "b", count: 64) + #"","size":2},"layers":["# + Array(repeating: layer, count: count).joined(separator: ",") + "]}"
        do {
            _ = try ImageDocuments.manifest(Array(manifest.utf8), source: "many-layers:latest")
            Issue.record("a manifest of \(count) layers was accepted")
        } catch {
            #expect(error.code == .layerLimitExceeded)
            #expect(error.message.contains("many-layers:latest") && error.message.contains("\(count) layers"), "\(error.message)")
        }
        let atTheLimit = manifest.replacingOccurrences(of: "[" + layer + ",", with: "[")
        #expect(throws: Never.self) { try ImageDocuments.manifest(Array(atTheLimit.utf8), source: "limit:latest") }
    }
}

