public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// Runs a host tool (iproute2's `ip` and `tc` inside a network namespace) and returns what it
/// printed. Network wiring goes through these tools rather than a netlink client of our own:
/// their batch modes take every change in one process and their errors are already readable.
struct HostCommand {
    var path: String
    var arguments: [String]
    /// A bound on a tool that should take milliseconds, so a wedged one cannot hang `create`.
    var timeoutSeconds: Double = 20

    /// The first of `candidates` that exists: tools live in /usr/sbin on Debian, /sbin elsewhere,
    /// and conmon or a shim may have left /usr/sbin out of PATH.
    static func locate(_ candidates: [String], purpose: String) throws(RunxlError) -> String {
        guard let found = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw RunxlError(
                .networkFailed, "\(purpose) needs \(candidates[0]) (Debian: apt-get install iproute2 util-linux); none of \(candidates.joined(separator: ", ")) exists")
        }
        return found
    }

    /// stdout and stderr together; a non-zero exit is an error quoting them.
    func run(input: [UInt8] = []) throws(RunxlError) -> String {
        let inputPipe = try Processes.makePipe()
        let outputPipe: (read: Int32, write: Int32)
        do {
            outputPipe = try Processes.makePipe()
        } catch {
            close(inputPipe.read)
            close(inputPipe.write)
            throw error
        }
        let pid: Int32
        do {
            pid = try Processes.spawn(
                path, arguments, standardDescriptors: [inputPipe.read, outputPipe.write, outputPipe.write])
        } catch {
            for fd in [inputPipe.read, inputPipe.write, outputPipe.read, outputPipe.write] { close(fd) }
            throw error
        }
        close(inputPipe.read)
        close(outputPipe.write)
        // Batch input is a few hundred bytes, far below a pipe's buffer: the write cannot block.
        signal(SIGPIPE, SIG_IGN)
        _ = input.withUnsafeBytes { write(inputPipe.write, $0.baseAddress, $0.count) }
        close(inputPipe.write)

        let deadline = Clock.monotonicSeconds() + timeoutSeconds
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var timedOut = false
        while true {
            let remaining = deadline - Clock.monotonicSeconds()
            if remaining <= 0 {
                timedOut = true
                break
            }
            var poller = pollfd(fd: outputPipe.read, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining, 1) * 1000))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            let count = buffer.withUnsafeMutableBytes { read(outputPipe.read, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            if output.count < 1 << 20 { output += buffer[0..<count] }
        }
        close(outputPipe.read)
        if timedOut { Glibc.kill(pid, SIGKILL) }
        let status = Processes.waitForExit(pid)
        let text = String(decoding: output, as: UTF8.self)
        let commandLine = ([path] + arguments).joined(separator: " ")
        if timedOut {
            throw RunxlError(.networkFailed, "\(commandLine) did not finish within \(Int(timeoutSeconds)) s and was killed")
        }
        guard status == 0 else {
            let said = text.split(separator: "\n").suffix(4).joined(separator: "; ")
            throw RunxlError(.networkFailed, "\(commandLine) failed (status \(status)): \(said)")
        }
        return text
    }
}
