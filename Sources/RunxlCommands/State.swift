internal import FoundationEssentials
import Runtime
import RunxlBase

/// `runxl state`: the OCI state JSON, with runc's extra fields (rootfs, created, owner).
struct State: ContainerIDVerb {
    static let spec = VerbSpec(name: "state", summary: "print the state of a container as JSON", usage: "ID", flags: [])
    let global: GlobalOptions
    let id: ContainerID

    func run() throws(RunxlError) -> Int32 {
        let record = try Backend.readOnlyEngine(global).state(id)
        print(try StateOutput(record).json(pretty: true))
        return 0
    }
}

/// The state document runc prints, shared by `state` and `list --format json`.
struct StateOutput: Encodable {
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

    func json(pretty: Bool) throws(RunxlError) -> String {
        try JSONText.encode(self, pretty: pretty)
    }
}

enum JSONText {
    static func encode(_ value: some Encodable, pretty: Bool) throws(RunxlError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw RunxlError(.internal, "cannot encode JSON output", cause: error)
        }
    }
}
