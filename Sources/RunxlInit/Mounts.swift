import Glibc
import RunxlBase
import GuestProtocol

/// The file system a runc container sees, built inside the guest: init's own /proc, /sys, /dev
/// first (it needs them to reach the console and xenstore), then the runtime-spec mounts in
/// order, with runc's option parsing, default devices, masked and read-only paths.
enum FileSystemSetup {
    /// What every guest needs before the process file is even read: /proc, and /dev for the
    /// console and xenbus. /sys is left to the spec's mounts (sysfs cannot be mounted a second
    /// time with other flags, and runc gives no /sys to a spec without one).
    static func mountBase() throws(InitFailure) {
        try mountFresh(type: "proc", source: "proc", target: "/proc", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC)
        try mountFresh(type: "devtmpfs", source: "devtmpfs", target: "/dev", flags: MS_NOSUID, data: "mode=0755")
        try mountFresh(
            type: "devpts", source: "devpts", target: "/dev/pts", flags: MS_NOSUID | MS_NOEXEC,
            data: "newinstance,ptmxmode=0666,mode=0620,gid=5")
        try mountFresh(type: "tmpfs", source: "shm", target: "/dev/shm", flags: MS_NOSUID | MS_NODEV, data: "mode=1777")
        createDeviceLinks()
    }

    /// Mounts unless something is mounted there already (a kernel that automounts devtmpfs).
    private static func mountFresh(type: String, source: String, target: String, flags: Int, data: String? = nil) throws(InitFailure) {
        try makeDirectories(target)
        let result = data.map { mount(source, target, type, UInt(flags), $0) } ?? mount(source, target, type, UInt(flags), nil)
        if result == -1 && errno != EBUSY {
            let code = errno
            throw InitFailure("mount \(type) on \(target): \(errnoText(code))")
        }
    }

    /// The links runc creates in every container's /dev.
    static func createDeviceLinks() {
        let links = [
            ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"),
            ("/proc/self/fd/2", "/dev/stderr"),
        ]
        for (target, link) in links { _ = symlink(target, link) }
        if fileMode("/proc/kcore") != nil { _ = symlink("/proc/kcore", "/dev/core") }
    }

    /// runc's default devices, for a spec that mounts a fresh tmpfs on /dev.
    static func createDefaultDevices() throws(InitFailure) {
        let devices: [(String, UInt64, UInt64)] = [
            ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8),
            ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
        ]
        let oldMask = umask(0)
        defer { umask(oldMask) }
        for (path, major, minor) in devices {
            if mknod(path, S_IFCHR | 0o666, Linux.makeDevice(major: major, minor: minor)) == -1 && errno != EEXIST {
                let code = errno
                throw InitFailure("mknod \(path): \(errnoText(code))")
            }
        }
        _ = symlink("pts/ptmx", "/dev/ptmx")
        createDeviceLinks()
    }

    /// runc's createDevices: each node after the mounts (so a tmpfs on /dev holds it), with its
    /// parents; a path that exists already is left as it is, as runc leaves it.
    static func createSpecDevices(_ devices: [ProcessDescription.Device]) throws(InitFailure) {
        let oldMask = umask(0)
        defer { umask(oldMask) }
        for device in devices {
            let type: mode_t
            switch device.kind {
            case .character, .unbuffered: type = S_IFCHR
            case .block: type = S_IFBLK
            case .fifo: type = S_IFIFO
            }
            try makeParentDirectories(of: device.path)
            let number = Linux.makeDevice(major: device.major, minor: device.minor)
            if mknod(device.path, type | mode_t(device.fileMode), number) == -1 {
                let code = errno
                if code == EEXIST { continue }
                throw InitFailure("mknod \(device.path) (linux.devices): \(errnoText(code))")
            }
            try check(chown(device.path, device.uid, device.gid), "chown \(device.path) (linux.devices)")
        }
    }

    static func apply(_ description: ProcessDescription, console: Console) throws(InitFailure) {
        for mount in description.mounts {
            try mountSpec(mount, console: console)
        }
        GuestModules.releaseDeviceView()
        try createSpecDevices(description.devices)
        if let hostname = description.hostname {
            try check(sethostname(hostname, hostname.utf8.count), "sethostname \(hostname)")
        }
        for sysctl in description.sysctl {
            try writeSysctl(sysctl)
        }
        for path in description.readonlyPaths {
            try makeReadOnly(path)
        }
        for path in description.maskedPaths {
            try mask(path)
        }
        if description.readonlyRoot {
            try check(
                mount("", "/", "", UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil),
                "remount / read-only (root.readonly)")
        }
    }

    struct ParsedOptions: Equatable {
        var flags: Int = 0
        var propagation: [Int] = []
        var data: [String] = []
    }

    /// runc's parseMountOptions: known words become flags, the rest is file-system data.
    static func parseOptions(_ options: [String]) throws(InitFailure) -> ParsedOptions {
        let setting: [String: Int] = [
            "ro": MS_RDONLY, "nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "sync": MS_SYNCHRONOUS,
            "dirsync": MS_DIRSYNC, "remount": MS_REMOUNT, "mand": MS_MANDLOCK, "noatime": MS_NOATIME,
            "nodiratime": MS_NODIRATIME, "bind": MS_BIND, "rbind": MS_BIND | MS_REC, "relatime": MS_RELATIME,
            "strictatime": MS_STRICTATIME, "silent": MS_SILENT,
        ]
        let clearing: [String: Int] = [
            "rw": MS_RDONLY, "suid": MS_NOSUID, "dev": MS_NODEV, "exec": MS_NOEXEC, "async": MS_SYNCHRONOUS,
            "nomand": MS_MANDLOCK, "atime": MS_NOATIME, "diratime": MS_NODIRATIME, "norelatime": MS_RELATIME,
            "nostrictatime": MS_STRICTATIME, "loud": MS_SILENT,
        ]
        let propagation: [String: Int] = [
            "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "shared": MS_SHARED, "rshared": MS_SHARED | MS_REC,
            "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC, "unbindable": MS_UNBINDABLE,
            "runbindable": MS_UNBINDABLE | MS_REC,
        ]
        var parsed = ParsedOptions()
        for option in options {
            if let flag = setting[option] {
                parsed.flags |= flag
            } else if let flag = clearing[option] {
                parsed.flags &= ~flag
            } else if let flag = propagation[option] {
                parsed.propagation.append(flag)
            } else if option == "tmpcopyup" {
                continue  // The guest's /dev etc. start empty or from the image; nothing to copy up.
            } else if option == "idmap" || option == "ridmap" || option.hasPrefix("X-mount.") {
                throw InitFailure("mount option '\(option)' is not supported inside a runxl guest")
            } else {
                parsed.data.append(option)
            }
        }
        return parsed
    }

    private static func mountSpec(_ spec: ProcessDescription.Mount, console: Console) throws(InitFailure) {
        let options = try parseOptions(spec.options)
        let destination = spec.destination
        let isBind = spec.type == "bind" || (options.flags & MS_BIND) != 0
        let data = options.data.joined(separator: ",")
        if isBind {
            let source = SharedRoot.guestPath(of: spec.source)
            guard let sourceMode = fileMode(source) else {
                throw InitFailure("bind mount source \(spec.source) for \(destination) does not exist in the guest")
            }
            try makeMountPoint(destination, directory: isDirectory(sourceMode))
            let bindFlags = MS_BIND | (options.flags & MS_REC)
            try check(mount(source, destination, "", UInt(bindFlags), nil), "bind mount \(spec.source) on \(destination)")
            let remountFlags = options.flags & ~(MS_BIND | MS_REC | MS_REMOUNT)
            if remountFlags != 0 {
                try check(
                    mount("", destination, "", UInt(remountFlags | MS_BIND | MS_REMOUNT), nil),
                    "remount \(destination) with \(spec.options.joined(separator: ","))")
            }
        } else {
            var waitedSource: String?
            if spec.waitForSource {
                waitedSource = try GuestModules.waitForBlockDevice(spec.source, purpose: "the bind mount on \(destination)")
            }
            try makeMountPoint(destination, directory: true)
            // cgroup v1 hierarchies mean nothing in a VM of one container: give it cgroup2, as runc
            // does on a cgroup v2 host. A kernel without it leaves the directory empty, not an error.
            var type = spec.type
            if type == "cgroup" { type = "cgroup2" }
            let source = waitedSource ?? (spec.source.isEmpty ? type : spec.source)
            let result = data.isEmpty
                ? mount(source, destination, type, UInt(options.flags), nil)
                : mount(source, destination, type, UInt(options.flags), data)
            if result == -1 && errno == EBUSY {
                // A single-instance file system already mounted there by init or an earlier
                // entry (sysfs): give this view its flags through a bind mount instead.
                try check(mount(destination, destination, "", UInt(MS_BIND | MS_REC), nil), "bind \(destination) to apply \(type) options")
                if options.flags != 0 {
                    try check(
                        mount("", destination, "", UInt(options.flags | MS_BIND | MS_REMOUNT), nil),
                        "remount \(destination) with \(spec.options.joined(separator: ","))")
                }
            } else if result == -1 {
                let code = errno
                if type == "cgroup2" {
                    console.diagnostic("mount cgroup2 on \(destination): \(errnoText(code)) (left empty)")
                } else {
                    throw InitFailure(
                        "mount \(type) \(source) on \(destination) (\(spec.options.joined(separator: ","))): \(errnoText(code))")
                }
            }
            if destination == "/dev" && type == "tmpfs" {
                try createDefaultDevices()
            }
        }
        for propagation in options.propagation {
            try check(mount("", destination, "", UInt(propagation), nil), "set propagation of \(destination)")
        }
    }

    /// The directories above an absolute path, for a file made there (a mount point, a device).
    private static func makeParentDirectories(of path: String) throws(InitFailure) {
        var parent = path
        while let last = parent.last, last != "/" { parent.removeLast() }
        if parent.count > 1 { try makeDirectories(String(parent.dropLast())) }
    }

    private static func makeMountPoint(_ path: String, directory: Bool) throws(InitFailure) {
        if directory {
            try makeDirectories(path)
            return
        }
        if fileMode(path) != nil { return }
        try makeParentDirectories(of: path)
        let fd = try check(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644), "create mount point \(path)")
        close(fd)
    }

    private static func writeSysctl(_ sysctl: ProcessDescription.Sysctl) throws(InitFailure) {
        guard !sysctl.key.contains("/"), !sysctl.key.contains(".."), !sysctl.key.isEmpty else {
            throw InitFailure("sysctl key '\(sysctl.key)' is not a sysctl name")
        }
        let path = "/proc/sys/" + sysctl.key.split(separator: ".").joined(separator: "/")
        let fd = try check(open(path, O_WRONLY | O_TRUNC | O_CLOEXEC), "sysctl \(sysctl.key)")
        defer { close(fd) }
        guard Descriptors.writeAllIfPossible(fd, Array(sysctl.value.utf8)) else {
            let code = errno
            throw InitFailure("sysctl \(sysctl.key)=\(sysctl.value): \(errnoText(code))")
        }
    }

    /// In the first process of the container's pid namespace: each proc mount of the spec again,
    /// on top of init's (a proc mount shows the mounter's namespace), with the masked and
    /// read-only paths below it applied again, as they hide under the new mount.
    static func mountProcForOwnPidNamespace(_ description: ProcessDescription) throws(InitFailure) {
        let destinations = description.mounts.filter { $0.type == "proc" }.map(\.destination)
        for mount in description.mounts where mount.type == "proc" {
            let options = try parseOptions(mount.options)
            let data = options.data.joined(separator: ",")
            let result = data.isEmpty
                ? Glibc.mount("proc", mount.destination, "proc", UInt(options.flags), nil)
                : Glibc.mount("proc", mount.destination, "proc", UInt(options.flags), data)
            if result == -1 {
                let code = errno
                throw InitFailure("mount proc on \(mount.destination) for the container's pid namespace: \(errnoText(code))")
            }
        }
        func below(_ path: String) -> Bool { destinations.contains { path == $0 || path.hasPrefix($0 + "/") } }
        for path in description.readonlyPaths where below(path) { try makeReadOnly(path) }
        for path in description.maskedPaths where below(path) { try mask(path) }
    }

    /// runc's readonlyPaths: a recursive bind onto itself, remounted read-only; missing paths are skipped.
    private static func makeReadOnly(_ path: String) throws(InitFailure) {
        if mount(path, path, "", UInt(MS_BIND | MS_REC), nil) == -1 {
            if errno == ENOENT { return }
            let code = errno
            throw InitFailure("bind \(path) for readonlyPaths: \(errnoText(code))")
        }
        try check(
            mount(path, path, "", UInt(MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC), nil),
            "remount \(path) read-only")
    }

    /// runc's maskedPaths: /dev/null over a file, an empty read-only tmpfs over a directory.
    private static func mask(_ path: String) throws(InitFailure) {
        guard let mode = fileMode(path) else { return }
        let result = isDirectory(mode)
            ? mount("tmpfs", path, "tmpfs", UInt(MS_RDONLY), nil)
            : mount("/dev/null", path, "", UInt(MS_BIND), nil)
        if result == -1 && errno != ENOENT {
            let code = errno
            throw InitFailure("mask \(path): \(errnoText(code))")
        }
    }
}
