import Runtime
import RunxlBase

/// `runxl pause`: pauses the container's domain (its vCPUs stop; memory stays).
struct Pause: Verb {
    static let spec = VerbSpec(name: "pause", summary: "pause a running container", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
    }

    func run() throws(RunxlError) -> Int32 {
        try Backend.engine(global).pause(id)
        return 0
    }
}
