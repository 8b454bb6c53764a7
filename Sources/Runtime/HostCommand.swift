import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// iproute2's `ip` and `tc` inside a network namespace, failing as `networkFailed`. Network
/// wiring goes through these tools rather than a netlink client of our own: their batch modes
/// take every change in one process and their errors are already readable.
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
        let tool = ToolRun(path: path, arguments: arguments, timeoutSeconds: timeoutSeconds)
        let outcome = try tool.run(input: input)
        if outcome.timedOut {
            throw RunxlError(.networkFailed, "\(tool.commandLine) did not finish within \(Int(timeoutSeconds)) s and was killed")
        }
        guard outcome.status == 0 else {
            throw RunxlError(.networkFailed, "\(tool.commandLine) failed (status \(outcome.status)): \(outcome.tail)")
        }
        return outcome.output
    }
}
