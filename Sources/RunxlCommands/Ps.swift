import Runtime
import RunxlBase

/// `runxl ps`: the host processes of a container. A guest's processes are not host processes;
/// the host side of a container is its supervisor, so that is the one pid listed (containerd's
/// shim asks `ps --format json` for the pids it may signal).
struct Ps: Verb {
    static let spec = VerbSpec(
        name: "ps", summary: "list the host processes of a container", usage: "[--format table|json] ID [ps options]",
        flags: [FlagSpec("format", short: "f", value: "FORMAT", help: "table or json")])
    let global: GlobalOptions
    let id: ContainerID
    let json: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        switch arguments.value("format") ?? "table" {
        case "table": json = false
        case "json": json = true
        case let other: throw RunxlError(.usage, "ps: --format must be table or json, not '\(other)'")
        }
    }

    func run() throws(RunxlError) -> Int32 {
        let record = try Backend.readOnlyEngine(global).state(id)
        let pids = record.status == .stopped ? [] : (record.pid.map { [$0] } ?? [])
        if json {
            print("[" + pids.map(String.init).joined(separator: ",") + "]")
        } else {
            print(Table.render([["PID", "CMD"]] + pids.map { [String($0), "runxl supervise \(id)"] }), terminator: "")
        }
        return 0
    }
}
