import Archive
import Foundation
import GuestBuild
import GuestProtocol
import ImageStore
import OCI
import RunxlBase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `image convert` of a stored image streams its layers into the initramfs. What it writes must
/// be what the kernel would get from the cpio of the unpacked rootfs (LayerUnpacker, then
/// InitramfsBuilder's tree walk): same paths, types, modes, owners, contents, symlink targets,
/// device numbers and hard-link groups.
@Suite(.enabled(if: UnpackFixtures.umociAvailable && geteuid() == 0, "needs umoci (Scripts/bootstrap installs it) and root"))
struct StreamConvertTests {
    @Test func layeredImageStreamsToTheUnpackedTree() throws {
        let scratch = try UnpackScratch("stream-layered")
        let layout = scratch.path + "/layout"
        try UnpackFixtures.run(UnpackFixtures.imagesDirectory + "/make-layered.sh", [layout])
        let layers = try UnpackFixtures.layers(of: layout, tag: "latest").map(\.path)
        #expect(layers.count == 5)

        let fixture = try StreamFixture(scratch)
        let expected = try fixture.unpackedArchive(layers)
        let streamed = try fixture.streamedArchive(layers)
        let expectedTree = try CpioTree(path: expected)
        let streamedTree = try CpioTree(path: streamed.path)
        #expect(streamedTree.duplicates.isEmpty, "\(streamedTree.duplicates)")
        #expect(streamedTree.nodes.count == expectedTree.nodes.count && expectedTree.nodes.count > 30)
        #expect(streamedTree.differences(from: expectedTree) == [])

        // The points the image was made for.
        #expect(streamedTree.nodes["flip"]?.contents == Array("a file again\n".utf8))
        #expect(streamedTree.nodes["opaque/lower-a"] == nil)
        #expect(streamedTree.nodes["opaque/lower-sub/y"] != nil && streamedTree.nodes["opaque/lower-sub/x"] == nil)
        #expect(streamedTree.nodes["gone-dir"] == nil && streamedTree.nodes["rel-link"] == nil)
        #expect(streamedTree.nodes["etc/secret"]?.type == 0o120000)
        #expect(streamedTree.nodes["usr/bin/hard4"]?.group == ["usr/bin/hard1", "usr/bin/hard3", "usr/bin/hard4"])
        #expect(streamedTree.nodes.keys.allSatisfy { !$0.contains(".wh.") })
        // The listing the process lookups use holds the final tree.
        #expect(streamed.listing.nodes["etc/secret"]?.symlinkTarget == "/etc/hello")
        #expect(streamed.listing.nodes["dirfile"]?.kind == .regular)
    }

    @Test func secondBuildIsACacheHitThatReadsNoLayer() throws {
        let scratch = try UnpackScratch("stream-cache")
        let fixture = try StreamFixture(scratch)
        let layers = try fixture.layers([
            [.directory("etc"), .file("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"),
             .directory("bin"), .file("bin/app", "#!/bin/sh\n", mode: 0o755)],
        ])
        let first = try fixture.streamedArchive(layers, identity: "sha256:" + String(repeating: "a", count: 64))
        #expect(!first.initramfs.cacheHit)
        // Gone layers cannot be read: a hit must not need them.
        for layer in layers { unlink(layer) }
        let second = try fixture.streamedArchive(layers, identity: "sha256:" + String(repeating: "a", count: 64))
        #expect(second.initramfs.cacheHit)
        #expect(second.initramfs.path == first.initramfs.path)
        #expect(second.initramfs.contentBytes == first.initramfs.contentBytes)
        #expect(second.processFile == first.processFile)
        // Another identity is another key, and its layers are needed.
        #expect(throws: RunxlError.self) {
            try fixture.streamedArchive(layers, identity: "sha256:" + String(repeating: "b", count: 64))
        }
    }

    @Test func whiteoutOnlyLayerHidesLowerEntries() throws {
        let scratch = try UnpackScratch("stream-whiteout")
        let fixture = try StreamFixture(scratch)
        let layers = try fixture.layers([
            [.directory("a"), .file("a/x", "x"), .file("a/y", "y"), .file("b", "b"), .directory("c"), .file("c/deep", "d"),
             .symlink("link", "a/x")],
            [.file("a/.wh.x", ""), .file(".wh.b", ""), .file(".wh.c", ""), .file(".wh.link", "")],
        ])
        let streamed = try CpioTree(path: try fixture.streamedArchive(layers).path)
        #expect(streamed.nodes["a/y"]?.contents == Array("y".utf8))
        for gone in ["a/x", "b", "c", "c/deep", "link"] { #expect(streamed.nodes[gone] == nil, "\(gone)") }
        #expect(streamed.duplicates.isEmpty)
        #expect(streamed.differences(from: try CpioTree(path: try fixture.unpackedArchive(layers))) == [])
    }

    @Test func opaqueDirectoryKeepsOnlyItsOwnLayer() throws {
        let scratch = try UnpackScratch("stream-opaque")
        let fixture = try StreamFixture(scratch)
        let layers = try fixture.layers([
            [.directory("d"), .file("d/old", "old"), .directory("d/sub"), .file("d/sub/z", "z"), .file("keep", "k")],
            [.directory("d", mode: 0o700), .file("d/new", "new"), .file("d/.wh..wh..opq", "")],
            [.file("d/later", "later")],
        ])
        let streamed = try CpioTree(path: try fixture.streamedArchive(layers).path)
        #expect(streamed.nodes["d/old"] == nil && streamed.nodes["d/sub"] == nil && streamed.nodes["d/sub/z"] == nil)
        #expect(streamed.nodes["d/new"]?.contents == Array("new".utf8))
        #expect(streamed.nodes["d/later"] != nil && streamed.nodes["keep"] != nil)
        #expect(streamed.nodes["d"]?.mode == 0o700)
        #expect(streamed.duplicates.isEmpty)
        #expect(streamed.differences(from: try CpioTree(path: try fixture.unpackedArchive(layers))) == [])
    }

    /// Hard links inside one layer follow their target in the tar; the group is written again at
    /// the end with a shared inode, which the kernel turns into the same links.
    @Test func hardLinksInASingleLayer() throws {
        let scratch = try UnpackScratch("stream-hardlink")
        let fixture = try StreamFixture(scratch)
        let layers = try fixture.layers([
            [.directory("bin"), .file("bin/perl", String(repeating: "p", count: 100_000), mode: 0o755),
             .file("bin/other", "o"), .hardLink("bin/perl5", "bin/perl")],
        ])
        let streamed = try CpioTree(path: try fixture.streamedArchive(layers).path)
        #expect(streamed.nodes["bin/perl5"]?.group == ["bin/perl", "bin/perl5"])
        #expect(streamed.nodes["bin/perl5"]?.contents.count == 100_000)
        // The target went out before its link was known: written again, linked, at the end.
        #expect(streamed.duplicates == ["bin/perl"])
        #expect(streamed.differences(from: try CpioTree(path: try fixture.unpackedArchive(layers))) == [])
    }

    @Test func missingCommandOrUserFailsAndLeavesNoCacheFile() throws {
        let scratch = try UnpackScratch("stream-missing")
        let fixture = try StreamFixture(scratch)
        let layers = try fixture.layers([
            [.directory("etc"), .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), .directory("bin"),
             .file("bin/app", "#!/bin/sh\n", mode: 0o755)],
        ])
        do {
            _ = try fixture.streamedArchive(layers, args: ["/bin/missing"])
            Issue.record("a missing command was accepted")
        } catch let error as RunxlError {
            #expect(error.code == .invalidConfig)
            #expect(error.message.contains("/bin/missing"))
        }
        do {
            _ = try fixture.streamedArchive(layers, args: ["app"], imageUser: "ghost")
            Issue.record("an unknown user was accepted")
        } catch let error as RunxlError {
            #expect(error.code == .invalidImage)
            #expect(error.message.contains("ghost"))
        }
        #expect(try FileSystem.listDirectory(fixture.cache + "/initramfs") == [])
        // Found through PATH, with the user from the streamed /etc/passwd, it builds.
        let built = try fixture.streamedArchive(layers, args: ["app"], imageUser: "root")
        #expect(!built.initramfs.cacheHit)
    }

    @Test func entryClimbingOutOfTheRootIsRefused() throws {
        let scratch = try UnpackScratch("stream-escape")
        let fixture = try StreamFixture(scratch)
        let layers = try fixture.layers([[.directory("bin"), .file("bin/app", "x", mode: 0o755)], [.file("../evil", "x")]])
        do {
            _ = try fixture.streamedArchive(layers)
            Issue.record("an entry with '..' escaping the root was accepted")
        } catch let error as RunxlError {
            #expect(error.code == .unsafeLayerEntry)
            #expect(error.message.contains("../evil"))
        }
        #expect(try FileSystem.listDirectory(fixture.cache + "/initramfs") == [])
    }
}

/// An entry of a hand-made layer (written by Python's tarfile, as layers 3-5 of make-layered.sh).
enum LayerEntry {
    case directory(String, mode: Int = 0o755)
    case file(String, String, mode: Int = 0o644)
    case symlink(String, String)
    case hardLink(String, String)

    var json: [String: Any] {
        switch self {
        case .directory(let name, let mode): return ["name": name, "type": "dir", "mode": mode]
        case .file(let name, let data, let mode): return ["name": name, "type": "file", "data": data, "mode": mode]
        case .symlink(let name, let target): return ["name": name, "type": "symlink", "target": target]
        case .hardLink(let name, let target): return ["name": name, "type": "link", "target": target]
        }
    }
}

/// Builds the same layers both ways into one cache.
struct StreamFixture {
    let scratch: UnpackScratch
    let cache: String
    let initBinary: String

    init(_ scratch: UnpackScratch) throws {
        self.scratch = scratch
        cache = scratch.path + "/cache"
        initBinary = scratch.path + "/runxl-init"
        try FileSystem.writeAtomically(initBinary, Array("not really init\n".utf8), mode: 0o755)
    }

    /// Writes each layer as a gzip tar; returns their paths, bottom first.
    func layers(_ layers: [[LayerEntry]]) throws -> [String] {
        var paths: [String] = []
        for (index, entries) in layers.enumerated() {
            let path = scratch.path + "/layer\(index).tar.gz"
            let description = try JSONSerialization.data(withJSONObject: entries.map(\.json))
            let script = """
                import io, json, sys, tarfile
                entries = json.loads(sys.argv[2])
                with tarfile.open(sys.argv[1], "w:gz", format=tarfile.PAX_FORMAT) as tar:
                    for e in entries:
                        info = tarfile.TarInfo(e["name"])
                        info.mtime = 1700000000
                        data = e.get("data", "").encode()
                        info.type = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "symlink": tarfile.SYMTYPE, "link": tarfile.LNKTYPE}[e["type"]]
                        info.mode = e.get("mode", 0o777)
                        if e["type"] in ("symlink", "link"): info.linkname = e["target"]
                        info.size = len(data) if e["type"] == "file" else 0
                        tar.addfile(info, io.BytesIO(data) if e["type"] == "file" else None)
                """
            try UnpackFixtures.run("python3", ["-c", script, path, String(decoding: description, as: UTF8.self)])
            paths.append(path)
        }
        return paths
    }

    /// Today's path: LayerUnpacker into a rootfs, then the tree walk into an uncompressed cpio.
    func unpackedArchive(_ layers: [String]) throws -> String {
        let rootfs = scratch.path + "/rootfs-\(UUID().uuidString)"
        let unpacker = try LayerUnpacker(rootfs: rootfs)
        for layer in layers { try unpacker.apply(layerAt: layer, diffID: nil) }
        let request = InitramfsRequest(
            rootfs: rootfs, initBinary: initBinary, processFile: Array("{}\n".utf8), compression: ArchiveCompression.none)
        return try InitramfsBuilder(cacheDirectory: scratch.path + "/unpack-cache-\(UUID().uuidString)").build(request).path
    }

    /// The streamed path, with the process resolved from the listing as `image convert` does.
    func streamedArchive(
        _ layers: [String], identity: String = "sha256:" + String(repeating: "0", count: 64), args: [String]? = nil,
        imageUser: String? = nil
    ) throws -> (path: String, initramfs: Initramfs, processFile: [UInt8], listing: RootfsListing) {
        let request = LayeredInitramfsRequest(
            layers: ImageLayers(paths: layers, diffIDs: nil, identity: identity), initBinary: initBinary,
            processInputs: Array((args ?? []).joined(separator: "\0").utf8), compression: ArchiveCompression.none)
        var seen: RootfsListing?
        let (initramfs, processFile) = try InitramfsBuilder(cacheDirectory: cache).build(request) {
            listing throws(RunxlError) in
            seen = listing
            guard let args else { return Array("{}\n".utf8) }
            let image = ImageConfig(
                architecture: "amd64", os: "linux", config: ImageConfig.Config(user: imageUser, cmd: args),
                rootfs: ImageConfig.RootFS(type: "layers", diffIDs: []))
            let spec = try ImageBundle.spec(
                for: image, image: "test", rootfsPath: "rootfs", args: [], terminal: false,
                users: ImageUserDatabases(passwd: listing.files["etc/passwd"], group: listing.files["etc/group"]))
            return try ProcessDescription(spec: spec, lookup: RootfsLookup(listing: listing)).encoded()
        }
        return (initramfs.path, initramfs, processFile, seen ?? RootfsListing())
    }
}

/// What the kernel makes of a newc archive: later entries replace earlier ones of the same
/// path, regular files with two or more links and the same inode number become one file.
struct CpioTree {
    struct Node: Equatable {
        var type: UInt32
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var contents: [UInt8] = []
        var device: [UInt32] = []
        var group: [String]? = nil
    }

    var nodes: [String: Node] = [:]
    var duplicates: [String] = []

    init(path: String) throws {
        let data = try FileSystem.read(path)
        var offset = 0
        var linkedBy: [UInt32: String] = [:]
        var inodeOf: [String: UInt32] = [:]
        func field(_ index: Int) -> UInt32 {
            let start = offset + 6 + 8 * index
            return UInt32(String(decoding: data[start..<start + 8], as: UTF8.self), radix: 16) ?? 0
        }
        while offset + 110 <= data.count {
            guard String(decoding: data[offset..<offset + 6], as: UTF8.self) == "070701" else {
                throw RunxlError(.invalidImage, "no newc header at \(offset) of \(path)")
            }
            let inode = field(0), mode = field(1), uid = field(2), gid = field(3), links = field(4)
            let size = Int(field(6)), major = field(9), minor = field(10), nameSize = Int(field(11))
            let name = String(decoding: data[(offset + 110)..<(offset + 110 + nameSize - 1)], as: UTF8.self)
            offset = (offset + 110 + nameSize + 3) & ~3
            let body = Array(data[offset..<(offset + size)])
            offset = (offset + size + 3) & ~3
            if name == "TRAILER!!!" { break }
            // Outside the comparison: runxl's own files are the same code both ways, the
            // process file differs by design.
            if name == ".runxl" || name.hasPrefix(".runxl/") || name == "dev/console" { continue }
            if nodes[name] != nil { duplicates.append(name) }
            var node = Node(type: mode & 0o170000, mode: mode & 0o7777, uid: uid, gid: gid)
            switch node.type {
            case 0o100000:
                if links >= 2, let first = linkedBy[inode], let shared = nodes[first] {
                    node = shared
                    if size > 0 { node.contents = body }
                } else {
                    if links >= 2 { linkedBy[inode] = name }
                    node.contents = body
                }
                inodeOf[name] = links >= 2 ? inode : nil
            case 0o120000:
                node.contents = body
                node.mode = 0
            case 0o020000, 0o060000:
                node.device = [major, minor]
            default:
                break
            }
            nodes[name] = node
        }
        var members: [UInt32: [String]] = [:]
        for (name, inode) in inodeOf { members[inode, default: []].append(name) }
        for (_, names) in members where names.count > 1 {
            let contents = names.compactMap { nodes[$0]?.contents }.max { $0.count < $1.count } ?? []
            for name in names {
                nodes[name]?.group = names.sorted()
                nodes[name]?.contents = contents
            }
        }
    }

    /// One line per path that differs, root entry included (times are left out).
    func differences(from expected: CpioTree) -> [String] {
        var lines: [String] = []
        for name in Set(nodes.keys).union(expected.nodes.keys).sorted() {
            let mine = nodes[name], theirs = expected.nodes[name]
            if mine != theirs {
                lines.append("\(name): expected \(theirs.map(Self.describe) ?? "nothing"), streamed \(mine.map(Self.describe) ?? "nothing")")
            }
        }
        return lines
    }

    private static func describe(_ node: Node) -> String {
        "type \(String(node.type, radix: 8)) mode \(String(node.mode, radix: 8)) \(node.uid):\(node.gid) "
            + "\(node.contents.count) bytes device \(node.device) group \(node.group ?? [])"
    }
}
