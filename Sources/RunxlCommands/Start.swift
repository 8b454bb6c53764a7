import ArgumentParser
import Runtime

/// `runxl start`: runs the container's process by unpausing its domain.
struct Start: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "Start a created container.")
    @ParentCommand var global: Runxl
    @Argument(help: "The container id.") var id: String
    var globalLogger: Logger { global.logger }

    func run() throws {
        let containerID = try ContainerID(id)
        let engine = try Backend.engine(global)
        try engine.start(containerID)
    }
}
