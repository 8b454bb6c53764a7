import Archive
import Foundation
import ImageStore
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The multi-layer image of Tests/images/make-layered.sh, unpacked by LayerUnpacker and by
/// `umoci unpack` (the reference: it is what the issue asks the rootfs to equal).
@Suite(.enabled(if: UnpackFixtures.umociAvailable && geteuid() == 0, "needs umoci (Scripts/bootstrap installs it) and root"))
struct UnpackLayeredTests {
    @Test func layeredImageMatchesUmociUnpack() throws {
        let scratch = try UnpackScratch("layered")
        let layout = scratch.path + "/layout"
        try UnpackFixtures.run(UnpackFixtures.imagesDirectory + "/make-layered.sh", [layout])
        try UnpackFixtures.run("umoci", ["unpack", "--image", layout + ":gzip", scratch.path + "/umoci"])

        let layers = try UnpackFixtures.layers(of: layout, tag: "latest")
        #expect(layers.map(\.mediaType) == [
            "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.oci.image.layer.v1.tar",
        ])
        // Compression is found from the content, not the media type.
        #expect(try layers.map { try ArchiveEntryStream(tarAt: $0.path).compression } == ["gzip", "gzip", "gzip", "zstd", "none"])

        let rootfs = scratch.path + "/rootfs"
        let unpacker = try LayerUnpacker(rootfs: rootfs)
        for layer in layers { try unpacker.apply(layerAt: layer.path, diffID: nil) }

        let comparison = try UnpackFixtures.run(
            "python3", [UnpackFixtures.imagesDirectory + "/compare-rootfs.py", scratch.path + "/umoci/rootfs", rootfs])
        #expect(comparison.contains(": 0 differences"), "\(comparison)")

        // The points the image was made for, spelled out.
        #expect(unpackReadText(rootfs + "/flip") == "a file again\n")
        #expect(unpackReadText(rootfs + "/dirfile") == "now a file\n")
        #expect(try FileSystem.listDirectory(rootfs + "/opaque") == ["lower-sub", "new-file"])
        #expect(try FileSystem.listDirectory(rootfs + "/opaque/lower-sub") == ["y"])
        #expect(unpackFileKind(rootfs + "/gone-dir") == nil)
        #expect(unpackFileKind(rootfs + "/rel-link") == nil)
        #expect(unpackFileKind(rootfs + "/etc/secret") == S_IFLNK)
        #expect(unpackFileKind(rootfs + "/dev/null") == S_IFCHR)
        #expect(unpackFileKind(rootfs + "/plain/fifo") == S_IFIFO)
        var info = stat()
        #expect(lstat(rootfs + "/usr/bin/suid", &info) == 0 && info.st_mode & 0o7777 == 0o4755)
        #expect(lstat(rootfs + "/usr/bin/hard4", &info) == 0 && info.st_nlink == 3)
        #expect(lstat(rootfs + "/zstd/hello", &info) == 0 && info.st_uid == 7 && info.st_gid == 8)
        // Times from the layer, directories' after their children.
        #expect(info.st_mtim.tv_sec == 1_700_000_000)
        #expect(lstat(rootfs + "/zstd", &info) == 0 && info.st_mtim.tv_sec == 1_700_000_000)
    }

    @Test func layersReadTheSameWithAndWithoutTheDecompressionThread() throws {
        let scratch = try UnpackScratch("stream")
        let layout = scratch.path + "/layout"
        try UnpackFixtures.run(UnpackFixtures.imagesDirectory + "/make-layered.sh", [layout])
        for layer in try UnpackFixtures.layers(of: layout, tag: "latest") {
            /// Each header with a checksum of its data.
            func read(threaded: Bool) throws -> [String] {
                let stream = try ArchiveEntryStream(tarAt: layer.path, decompressOnSeparateThread: threaded)
                var entries: [String] = []
                while let header = try stream.nextHeader() {
                    var checksum = 0
                    var end: Int64 = 0
                    var contiguous = true
                    try stream.readData { offset, bytes in
                        contiguous = contiguous && offset == end
                        end = offset + Int64(bytes.count)
                        checksum = bytes.reduce(checksum) { $0 &* 31 &+ Int($1) }
                    }
                    entries.append("\(header) \(checksum) \(end) \(contiguous)")
                }
                return entries
            }
            let threaded = try read(threaded: true)
            #expect(!threaded.isEmpty)
            #expect(threaded == (try read(threaded: false)))
        }
    }
}
