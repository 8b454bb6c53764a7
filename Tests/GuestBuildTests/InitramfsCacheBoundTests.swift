import RunxlBase
import Testing
import TestSupport

@testable import GuestBuild

#if canImport(Glibc)
import Glibc
#endif

/// The initramfs cache stays inside its bound (issue 19: runtime-tools' bundles filled the lab
/// dom0's RAM with images and later creates failed), dropping least recently used images and
/// never one a create may be about to boot.
@Suite struct InitramfsCacheBoundTests {
    private let now = 1_800_000_000
    private let old = 1_800_000_000 - InitramfsCacheBound.graceSeconds - 60

    private func image(_ scratch: ScratchDirectory, _ name: String, bytes: Int, lastUsed: Int, sidecar: Bool = false) throws {
        try scratch.file("initramfs/" + name, String(repeating: "x", count: bytes))
        scratch.setMtime("initramfs/" + name, lastUsed)
        if sidecar { try scratch.file("initramfs/" + name + ".process", "12\n{}") }
    }

    @Test func theLeastRecentlyUsedGoFirstUntilTheNewImageFits() throws {
        let scratch = try ScratchDirectory("cachebound")
        try image(scratch, "initramfs-a.cpio.gz", bytes: 400, lastUsed: old - 30)
        try image(scratch, "initramfs-b.cpio.gz", bytes: 400, lastUsed: old - 20, sidecar: true)
        try image(scratch, "initramfs-c.cpio.gz", bytes: 400, lastUsed: old - 10)
        let bound = InitramfsCacheBound(directory: scratch.path + "/initramfs", limitBytes: 1000)
        let removed = bound.makeRoom(for: 300, now: now)
        // 1205 held (b's sidecar too) + 300 coming > 1000: a and b go, b with its sidecar; c stays (400 + 300 fits).
        #expect(removed.map { String($0.split(separator: "/").last!) } == ["initramfs-a.cpio.gz", "initramfs-b.cpio.gz"])
        #expect(!FileSystem.exists(scratch.path + "/initramfs/initramfs-b.cpio.gz.process"))
        #expect(FileSystem.exists(scratch.path + "/initramfs/initramfs-c.cpio.gz"))
    }

    @Test func imagesUsedWithinTheGraceTimeStayEvenOverTheBound() throws {
        let scratch = try ScratchDirectory("cachebound")
        try image(scratch, "initramfs-old.cpio", bytes: 500, lastUsed: old)
        try image(scratch, "initramfs-recent.cpio", bytes: 500, lastUsed: now - 5)
        let bound = InitramfsCacheBound(directory: scratch.path + "/initramfs", limitBytes: 0)
        #expect(bound.makeRoom(for: 100, now: now).count == 1)
        #expect(FileSystem.exists(scratch.path + "/initramfs/initramfs-recent.cpio"))
        #expect(!FileSystem.exists(scratch.path + "/initramfs/initramfs-old.cpio"))
    }

    @Test func leftoversOfDeadBuildsGoOnceOld() throws {
        let scratch = try ScratchDirectory("cachebound")
        let dead = "initramfs-d.cpio.gz.123" + FileSystem.temporarySuffix
        let running = "initramfs-e.cpio.gz.456" + FileSystem.temporarySuffix
        try image(scratch, dead, bytes: 10, lastUsed: old)
        try image(scratch, running, bytes: 10, lastUsed: now - 1)
        InitramfsCacheBound(directory: scratch.path + "/initramfs", limitBytes: 1 << 30).makeRoom(for: 0, now: now)
        #expect(!FileSystem.exists(scratch.path + "/initramfs/" + dead))
        #expect(FileSystem.exists(scratch.path + "/initramfs/" + running))
    }

    @Test func theBuilderMakesRoomBeforeStoringANewImage() throws {
        let scratch = try ScratchDirectory("cachebound")
        let rootfs = try makeBusyboxRootfs(in: scratch)
        try scratch.file("init-binary", "#!/bin/sh\n", mode: 0o755)
        // A bound of 1 MiB holds one busybox image (about 1 MiB gzip'ed, 2 MiB of content): the
        // second build drops the first once it is outside the grace time.
        let builder = InitramfsBuilder(cacheDirectory: scratch.path + "/cache", cacheLimitMiB: 1)
        let first = try builder.build(
            InitramfsRequest(rootfs: rootfs, initBinary: scratch.path + "/init-binary", processFile: Array("one".utf8)))
        let longAgo = Int(time(nil)) - InitramfsCacheBound.graceSeconds - 60
        var times = [timespec(tv_sec: longAgo, tv_nsec: 0), timespec(tv_sec: longAgo, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, first.path, &times, 0) == 0)
        let second = try builder.build(
            InitramfsRequest(rootfs: rootfs, initBinary: scratch.path + "/init-binary", processFile: Array("two".utf8)))
        #expect(!second.cacheHit)
        #expect(!FileSystem.exists(first.path))
        #expect(FileSystem.exists(second.path))
    }

    @Test func theDefaultBoundIsAQuarterOfTheFileSystemAtMostTwoGiB() {
        let bound = InitramfsCacheBound(directory: "/nonexistent/runxl/cache/initramfs", limitMiB: nil)
        #expect(bound.limitBytes > 0)
        #expect(bound.limitBytes <= InitramfsCacheBound.defaultCeilingBytes)
        #expect(InitramfsCacheBound(directory: "/tmp", limitMiB: 3).limitBytes == 3 << 20)
    }
}
