import Runtime
import RunxlBase

/// `runxl delete`: destroys the domain if still there and removes every file of the container.
struct Delete: Verb {
    static let spec = VerbSpec(
        name: "delete", summary: "delete a stopped container (any, with --force)", usage: "[--force] ID",
        flags: [FlagSpec("force", short: "f", help: "destroy a running container; a missing one is not an error")])
    let global: GlobalOptions
    let id: ContainerID
    let force: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        id = try ContainerID(try arguments.positional(0, "container id"))
        try arguments.expectPositionals(atMost: 1)
        force = arguments.isSet("force")
    }

    func run() throws(RunxlError) -> Int32 {
        let store = StateStore(root: global.root)
        guard store.exists(id) else {
            if force { return 0 }
            throw RunxlError(.containerNotFound, "container \(id) does not exist")
        }
        try Backend.engine(global).delete(id, force: force)
        return 0
    }
}
