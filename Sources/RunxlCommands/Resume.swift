import Runtime
import RunxlBase

/// `runxl resume`: unpauses a paused container's domain.
struct Resume: ContainerIDVerb {
    static let spec = VerbSpec(name: "resume", summary: "resume a paused container", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    func run() throws(RunxlError) -> Int32 {
        try Backend.engine(global).resume(id)
        return 0
    }
}
