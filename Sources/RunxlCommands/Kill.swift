import ArgumentParser
import Runtime

/// `runxl kill <id> [signal]`: forwards the signal to the container's process through
/// runxl-init; SIGKILL destroys the domain.
struct Kill: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "Send a signal to the container's process.")
    @ParentCommand var global: Runxl
    @Flag(name: [.short, .long], help: "Signal every process of the container (there is one per guest).") var all = false
    @Argument(help: "The container id.") var id: String
    @Argument(help: "Signal number or name (default TERM).") var signal: String = "TERM"
    var globalLogger: Logger { global.logger }

    func run() throws {
        let containerID = try ContainerID(id)
        let number = try SignalName.parse(signal)
        try Backend.engine(global).kill(containerID, signal: number, all: all)
    }
}
