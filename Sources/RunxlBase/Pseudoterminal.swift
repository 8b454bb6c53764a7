#if canImport(Glibc)
import Glibc
#endif

/// A pseudoterminal pair, for runxl (the host pty of a container with `process.terminal`, and of
/// `exec -t`) and runxl-init (the guest pty of a process with a terminal) alike.
///
/// posix_openpt and friends need _XOPEN_SOURCE, which Swift's Glibc module does not define, so
/// this opens the multiplexer and uses the Linux ioctls directly (asm-generic/ioctls.h values,
/// the same on x86 and arm). TIOCGPTPEER (Linux 4.13) opens the replica from the master rather
/// than by name, so a devpts instance that is not mounted at /dev/pts still works.
public struct Pseudoterminal: Sendable {
    public let master: Int32
    public let replica: Int32

    static let unlockRequest: UInt = 0x4004_5431  // TIOCSPTLCK
    static let peerRequest: UInt = 0x5441  // TIOCGPTPEER

    /// `multiplexer` is the host's `/dev/ptmx`, or inside a guest the `ptmx` of init's own devpts
    /// instance. Both ends are close-on-exec and neither becomes this process's controlling
    /// terminal.
    public static func allocate(multiplexer: String = "/dev/ptmx") throws(SystemCallError) -> Pseudoterminal {
        let master = open(multiplexer, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw SystemCallError("open \(multiplexer)", errno: errno) }
        var unlock: Int32 = 0
        guard ioctl(master, unlockRequest, &unlock) == 0 else {
            let failure = SystemCallError("ioctl(TIOCSPTLCK)", errno: errno)
            Glibc.close(master)
            throw failure
        }
        let replica = ioctl(master, peerRequest, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard replica >= 0 else {
            let failure = SystemCallError("ioctl(TIOCGPTPEER)", errno: errno)
            Glibc.close(master)
            throw failure
        }
        return Pseudoterminal(master: master, replica: replica)
    }

    /// No echo, no line editing, no signals from keys: for a pty that only relays bytes to a
    /// terminal that does all of that already (the guest's), so nothing happens twice.
    public func makeReplicaRaw() {
        var settings = termios()
        guard tcgetattr(replica, &settings) == 0 else { return }
        cfmakeraw(&settings)
        tcsetattr(replica, TCSANOW, &settings)
    }

    public func close() {
        Glibc.close(master)
        Glibc.close(replica)
    }
}
