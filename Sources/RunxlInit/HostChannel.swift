import Glibc
import RunxlBase
import GuestProtocol

/// How init talks to the host besides the console: readiness, exit status, signal requests.
/// Injectable so that test mode runs the same supervision code without Xen.
protocol HostChannel: AnyObject {
    /// A descriptor to poll for input (signal requests, the start); nil when there is none.
    var pollDescriptor: Int32? { get }
    /// Tells the host the process was made, passed the gate, or ended.
    func report(_ report: GuestReport) throws(InitFailure)
    /// What the host said about `start` (`HostMessage.Kind.start`) when init looks, just before
    /// it makes the process; after `.waiting`, `receiveRequests` reports the start.
    func startState() throws(InitFailure) -> StartState
    /// What arrived; `readable` says whether `pollDescriptor` polled readable (events may also
    /// have arrived while waiting for a reply, so this is called either way).
    func receiveRequests(readable: Bool) throws(InitFailure) -> HostRequests
}

/// The gate's message as init finds it.
enum StartState {
    /// No key: the process starts at once and nobody waits for an answer.
    case notAsked
    /// `wait`: the process is held until `start`.
    case waiting
    /// `go` already: `start` ran while the guest was still booting (the usual case for a
    /// create followed at once by a start); the process starts at once and `start` waits
    /// for the answer.
    case given

    /// From the gate's message (nil: no key, or a value that is no message).
    init(_ message: HostMessage?) {
        switch message {
        case .holdAtGate?: self = .waiting
        case .releaseGate?: self = .given
        default: self = .notAsked
        }
    }
}

/// The requests from the host that one look at the channel found.
struct HostRequests {
    var signals: [SignalRequest] = []
    /// The host ran `start`: the held process may exec.
    var start = false
}

/// Delivers each signal request once, whatever order or repetition the channel shows it in.
struct SignalRequestFilter {
    private var lastSequence: UInt64?

    mutating func isNew(_ request: SignalRequest) -> Bool {
        if let lastSequence, request.sequence <= lastSequence { return false }
        lastSequence = request.sequence
        return true
    }
}

/// xenstore through the guest kernel's /dev/xen/xenbus device.
///
/// One request at a time: write a whole message, read until its reply. Watch events that arrive
/// in between are kept for `receiveSignalRequests`. Keys are relative, so xenstored resolves them
/// under this domain's own path.
final class XenbusChannel: HostChannel {
    static let devicePath = "/dev/xen/xenbus"
    /// How long a reply may take before init gives up on xenstore (it still powers off).
    static let replyTimeoutMilliseconds: Int32 = 10_000

    private let fd: Int32
    private var decoder = XenstoreMessageDecoder()
    private var pendingEvents: [XenstoreMessage] = []
    private var nextRequestID: UInt32 = 1

    var pollDescriptor: Int32? { fd }

    init() throws(InitFailure) {
        fd = try check(open(Self.devicePath, O_RDWR | O_CLOEXEC), "cannot open \(Self.devicePath)")
        try watch(.signal)
    }

    /// Whether the supervisor forwards its stdin over the console (`HostMessage.stdinForwarded`).
    func hostForwardsStdin() -> Bool {
        (try? message(.stdinForwarded)) == .stdinForwarded
    }

    /// The network the host read from the container's namespace; nil when the container has none.
    func networkDescription() throws(InitFailure) -> GuestNetwork? {
        guard case .network(let network)? = try message(.network) else { return nil }
        return network
    }

    /// Called with (rows, columns) when the host writes a new terminal size; set by init for a
    /// process with a terminal, whose tty is the guest pty init made for it.
    var onWindowSize: ((UInt16, UInt16) -> Void)? {
        didSet {
            guard onWindowSize != nil, oldValue == nil else { return }
            try? watch(.windowSize)
            // The size the client set before `start`: applied before the process reads it.
            try? applyWindowSize()
        }
    }

    /// A size that does not read is ignored: the terminal keeps its last one, and the process
    /// runs on.
    private func applyWindowSize() throws(InitFailure) {
        guard let onWindowSize, case .windowSize(let rows, let columns)? = try? message(.windowSize) else { return }
        onWindowSize(rows, columns)
    }

    func report(_ report: GuestReport) throws(InitFailure) {
        let key = report.kind.key
        _ = try request(.write(key, string: report.value), context: "write \(key)")
    }

    func startState() throws(InitFailure) -> StartState {
        let state = StartState(try message(.start))
        // The watch fires once at once, so a `start` written before it is not missed.
        if state == .waiting { try watch(.start) }
        return state
    }

    func receiveRequests(readable: Bool) throws(InitFailure) -> HostRequests {
        if readable { try readAvailable() }
        let events = pendingEvents
        pendingEvents.removeAll()
        var requests = HostRequests()
        func fired(_ kind: HostMessage.Kind) -> Bool { events.contains { $0.watchEvent?.token == kind.watchToken } }
        if fired(.windowSize) {
            try applyWindowSize()
        }
        if fired(.start) {
            requests.start = try message(.start) == .releaseGate
        }
        // The event says the key changed; its value is read now (several writes may have merged).
        if fired(.signal), case .signal(let request)? = try message(.signal) {
            requests.signals = [request]
        }
        return requests
    }

    /// Blocks until the host restored this template guest for a container
    /// (`HostMessage.resumeFromTemplate`); returns the seed it sent. No deadline: a template
    /// waits here to be saved, and each restored copy finds the message already written.
    func waitForResume() throws(InitFailure) -> [UInt8] {
        // The watch fires once at once, and again when a restore registers it anew.
        try watch(.resume)
        while true {
            if case .resumeFromTemplate(let seed)? = try message(.resume) { return seed }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = retryingEINTR { Int(poll(&descriptor, 1, -1)) }
            try readAvailable()
            pendingEvents.removeAll { $0.watchEvent?.token == HostMessage.Kind.resume.watchToken }
        }
    }

    /// Makes the guest kernel look at every front-end device xenstore lists for it.
    ///
    /// A restore adds the container's devices (9pfs shares, vifs) to xenstore while the guest is
    /// still paused, with no watch of its kernel registered to see them; when it resumes and
    /// registers its watch on `device` anew, the first event names only `device`, which Linux's
    /// xenbus ignores. Writing a device's `backend-id` back unchanged fires that watch for the
    /// device's own path, and xenbus probes it as it would a hot-plugged one (one it already
    /// knows is left alone).
    func announceDevices(classes: [String]) throws(InitFailure) {
        for deviceClass in classes {
            for device in try children(of: "device/\(deviceClass)") {
                let key = "\(device)/backend-id"
                guard let value = try readKey(key) else { continue }
                _ = try request(.write(key, string: value), context: "write \(key)")
            }
        }
    }

    /// Waits until every 9pfs front end xenstore lists for this guest is Connected (xenbus state
    /// 4), or fails naming the share. A share whose back end never connects would otherwise
    /// leave the mount that needs it blocked for good, and the container with it.
    func waitForSharesConnected(timeoutSeconds: Double) throws(InitFailure) {
        let deadline = monotonicMilliseconds() + Int64(timeoutSeconds * 1000)
        for device in try children(of: "device/9pfs") {
            while true {
                let state = try readKey("\(device)/state")
                if state == "4" { break }
                guard monotonicMilliseconds() < deadline else {
                    let tag = (try? readKey("\(device)/tag")) ?? nil
                    let backend = ((try? readKey("\(device)/backend")) ?? nil).flatMap { path in (try? readKey("\(path)/state")) ?? nil }
                    throw InitFailure(
                        "the 9pfs share '\(tag ?? device)' did not connect within \(Int(timeoutSeconds)) s of the restore "
                            + "(front end state \(state ?? "none"), back end state \(backend ?? "unknown")); "
                            + "dom0's qemu-dm log for this domain says why")
                }
                usleep(10_000)
            }
        }
    }

    /// The paths of a directory's entries; none when it does not exist.
    private func children(of directory: String) throws(InitFailure) -> [String] {
        guard let listing = try request(.directory(directory), context: "list \(directory)", allowingError: "ENOENT") else { return [] }
        return listing.split(separator: 0).map { "\(directory)/\(String(decoding: $0, as: UTF8.self))" }
    }

    private func readKey(_ key: String) throws(InitFailure) -> String? {
        try request(.read(key), context: "read \(key)", allowingError: "ENOENT").map { String(decoding: $0, as: UTF8.self) }
    }

    /// The host's message at `kind`'s key; nil when it has not written one.
    private func message(_ kind: HostMessage.Kind) throws(InitFailure) -> HostMessage? {
        guard let reply = try request(.read(kind.key), context: "read \(kind.key)", allowingError: "ENOENT") else { return nil }
        do {
            return try HostMessage.decode(kind, String(decoding: reply, as: UTF8.self))
        } catch {
            throw InitFailure("the host wrote an invalid \(kind.key): \(error.message)")
        }
    }

    private func watch(_ kind: HostMessage.Kind) throws(InitFailure) {
        guard let token = kind.watchToken else { return }
        _ = try request(.watch(kind.key, token: token), context: "watch \(kind.key)")
    }

    /// Sends a request and returns its reply's payload; nil when the reply is the error named by
    /// `allowingError` (such as ENOENT for a key not written yet).
    private func request(_ message: XenstoreMessage, context: String, allowingError: String? = nil) throws(InitFailure) -> [UInt8]? {
        var message = message
        message.requestID = nextRequestID
        nextRequestID &+= 1
        let bytes: [UInt8]
        do {
            bytes = try message.encoded()
        } catch {
            throw InitFailure("xenstore \(context): \(error.message)")
        }
        // The device takes one whole message per write.
        let written = bytes.withUnsafeBytes { buffer in retryingEINTR { write(fd, buffer.baseAddress, buffer.count) } }
        if written != bytes.count {
            let code = errno
            throw InitFailure("xenstore \(context): write to \(Self.devicePath) failed: \(errnoText(code))")
        }
        while true {
            if let index = pendingReplies.firstIndex(where: { $0.requestID == message.requestID }) {
                let reply = pendingReplies.remove(at: index)
                if let error = reply.error(context: context) {
                    if error.name == allowingError { return nil }
                    throw InitFailure(error.description)
                }
                return reply.payload
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = retryingEINTR { Int(poll(&descriptor, 1, Self.replyTimeoutMilliseconds)) }
            if ready == 0 { throw InitFailure("xenstore \(context): no reply within \(Self.replyTimeoutMilliseconds) ms") }
            try readAvailable()
        }
    }

    private var pendingReplies: [XenstoreMessage] = []

    private func readAvailable() throws(InitFailure) {
        var buffer = [UInt8](repeating: 0, count: XenstoreMessage.headerSize + XenstoreMessage.maxPayload)
        let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { read(fd, raw.baseAddress, raw.count) } }
        if count < 0 {
            let code = errno
            if code == EAGAIN { return }
            throw InitFailure("read from \(Self.devicePath) failed: \(errnoText(code))")
        }
        if count == 0 { throw InitFailure("\(Self.devicePath) closed") }
        do {
            for message in try decoder.feed(buffer[..<count]) {
                if message.type == .watchEvent {
                    pendingEvents.append(message)
                } else {
                    pendingReplies.append(message)
                }
            }
        } catch {
            throw InitFailure("xenstore: \(error.message)")
        }
    }
}

/// Test mode: files in a directory stand in for xenstore, so the static binary can be run on a
/// development machine. `ready` and `exit` are written there; `signal`, if it is a FIFO, is read
/// for `SignalRequest` lines and the line `start`; a `start` file holding `wait` holds the
/// process until that line.
final class DirectoryChannel: HostChannel {
    private let directory: String
    private let fifo: Int32
    private var partialLine: [UInt8] = []

    var pollDescriptor: Int32? { fifo >= 0 ? fifo : nil }

    init(directory: String) {
        self.directory = directory
        // O_RDWR keeps the FIFO open with no writer, so poll does not spin on end-of-file.
        fifo = open(directory + "/signal", O_RDWR | O_NONBLOCK | O_CLOEXEC)
    }

    /// Each report in the file named after its kind (`ready`, `started`, `exit`).
    func report(_ report: GuestReport) throws(InitFailure) {
        try writeFile(report.kind.rawValue, report.value)
    }

    func startState() throws(InitFailure) -> StartState {
        guard let bytes = try? readWholeFile(directory + "/start", limit: 64) else { return .notAsked }
        return StartState(try? HostMessage.decode(.start, String(decoding: bytes, as: UTF8.self)))
    }

    func receiveRequests(readable: Bool) throws(InitFailure) -> HostRequests {
        var requests = HostRequests()
        guard fifo >= 0 else { return requests }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { raw in retryingEINTR { read(fifo, raw.baseAddress, raw.count) } }
        guard count > 0 else { return requests }
        partialLine += buffer[..<count]
        while let newline = partialLine.firstIndex(of: 0x0A) {
            let line = String(decoding: partialLine[..<newline], as: UTF8.self)
            partialLine.removeSubrange(...newline)
            if line == "start" {
                requests.start = true
                continue
            }
            do {
                requests.signals.append(try SignalRequest.decode(line))
            } catch {
                throw InitFailure("invalid signal request '\(line)': \(error.message)")
            }
        }
        return requests
    }

    private func writeFile(_ name: String, _ text: String) throws(InitFailure) {
        let path = directory + "/" + name
        let temporary = path + ".tmp"
        let fd = try check(open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644), "cannot create \(temporary)")
        let complete = Descriptors.writeAllIfPossible(fd, Array(text.utf8))
        close(fd)
        guard complete else { throw InitFailure("cannot write \(temporary)") }
        try check(rename(temporary, path), "cannot rename \(temporary) to \(path)")
    }
}
