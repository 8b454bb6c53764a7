import Foundation
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// A scratch directory removed when the test ends.
final class ScratchDirectory {
    let path: String

    init(_ label: String = "guestbuild") throws {
        var template = Array("/tmp/runxl-\(label)-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw RunxlError(.io, "mkdtemp failed")
        }
        path = String(cString: created)
    }

    deinit { try? FileSystem.removeTree(path) }

    func file(_ relative: String, _ text: String, mode: mode_t = 0o644) throws {
        let full = path + "/" + relative
        try FileSystem.makeDirectories((full as NSString).deletingLastPathComponent, mode: 0o755)
        try FileSystem.writeAtomically(full, Array(text.utf8), mode: UInt32(mode))
        chmod(full, mode)
    }

    func directory(_ relative: String, mode: mode_t = 0o755) throws {
        try FileSystem.makeDirectories(path + "/" + relative, mode: 0o755)
        chmod(path + "/" + relative, mode)
    }

    func symlink(_ relative: String, to target: String) {
        Glibc.symlink(target, path + "/" + relative)
    }

    func hardlink(_ relative: String, to existing: String) {
        link(path + "/" + existing, path + "/" + relative)
    }

    func chown(_ relative: String, uid: uid_t, gid: gid_t) {
        lchown(path + "/" + relative, uid, gid)
    }

    func setMtime(_ relative: String, _ seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        utimensat(AT_FDCWD, path + "/" + relative, &times, AT_SYMLINK_NOFOLLOW)
    }
}

let isRoot = geteuid() == 0

/// A small busybox rootfs (busybox-static's binary plus one symlink per applet), as a container
/// image would have.
func makeBusyboxRootfs(in scratch: ScratchDirectory, at relative: String = "rootfs") throws -> String {
    let root = scratch.path + "/" + relative
    for directory in ["bin", "sbin", "etc", "tmp", "proc", "sys", "dev", "root", "usr/bin", "usr/sbin"] {
        try scratch.directory(relative + "/" + directory)
    }
    let busybox = try FileSystem.read("/bin/busybox")
    try FileSystem.writeAtomically(root + "/bin/busybox", busybox, mode: 0o755)
    chmod(root + "/bin/busybox", 0o755)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/busybox")
    process.arguments = ["--list-full"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    for applet in listing.split(separator: "\n") where applet != "bin/busybox" {
        let depth = applet.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth) + "bin/busybox"
        Glibc.symlink(depth == 1 ? "busybox" : target, root + "/" + applet)
    }
    try scratch.file(relative + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    try scratch.file(relative + "/etc/group", "root:x:0:\n")
    return root
}
