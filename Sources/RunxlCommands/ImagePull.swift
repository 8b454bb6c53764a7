import ImageStore
import Registry
import RunxlBase

/// `runxl image pull REF`: from an OCI distribution registry into the store.
struct ImagePull: ImageAction {
    static let name = "pull"
    static let usage = "REF [--platform OS/ARCH[/VARIANT]] [--creds USER:PASSWORD] [--insecure] [--quiet]"
    static let flags = [
        FlagSpec("platform", value: "OS/ARCH", help: "pull, import: the platform to take from a multi-platform image (default linux/amd64)"),
        FlagSpec("creds", value: "USER:PASSWORD", help: "pull: registry credentials (default: the Docker config: credHelpers, credsStore, auths)"),
        FlagSpec("insecure", help: "pull: plain http to the registry (always so for localhost and 127.0.0.1)"),
        FlagSpec("quiet", short: "q", help: "pull, import: no progress output"),
        ImageVerb.storeFlag,
    ]

    let reference: ImageReference
    let puller: ImagePuller
    let store: ContentStore

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        reference = try ImageReference(parsing: try arguments.positional(0, "image reference"))
        try arguments.expectPositionals(atMost: 1)
        let platform = try arguments.value("platform").map { (text: String) throws(RunxlError) in try PlatformSelector(parsing: text) }
        let credentials = try arguments.value("creds").map { (text: String) throws(RunxlError) in try RegistryCredentials(parsing: text) }
        puller = ImagePuller(
            platform: platform ?? .linuxAMD64,
            registry: RegistryOptions(insecure: arguments.isSet("insecure"), credentials: credentials),
            reporter: arguments.isSet("quiet") ? TransferReporter(style: .quiet) : .forStandardError())
        store = try ImageVerb.store(arguments, global: global)
    }

    func run() throws(RunxlError) -> Int32 {
        let image = try puller.pull(reference, into: store)
        print(image.name)
        return 0
    }
}
