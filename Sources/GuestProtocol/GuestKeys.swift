/// The xenstore keys runxl-init and the host share.
///
/// Every key is relative to the guest's own domain path (`/local/domain/<domid>/`): xenstored
/// resolves relative paths against the connection's domain, so the guest never needs its domid,
/// and libxl makes `data/` writable by the guest. The host prefixes `domainPath(of:)`.
public enum GuestKeys {
    /// The directory holding every runxl key.
    public static let root = "data/runxl"
    /// Written by init once the container process has been started (value: its pid in the guest).
    public static let ready = "data/runxl/ready"
    /// Written by init when the container process is gone; value is an `GuestExitStatus` encoding.
    public static let exit = "data/runxl/exit"
    /// Written by the host to ask init to signal the container process; value is a
    /// `SignalRequest` encoding. Init watches it.
    public static let signal = "data/runxl/signal"
    /// The token init registers its watch on `signal` with.
    public static let signalWatchToken = "runxl-signal"
    /// Written by the supervisor before the process starts when it forwards its stdin as console
    /// frames. Without it (a guest booted by `xl create` from `image convert`) nobody would ever
    /// send the end-of-file, so init gives the process /dev/null as runc's callers would.
    public static let stdinForwarded = "data/runxl/stdin"
    /// Written by the host when the user's terminal is resized: `ROWS COLS`. Init watches it and
    /// sets the size on hvc0, which the process's terminal is, so the kernel sends it SIGWINCH.
    public static let windowSize = "data/runxl/winsize"
    public static let windowSizeWatchToken = "runxl-winsize"
    /// Written by the host before the guest runs when `create` boots it ahead of `start`:
    /// `startWait`. Init then makes the process and holds it before its exec (runc's exec.fifo),
    /// serving exec sessions meanwhile, until `start` writes `startGo`. Absent (a guest booted by
    /// `xl create`, or one unpaused by `start` itself): the process starts at once.
    public static let start = "data/runxl/start"
    public static let startWatchToken = "runxl-start"
    public static let startWait = "wait"
    public static let startGo = "go"
    /// Written by init once a held process has passed the gate, or once it made the process
    /// when `start` had written `startGo` before init looked (start while the guest booted):
    /// `startedExec` when its exec succeeded, `startedFailed` when it did not (the exit key
    /// follows). `start` returns after it, as runc's start returns once its init has been
    /// released: a signal sent after `start` then finds the program running, not init's child
    /// before its exec.
    public static let started = "data/runxl/started"
    public static let startedExec = "exec"
    public static let startedFailed = "failed"
    /// Written by the host before the guest runs when the container has a network namespace: a
    /// `GuestNetwork` encoding. Without it the guest has no interface but `lo`.
    public static let network = "data/runxl/network"

    /// The absolute domain path xenstored uses for a domain.
    public static func domainPath(of domainID: UInt32) -> String {
        "/local/domain/\(domainID)"
    }

    /// The absolute path of a relative guest key for a domain.
    public static func absolute(_ key: String, domainID: UInt32) -> String {
        "\(domainPath(of: domainID))/\(key)"
    }
}

/// How the container process ended, as init reports it (xenstore `data/runxl/exit` and the console
/// `exit` stream carry the same text).
public enum GuestExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// The process called exit with this code (0...255).
    case exited(Int32)
    /// The process was killed by this signal number.
    case signaled(Int32)
    /// Init itself could not run the process (bad process file, mount failure, seccomp, ...).
    case failed(String)

    /// The exit code a shell (and runc's callers) would report: signals map to 128 + signal,
    /// an init failure to 127 like a shell's "command not found"-class failure.
    public var shellExitCode: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        case .failed: return 127
        }
    }

    /// The wire text: `exited:N`, `signaled:N` or `failed:<message>`.
    public var encoded: String {
        switch self {
        case .exited(let code): return "exited:\(code)"
        case .signaled(let signal): return "signaled:\(signal)"
        case .failed(let message): return "failed:\(message)"
        }
    }

    public var description: String { encoded }

    public static func decode(_ text: String) throws(GuestProtocolError) -> GuestExitStatus {
        guard let colon = text.firstIndex(of: ":") else {
            throw GuestProtocolError("exit status '\(text.prefix(64))' has no ':'")
        }
        let kind = text[..<colon]
        let value = text[text.index(after: colon)...]
        switch kind {
        case "exited":
            guard let code = Int32(value), code >= 0, code <= 255 else {
                throw GuestProtocolError("exit status '\(text.prefix(64))' has an exit code outside 0...255")
            }
            return .exited(code)
        case "signaled":
            guard let signal = Int32(value), signal > 0, signal < 128 else {
                throw GuestProtocolError("exit status '\(text.prefix(64))' has a signal outside 1...127")
            }
            return .signaled(signal)
        case "failed":
            return .failed(String(value))
        default:
            throw GuestProtocolError("exit status '\(text.prefix(64))' is not exited:, signaled: or failed:")
        }
    }
}

/// A request from the host to deliver a signal to the container process.
///
/// The sequence number makes two identical signals (two SIGTERMs) two distinct writes, so the
/// watch fires and init does not mistake the second for the first one seen again. The host
/// increments it for every request; init delivers each sequence number once.
public struct SignalRequest: Sendable, Equatable, CustomStringConvertible {
    public var sequence: UInt64
    public var signal: Int32

    public init(sequence: UInt64, signal: Int32) {
        self.sequence = sequence
        self.signal = signal
    }

    /// The wire text: `<sequence>:<signal>`, e.g. `3:15`.
    public var encoded: String { "\(sequence):\(signal)" }

    public var description: String { encoded }

    public static func decode(_ text: String) throws(GuestProtocolError) -> SignalRequest {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let sequence = UInt64(parts[0]), let signal = Int32(parts[1]),
            signal > 0, signal < 128
        else {
            throw GuestProtocolError("signal request '\(text.prefix(64))' is not <sequence>:<signal 1...127>")
        }
        return SignalRequest(sequence: sequence, signal: signal)
    }
}
