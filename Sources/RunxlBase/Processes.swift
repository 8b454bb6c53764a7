#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Process primitives: spawning runxl's own supervisor and telling whether a recorded pid is
/// still the process we started.
public enum Processes {
    /// This executable's path, so runxl can re-execute itself as the supervisor.
    public static func currentExecutable() throws(RunxlError) -> String {
        do {
            return try FileSystem.readLink("/proc/self/exe")
        } catch {
            throw RunxlError(.spawnFailed, "cannot find the runxl executable", cause: error)
        }
    }

    /// Starts `path` with `arguments`; fds 0-2 are inherited (or are `standardDescriptors`, or
    /// /dev/null with `detachStandardStreams`: a child that outlives the caller and must not
    /// hold its pipes) and `extraDescriptors` are moved to 3, 4, ... in order. Other inherited descriptors stay open
    /// unless marked close-on-exec: a child that must not hold them calls
    /// `closeDescriptors(from:)` first thing. `environment` nil inherits runxl's; `argumentZero`
    /// nil is `path` (a runtime-spec hook names its own argv[0]).
    public static func spawn(
        _ path: String, _ arguments: [String], extraDescriptors: [Int32] = [], standardDescriptors: [Int32]? = nil,
        detachStandardStreams: Bool = false, environment: [String]? = nil, argumentZero: String? = nil
    ) throws(RunxlError) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, fd) in (standardDescriptors ?? []).enumerated() {
            posix_spawn_file_actions_adddup2(&actions, fd, Int32(target))
        }
        if detachStandardStreams {
            for target: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0) }
        }
        // Move the extra descriptors above any target slot first, so dup2 into 3... cannot clobber them.
        let parked = extraDescriptors.enumerated().map { (index, fd) in Int32(100 + index) }
        for (fd, park) in zip(extraDescriptors, parked) { posix_spawn_file_actions_adddup2(&actions, fd, park) }
        for (index, park) in parked.enumerated() { posix_spawn_file_actions_adddup2(&actions, park, Int32(3 + index)) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([argumentZero ?? path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup($0) } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var pid: pid_t = 0
        var result: Int32 = 0
        // ETXTBSY: a file written moments ago (a hook, a credential helper) is still open for
        // writing in a child another thread forked before the writer closed it, until that
        // child's exec; the kernel refuses to run it meanwhile. It passes within milliseconds.
        for attempt in 0..<Self.busyExecutableRetries {
            result = envp.map { posix_spawn(&pid, path, &actions, &attributes, argv, $0) }
                ?? posix_spawn(&pid, path, &actions, &attributes, argv, environ)
            guard result == ETXTBSY, attempt + 1 < Self.busyExecutableRetries else { break }
            usleep(20_000)
        }
        guard result == 0 else {
            throw RunxlError(.spawnFailed, "cannot start \(path)", cause: SystemCallError("posix_spawn", errno: result))
        }
        return pid
    }

    /// About one second of 20 ms waits for an executable busy being written (see `spawn`).
    static let busyExecutableRetries = 50

    /// Closes every descriptor numbered `first` or above: what a caller (conmon's sync pipes, a
    /// shim's fds) left open must not be kept alive by a long-running supervisor.
    public static func closeDescriptors(from first: Int32) {
        guard let names = try? FileSystem.listDirectory("/proc/self/fd") else { return }
        for name in names {
            if let fd = Int32(name), fd >= first { close(fd) }
        }
    }

    /// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or nil
    /// when it does not exist. Together with the pid it names one process for good.
    public static func startTime(of pid: Int32) -> UInt64? {
        statFields(of: pid)?.startTime
    }

    /// True when `pid` is alive, is not a zombie, and (when given) started at `startTime`.
    public static func isAlive(_ pid: Int32, startTime expected: UInt64?) -> Bool {
        guard let fields = statFields(of: pid) else { return false }
        if let expected, expected != fields.startTime { return false }
        return fields.state != UInt8(ascii: "Z") && fields.state != UInt8(ascii: "X")
    }

    /// The state letter (field 3) and start time (field 22) from one read of /proc/PID/stat:
    /// `state` asks this for every live container, so it reads the file once.
    private static func statFields(of pid: Int32) -> (state: UInt8, startTime: UInt64)? {
        guard pid > 0, let bytes = try? FileSystem.read("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // After ')' come field 3 (state) onwards: field 22 is at index 19.
        guard fields.count > 19, let state = fields[0].first,
            let started = UInt64(String(decoding: fields[19], as: UTF8.self))
        else { return nil }
        return (state, started)
    }

    /// Waits for a child; returns its shell-style exit code (128+N for a signal).
    public static func waitForExit(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 255 }
        }
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }
}

extension Processes {
    /// A pipe whose ends are close-on-exec, so no child inherits them by accident.
    public static func makePipe() throws(RunxlError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            let err = errno
            throw RunxlError(.io, "cannot create a pipe", cause: SystemCallError("pipe", errno: err))
        }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        return (ends[0], ends[1])
    }
}
