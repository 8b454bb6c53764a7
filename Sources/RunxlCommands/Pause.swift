import Runtime
import RunxlBase

/// `runxl pause`: pauses the container's domain (its vCPUs stop; memory stays).
struct Pause: ContainerIDVerb {
    static let spec = VerbSpec(name: "pause", summary: "pause a running container", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    func run() throws(RunxlError) -> Int32 {
        try Backend.engine(global).pause(id)
        return 0
    }
}
