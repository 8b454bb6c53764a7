import ArgumentParser
import Runtime

/// `runxl list`: every container under --root, as runc's table or JSON.
struct List: ParsableCommand, GlobalOptionsReader {
    static let configuration = CommandConfiguration(abstract: "List containers.")
    @ParentCommand var global: Runxl
    @Option(name: [.short, .long], help: "table or json.") var format: ListFormat = .table
    @Flag(name: [.short, .long], help: "Print only the container ids.") var quiet = false
    var globalLogger: Logger { global.logger }

    enum ListFormat: String, ExpressibleByArgument { case table, json }

    func run() throws {
        let records = try Backend.readOnlyEngine(global).list()
        if quiet {
            records.forEach { print($0.id) }
            return
        }
        switch format {
        case .json:
            print(try JSONText.encode(records.map(StateOutput.init), pretty: false))
        case .table:
            let rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
                + records.map { record in
                    let state = StateOutput(record)
                    return [state.id, String(state.pid), state.status, state.bundle, state.created, state.owner]
                }
            print(Table.render(rows), terminator: "")
        }
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
