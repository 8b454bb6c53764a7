import CSeccomp
import Glibc
import RunxlBase
import GuestProtocol

/// Starts the container process: fork, then in the child everything runc's init does between
/// fork and exec, in runc's order. Failures in the child travel back over a close-on-exec pipe
/// ("<exit code>\n<message>"); end-of-file on it means execve succeeded.
struct Launcher {
    enum Stdio {
        /// Output to these pipe write ends; input from this pipe's read end, or /dev/null.
        case pipes(stdin: Int32?, stdout: Int32, stderr: Int32)
        /// The console as controlling terminal and stdio.
        case terminal(Int32)
        /// Init's own descriptors (test mode with a terminal).
        case inherit
    }

    let description: ProcessDescription
    let stdio: Stdio
    /// False in test mode when init is not root and runs as the requested ids anyway.
    let switchUser: Bool
    let warn: (String) -> Void
    /// The child is the first process of a pid namespace init has just made: it mounts the
    /// spec's /proc again, so that /proc shows that namespace (runc mounts it from inside too).
    var firstOfPidNamespace = false
    /// The child is made in a pid namespace of its own and is its PID 1: a pod's further
    /// container, as runc gives each container its own. The caller makes sure init's children
    /// are made in init's own namespace (clone's condition). The spec's /proc, mounted by the
    /// child, then shows the new namespace.
    var ownPidNamespace = false
    /// The child stops just before its exec until `StartGate.open` (the host's `start`): the
    /// process exists, with its namespaces, user and descriptors, as runc's init waits on
    /// exec.fifo, so exec sessions can join it before it runs.
    var heldUntilStart = false
    /// Runs first in the child: a pod member's own root and mounts (`PodMemberRoot`). The
    /// working directory and the user's home are then looked up there, not in init's root.
    var enterRoot: (() throws(InitFailure) -> Void)?

    /// The byte a held child sends on the status pipe once it waits at the gate.
    static let waitingAtGate: UInt8 = 0x06

    /// The pid of the started (or held) process, and the gate holding it. Throws when it could
    /// not be started (the child is reaped).
    func launch() throws(InitFailure) -> (pid: pid_t, gate: StartGate?) {
        var errorPipe: [Int32] = [-1, -1]
        try check(c_pipe2(&errorPipe, O_CLOEXEC), "pipe for the exec status")
        var gatePipe: [Int32] = [-1, -1]
        if heldUntilStart {
            do {
                try check(c_pipe2(&gatePipe, O_CLOEXEC), "pipe for the start gate")
            } catch {
                close(errorPipe[0])
                close(errorPipe[1])
                throw error
            }
        }
        let home = enterRoot == nil ? prepareDirectories() : nil
        // Resolved before fork: the child's stdout is no longer init's, so it must not warn.
        let capabilities = description.capabilities.map { sets in
            ResolvedCapabilities(
                bounding: CapabilitySets.resolve(sets.bounding, warn: warn),
                effective: CapabilitySets.resolve(sets.effective, warn: warn),
                inheritable: CapabilitySets.resolve(sets.inheritable, warn: warn),
                permitted: CapabilitySets.resolve(sets.permitted, warn: warn),
                ambient: CapabilitySets.resolve(sets.ambient, warn: warn))
        }
        let pid = ownPidNamespace ? Self.forkIntoNewPidNamespace() : fork()
        if pid == -1 {
            let code = errno
            for fd in errorPipe + gatePipe where fd >= 0 { close(fd) }
            throw InitFailure("fork: \(errnoText(code))")
        }
        if pid == 0 {
            close(errorPipe[0])
            if gatePipe[1] >= 0 { close(gatePipe[1]) }
            let failure: InitFailure
            do {
                try runChild(home: home, capabilities: capabilities, gate: (report: errorPipe[1], wait: gatePipe[0]))
                failure = InitFailure("execve returned")
            } catch {
                failure = error
            }
            let code = failure.exitCode ?? 1
            Descriptors.writeAllIfPossible(errorPipe[1], Self.encodeFailure(failure))
            _exit(code)
        }
        close(errorPipe[1])
        if gatePipe[0] >= 0 { close(gatePipe[0]) }
        let report = Self.readReport(errorPipe[0], stoppingAtGate: heldUntilStart)
        if report == [Self.waitingAtGate] {
            return (pid, StartGate(release: gatePipe[1], report: errorPipe[0]))
        }
        close(errorPipe[0])
        if gatePipe[1] >= 0 { close(gatePipe[1]) }
        if report.isEmpty { return (pid, nil) }
        var status: Int32 = 0
        _ = retryingEINTR { Int(waitpid(pid, &status, 0)) }
        throw Self.decodeFailure(report)
    }

    /// fork(2) into a new pid namespace: clone(2) with no stack of its own is a fork with flags
    /// (glibc wraps clone only for a child on a stack of its own); SIGCHLD, so init waits for it
    /// as for any child. unshare(CLONE_NEWPID) would instead move every later child of init.
    private static func forkIntoNewPidNamespace() -> pid_t {
        #if arch(x86_64)
        let clone = 56
        #else
        let clone = 220
        #endif
        return pid_t(truncatingIfNeeded: c_syscall(clone, Int(Linux.cloneNewPID) | Int(SIGCHLD), 0, 0, 0, 0))
    }

    static func encodeFailure(_ failure: InitFailure) -> [UInt8] {
        Array("\(failure.exitCode.map(String.init) ?? "-")\n\(failure.message)".utf8)
    }

    static func decodeFailure(_ report: [UInt8]) -> InitFailure {
        let text = String(decoding: report, as: UTF8.self)
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let exitCode = parts.first.flatMap { Int32($0) }
        let message = parts.count > 1 ? String(parts[1]) : text
        return InitFailure(message, exitCode: exitCode)
    }

    /// What the child wrote on the status pipe up to its end-of-file (its exec, or its exit),
    /// or only the gate byte when `stoppingAtGate` and the child reached the gate.
    static func readReport(_ fd: Int32, stoppingAtGate: Bool) -> [UInt8] {
        var report: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            // One byte first when the gate may come: what follows it belongs to the exec.
            let wanted = stoppingAtGate && report.isEmpty ? 1 : buffer.count
            let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { read(fd, raw.baseAddress, wanted) } }
            if count <= 0 { break }
            report += buffer[..<count]
            if stoppingAtGate && report == [waitingAtGate] { break }
        }
        return report
    }

    /// Creates a missing working directory (as runc does) and finds the home directory when
    /// the environment has no HOME; what HOME to add, if any.
    private func prepareDirectories() -> String? {
        if description.cwd != "/" { try? makeDirectories(description.cwd) }
        return description.env.contains(where: { $0.hasPrefix("HOME=") }) ? nil : homeDirectory(uid: description.user.uid)
    }

    private func runChild(home: String?, capabilities: ResolvedCapabilities?, gate: (report: Int32, wait: Int32)) throws(InitFailure) {
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        sigprocmask(SIG_SETMASK, &emptyMask, nil)
        signal(SIGPIPE, SIG_DFL)
        var home = home
        if let enterRoot {
            try enterRoot()
            home = prepareDirectories()
        }

        if firstOfPidNamespace { try FileSystemSetup.mountProcForOwnPidNamespace(description) }
        try check(setsid(), "setsid")
        try setUpStdio()

        for limit in description.rlimits {
            guard let resource = ProcessDescription.Rlimit.knownTypes.firstIndex(of: limit.type) else { continue }
            var value = rlimit(rlim_cur: rlim_t(limit.soft), rlim_max: rlim_t(limit.hard))
            try check(setrlimit(__rlimit_resource_t(UInt32(resource)), &value), "setrlimit \(limit.type)")
        }
        // While still root: lowering the score needs CAP_SYS_RESOURCE.
        if let score = description.oomScoreAdj {
            let fd = try check(open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), "open /proc/self/oom_score_adj")
            let written = Descriptors.writeAllIfPossible(fd, Array(String(score).utf8))
            let code = errno
            close(fd)
            guard written else { throw InitFailure("write oom_score_adj \(score): \(errnoText(code))") }
        }

        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while still root.
        if let seccomp = description.seccomp, !description.noNewPrivileges {
            try SeccompFilter.load(seccomp)
        }

        var changedDirectory = chdir(description.cwd) == 0
        if !changedDirectory && errno != EACCES && errno != EPERM {
            let code = errno
            throw InitFailure("chdir to cwd \(description.cwd): \(errnoText(code))")
        }

        try switchUserAndCapabilities(capabilities)

        if !changedDirectory {
            try check(chdir(description.cwd), "chdir to cwd \(description.cwd) as uid \(description.user.uid)")
            changedDirectory = true
        }
        umask(mode_t(description.user.umask ?? 0o022))

        if description.noNewPrivileges {
            try check(c_prctl(Linux.prSetNoNewPrivs, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        }

        var environment = description.env
        if let home { environment.append("HOME=\(home)") }
        let program = try resolveExecutable(description.args[0], environment: environment)

        if gate.wait >= 0 {
            // Everything that can fail for a plain reason has been tried: wait for `start`.
            // End-of-file instead of the byte means init gave up on the start.
            guard Descriptors.writeAllIfPossible(gate.report, [Self.waitingAtGate]) else { throw InitFailure("cannot report waiting at the start gate") }
            var byte: UInt8 = 0
            guard retryingEINTR({ read(gate.wait, &byte, 1) }) == 1 else { throw InitFailure("the container was never started") }
            close(gate.wait)
        }

        // Last, so that the filter only has to allow execve itself.
        if let seccomp = description.seccomp, description.noNewPrivileges {
            try SeccompFilter.load(seccomp)
        }

        let result = withCStringArray(description.args) { argv in
            withCStringArray(environment) { envp in execve(program, argv, envp) }
        }
        if result == -1 {
            let code = errno
            let exitCode: Int32 = code == ENOENT ? 127 : 126
            throw InitFailure("exec \(program): \(errnoText(code))", exitCode: exitCode)
        }
    }

    private func setUpStdio() throws(InitFailure) {
        switch stdio {
        case .pipes(let stdin, let stdout, let stderr):
            if let stdin {
                try check(dup2(stdin, 0), "stdin")
            } else {
                let null = try check(open("/dev/null", O_RDWR), "open /dev/null for stdin")
                try check(dup2(null, 0), "stdin")
                if null > 2 { close(null) }
            }
            try check(dup2(stdout, 1), "stdout")
            try check(dup2(stderr, 2), "stderr")
        case .terminal(let console):
            for target: Int32 in 0...2 { try check(dup2(console, target), "console as fd \(target)") }
            // 1 = take it even if it is still the controlling terminal of init's session (the
            // kernel opened it for PID 1); allowed because the child is still root here.
            try check(ioctl(0, UInt(TIOCSCTTY), 1), "make the console the controlling terminal")
        case .inherit:
            break
        }
    }

    struct ResolvedCapabilities {
        var bounding, effective, inheritable, permitted, ambient: [UInt32]
    }

    private func switchUserAndCapabilities(_ capabilities: ResolvedCapabilities?) throws(InitFailure) {
        if let capabilities {
            try CapabilitySets.dropBounding(keeping: capabilities.bounding)
            try check(c_prctl(Linux.prSetKeepCaps, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
        }
        if switchUser {
            let user = description.user
            let groups = user.additionalGids.map { gid_t($0) }
            try check(groups.withUnsafeBufferPointer { setgroups($0.count, $0.baseAddress) }, "setgroups \(user.additionalGids)")
            try check(setgid(gid_t(user.gid)), "setgid \(user.gid)")
            try check(setuid(uid_t(user.uid)), "setuid \(user.uid)")
        }
        if let capabilities {
            _ = c_prctl(Linux.prSetKeepCaps, 0, 0, 0, 0)
            try CapabilitySets.apply(
                effective: capabilities.effective, permitted: capabilities.permitted,
                inheritable: capabilities.inheritable, ambient: capabilities.ambient)
        }
    }

    /// Go's exec.LookPath, which runc uses, over the process's own PATH (not init's).
    func resolveExecutable(_ name: String, environment: [String]) throws(InitFailure) -> String {
        if name.contains("/") { return name }
        let path = environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) } ?? ""
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            if let mode = fileMode(candidate), (mode & S_IFMT) == S_IFREG, (mode & 0o111) != 0 {
                return candidate
            }
        }
        throw InitFailure("exec: \"\(name)\": executable file not found in $PATH", exitCode: 127)
    }

    /// The user's home directory from the image's /etc/passwd, "/" when it has none (runc's rule).
    private func homeDirectory(uid: UInt32) -> String {
        guard let bytes = try? readWholeFile("/etc/passwd", limit: 4 << 20) else { return "/" }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 6, UInt32(fields[2]) == uid, !fields[5].isEmpty { return String(fields[5]) }
        }
        return "/"
    }
}

/// The parent's side of a child held before its exec (`Launcher.heldUntilStart`).
final class StartGate {
    private var release: Int32
    private var report: Int32

    init(release: Int32, report: Int32) {
        self.release = release
        self.report = report
    }

    /// Lets the child exec. Returns why the exec failed, if it did: the child then exits with
    /// the code in it (127 for a program that is gone), which the caller reaps as usual.
    func open() -> InitFailure? {
        guard release >= 0 else { return nil }
        _ = Descriptors.writeAllIfPossible(release, [1])
        close(release)
        release = -1
        // End-of-file comes with the exec (close-on-exec) or with the child's exit.
        let failure = Launcher.readReport(report, stoppingAtGate: false)
        close(report)
        report = -1
        return failure.isEmpty ? nil : Launcher.decodeFailure(failure)
    }

    deinit {
        if release >= 0 { close(release) }
        if report >= 0 { close(report) }
    }
}
