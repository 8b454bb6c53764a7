import RunxlBase

/// The typed API between the host and runxl-init, besides the console's frames.
///
/// Each message lives at one xenstore key under the guest's own `data/runxl/` directory:
/// xenstored resolves relative paths against the connection's domain, so the guest never needs
/// its domid, and libxl makes `data/` writable by the guest. The host, runxl-init and the fake
/// hypervisor's simulated guest all go through these types; none of them spells a key or a wire
/// value itself, so a message cannot be written one way and read another.
public enum GuestStore {
    /// The directory holding every runxl key, relative to the domain's path.
    public static let root = "data/runxl"

    /// The absolute domain path xenstored uses for a domain.
    public static func domainPath(of domainID: UInt32) -> String {
        "/local/domain/\(domainID)"
    }

    /// The absolute path of a relative guest key for a domain.
    public static func absolute(_ key: String, domainID: UInt32) -> String {
        "\(domainPath(of: domainID))/\(key)"
    }
}

/// What the host tells init. Written before or while the guest runs; init reads each once it
/// needs it, and watches the ones that can change (`Kind.watchToken`).
public enum HostMessage: Sendable, Equatable {
    /// `create` boots the guest ahead of `start`: init makes the process and holds it before
    /// its exec (runc's exec.fifo), serving exec sessions meanwhile. Absent (a guest booted by
    /// `xl create`, or one unpaused by `start` itself), the process starts at once.
    case holdAtGate
    /// `start`: the held process may exec. Written before init looked (start while the guest
    /// booted), it starts the process at once.
    case releaseGate
    /// The network of the container's namespace; without it the guest has no interface but `lo`.
    case network(GuestNetwork)
    /// Deliver a signal to the container process.
    case signal(SignalRequest)
    /// The user's terminal was resized: init sets the size on the process's terminal, so the
    /// kernel sends it SIGWINCH.
    case windowSize(rows: UInt16, columns: UInt16)
    /// The supervisor forwards its stdin as console frames. Without it (a guest booted by
    /// `xl create` from `image convert`) nobody would ever send the end of file, so init gives
    /// the process /dev/null as runc's callers would.
    case stdinForwarded
    /// The guest was restored from a template (`GuestTemplate`) for this container: init, which
    /// waits for this after `GuestReport.templateReady`, goes on with the container. The seed
    /// is fresh randomness for the guest's RNG, which every restore of one template would
    /// otherwise share with the others from the saved image.
    case resumeFromTemplate(seed: [UInt8])

    /// Where a message goes; one key can carry several messages (the gate's two states).
    public enum Kind: String, Sendable, CaseIterable {
        case start, network, signal, windowSize = "winsize", stdinForwarded = "stdin", resume

        /// The key relative to the guest's domain path.
        public var key: String { "\(GuestStore.root)/\(rawValue)" }

        /// The token init's watch on the key carries, for the kinds init watches.
        public var watchToken: String? {
            switch self {
            case .start, .signal, .windowSize, .resume: return "runxl-\(rawValue)"
            case .network, .stdinForwarded: return nil
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .holdAtGate, .releaseGate: return .start
        case .network: return .network
        case .signal: return .signal
        case .windowSize: return .windowSize
        case .stdinForwarded: return .stdinForwarded
        case .resumeFromTemplate: return .resume
        }
    }

    /// The value written at `kind.key`.
    public var value: String {
        switch self {
        case .holdAtGate: return "wait"
        case .releaseGate: return "go"
        case .network(let network): return network.encoded()
        case .signal(let request): return request.encoded
        case .windowSize(let rows, let columns): return "\(rows) \(columns)"
        case .stdinForwarded: return "1"
        case .resumeFromTemplate(let seed): return Hex.encode(seed)
        }
    }

    /// The message a value at `kind`'s key stands for.
    public static func decode(_ kind: Kind, _ value: String) throws(GuestProtocolError) -> HostMessage {
        switch kind {
        case .start:
            switch value {
            case "wait": return .holdAtGate
            case "go": return .releaseGate
            default: throw GuestProtocolError("\(kind.key) '\(value.prefix(64))' is neither wait nor go")
            }
        case .network:
            return .network(try GuestNetwork.decode(value))
        case .signal:
            return .signal(try SignalRequest.decode(value))
        case .windowSize:
            let fields = value.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, let rows = UInt16(fields[0]), let columns = UInt16(fields[1]) else {
                throw GuestProtocolError("\(kind.key) '\(value.prefix(64))' is not '<rows> <columns>'")
            }
            return .windowSize(rows: rows, columns: columns)
        case .stdinForwarded:
            return .stdinForwarded
        case .resume:
            guard let seed = Hex.decode(value), seed.count == GuestTemplate.seedBytes else {
                throw GuestProtocolError("\(kind.key) is not \(GuestTemplate.seedBytes) bytes in hex")
            }
            return .resumeFromTemplate(seed: seed)
        }
    }

    /// The message at an absolute or relative key, or nil for a key that carries none.
    public static func decode(key: String, _ value: String) throws(GuestProtocolError) -> HostMessage? {
        guard let kind = Kind.allCases.first(where: { key == $0.key || key.hasSuffix("/\($0.key)") }) else { return nil }
        return try decode(kind, value)
    }
}

/// What init tells the host.
public enum GuestReport: Sendable, Equatable {
    /// The container process has been made (it may still wait at the gate): its pid in the
    /// guest. Until then the console may be in the kernel's cooked mode, so the host writes
    /// nothing to it.
    case ready(pid: Int32)
    /// A held process passed the gate, or init made it when `start` came before init looked:
    /// its exec succeeded, or failed (the exit report follows). `start` returns after it, as
    /// runc's start returns once its init has been released: a signal sent after `start` then
    /// finds the program running, not init's child before its exec.
    case started(execSucceeded: Bool)
    /// The container process is gone.
    case exit(GuestExitStatus)
    /// A template guest (`GuestTemplate`) booted, loaded its modules and waits for
    /// `HostMessage.resumeFromTemplate`: the host saves it now.
    case templateReady

    public enum Kind: String, Sendable, CaseIterable {
        case ready, started, exit, template

        /// The key relative to the guest's domain path.
        public var key: String { "\(GuestStore.root)/\(rawValue)" }
    }

    /// A value must fit in one xenstore message with its path.
    public static let maxValueBytes = 2048

    public var kind: Kind {
        switch self {
        case .ready: return .ready
        case .started: return .started
        case .exit: return .exit
        case .templateReady: return .template
        }
    }

    /// The value written at `kind.key`, cut to `maxValueBytes` (a long failure message).
    public var value: String {
        let text: String
        switch self {
        case .ready(let pid): text = String(pid)
        case .started(let execSucceeded): text = execSucceeded ? "exec" : "failed"
        case .exit(let status): text = status.encoded
        case .templateReady: text = "ready"
        }
        guard text.utf8.count > Self.maxValueBytes else { return text }
        return String(decoding: Array(text.utf8.prefix(Self.maxValueBytes)), as: UTF8.self)
    }

    public static func decode(_ kind: Kind, _ value: String) throws(GuestProtocolError) -> GuestReport {
        switch kind {
        case .ready:
            guard let pid = Int32(value), pid > 0 else {
                throw GuestProtocolError("\(kind.key) '\(value.prefix(64))' is not a pid")
            }
            return .ready(pid: pid)
        case .started:
            switch value {
            case "exec": return .started(execSucceeded: true)
            case "failed": return .started(execSucceeded: false)
            default: throw GuestProtocolError("\(kind.key) '\(value.prefix(64))' is neither exec nor failed")
            }
        case .exit:
            return .exit(try GuestExitStatus.decode(value))
        case .template:
            guard value == "ready" else { throw GuestProtocolError("\(kind.key) '\(value.prefix(64))' is not ready") }
            return .templateReady
        }
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
