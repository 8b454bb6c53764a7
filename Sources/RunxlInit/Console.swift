import Glibc
import RunxlBase
import GuestProtocol

/// Where init's output goes: the container's stdout/stderr, its own diagnostics, the exit record.
///
/// In the guest this is /dev/hvc0 in raw mode, carrying `ConsoleFraming` frames; in test mode it
/// is init's own stdout. With a terminal the console belongs to the process, so nothing is framed
/// and diagnostics are plain lines the user sees, like runc's error messages.
final class Console {
    let fd: Int32
    private let framed: Bool
    /// The terminal settings before raw mode, restored when the process gets the console as its tty.
    private let cookedSettings: termios?

    init(fd: Int32, framed: Bool, cookedSettings: termios? = nil) {
        self.fd = fd
        self.framed = framed
        self.cookedSettings = cookedSettings
    }

    /// Opens the guest console and puts it in raw mode: no newline translation, no echo of
    /// whatever the host might send, no signals from control characters.
    static func openGuestConsole(path: String) -> Console {
        let opened = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        return raw(fd: opened >= 0 ? opened : 1)
    }

    /// Raw mode on a descriptor that is already the console (fd 1 is /dev/console for PID 1):
    /// in cooked mode the tty would turn every 0x0A of a frame into "\r\n" and break its checksum.
    static func raw(fd: Int32) -> Console {
        var settings = termios()
        guard tcgetattr(fd, &settings) == 0 else { return Console(fd: fd, framed: true) }
        let cooked = settings
        cfmakeraw(&settings)
        _ = tcsetattr(fd, TCSANOW, &settings)
        return Console(fd: fd, framed: true, cookedSettings: cooked)
    }

    /// The console handed to a process as its terminal: line discipline back to the kernel's
    /// defaults (echo, canonical input, signals from ^C), and no framing from init any more.
    func forPlainTerminal() -> Console {
        if var cooked = cookedSettings { _ = tcsetattr(fd, TCSANOW, &cooked) }
        return Console(fd: fd, framed: false)
    }

    func send(_ stream: ConsoleStream, _ bytes: [UInt8]) {
        guard framed else { return }
        Descriptors.writeAllIfPossible(fd, ConsoleFraming.encode(stream: stream, payload: bytes))
    }

    /// Bytes that are already frames (an exec session's).
    func sendFramed(_ frames: [UInt8]) {
        guard framed else { return }
        Descriptors.writeAllIfPossible(fd, frames)
    }

    func diagnostic(_ message: String) {
        let line = "runxl-init: \(message)"
        if framed {
            send(.diagnostics, Array((line + "\n").utf8))
        } else {
            Descriptors.writeAllIfPossible(fd, Array((line + "\r\n").utf8))
        }
        Kmsg.log(line)
    }

    func exit(_ status: GuestExitStatus) {
        send(.exit, Array(status.encoded.utf8))
    }
}

/// The kernel log: a record of init's diagnostics that survives in `xl dmesg`-style dumps and
/// crash logs even when the console is not being read.
enum Kmsg {
    nonisolated(unsafe) static var fd: Int32 = -1

    static func open() {
        fd = Glibc.open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NONBLOCK)
    }

    static func log(_ line: String) {
        guard fd >= 0 else { return }
        Descriptors.writeAllIfPossible(fd, Array("<6>\(line)\n".utf8))
    }
}
