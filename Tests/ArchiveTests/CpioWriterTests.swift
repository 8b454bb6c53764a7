import Archive
import Foundation
import RunxlBase
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct CpioWriterTests {
    /// A tree with every kind of entry the walker must keep, plus whiteouts it must drop.
    private func makeTree(_ scratch: ScratchDirectory) throws -> String {
        try scratch.directory("tree/etc", mode: 0o750)
        try scratch.file("tree/etc/shadow", "secret\n", mode: 0o640)
        scratch.chown("tree/etc/shadow", uid: 1000, gid: 42)
        try scratch.file("tree/bin/tool", "#!/bin/sh\necho hi\n", mode: 0o4755)
        scratch.symlink("tree/bin/sh", to: "tool")
        scratch.symlink("tree/dangling", to: "/nowhere/at/all")
        scratch.hardlink("tree/bin/tool-again", to: "tree/bin/tool")
        try scratch.file("tree/var/.wh.removed", "")
        try scratch.file("tree/var/kept", "kept")
        try scratch.file("tree/opaque/.wh..wh..opq", "")
        mkfifo(scratch.path + "/tree/fifo", 0o600)
        scratch.setMtime("tree/var/kept", 1_600_000_000)
        if isRoot { mknod(scratch.path + "/tree/null", S_IFCHR | 0o666, dev_t((1 << 8) | 3)) }
        chmod(scratch.path + "/tree", 0o755)
        return scratch.path + "/tree"
    }

    private func noWhiteouts() -> TreeOptions {
        TreeOptions(include: { !$0.name.hasPrefix(".wh.") })
    }

    @Test(arguments: ArchiveCompression.allCases)
    func treeRoundTrips(compression: ArchiveCompression) throws {
        let scratch = try ScratchDirectory()
        let tree = try makeTree(scratch)
        let output = scratch.path + "/out.cpio" + compression.fileExtension
        let writer = try CpioWriter(path: output, compression: compression)
        try writer.addTree(from: tree, to: "/", options: noWhiteouts())
        try writer.addFile("/.runxl/process", contents: Array("hello".utf8), metadata: EntryMetadata(permissions: 0o400))
        let size = try writer.finish()
        #expect(size > 0)

        let entries = try ArchiveReader.entries(inArchiveAt: output, dataLimit: 1 << 20)
        let byPath = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(entries.first?.path == ".")
        #expect(byPath["."]?.permissions == 0o755)
        #expect(byPath["etc"]?.kind == .directory)
        #expect(byPath["etc"]?.permissions == 0o750)
        #expect(byPath["etc/shadow"]?.permissions == 0o640)
        if isRoot {
            #expect(byPath["etc/shadow"]?.uid == 1000)
            #expect(byPath["etc/shadow"]?.gid == 42)
            #expect(byPath["null"]?.kind == .characterDevice)
            #expect(byPath["null"]?.deviceMajor == 1)
            #expect(byPath["null"]?.deviceMinor == 3)
        }
        #expect(byPath["bin/tool"]?.permissions == 0o4755)
        #expect(byPath["bin/sh"]?.kind == .symlink)
        #expect(byPath["bin/sh"]?.symlinkTarget == "tool")
        #expect(byPath["dangling"]?.symlinkTarget == "/nowhere/at/all")
        #expect(byPath["fifo"]?.kind == .fifo)
        #expect(byPath["var/kept"]?.data == Array("kept".utf8))
        #expect(byPath["var/kept"]?.modificationTime == 1_600_000_000)
        #expect(byPath[".runxl/process"]?.permissions == 0o400)
        #expect(byPath[".runxl/process"]?.data == Array("hello".utf8))
        #expect(byPath["opaque"]?.kind == .directory)
        #expect(!entries.contains { $0.path.contains(".wh.") })

        // Hard links: one body, the same inode number, the later name pointing at the first.
        let first = try #require(byPath["bin/tool"])
        let second = try #require(byPath["bin/tool-again"])
        #expect(first.inode == second.inode)
        #expect(first.data == Array("#!/bin/sh\necho hi\n".utf8))
        #expect(second.hardlinkTarget == "bin/tool")
        #expect(second.size == 0)

        // Sorted, directories before their contents.
        let paths = entries.map(\.path)
        #expect(paths.firstIndex(of: "bin")! < paths.firstIndex(of: "bin/sh")!)
        #expect(paths.firstIndex(of: "bin/sh")! < paths.firstIndex(of: "bin/tool")!)
    }

    @Test func sameTreeGivesIdenticalBytes() throws {
        let scratch = try ScratchDirectory()
        let tree = try makeTree(scratch)
        for name in ["a.cpio", "b.cpio"] {
            let writer = try CpioWriter(path: scratch.path + "/" + name, compression: .gzip)
            try writer.addTree(from: tree, options: noWhiteouts())
            try writer.finish()
        }
        #expect(try FileSystem.read(scratch.path + "/a.cpio") == FileSystem.read(scratch.path + "/b.cpio"))
    }

    @Test func prefixAndOwnerOverride() throws {
        let scratch = try ScratchDirectory()
        let tree = try makeTree(scratch)
        let output = scratch.path + "/out.cpio"
        let writer = try CpioWriter(path: output)
        try writer.addDirectory("sub", metadata: EntryMetadata(permissions: 0o700))
        try writer.addTree(from: tree, to: "sub/tree", options: TreeOptions(owner: (uid: 0, gid: 0)))
        try writer.addSymlink("link", target: "sub/tree")
        try writer.finish()
        let entries = try ArchiveReader.entries(inArchiveAt: output)
        #expect(entries.map(\.path).prefix(3) == ["sub", "sub/tree", "sub/tree/bin"])
        #expect(entries.allSatisfy { $0.uid == 0 && $0.gid == 0 })
        #expect(entries.contains { $0.path == "sub/tree/var/.wh.removed" })
        #expect(entries.last?.symlinkTarget == "sub/tree")
    }

    /// The system's own cpio must read what we write (it is what people debug initramfs with).
    @Test func gnuCpioReadsIt() throws {
        let scratch = try ScratchDirectory()
        let tree = try makeTree(scratch)
        let output = scratch.path + "/out.cpio"
        let writer = try CpioWriter(path: output)
        try writer.addTree(from: tree, options: noWhiteouts())
        try writer.finish()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "cpio -t --quiet < '\(output)'"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(listing.split(separator: "\n").contains("bin/tool-again"))
    }

    @Test func lz4IsTheLegacyFormatTheKernelReads() throws {
        let scratch = try ScratchDirectory()
        let tree = try makeTree(scratch)
        let output = scratch.path + "/out.cpio.lz4"
        let writer = try CpioWriter(path: output, compression: .lz4)
        try writer.addTree(from: tree, options: noWhiteouts())
        try writer.finish()
        let head = try Array(FileSystem.read(output).prefix(4))
        #expect(head == [0x02, 0x21, 0x4C, 0x18])
        // The lz4 tool reads the legacy format too.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "lz4 -dc '\(output)' | cpio -t --quiet | grep -c ."]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let count = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 10)
    }

    @Test func missingTreeNamesThePath() throws {
        let scratch = try ScratchDirectory()
        let writer = try CpioWriter(path: scratch.path + "/out.cpio")
        #expect {
            try writer.addTree(from: "/no/such/tree")
        } throws: { error in
            (error as? RunxlError)?.code == .io && "\(error)".contains("/no/such/tree")
        }
    }
}
