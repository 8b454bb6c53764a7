import ArgumentParser
import Runtime

/// `runxl resume`: unpauses a paused container's domain.
struct Resume: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "Resume a paused container.")
    @ParentCommand var global: Runxl
    @Argument(help: "The container id.") var id: String
    var globalLogger: Logger { global.logger }

    func run() throws {
        let containerID = try ContainerID(id)
        try Backend.engine(global).resume(containerID)
    }
}
