import Glibc
import GuestProtocol

/// The host's standard input, arriving as `input` frames on the console, fed to the process's
/// stdin pipe; an `inputEnd` frame closes the pipe, so `cat` or `sh` see end-of-file when the
/// host's stdin does (conmon gives /dev/null to a container without `-i`: EOF at once).
///
/// Non-blocking on the pipe: a process that never reads its stdin must not stall init's loop,
/// which also carries its output. While much is pending, the console is not read: the host's
/// writes then block, which is the backpressure a pipe would give.
final class StdinForwarder {
    private let console: Int32
    private var pipe: Int32
    private var unescaper = ConsoleInputUnescaper()
    private var decoder = ConsoleFrameDecoder()
    private var pending: [UInt8] = []
    private var endRequested = false
    static let maxPending = 1 << 20
    /// Frames of `runxl exec` sessions, which share the console.
    var onExecFrame: ((ConsoleStream, [UInt8]) -> Void)?

    /// False for a terminal: the host's pty has no end-of-file to pass on (^D is a byte), and
    /// closing the master would hang up the process.
    private let passesEndOfInput: Bool

    init(console: Int32, pipe: Int32, passesEndOfInput: Bool = true) {
        self.console = console
        self.pipe = pipe
        self.passesEndOfInput = passesEndOfInput
        _ = fcntl(pipe, F_SETFL, fcntl(pipe, F_GETFL) | O_NONBLOCK)
    }

    var isOpen: Bool { pipe >= 0 }
    var consoleDescriptor: Int32 { console }
    var pipeDescriptor: Int32 { pipe }
    /// After the process's stdin has ended the console is still read: exec sessions use it.
    var wantsConsole: Bool { pending.count < Self.maxPending }
    var wantsToWrite: Bool { isOpen && !pending.isEmpty }

    /// Reads what the console has (it polled readable) and decodes it.
    func readConsole() {
        var buffer = [UInt8](repeating: 0, count: ConsoleFraming.maxFrameSize)
        let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { read(console, raw.baseAddress, raw.count) } }
        guard count > 0 else { return }
        for event in decoder.feed(unescaper.feed(buffer[..<count])) {
            switch event {
            case .frame(.input, let bytes): if isOpen { pending += bytes }
            case .frame(.inputEnd, _): endRequested = passesEndOfInput
            case .frame(let stream, let payload) where stream.rawValue >= ConsoleStream.execStart.rawValue:
                onExecFrame?(stream, payload)
            case .frame, .unframed: break
            }
        }
        flush()
    }

    /// Writes what the pipe takes; closes it once the host's end-of-file has been passed on.
    func flush() {
        guard isOpen else { return }
        while !pending.isEmpty {
            let written = pending.withUnsafeBytes { raw in retryingEINTR { write(pipe, raw.baseAddress, raw.count) } }
            if written > 0 {
                pending.removeFirst(written)
                continue
            }
            if written < 0 && errno == EAGAIN { return }
            // EPIPE: the process closed its stdin; what is left has no reader.
            pending.removeAll()
            close()
            return
        }
        if endRequested { close() }
    }

    func close() {
        if pipe >= 0 { Glibc.close(pipe) }
        pipe = -1
    }
}
