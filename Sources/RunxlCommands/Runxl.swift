public import ArgumentParser
public import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The root command. Global flags come before the verb, as runc takes them.
public struct Runxl: ParsableCommand {
    public static let version = "0.1.0"
    /// The runtime-spec version runxl implements.
    public static let specVersion = "1.2.0"

    public static let configuration = CommandConfiguration(
        commandName: "runxl",
        abstract: "Run OCI containers as Xen virtual machines.",
        version: "runxl version \(version)\nspec: \(specVersion)",
        subcommands: [
            Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, List.self, Ps.self,
            Pause.self, Resume.self, Features.self, SpecCommand.self, Supervise.self,
        ])

    @Option(help: "Root directory for container state.")
    var root: String = "/run/runxl"

    @Option(help: "Append log lines to this file (stderr gets errors either way).")
    var log: String?

    @Option(name: .customLong("log-format"), help: "Log line format: text or json.")
    var logFormat: LogFormat = .text

    @Flag(help: "Log debug messages too.")
    var debug = false

    @Flag(name: .customLong("systemd-cgroup"), help: "Accepted for runc compatibility; a Xen guest has no host cgroup.")
    var systemdCgroup = false

    @Option(help: "Accepted for runc compatibility (true, false or auto).")
    var rootless: String?

    public init() {}

    var logger: Logger { Logger(path: log, format: logFormat, debug: debug) }
}

/// The process entry point: parses, runs, and turns every error into runc's behaviour
/// (message on stderr, a log line, exit status 1).
public enum RunxlMain {
    public static func main(_ arguments: [String]) -> Never {
        var logger = Logger(path: nil, format: .text, debug: false)
        do {
            var command = try Runxl.parseAsRoot(arguments)
            if let verb = command as? any GlobalOptionsReader { logger = verb.globalLogger }
            try command.run()
            exit(0)
        } catch let error as RunxlError {
            logger.error(error)
            exit(1)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let exitCode = Runxl.exitCode(for: error)
            if exitCode == .success {
                print(Runxl.fullMessage(for: error))
                exit(0)
            }
            logger.error(RunxlError(.usage, Runxl.message(for: error)))
            exit(1)
        }
    }
}

/// A verb that can tell which logger the global flags asked for.
protocol GlobalOptionsReader {
    var globalLogger: Logger { get }
}
