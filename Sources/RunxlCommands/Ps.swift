import ArgumentParser
import Runtime
import RunxlBase

/// `runxl ps`: the host processes of a container. A guest's processes are not host processes;
/// the host side of a container is its supervisor, so that is the one pid listed (containerd's
/// shim asks `ps --format json` for the pids it may signal).
struct Ps: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "List the host processes of a container.")
    @ParentCommand var global: Runxl
    @Option(name: [.short, .long], help: "table or json.") var format: String = "table"
    @Argument(help: "The container id.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "ps options (ignored).") var psArguments: [String] = []
    var globalLogger: Logger { global.logger }

    func run() throws {
        let containerID = try ContainerID(id)
        let record = try Backend.readOnlyEngine(global).state(containerID)
        let pids = record.status == .stopped ? [] : (record.pid.map { [$0] } ?? [])
        switch format {
        case "json":
            print("[" + pids.map(String.init).joined(separator: ",") + "]")
        case "table":
            print(Table.render([["PID", "CMD"]] + pids.map { [String($0), "runxl supervise \(id)"] }), terminator: "")
        default:
            throw RunxlError(.usage, "invalid format '\(format)': use table or json")
        }
    }
}
