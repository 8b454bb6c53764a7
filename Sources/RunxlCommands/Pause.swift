import ArgumentParser
import Runtime

/// `runxl pause`: pauses the container's domain (its vCPUs stop; memory stays).
struct Pause: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "Pause a running container.")
    @ParentCommand var global: Runxl
    @Argument(help: "The container id.") var id: String
    var globalLogger: Logger { global.logger }

    func run() throws {
        let containerID = try ContainerID(id)
        try Backend.engine(global).pause(containerID)
    }
}
