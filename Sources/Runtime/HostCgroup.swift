public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The host cgroup of a VM container (`linux.cgroupsPath`). runc puts the container's processes
/// there; a runxl container's processes run in a guest, which no host cgroup can hold or count.
/// What the cgroup holds on the host is what the container costs the host, as Kata places its
/// VMM in the sandbox's cgroup: the supervisor (the pid conmon and the shim watch, and the
/// process it starts) and the 9pfs backend. podman and a kubelet find the cgroup where they
/// look and read those processes' use there; the guest's own CPU and memory are in `runxl
/// events` (Xen's accounting). No limit is written: the guest's memory and vCPUs are set on the
/// domain. Only the unified hierarchy (cgroup v2) is used; on a v1 host nothing is placed.
public enum HostCgroup {
    public static let mountPoint = "/sys/fs/cgroup"
    /// What the 9pfs backend opens for each share it connects.
    static let grantDevice = "/dev/xen/gntdev"

    /// The directory `cgroupsPath` names, nil when there is none to make (no path, no cgroup v2).
    /// runc's two spellings: a path below the hierarchy's root (cgroupfs), or systemd's
    /// `SLICE:PREFIX:NAME`, which is `<slice's path>/PREFIX-NAME.scope` (made here directly,
    /// without asking systemd for a scope).
    public static func directory(for cgroupsPath: String?, root: String = mountPoint) -> String? {
        guard let cgroupsPath, !cgroupsPath.isEmpty, FileSystem.exists(root + "/cgroup.controllers") else { return nil }
        let parts = cgroupsPath.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var relative: [String]
        if parts.count == 3, !cgroupsPath.hasPrefix("/") {
            relative = sliceDirectories(parts[0].isEmpty ? "system.slice" : parts[0])
            let name = parts[2]
            relative.append(name.hasSuffix(".slice") ? name : (parts[1].isEmpty ? name : parts[1] + "-" + name) + ".scope")
        } else {
            relative = cgroupsPath.split(separator: "/").map(String.init)
        }
        // A path that climbs or names the hierarchy's root itself is nothing runxl will create.
        guard !relative.isEmpty, !relative.contains(where: { $0 == ".." || $0 == "." }) else { return nil }
        return root + "/" + relative.joined(separator: "/")
    }

    /// systemd's nesting of a slice name: `a-b-c.slice` lives in `a.slice/a-b.slice/a-b-c.slice`.
    static func sliceDirectories(_ slice: String) -> [String] {
        guard slice != "-.slice", slice.hasSuffix(".slice") else { return [] }
        let words = slice.dropLast(".slice".count).split(separator: "-").map(String.init)
        return words.indices.map { words[...$0].joined(separator: "-") + ".slice" }
    }

    /// Makes the directory (and its parents) and moves `pids` into it; each child a process
    /// starts later is born there.
    public static func place(_ pids: [Int32], in directory: String) throws(RunxlError) {
        try FileSystem.makeDirectories(directory, mode: 0o755)
        for pid in pids {
            let fd = open(directory + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                throw RunxlError(.io, "cannot open \(directory)/cgroup.procs", cause: SystemCallError("open", errno: code))
            }
            let text = Array(String(pid).utf8)
            let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let code = errno
            close(fd)
            // ESRCH: the process ended meanwhile, which is not this function's business.
            guard written == text.count || code == ESRCH else {
                throw RunxlError(.io, "cannot move process \(pid) into \(directory)", cause: SystemCallError("write", errno: code))
            }
        }
    }

    /// Whether a process in `directory` may open `device`: a cgroup v2 device filter (the eBPF
    /// program podman attaches to a pod's cgroup, denying every device) is checked at open(2),
    /// and the 9pfs backend opens /dev/xen/gntdev as each share connects, after create has
    /// placed it. Seen in the lab: a pod's first container in share mode never booted, its
    /// backend logging `can't open gnttab device`. A child process joins the cgroup and tries.
    static func allows(_ device: String, in directory: String) -> Bool {
        guard FileSystem.exists(device) else { return true }
        let procs = Array((directory + "/cgroup.procs").utf8CString)
        let path = Array(device.utf8CString)
        let own: [UInt8] = Array("0".utf8)
        // Only async-signal-safe calls after fork: the buffers are made before it.
        let child = fork()
        if child == 0 {
            let moved = procs.withUnsafeBufferPointer { procsPath -> Bool in
                guard let base = procsPath.baseAddress else { return false }
                let fd = open(base, O_WRONLY)
                guard fd >= 0 else { return false }
                let written = own.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                return written == own.count
            }
            guard moved else { _exit(2) }
            let opened = path.withUnsafeBufferPointer { devicePath -> Int32 in
                guard let base = devicePath.baseAddress else { return -1 }
                return open(base, O_RDWR)
            }
            _exit(opened >= 0 ? 0 : 1)
        }
        guard child > 0 else { return true }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        // Exited 1: the open was refused. Anything else (the move failed) says nothing of devices.
        return !((status & 0x7F) == 0 && ((status >> 8) & 0xFF) == 1)
    }

    /// Removes the directory once its processes are gone (they may take a moment to exit after
    /// the domain's destroy); the parents stay, as runc leaves them.
    public static func remove(_ directory: String) {
        for _ in 0..<50 {
            if rmdir(directory) == 0 || errno == ENOENT { return }
            guard errno == EBUSY else { return }
            usleep(20_000)
        }
    }

    /// `pid` and its children (the supervisor starts its inner half), from
    /// /proc/PID/task/PID/children.
    static func withChildren(_ pid: Int32) -> [Int32] {
        guard let bytes = try? FileSystem.read("/proc/\(pid)/task/\(pid)/children") else { return [pid] }
        return [pid] + String(decoding: bytes, as: UTF8.self).split(separator: " ").compactMap { Int32($0.trimmingNewline) }
    }
}

extension Substring {
    fileprivate var trimmingNewline: Substring { last == "\n" ? dropLast() : self }
}
