import Foundation
import RunxlBase
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

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
