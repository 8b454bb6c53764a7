import ArgumentParser
import Runtime

/// `runxl delete`: destroys the domain if still there and removes every file of the container.
struct Delete: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "Delete a stopped container (or any, with --force).")
    @ParentCommand var global: Runxl
    @Flag(name: [.short, .long], help: "Destroy a running container; a missing one is not an error.") var force = false
    @Argument(help: "The container id.") var id: String
    var globalLogger: Logger { global.logger }

    func run() throws {
        let containerID = try ContainerID(id)
        let engine = Backend.readOnlyEngine(global)
        guard engine.store.exists(containerID) else {
            if force { return }
            _ = try engine.state(containerID)
            return
        }
        try Backend.engine(global).delete(containerID, force: force)
    }
}
