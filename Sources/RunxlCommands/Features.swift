import OCI
import RunxlBase

/// `runxl features`: the runtime-spec features document.
struct Features: Verb {
    static let spec = VerbSpec(name: "features", summary: "print the runtime-spec features runxl implements", usage: "", flags: [])
    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        try arguments.expectPositionals(atMost: 0)
    }

    func run() throws(RunxlError) -> Int32 {
        print(try JSONText.encode(OCI.Features.runxl(version: Runxl.version, commit: nil), pretty: true))
        return 0
    }
}
