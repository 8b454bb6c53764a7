import ImageStore
import Runtime
import RunxlBase

/// `runxl image unpack IMAGE DIR`: the image's root file system, layers applied in order
/// (what `umoci unpack` puts in its bundle's rootfs).
struct ImageUnpack: ImageAction {
    static let name = "unpack"
    static let usage = "IMAGE DIR"
    static let flags = [ImageVerb.storeFlag]

    let reference: String
    let directory: String
    let store: ContentStore

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        reference = try arguments.positional(0, "image")
        directory = ContainerEngine.absolutePath(try arguments.positional(1, "target directory"))
        try arguments.expectPositionals(atMost: 2)
        store = try ImageVerb.store(arguments, global: global)
    }

    func run() throws(RunxlError) -> Int32 {
        let image = try store.image(reference)
        try store.unpack(image, into: directory)
        return 0
    }
}
