import Foundation
import RunxlBase

#if canImport(Glibc)
public import Glibc
#endif

// What several test targets share (issue 14: a TestSupport target instead of copies).

/// A scratch directory removed when the test ends.
public final class ScratchDirectory {
    public let path: String

    public init(_ label: String = "guestbuild") throws {
        var template = Array("/tmp/runxl-\(label)-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw RunxlError(.io, "mkdtemp failed")
        }
        path = String(cString: created)
    }

    deinit { try? FileSystem.removeTree(path) }

    public func file(_ relative: String, _ text: String, mode: mode_t = 0o644) throws {
        let full = path + "/" + relative
        try FileSystem.makeDirectories((full as NSString).deletingLastPathComponent, mode: 0o755)
        try FileSystem.writeAtomically(full, Array(text.utf8), mode: UInt32(mode))
        chmod(full, mode)
    }

    public func directory(_ relative: String, mode: mode_t = 0o755) throws {
        try FileSystem.makeDirectories(path + "/" + relative, mode: 0o755)
        chmod(path + "/" + relative, mode)
    }

    public func symlink(_ relative: String, to target: String) {
        Glibc.symlink(target, path + "/" + relative)
    }

    public func hardlink(_ relative: String, to existing: String) {
        link(path + "/" + existing, path + "/" + relative)
    }

    public func chown(_ relative: String, uid: uid_t, gid: gid_t) {
        lchown(path + "/" + relative, uid, gid)
    }

    public func setMtime(_ relative: String, _ seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        utimensat(AT_FDCWD, path + "/" + relative, &times, AT_SYMLINK_NOFOLLOW)
    }
}

public let isRoot = geteuid() == 0
