import ImageStore
import RunxlBase

/// `runxl image rm IMAGE...`: removes the names, then collects the blobs no name reaches.
struct ImageRemove: ImageAction {
    static let name = "rm"
    static let usage = "IMAGE..."
    static let flags = [ImageVerb.storeFlag]

    let references: [String]
    let store: ContentStore

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        _ = try arguments.positional(0, "image")
        references = arguments.positionals
        store = try ImageVerb.store(arguments, global: global)
    }

    func run() throws(RunxlError) -> Int32 {
        for reference in references {
            let image = try store.removeImage(reference)
            print("removed \(image.name)")
        }
        // A pull or import running now holds gc.lock shared: leave its blobs alone and let the
        // next rm collect, rather than wait for it.
        if let report = try store.collectGarbage(wait: false) {
            if report.blobsRemoved > 0 {
                print("freed \(report.blobsRemoved) blobs, \(ImageList.formatSize(report.bytesFreed))")
            }
        } else {
            print("blobs left for the next image rm: another runxl process is using the store")
        }
        return 0
    }
}
