import Glibc

/// The kernel modules the host put into the initramfs (`/.runxl/modules`, listed in load order
/// in `order`), loaded first thing, before the network and the mounts need their drivers: the
/// guest kernel is the distribution's, whose Xen network and disk frontends (and ext4) are
/// modules. There is no modprobe in the guest.
enum GuestModules {
    static let directory = "/.runxl/modules"
    /// The list's names loaded so far, or held back by `loadAll(except:)` for a later call.
    nonisolated(unsafe) private static var loaded: Set<String> = []
    nonisolated(unsafe) private static var listRead = false

    #if arch(x86_64)
    private static let finitModule = 313
    #elseif arch(arm64)
    private static let finitModule = 273
    #endif
    /// MODULE_INIT_COMPRESSED_FILE: the kernel decompresses a `.ko.xz`/`.ko.zst`/`.ko.gz` itself.
    private static let compressedFile = 4

    nonisolated(unsafe) private static var order: [String] = []

    /// Loads every listed module once; one already in the kernel is fine. A module that fails
    /// is reported and skipped: the mount that needs it then fails with its own error. Modules
    /// named in `except` (modprobe names, without the file's extension) wait for a later call: a
    /// warm VM loads all but the one whose probe would connect its shares (`TemplateResume`).
    static func loadAll(console: Console, except: [String] = []) {
        if !listRead {
            listRead = true
            // Most guests need no module and have no list.
            guard fileMode(directory + "/order") != nil else { return }
            guard let bytes = try? readWholeFile(directory + "/order", limit: 1 << 20) else {
                console.diagnostic("no kernel modules in the initramfs (\(directory)/order is missing)")
                return
            }
            order = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.contains("/") }
        }
        for name in order where !loaded.contains(name) {
            let module = name.split(separator: ".").first.map(String.init) ?? name
            if except.contains(module) { continue }
            loaded.insert(name)
            let path = directory + "/" + name
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                console.diagnostic("cannot open kernel module \(path): \(errnoText(errno))")
                continue
            }
            let compressed = [".xz", ".zst", ".gz"].contains { name.hasSuffix($0) }
            // finit_module has no glibc wrapper.
            let result = "".withCString { noArguments in
                c_syscall(finitModule, Int(fd), Int(bitPattern: noArguments), compressed ? compressedFile : 0, 0, 0)
            }
            let code = errno
            close(fd)
            if result != 0 && code != EEXIST {
                console.diagnostic("cannot load kernel module \(name): \(errnoText(code))")
            }
        }
    }

    /// A devtmpfs of init's own: the spec usually mounts a plain tmpfs on /dev (runc's default),
    /// where the kernel never creates the node of a disk that arrives later.
    static let deviceView = "/.runxl/devices"
    nonisolated(unsafe) private static var deviceViewMounted = false

    /// Waits until `device` (a `/dev/...` path) is a block device in the device view and returns
    /// the path to mount: blkfront adds a Xen disk once its backend connects, after init has
    /// started. Throws naming the device when it does not come.
    static func waitForBlockDevice(_ device: String, purpose: String, timeoutSeconds: Double = 30) throws(InitFailure) -> String {
        var path = device
        if device.hasPrefix("/dev/") {
            if !deviceViewMounted {
                _ = mkdir(deviceView, 0o700)
                try check(
                    mount("devtmpfs", deviceView, "devtmpfs", UInt(MS_NOSUID | MS_NOEXEC), nil),
                    "mount devtmpfs on \(deviceView)")
                deviceViewMounted = true
            }
            path = deviceView + device.dropFirst("/dev".count)
        }
        let deadline = monotonicMilliseconds() + Int64(timeoutSeconds * 1000)
        while true {
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFBLK { return path }
            if monotonicMilliseconds() > deadline {
                throw InitFailure(
                    "\(device) for \(purpose) did not appear within \(Int(timeoutSeconds)) s (modules loaded: \(loadedModules()))")
            }
            usleep(10_000)
        }
    }

    /// Takes the device view away once the disks are mounted: the process gets only its /dev.
    static func releaseDeviceView() {
        guard deviceViewMounted else { return }
        _ = umount2(deviceView, Int32(MNT_DETACH))
        _ = rmdir(deviceView)
        deviceViewMounted = false
    }

    /// The names in /proc/modules, for a message that says whether the driver is there.
    static func loadedModules() -> String {
        guard let text = try? readWholeFile("/proc/modules", limit: 1 << 20) else { return "unknown" }
        let names = String(decoding: text, as: UTF8.self).split(separator: "\n").compactMap { $0.split(separator: " ").first }
        return names.isEmpty ? "none" : names.joined(separator: " ")
    }
}
