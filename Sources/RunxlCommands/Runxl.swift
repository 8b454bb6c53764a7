import OCI
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// The flags runc takes before the verb.
struct GlobalOptions: Sendable {
    var root = "/run/runxl"
    var log: String?
    var logFormat: LogFormat = .text
    var debug = false

    /// What a runxl child process must be told of these (its root, where and how to log): the
    /// supervisor create starts, the `kill` an interrupted launch runs.
    var childArguments: [String] {
        var arguments = ["--root", root, "--log-format", logFormat.rawValue]
        if let log { arguments += ["--log", ContainerEngine.absolutePath(log)] }
        if debug { arguments.append("--debug") }
        return arguments
    }
    /// The image store (`image` verbs, `launch REF`); nil means ContentStore.defaultRoot.
    var store: String?

    static let flags: [FlagSpec] = [
        FlagSpec("root", value: "DIR", help: "root directory for container state (default /run/runxl)"),
        FlagSpec("log", value: "FILE", help: "append log lines to FILE (errors reach stderr either way)"),
        FlagSpec("log-format", value: "FORMAT", help: "log line format: text or json"),
        FlagSpec("debug", help: "log debug messages too"),
        FlagSpec("store", value: "DIR", help: "image store directory (default /var/lib/runxl/images)"),
        FlagSpec("systemd-cgroup", help: "accepted for runc compatibility; a guest has no host cgroup"),
        FlagSpec("rootless", value: "BOOL", help: "accepted for runc compatibility"),
        FlagSpec("criu", value: "PATH", help: "accepted for runc compatibility", hidden: true),
        FlagSpec("version", short: "v", help: "print the version"),
        FlagSpec("help", short: "h", help: "show help"),
    ]

    init() {}

    init(_ parsed: ParsedArguments) throws(RunxlError) {
        if let root = parsed.value("root") { self.root = root }
        log = parsed.value("log")
        if let format = parsed.value("log-format") {
            guard let value = LogFormat(rawValue: format) else {
                throw RunxlError(.usage, "--log-format must be text or json, not '\(format)'")
            }
            logFormat = value
        }
        debug = parsed.isSet("debug")
        store = parsed.value("store")
    }

    var logger: Logger { Logger(path: log, format: logFormat, debug: debug) }
}

/// One CLI verb. Each lives in its own file; `Runxl.verbs` is the table.
protocol Verb: SendableMetatype {
    static var spec: VerbSpec { get }
    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError)
    /// Returns the process exit status (0 for success); errors exit 1 through `RunxlMain`.
    func run() throws(RunxlError) -> Int32
}

public enum Runxl {
    public static let version = "0.1.0"

    static let verbs: [any Verb.Type] = [
        Create.self, Start.self, State.self, Kill.self, Delete.self, Run.self, List.self, Ps.self,
        Pause.self, Resume.self, Events.self, Features.self, SpecVerb.self, Launch.self, ImageVerb.self, Supervise.self,
        UnpackLayers.self, Exec.self, ExecWait.self, Gc.self, Warm.self,
    ]

    static var versionText: String { "runxl version \(version)\nspec: \(Spec.currentVersion)\n" }

    static var usageText: String {
        var text = "runxl: run OCI containers as Xen virtual machines\n\nUsage: runxl [global flags] VERB [flags] [arguments]\n\nVerbs:\n"
        for verb in verbs where !verb.spec.hidden {
            text += "  " + verb.spec.name.padding(to: 12) + verb.spec.summary + "\n"
        }
        text += "\nGlobal flags:\n"
        for flag in GlobalOptions.flags where !flag.hidden {
            let names = (flag.short.map { "-\($0), " } ?? "    ") + "--\(flag.long)" + (flag.value.map { " \($0)" } ?? "")
            text += "  " + names.padding(to: 30) + flag.help + "\n"
        }
        return text
    }
}

/// The process entry point: parses, runs, and turns every error into runc's behaviour
/// (message on stderr, a log line, exit status 1).
public enum RunxlMain {
    /// `seams`: only `runxl-testing` passes any (`TestSeams`).
    public static func main(_ arguments: [String], seams: TestSeams = TestSeams()) -> Never {
        TestSeams.install(seams)
        var logger = Logger(path: nil, format: .text, debug: false)
        do {
            let (globalParsed, rest) = try ArgumentScanner.parse(
                arguments[...], flags: GlobalOptions.flags, verb: "", stopAtPositional: true)
            let global = try GlobalOptions(globalParsed)
            logger = global.logger
            if globalParsed.isSet("version") { exitPrinting(Runxl.versionText) }
            guard let verbName = rest.first else { exitPrinting(Runxl.usageText, status: globalParsed.isSet("help") ? 0 : 1) }
            guard let verb = Runxl.verbs.first(where: { $0.spec.name == verbName }) else {
                throw RunxlError(.usage, "unknown verb '\(verbName)' (see runxl --help)")
            }
            let flags = verb.spec.flags + [FlagSpec("help", short: "h", help: "show help")]
            let (parsed, _) = try ArgumentScanner.parse(
                rest.dropFirst(), flags: flags, verb: verbName, stopAtPositional: false,
                flagsEndAtFirstPositional: verb.spec.flagsEndAtFirstPositional)
            if parsed.isSet("help") { exitPrinting(HelpText.render(verb.spec)) }
            exit(try verb.init(parsed, global: global).run())
        } catch let error as RunxlError {
            logger.error(error)
            exit(1)
        } catch {
            logger.error(RunxlError(.internal, "unexpected error: \(error)"))
            exit(1)
        }
    }

    static func exitPrinting(_ text: String, status: Int32 = 0) -> Never {
        Descriptors.writeAllIfPossible(status == 0 ? 1 : 2, Array(text.utf8))
        exit(status)
    }
}

/// A verb whose only argument is the container id (start, pause, resume, state): the
/// argument handling lives here once.
protocol ContainerIDVerb: Verb {
    init(global: GlobalOptions, id: ContainerID)
}

extension ContainerIDVerb {
    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        let id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
        self.init(global: global, id: id)
    }
}
