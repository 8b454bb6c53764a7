import Archive
import Foundation
import GuestProtocol
import Hypervisor
import OCI
import RunxlBase
import Testing
import TestSupport

@testable import GuestBuild

#if canImport(Glibc)
import Glibc
#endif

private func bindSpec(_ mounts: [OCI.Mount]) -> Spec {
    var spec = Spec(ociVersion: "1.2.0")
    spec.process = OCI.Process(args: ["sh", "-c", "true"], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], cwd: "/")
    spec.root = Root(path: "rootfs")
    spec.mounts = mounts
    return spec
}

private func bind(_ source: String, _ destination: String, _ options: [String] = ["rbind", "rw"], type: String? = "bind") -> OCI.Mount {
    OCI.Mount(destination: destination, type: type, source: source, options: options)
}

@Suite struct DirectoryBindTests {
    @Test func selectsDirectoriesInOrderAndLeavesFilesAndKernelPaths() throws {
        let scratch = try ScratchDirectory("binds")
        try scratch.file("data/a.txt", "hello\n")
        try scratch.file("hosts", "127.0.0.1 localhost\n")
        try scratch.directory("cache")
        try scratch.directory("shm")
        let spec = bindSpec([
            OCI.Mount(destination: "/proc", type: "proc", source: "proc"),
            bind(scratch.path + "/hosts", "/etc/hosts", ["rbind", "ro"]),
            bind(scratch.path + "/data", "/srv/data", ["rbind", "nosuid", "ro", "Z"]),
            bind(scratch.path + "/shm", "/dev/shm", ["bind", "mode=1777"]),
            bind(scratch.path + "/cache", "/var/cache", ["bind", "ro", "rw", "nodev", "rprivate"], type: nil),
        ])
        let binds = try DirectoryBinds.select(spec)
        #expect(binds.map(\.destination) == ["/srv/data", "/var/cache"])
        #expect(binds.map(\.mountIndex) == [2, 4])
        #expect(binds.map(\.virtualDevice) == ["xvdb", "xvdc"])
        #expect(binds.map(\.readOnly) == [true, false])  // the last of ro/rw wins, as in runc
        #expect(binds[0].guestOptions == ["nosuid", "ro"])
        #expect(binds[1].guestOptions == ["ro", "rw", "nodev", "rprivate"])
        #expect(binds[0].entries == 2)
        #expect(binds[0].usedBytes > 0)

        let process = try ProcessDescription(spec: spec, rootfs: try makeBusyboxRootfs(in: scratch), directoryBinds: binds)
        #expect(process.mounts.map(\.destination) == ["/proc", "/srv/data", "/var/cache"])
        #expect(process.mounts[1] == ProcessDescription.Mount(
            destination: "/srv/data", type: "ext4", source: "/dev/xvdb", options: ["nosuid", "ro"], waitForSource: true))
        #expect(try ProcessDescription.decode(process.encoded()) == process)
        // Without binds chosen (image convert) the bind mounts stay out, as before.
        let plain = try ProcessDescription(spec: spec, lookup: RootfsLookup(rootfs: scratch.path + "/rootfs"))
        #expect(plain.mounts.map(\.destination) == ["/proc"])
    }

    @Test func badSourcesNameTheMount() throws {
        let scratch = try ScratchDirectory("binds")
        func failure(_ mount: OCI.Mount) -> RunxlError? {
            do {
                _ = try DirectoryBinds.select(bindSpec([mount]))
                return nil
            } catch { return error }
        }
        let missing = failure(bind(scratch.path + "/nope", "/data"))
        #expect(missing?.code == .invalidConfig)
        #expect(missing?.message.contains("mounts[0] (/data)") == true)
        #expect(missing?.message.contains(scratch.path + "/nope") == true)
        #expect(failure(bind("relative/dir", "/data"))?.message.contains("absolute source") == true)
        let device = failure(bind("/dev/null", "/data"))
        #expect(device?.message.contains("neither a file nor a directory") == true)
        try scratch.file("big/blob", String(repeating: "x", count: 64 << 10))
        let tooBig = Result { () throws(RunxlError) in
            try DirectoryBinds.measure(scratch.path + "/big", mountName: "mounts[3] (/big)", byteLimit: 16 << 10)
        }
        #expect(throws: RunxlError.self) { try tooBig.get() }
        if case .failure(let error) = tooBig {
            #expect(error.message.contains("mounts[3] (/big)"))
            #expect(error.message.contains("MiB"))
        }
        #expect(throws: RunxlError.self) {
            try DirectoryBinds.measure(scratch.path + "/big", mountName: "m", entryLimit: 1)
        }
    }

    @Test func sizeHasHeadroomAndHardLinksCountOnce() throws {
        #expect(DirectoryBinds.imageBytes(usedBytes: 0) == 16 << 20)
        #expect(DirectoryBinds.imageBytes(usedBytes: 100 << 20) == 141 << 20)
        #expect(DirectoryBinds.imageBytes(usedBytes: 1) == 17 << 20)  // rounded up to whole MiB
        #expect(DirectoryBinds.inodeCount(entries: 3) == 1024)
        #expect(DirectoryBinds.inodeCount(entries: 5000) == 10000)
        let scratch = try ScratchDirectory("binds")
        try scratch.file("tree/one", String(repeating: "y", count: 40_000))
        let single = try DirectoryBinds.measure(scratch.path + "/tree", mountName: "m")
        scratch.hardlink("tree/two", to: "tree/one")
        let linked = try DirectoryBinds.measure(scratch.path + "/tree", mountName: "m")
        #expect(linked.usedBytes == single.usedBytes)
        #expect(linked.entries == single.entries + 1)
    }

    @Test func tooManyDirectoryBinds() throws {
        let scratch = try ScratchDirectory("binds")
        try scratch.directory("d")
        let mounts = (0...DirectoryBinds.maximumCount).map { bind(scratch.path + "/d", "/m\($0)") }
        #expect(throws: RunxlError.self) { try DirectoryBinds.select(bindSpec(mounts)) }
    }

    @Test(.enabled(if: ToolRun.find("mke2fs") != nil, "needs mke2fs (e2fsprogs)"))
    func imagesHoldTheTreeAndFailuresLeaveNothing() throws {
        let scratch = try ScratchDirectory("binds")
        try scratch.file("data/sub/file.txt", "from the host\n")
        try scratch.directory("data", mode: 0o1777)
        let binds = try DirectoryBinds.select(bindSpec([bind(scratch.path + "/data", "/data", ["rbind", "ro"])]))
        let started = Date()
        let disks = try DirectoryBinds.buildImages(binds, in: scratch.path + "/state/binds")
        let seconds = Date().timeIntervalSince(started)
        print("mke2fs image of a 1-file directory: \(String(format: "%.3f", seconds)) s")
        #expect(disks == [DiskSpec(path: scratch.path + "/state/binds/xvdb.img", virtualDevice: "xvdb", readOnly: true, format: .raw)])
        var info = stat()
        #expect(stat(disks[0].path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(Int64(info.st_size) == DirectoryBinds.imageBytes(usedBytes: binds[0].usedBytes))
        let listing = try run("/usr/sbin/debugfs", ["-R", "cat /sub/file.txt", disks[0].path])
        #expect(listing.contains("from the host"))
        let root = try run("/usr/sbin/debugfs", ["-R", "stat /", disks[0].path])
        #expect(root.contains("Mode:  01777"))

        // A failing mke2fs (here: not mke2fs at all) leaves no image and no directory.
        let failing = ImageFormatter(mke2fs: "/bin/false")
        #expect(throws: RunxlError.self) {
            try DirectoryBinds.buildImages(binds, in: scratch.path + "/state2/binds", formatter: failing)
        }
        #expect(!FileSystem.exists(scratch.path + "/state2/binds"))
    }

    @Test(.enabled(if: ToolRun.find("mke2fs") != nil, "needs mke2fs (e2fsprogs)"))
    func builderAddsDisksAndModulesOnlyWithAnImageDirectory() throws {
        let scratch = try ScratchDirectory("binds")
        let rootfs = try makeBusyboxRootfs(in: scratch)
        try scratch.file("data/x", "x\n")
        try scratch.file("init-binary", "#!/bin/sh\n", mode: 0o755)
        let spec = bindSpec([bind(scratch.path + "/data", "/data")])
        let builder = GuestBuilder(options: GuestBuildOptions(
            initBinary: scratch.path + "/init-binary", cacheDirectory: scratch.path + "/cache"))
        let converted = try builder.build(spec: spec, rootfs: rootfs, domainName: "runxl-t")
        #expect(converted.domain.disks.isEmpty)
        #expect(converted.process.mounts.isEmpty)
        let created = try builder.build(spec: spec, rootfs: rootfs, domainName: "runxl-t", bindImageDirectory: scratch.path + "/state")
        #expect(created.domain.disks.map(\.virtualDevice) == ["xvdb"])
        #expect(created.domain.disks.first?.readOnly == false)
        #expect(FileSystem.exists(scratch.path + "/state/binds/xvdb.img"))
        #expect(created.process.mounts.map(\.source) == ["/dev/xvdb"])
        #expect(created.initramfs?.key != converted.initramfs?.key)
        let initramfs = try #require(created.initramfs?.path)
        let entries = try ArchiveReader.entries(inArchiveAt: initramfs, dataLimit: 1 << 16)
        let order = try #require(entries.first { $0.path == ".runxl/modules/order" }?.data)
        let names = String(decoding: order, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(names.first == "xen-blkfront.ko")
        #expect(names.last == "ext4.ko")
        #expect(names.contains("crc32c_generic.ko") && names.contains("jbd2.ko"))
        #expect(entries.contains { $0.path == ".runxl/modules/ext4.ko" })
    }
}

private func run(_ program: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return output
}
