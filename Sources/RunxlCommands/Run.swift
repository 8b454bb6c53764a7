import ArgumentParser
import Runtime
import RunxlBase

/// `runxl run`: create + start; without --detach it waits, deletes the container and exits
/// with the container's exit status, as `runc run` does.
struct Run: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "Create and start a container, and wait for it.")
    @ParentCommand var global: Runxl
    @OptionGroup var options: CreateFlags
    @Flag(name: [.short, .long], help: "Return once started.") var detach = false
    @Flag(help: "Keep the container's state after it exits.") var keep = false
    @Argument(help: "The container id.") var id: String
    var globalLogger: Logger { global.logger }

    func run() throws {
        let containerID = try ContainerID(id)
        let engine = try Backend.engine(global)
        let record = try engine.create(containerID, options: options.engineOptions) { (id: ContainerID) throws(RunxlError) -> Int32 in
            try SupervisorLauncher.launch(global: global, id: id)
        }
        do {
            try engine.start(containerID)
        } catch {
            try? engine.delete(containerID, force: true)
            throw error
        }
        if detach { return }
        let code = record.pid.map(Processes.waitForExit) ?? 255
        if !keep { try engine.delete(containerID, force: true) }
        throw ExitCode(code)
    }
}
