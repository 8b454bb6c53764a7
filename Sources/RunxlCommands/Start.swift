import Runtime
import RunxlBase

/// `runxl start`: runs the container's process by unpausing its domain.
struct Start: Verb {
    static let spec = VerbSpec(name: "start", summary: "start a created container", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
    }

    func run() throws(RunxlError) -> Int32 {
        try Backend.engine(global).start(id)
        return 0
    }
}
