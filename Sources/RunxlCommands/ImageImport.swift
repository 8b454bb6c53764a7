import ImageStore
import Registry
import Runtime
import RunxlBase

/// `runxl image import PATH`: an OCI image layout directory, an oci-archive or a docker-archive.
struct ImageImport: ImageAction {
    static let name = "import"
    static let usage = "PATH [--name REF] [--platform OS/ARCH[/VARIANT]] [--quiet]"
    static let flags = [
        FlagSpec("name", value: "REF", help: "import: the name to store the image under"),
        FlagSpec("platform", value: "OS/ARCH", help: "pull, import: the platform to take from a multi-platform image"),
        FlagSpec("quiet", short: "q", help: "pull, import: no progress output"),
        ImageVerb.storeFlag,
    ]

    let path: String
    let importer: ImageImporter
    let store: ContentStore

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        path = ContainerEngine.absolutePath(try arguments.positional(0, "path of an image layout or archive"))
        try arguments.expectPositionals(atMost: 1)
        let platform = try arguments.value("platform").map { (text: String) throws(RunxlError) in try PlatformSelector(parsing: text) }
        let name = try arguments.value("name").map { (text: String) throws(RunxlError) in try ImageReference(parsing: text) }
        importer = ImageImporter(
            platform: platform ?? .linuxAMD64, name: name,
            reporter: arguments.isSet("quiet") ? TransferReporter(style: .quiet) : .forStandardError())
        store = try ImageVerb.store(arguments, global: global)
    }

    func run() throws(RunxlError) -> Int32 {
        for image in try importer.importImage(at: path, into: store) { print(image.name) }
        return 0
    }
}
