import Runtime
import RunxlBase

/// `runxl list`: every container under --root, as runc's table or JSON.
struct List: Verb {
    static let spec = VerbSpec(
        name: "list", summary: "list containers", usage: "[--format table|json] [--quiet]",
        flags: [
            FlagSpec("format", short: "f", value: "FORMAT", help: "table or json"),
            FlagSpec("quiet", short: "q", help: "print only the container ids"),
        ])
    let global: GlobalOptions
    let json: Bool
    let quiet: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        try arguments.expectPositionals(atMost: 0)
        switch arguments.value("format") ?? "table" {
        case "table": json = false
        case "json": json = true
        case let other: throw RunxlError(.usage, "list: --format must be table or json, not '\(other)'")
        }
        quiet = arguments.isSet("quiet")
    }

    func run() throws(RunxlError) -> Int32 {
        let records = try Backend.readOnlyEngine(global).list()
        if quiet {
            records.forEach { print($0.id) }
        } else if json {
            print(StateOutput.listJSON(records.map(StateOutput.init)))
        } else {
            let rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
                + records.map { record in
                    let state = StateOutput(record)
                    return [state.id, String(state.pid), state.status, state.bundle, state.created, state.owner]
                }
            print(Table.render(rows), terminator: "")
        }
        return 0
    }
}

/// Left-aligned columns separated by at least three spaces, as runc's tabwriter prints them.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { $0.count > column ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 3)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
