import ArgumentParser
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl supervise`: internal. The container's supervisor process, started by `create`.
struct Supervise: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(
        abstract: "Internal: supervise a container until it ends.", shouldDisplay: false)

    @ParentCommand var global: Runxl
    @Option(name: .customLong("ready-fd")) var readyDescriptor: Int32?
    @Argument var id: String

    var globalLogger: Logger { global.logger }

    func run() throws {
        // Keep only stdio and the ready pipe: the caller's other fds (conmon's sync pipes) must
        // not stay open for the container's whole life.
        Processes.closeDescriptors(from: (readyDescriptor ?? 2) + 1)
        let containerID = try ContainerID(id)
        let engine = try Backend.engine(global)
        let logger = global.logger
        let code = Supervisor(engine: engine, id: containerID) { logger.info($0) }.run(readyDescriptor: readyDescriptor)
        throw ExitCode(code)
    }
}
