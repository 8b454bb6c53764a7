import JSON
import Runtime
import RunxlBase

/// `runxl state`: the OCI state JSON, with runc's extra fields (rootfs, created, owner).
struct State: ContainerIDVerb {
    static let spec = VerbSpec(name: "state", summary: "print the state of a container as JSON", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    func run() throws(RunxlError) -> Int32 {
        let record = try Backend.readOnlyEngine(global).state(id)
        print(StateOutput(record).json(pretty: true))
        return 0
    }
}

/// The state document runc prints, shared by `state` and `list --format json`.
///
/// Written by hand rather than through `JSONEncoder`: runc's `containerState` is a Go struct, so
/// its members come out in declaration order (ociVersion, id, pid, status, bundle, rootfs,
/// created, annotations, owner), and scripts that match on runc's text would not match
/// `JSONEncoder`'s sorted or unordered keys.
struct StateOutput {
    var ociVersion: String
    var id: String
    var pid: Int32
    var status: String
    var bundle: String
    var rootfs: String
    var created: String
    var owner: String
    var annotations: [String: String]?

    init(_ record: ContainerRecord) {
        ociVersion = record.ociVersion
        id = record.id
        // The spec: a pid while created or running; 0 once stopped.
        pid = record.status == .stopped ? 0 : (record.pid ?? 0)
        status = record.status.rawValue
        bundle = record.bundle
        rootfs = record.rootfs
        created = record.created
        owner = record.owner
        annotations = record.annotations.isEmpty ? nil : record.annotations
    }

    /// Go's `json.MarshalIndent(state, "", "  ")` (runc's `state`) when `pretty`, else
    /// `json.Marshal` (one element of runc's `list --format json`).
    func json(pretty: Bool) -> String {
        var members: [(String, String)] = [
            ("ociVersion", GoJSON.quoted(ociVersion)), ("id", GoJSON.quoted(id)), ("pid", String(pid)),
            ("status", GoJSON.quoted(status)), ("bundle", GoJSON.quoted(bundle)), ("rootfs", GoJSON.quoted(rootfs)),
            ("created", GoJSON.quoted(created)),
        ]
        if let annotations {
            members.append(("annotations", GoJSON.object(annotations, pretty: pretty, indent: "  ")))
        }
        members.append(("owner", GoJSON.quoted(owner)))
        return GoJSON.object(members, pretty: pretty, indent: "")
    }

    /// runc's `list --format json`: a compact array, and `null` when there is no container
    /// (Go encodes runc's empty slice as null).
    static func listJSON(_ states: [StateOutput]) -> String {
        guard !states.isEmpty else { return "null" }
        return "[" + states.map { $0.json(pretty: false) }.joined(separator: ",") + "]"
    }
}

/// The few pieces of Go's encoding/json that runc's output shows.
enum GoJSON {
    /// A string as Go writes it: besides the JSON escapes, `<`, `>` and `&` (HTML-safe by
    /// default) and U+2028/U+2029 become `\u` escapes; `/` is left alone.
    static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                output += unicodeEscape(scalar)
            case _ where scalar.value < 0x20:
                output += unicodeEscape(scalar)
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// A Go map's members come out sorted by the keys' bytes.
    static func object(_ map: [String: String], pretty: Bool, indent: String) -> String {
        object(map.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { ($0, quoted(map[$0] ?? "")) }, pretty: pretty, indent: indent)
    }

    /// Members already encoded, in the given order; `indent` is the nesting's own indentation.
    static func object(_ members: [(String, String)], pretty: Bool, indent: String) -> String {
        guard !members.isEmpty else { return "{}" }
        guard pretty else { return "{" + members.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}" }
        let inner = indent + "  "
        return "{\n" + members.map { inner + quoted($0.0) + ": " + $0.1 }.joined(separator: ",\n") + "\n" + indent + "}"
    }
}

enum JSONText {
    /// runc's output format: JSONEncoder's `.sortedKeys` and `.withoutEscapingSlashes`, which is
    /// what the JSON module's writer gives.
    static func encode(_ value: some Encodable, pretty: Bool) throws(RunxlError) -> String {
        do {
            return String(decoding: try JSONValue.encoding(value).serialized(pretty: pretty), as: UTF8.self)
        } catch {
            throw RunxlError(.internal, "cannot encode JSON output", cause: error)
        }
    }
}
