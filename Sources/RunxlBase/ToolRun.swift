#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a host tool to its end and keeps what it printed: iproute2 in a network namespace,
/// mke2fs for a bind mount's disk. Callers turn a failure into their own error code.
public struct ToolRun: Sendable {
    public var path: String
    public var arguments: [String]
    /// A bound, so a wedged tool cannot hang the verb that ran it.
    public var timeoutSeconds: Double
    /// Keeps stderr out of `output` (in `errorOutput`), for a tool whose stdout is a document
    /// to parse (a docker credential helper's JSON) while it may still print warnings.
    public var separatesErrorOutput = false

    /// Exit status (128+N for a signal), stdout and stderr together (the first MiB), and
    /// whether the timeout killed it. With `separatesErrorOutput`, stderr is in `errorOutput`.
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: String
        public var errorOutput = ""
        public var timedOut: Bool

        /// The last lines of the output, for an error message.
        public var tail: String {
            output.split(separator: "\n").suffix(4).joined(separator: "; ")
        }
    }

    public init(path: String, arguments: [String], timeoutSeconds: Double) {
        self.path = path
        self.arguments = arguments
        self.timeoutSeconds = timeoutSeconds
    }

    public var commandLine: String { ([path] + arguments).joined(separator: " ") }

    /// The directories system tools live in, before PATH: Debian keeps iproute2 and e2fsprogs
    /// in /usr/sbin and /sbin, which conmon or a shim may have left out of PATH.
    static let systemDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    /// The executable `name` in the system directories or PATH; nil when there is none.
    public static func find(_ name: String) -> String? {
        var directories = systemDirectories
        if let path = getenv("PATH") {
            directories += String(cString: path).split(separator: ":").map(String.init)
        }
        return directories.lazy.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }

    /// Input is written before the output is read, so it must fit in a pipe's buffer.
    public static let maximumInputBytes = 64 << 10

    /// What the tool printed, when it exited 0; otherwise an error with `code` naming `what`
    /// (the command line by default) and quoting the tool's last lines.
    public func output(input: [UInt8] = [], failing code: RunxlError.Code, what: String? = nil) throws(RunxlError) -> String {
        let outcome = try run(input: input)
        let what = what ?? commandLine
        if outcome.timedOut {
            throw RunxlError(code, "\(what) did not finish within \(Int(timeoutSeconds)) s and was killed")
        }
        guard outcome.status == 0 else {
            throw RunxlError(code, "\(what) failed with status \(outcome.status)\(outcome.tail.isEmpty ? "" : ": " + outcome.tail)")
        }
        return outcome.output
    }

    /// `input` (at most `maximumInputBytes`) goes to the tool's stdin, which is then closed.
    public func run(input: [UInt8] = []) throws(RunxlError) -> Outcome {
        guard input.count <= Self.maximumInputBytes else {
            throw RunxlError(.internal, "\(commandLine) was given \(input.count) bytes of input, more than a pipe holds")
        }
        var pipes: [(read: Int32, write: Int32)] = []
        do {
            for _ in 0..<(separatesErrorOutput ? 3 : 2) { pipes.append(try Processes.makePipe()) }
        } catch {
            for pipe in pipes { close(pipe.read); close(pipe.write) }
            throw error
        }
        let inputPipe = pipes[0], outputPipe = pipes[1], errorPipe = pipes.count > 2 ? pipes[2] : pipes[1]
        let pid: Int32
        do {
            pid = try Processes.spawn(path, arguments, standardDescriptors: [inputPipe.read, outputPipe.write, errorPipe.write])
        } catch {
            for pipe in pipes { close(pipe.read); close(pipe.write) }
            throw error
        }
        close(inputPipe.read)
        for pipe in pipes.dropFirst() { close(pipe.write) }
        // Within a pipe's buffer (checked above): the write cannot block.
        signal(SIGPIPE, SIG_IGN)
        Descriptors.writeAllIfPossible(inputPipe.write, input)
        close(inputPipe.write)

        let deadline = Clock.monotonicSeconds() + timeoutSeconds
        // One buffer per descriptor still open: stdout (with stderr, unless kept apart), stderr.
        var open = pipes.dropFirst().map(\.read)
        var collected: [Int32: [UInt8]] = [:]
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var timedOut = false
        while !open.isEmpty {
            let remaining = deadline - Clock.monotonicSeconds()
            if remaining <= 0 {
                timedOut = true
                break
            }
            var pollers = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&pollers, nfds_t(pollers.count), Int32(min(remaining, 1) * 1000))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            for poller in pollers where poller.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(poller.fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 {
                    open.removeAll { $0 == poller.fd }
                    continue
                }
                if collected[poller.fd, default: []].count < 1 << 20 { collected[poller.fd, default: []] += buffer[0..<count] }
            }
        }
        for pipe in pipes.dropFirst() { close(pipe.read) }
        if timedOut { kill(pid, SIGKILL) }
        let status = Processes.waitForExit(pid)
        var outcome = Outcome(
            status: status, output: String(decoding: collected[outputPipe.read] ?? [], as: UTF8.self), timedOut: timedOut)
        if separatesErrorOutput { outcome.errorOutput = String(decoding: collected[errorPipe.read] ?? [], as: UTF8.self) }
        return outcome
    }
}
