import ImageStore
import RunxlBase

/// `runxl image ls`: the names in the store with their manifest digest, platform and size.
struct ImageList: ImageAction {
    static let name = "ls"
    static let usage = "[--quiet]"
    static let flags = [FlagSpec("quiet", short: "q", help: "ls: names only"), ImageVerb.storeFlag]

    let store: ContentStore
    let quiet: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        try arguments.expectPositionals(atMost: 0)
        store = try ImageVerb.store(arguments, global: global)
        quiet = arguments.isSet("quiet")
    }

    func run() throws(RunxlError) -> Int32 {
        let images = try store.images()
        if quiet {
            for image in images { print(image.name) }
            return 0
        }
        var rows = [["NAME", "DIGEST", "PLATFORM", "SIZE"]]
        for image in images {
            let platform = image.manifest.platform.map { "\($0.os)/\($0.architecture)" + ($0.variant.map { "/\($0)" } ?? "") } ?? "-"
            // The size a pull transfers: config and compressed layers.
            let size = (try? store.manifest(of: image)).map { manifest in
                manifest.layers.reduce(manifest.config.size) { $0 + $1.size }
            }
            rows.append([
                image.name, String(image.manifest.digest.dropFirst(7).prefix(12)), platform,
                size.map(ImageList.formatSize) ?? "?",
            ])
        }
        let widths = (0..<4).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { $1.padding(to: widths[$0] + 2) }.joined().trimmingTrailingSpaces())
        }
        return 0
    }

    static func formatSize(_ bytes: Int64) -> String {
        if bytes < 1000 * 1000 { return "\((bytes + 999) / 1000) kB" }
        let tenths = bytes / 100_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
