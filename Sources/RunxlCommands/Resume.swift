import Runtime
import RunxlBase

/// `runxl resume`: unpauses a paused container's domain.
struct Resume: Verb {
    static let spec = VerbSpec(name: "resume", summary: "resume a paused container", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
    }

    func run() throws(RunxlError) -> Int32 {
        try Backend.engine(global).resume(id)
        return 0
    }
}
