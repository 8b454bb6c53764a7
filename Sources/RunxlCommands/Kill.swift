import Runtime
import RunxlBase

/// `runxl kill ID [SIGNAL]`: forwards the signal to the container's process through
/// runxl-init; SIGKILL destroys the domain.
struct Kill: Verb {
    static let spec = VerbSpec(
        name: "kill", summary: "send a signal to the container's process", usage: "[--all] ID [SIGNAL]",
        flags: [FlagSpec("all", short: "a", help: "signal every process of the container (a guest has one)")])
    let global: GlobalOptions
    let id: ContainerID
    let signal: Int32
    let all: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 2)
        signal = try SignalName.parse(arguments.positionals.count > 1 ? arguments.positionals[1] : "TERM")
        all = arguments.isSet("all")
    }

    func run() throws(RunxlError) -> Int32 {
        try Backend.engine(global).kill(id, signal: signal, all: all)
        return 0
    }
}
