import OCI
import Runtime
import RunxlBase

/// `runxl spec`: writes a starting config.json, as `runc spec` does.
struct SpecVerb: Verb {
    static let spec = VerbSpec(
        name: "spec", summary: "write a new config.json into the bundle", usage: "[--bundle DIR]",
        flags: [
            FlagSpec("bundle", short: "b", value: "DIR", help: "bundle directory (default: current directory)"),
            FlagSpec("rootless", help: "accepted for runc compatibility"),
        ])
    let bundle: String

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        try arguments.expectPositionals(atMost: 0)
        bundle = arguments.value("bundle") ?? "."
    }

    func run() throws(RunxlError) -> Int32 {
        let path = ContainerEngine.absolutePath(bundle) + "/config.json"
        if FileSystem.exists(path) {
            throw RunxlError(.usage, "\(path) exists: remove it first")
        }
        let text = try JSONText.encode(Spec.runxlDefault(), pretty: true)
        try FileSystem.writeAtomically(path, Array((text + "\n").utf8))
        return 0
    }
}
