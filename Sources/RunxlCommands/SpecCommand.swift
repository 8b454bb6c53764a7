import ArgumentParser
import OCI
import Runtime
import RunxlBase

/// `runxl spec`: writes a starting config.json, as `runc spec` does.
struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "Write a new config.json into the bundle.")
    @Option(name: [.short, .long], help: "Bundle directory to write config.json into.") var bundle: String = "."
    @Flag(help: "Accepted for runc compatibility.") var rootless = false

    func run() throws {
        let path = ContainerEngine.absolutePath(bundle) + "/config.json"
        if FileSystem.exists(path) {
            throw RunxlError(.usage, "\(path) exists: remove it first")
        }
        let text = try JSONText.encode(Spec.runxlDefault(), pretty: true)
        try FileSystem.writeAtomically(path, Array((text + "\n").utf8))
    }
}
