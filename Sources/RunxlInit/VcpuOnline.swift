import Glibc
import RunxlBase

@_silgen_name("fsopen") private func c_fsopen(_ name: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
@_silgen_name("fsconfig") private func c_fsconfig(
    _ fd: Int32, _ command: UInt32, _ key: UnsafePointer<CChar>?, _ value: UnsafeRawPointer?, _ auxiliary: Int32
) -> Int32
@_silgen_name("fsmount") private func c_fsmount(_ fd: Int32, _ flags: UInt32, _ attributes: UInt32) -> Int32

/// Brings the vCPUs the host made available to a pod's VM online (docs/pods.md, "Resources").
///
/// Why init does it: when Xen makes a vCPU available, a Linux guest only makes it *present*;
/// onlining it is left to userspace (a udev rule on a distribution), and this guest has no
/// userspace but init. The host says how many vCPUs the pod has in the description of the
/// container that joined (`ProcessDescription.onlineVcpus`), set just before; the guest kernel
/// may not have seen the change yet, so a vCPU that is not present yet is waited for, briefly.
///
/// Why a detached sysfs (`fsmount`, attached nowhere), made before the container's mounts: init's
/// own namespace has no /sys (the container's spec decides that), and mounting one would show in
/// the first container's view. Every sysfs mount of a network namespace shares one superblock,
/// read-only for good if the first mount was (the spec's usual `ro` /sys): the lab's first
/// version, which mounted it at the first join, got EROFS on every `online` file. The spec's mount
/// stays read-only for the container either way (its own mount flag).
enum VcpuOnline {
    /// How long init waits for the guest kernel to make an available vCPU present.
    static let presentTimeoutMilliseconds = 2_000
    private static let closeOnExec: UInt32 = 0x0000_0001  // FSOPEN_CLOEXEC, FSMOUNT_CLOEXEC
    private static let createCommand: UInt32 = 6  // FSCONFIG_CMD_CREATE
    nonisolated(unsafe) private static var sysfs: Int32 = -1
    nonisolated(unsafe) private static var sysfsFailure: String?

    /// Makes the writable sysfs before anything else mounts one; a failure is kept for the
    /// first join to report (a guest that never grows never needs it).
    static func prepare() {
        guard sysfs < 0 else { return }
        do {
            sysfs = try openSysfs()
        } catch {
            sysfsFailure = error.message
        }
    }

    /// Onlines vCPUs 1..<count (vCPU 0 always runs). A vCPU that stays absent or refuses is
    /// reported and skipped: the container runs on the vCPUs there are.
    static func bringOnline(count: Int, warn: (String) -> Void) {
        guard count > 1 else { return }
        guard sysfs >= 0 else {
            warn("vCPUs 1..<\(count) stay offline: \(sysfsFailure ?? "init made no sysfs of its own")")
            return
        }
        let root = sysfs
        let deadline = monotonicMilliseconds() + presentTimeoutMilliseconds
        for vcpu in 1..<count {
            let path = "devices/system/cpu/cpu\(vcpu)/online"
            var fd = openat(root, path, O_WRONLY | O_CLOEXEC)
            while fd < 0, errno == ENOENT, monotonicMilliseconds() < deadline {
                usleep(20_000)
                fd = openat(root, path, O_WRONLY | O_CLOEXEC)
            }
            guard fd >= 0 else {
                warn("vCPU \(vcpu) is not there to bring online: \(errnoText(errno))")
                continue
            }
            defer { close(fd) }
            // An online vCPU takes "1" again without complaint.
            if write(fd, "1", 1) != 1 { warn("vCPU \(vcpu) did not come online: \(errnoText(errno))") }
        }
    }

    private static func openSysfs() throws(InitFailure) -> Int32 {
        let context = try check(c_fsopen("sysfs", closeOnExec), "fsopen sysfs")
        defer { close(context) }
        try check(c_fsconfig(context, createCommand, nil, nil, 0), "create a sysfs superblock")
        return try check(c_fsmount(context, closeOnExec, 0), "mount sysfs (detached)")
    }

    private static func monotonicMilliseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }
}
