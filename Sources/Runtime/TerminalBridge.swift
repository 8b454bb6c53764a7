public import RunxlBase
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `runxl run` and `runxl exec -t` in the foreground without `--console-socket`: runc gives the
/// process a pty and copies between its master and runc's own stdin and stdout, with the
/// caller's terminal (when stdin is one) raw, so that keys such as ^C reach the process, and its
/// size followed. The same here: the guest's hvc0 keeps the line discipline, the host side only
/// carries bytes.
public final class TerminalBridge: Sendable {
    /// How long `finish` waits for the process's last output once it has ended.
    static let drainSeconds = 5.0
    /// How often the caller's terminal size is compared with the process's.
    static let sizePollMilliseconds: Int32 = 250

    private let master: Int32
    private let finished: (read: Int32, write: Int32)
    private let savedSettings: Mutex<termios?>

    private init(master: Int32, finished: (read: Int32, write: Int32), savedSettings: termios?) {
        self.master = master
        self.finished = finished
        self.savedSettings = Mutex(savedSettings)
    }

    /// Starts copying; the bridge owns `master` from here on.
    public static func start(master: Int32) throws(RunxlError) -> TerminalBridge {
        let finished: (read: Int32, write: Int32)
        do {
            finished = try Processes.makePipe()
        } catch {
            close(master)
            throw error
        }
        var saved: termios?
        var settings = termios()
        if isatty(0) == 1, tcgetattr(0, &settings) == 0 {
            saved = settings
            var raw = settings
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
        }
        let bridge = TerminalBridge(master: master, finished: finished, savedSettings: saved)
        do {
            try startDetachedThread { bridge.copy() }
        } catch {
            bridge.restoreTerminal()
            close(master)
            close(finished.read)
            close(finished.write)
            throw error
        }
        return bridge
    }

    /// Waits (bounded) until the process's output has all been copied, which is when the last
    /// holder of the pty's replica let it go, and gives the caller's terminal back as it was.
    public func finish() {
        var entry = pollfd(fd: finished.read, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, Int32(Self.drainSeconds * 1000))
        restoreTerminal()
    }

    private func restoreTerminal() {
        savedSettings.withLock { saved in
            guard var settings = saved else { return }
            tcsetattr(0, TCSADRAIN, &settings)
            saved = nil
        }
    }

    /// Master to stdout until the replica's last holder closes it (read gives EIO), stdin to the
    /// master until stdin ends; the caller's window size on every turn.
    private func copy() {
        var buffer = [UInt8](repeating: 0, count: 16384)
        var stdinOpen = true
        var lastSize = winsize()
        while true {
            var size = winsize()
            if ioctl(0, UInt(TIOCGWINSZ), &size) == 0, size.ws_row != lastSize.ws_row || size.ws_col != lastSize.ws_col {
                _ = ioctl(master, UInt(TIOCSWINSZ), &size)
                lastSize = size
            }
            var entries = [
                pollfd(fd: master, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stdinOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&entries, 2, Self.sizePollMilliseconds)
            if ready < 0 && errno != EINTR { break }
            if entries[0].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if count <= 0 { break }
                Descriptors.writeAllIfPossible(1, Array(buffer[0..<count]))
            }
            if stdinOpen && entries[1].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if count <= 0 {
                    stdinOpen = false
                } else {
                    Descriptors.writeAllIfPossible(master, Array(buffer[0..<count]))
                }
            }
        }
        close(master)
        _ = write(finished.write, "x", 1)
    }
}
