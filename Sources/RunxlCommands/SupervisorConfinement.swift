import CSeccompHost
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The supervisor confines itself once its backend is open: a seccomp filter that allows only
/// the system calls it and the libraries it drives (libxl's event loop and the helpers libxl
/// forks on destroy, the console pump, the console socket) make, and only the capabilities
/// they use. docs/supervisor-confinement.md lists both and says why each is there.
///
/// An unlisted call fails with EPERM instead of killing the process: a call missed here makes
/// one operation fail with a logged error, never the container's supervisor die with the
/// container still running. In the test build only (`TestSeams`, from runxl-testing's
/// `RUNXL_SUPERVISOR_SECCOMP`), `.off` turns the confinement off (filter and capabilities) and
/// `.log` installs a filter that allows everything and has the kernel log each unlisted call
/// (audit type 1326, in dmesg), which is how this list is checked.
public enum SupervisorConfinementMode: Sendable { case off, enforce, log }

enum SupervisorConfinement {
    /// x86-64 names. Grouped as in the doc; a name the running kernel lacks is skipped.
    static let allowedSystemCalls: [String] = [
        // memory, threads, the Swift runtime
        "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mlock", "munlock", "membarrier",
        "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "arch_prctl",
        "clone", "clone3", "fork", "vfork", "sched_yield", "sched_getaffinity", "sched_setaffinity", "getrandom",
        "prctl", "exit", "exit_group", "restart_syscall",
        // time
        "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
        "timerfd_create", "timerfd_settime", "timerfd_gettime",
        // files: state records, locks, the console, /proc, log files, xenstore and privcmd devices
        "open", "openat", "openat2", "close", "close_range", "read", "write", "pread64", "pwrite64", "readv", "writev",
        "lseek", "fstat", "newfstatat", "stat", "lstat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2",
        "readlink", "readlinkat", "getdents64", "getcwd", "chdir", "fchdir", "rename", "renameat", "renameat2",
        "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "fsync", "fdatasync", "ftruncate", "flock", "fcntl",
        "dup", "dup2", "dup3", "ioctl", "umask", "fchmod", "chmod", "fchmodat", "fchown", "utimensat", "fadvise64", "sendfile",
        // events: libxl's poll loop, pipes, eventfds, epoll
        "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "pipe", "pipe2", "eventfd2",
        // sockets: xenstored's unix socket, the console socket (SCM_RIGHTS), libxl's helpers
        "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "shutdown", "getsockname",
        "getpeername", "getsockopt", "setsockopt", "sendmsg", "recvmsg", "sendto", "recvfrom", "sendmmsg", "recvmmsg",
        // processes and signals: libxl forks helpers (domain destroy, hotplug scripts) and reaps them
        "execve", "execveat", "wait4", "waitid", "kill", "tgkill", "tkill", "rt_sigaction", "rt_sigprocmask",
        "rt_sigreturn", "rt_sigtimedwait", "rt_sigpending", "rt_sigsuspend", "sigaltstack", "signalfd4",
        "getpid", "gettid", "getppid", "getpgid", "getpgrp", "setpgid", "setsid", "getsid",
        "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
        "getrlimit", "setrlimit", "prlimit64", "getrusage", "uname", "sysinfo", "capget",
    ]

    /// Capabilities kept; every other one leaves the bounding set too.
    static let keptCapabilities: [(name: String, number: UInt32)] = [
        // State and console files another owner made (a --root or pty of another user).
        ("CAP_DAC_OVERRIDE", 1),
        // Signals to libxl's helper processes when they run as another user (none do today).
        ("CAP_KILL", 5),
        // Hotplug scripts libxl runs on destroy for network devices.
        ("CAP_NET_ADMIN", 12),
        // libxc's hypercall buffers are locked memory.
        ("CAP_IPC_LOCK", 14),
        // Xen's privcmd, evtchn and gntdev devices, and libxl's domain destroy.
        ("CAP_SYS_ADMIN", 21),
    ]

    static var mode: SupervisorConfinementMode { TestSeams.current.supervisorConfinement }

    /// Loads the filter's library while the host's root is still this process's (see
    /// `runxl_seccomp_preload`); `apply` then works after a pivot_root.
    static func prepare() {
        guard mode != .off else { return }
        _ = runxl_seccomp_preload()
    }

    /// Installs the filter and drops capabilities. A failure is logged, not fatal: a kernel
    /// without seccomp must not stop containers from running.
    static func apply(log: (String) -> Void) {
        let mode = mode
        guard mode != .off else {
            log("supervisor confinement is off (the test build's override)")
            return
        }
        if geteuid() == 0 {
            let keep = keptCapabilities.map { UInt32($0.number) }
            if let failure = keep.withUnsafeBufferPointer({ runxl_keep_capabilities($0.baseAddress, $0.count) }) {
                log("supervisor: cannot drop capabilities: \(String(cString: failure))")
            }
        }
        let names = allowedSystemCalls.map { strdup($0) }
        defer { names.forEach { free($0) } }
        var unknown = 0
        let action = mode == .log ? UInt32(RUNXL_SECCOMP_LOG) : UInt32(RUNXL_SECCOMP_DENY_EPERM)
        let failure = names.map { UnsafePointer($0) }.withUnsafeBufferPointer { pointers in
            runxl_seccomp_allow_only(pointers.baseAddress, pointers.count, action, &unknown)
        }
        if let failure {
            log("supervisor: no seccomp filter installed: \(String(cString: failure))")
        }
    }
}
