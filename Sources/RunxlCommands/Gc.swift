import GuestBuild
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl gc`: restores a clean state after runxl processes were killed mid-way (see
/// GarbageCollector): interrupted creates and deletes, domains of ended containers, temporary
/// files of dead processes. Prints one line per thing removed or deliberately kept.
struct Gc: Verb {
    static let spec = VerbSpec(
        name: "gc", summary: "clean up after runxl processes that died (interrupted create or delete, temp files)",
        usage: "[--orphan-domains] [--cache DIR]",
        flags: [
            FlagSpec("orphan-domains", help: "also destroy runxl- domains with no record under --root"),
            FlagSpec("cache", value: "DIR", help: "guest cache to clean of temporary files (default: the host config's)"),
            FlagSpec("quiet", short: "q", help: "print nothing; the exit status says whether everything was cleaned"),
        ])

    let global: GlobalOptions
    let orphanDomains: Bool
    let cache: String?
    let quiet: Bool

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        self.global = global
        try arguments.expectPositionals(atMost: 0)
        orphanDomains = arguments.isSet("orphan-domains")
        cache = arguments.value("cache")
        quiet = arguments.isSet("quiet")
    }

    func run() throws(RunxlError) -> Int32 {
        var collector = GarbageCollector(engine: try Backend.engine(global))
        collector.orphanDomains = orphanDomains
        // A malformed host config must not stop a clean-up: the default cache is still swept.
        let cacheDirectory = cache ?? ((try? HostConfig.load())?.cacheDirectory ?? HostConfig.defaultCacheDirectory)
        collector.temporaryFileDirectories = [cacheDirectory]
        let report = try collector.run()
        if !quiet {
            var text = ""
            for line in report.removed { text += "removed: \(line)\n" }
            for line in report.kept { text += "kept: \(line)\n" }
            if text.isEmpty { text = "nothing to clean\n" }
            Descriptors.writeAllIfPossible(1, Array(text.utf8))
        }
        return report.kept.contains { $0.hasPrefix("failed:") } ? 1 : 0
    }
}
