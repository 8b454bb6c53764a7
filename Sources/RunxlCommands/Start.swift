import Runtime
import RunxlBase

/// `runxl start`: runs the container's process by unpausing its domain.
struct Start: ContainerIDVerb {
    static let spec = VerbSpec(name: "start", summary: "start a created container", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    func run() throws(RunxlError) -> Int32 {
        try Backend.engine(global).start(id)
        return 0
    }
}
