import ArgumentParser
import OCI

/// `runxl features`: the runtime-spec features document.
struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the runtime-spec features runxl implements, as JSON.")

    func run() throws {
        print(try JSONText.encode(OCI.Features.runxl, pretty: true))
    }
}
