public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Who supervises a container `create` makes (the pid it records).
public enum SupervisorStart: Sendable {
    /// A `runxl supervise` process started by create, given these global arguments (root, log
    /// options) first: the OCI verbs.
    case process(globalArguments: [String])
    /// The process calling create, which supervises the container itself: `launch`.
    case thisProcess
    /// Anything else that yields a pid (the runtime's tests start a stand-in process).
    case custom(@Sendable (ContainerID, _ terminalReplica: Int32?) throws(RunxlError) -> Int32)

    var isThisProcess: Bool {
        if case .thisProcess = self { return true }
        return false
    }
}

/// The supervisor's re-exec and its handshake, in one place: what `create` runs (`runxl
/// supervise --ready-fd 3 [--tty-fd 4] ID`, as runc re-execs `runc init`), the descriptors it
/// passes, and the answer it waits for (`ok`, or why not, on the ready pipe). The CLI's
/// `supervise` verb only routes these arguments back to `Supervisor`.
public enum SupervisorProcess {
    public static let verb = "supervise"
    public static let readyFlag = "ready-fd"
    public static let terminalFlag = "tty-fd"
    /// The supervisor proper, which the reported stand-in process starts (see the verb).
    public static let innerFlag = "inner"
    /// Where the ready pipe and the terminal replica land in the child.
    static let readyDescriptor: Int32 = 3
    static let terminalDescriptor: Int32 = 4
    static let readyTimeoutSeconds = 60.0

    /// Starts the supervisor as a child of this process and waits until it answers; its pid.
    /// On any failure the child is killed and reaped.
    public static func spawn(globalArguments: [String], id: ContainerID, terminal: Int32?) throws(RunxlError) -> Int32 {
        let ends = try Processes.makePipe()
        defer { close(ends.read) }
        var arguments = globalArguments + [verb, "--\(readyFlag)", String(readyDescriptor)]
        if terminal != nil { arguments += ["--\(terminalFlag)", String(terminalDescriptor)] }
        arguments.append(id.rawValue)
        let pid: Int32
        do {
            // With a terminal the process's streams are the pty: like runc, keep none of the
            // caller's, so that a caller reading create's output sees its end when create returns.
            pid = try Processes.spawn(
                try Processes.currentExecutable(), arguments, extraDescriptors: [ends.write] + (terminal.map { [$0] } ?? []),
                detachStandardStreams: terminal != nil)
        } catch {
            close(ends.write)
            throw error
        }
        close(ends.write)
        let answer = readAll(ends.read, timeoutSeconds: readyTimeoutSeconds)
        guard answer.hasPrefix("ok") else {
            kill(pid, SIGKILL)
            _ = Processes.waitForExit(pid)
            let detail = answer.isEmpty ? "it exited without a word" : answer
            throw RunxlError(.spawnFailed, "the supervisor of container \(id) did not start: \(detail)")
        }
        return pid
    }

    /// The supervisor's side of the handshake: `ok`, or `error: ...`, then the pipe's end.
    static func answerReady(_ descriptor: Int32?, _ text: String) {
        guard let descriptor, descriptor >= 0 else { return }
        Descriptors.writeAllIfPossible(descriptor, Array((text + "\n").utf8))
        close(descriptor)
    }

    /// What the ready pipe carried until its end (the supervisor closes it after answering).
    private static func readAll(_ descriptor: Int32, timeoutSeconds: Double) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        let deadline = Clock.monotonicSeconds() + timeoutSeconds
        while true {
            let remaining = deadline - Clock.monotonicSeconds()
            guard remaining > 0 else { break }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(remaining * 1000)) > 0 else { break }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        var text = Substring(String(decoding: bytes, as: UTF8.self))
        while let last = text.last, last == "\n" || last == " " { text.removeLast() }
        while let first = text.first, first == "\n" || first == " " { text.removeFirst() }
        return String(text)
    }
}
