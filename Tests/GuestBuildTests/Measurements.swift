import Archive
import Foundation
import GuestBuild
import OCI
import RunxlBase
import Testing
import TestSupport

/// Build time and size per compression; run with RUNXL_MEASURE=1 (figures go to stdout), and
/// RUNXL_MEASURE_TREE=/some/dir for a bigger rootfs than busybox.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["RUNXL_MEASURE"] == "1"))
struct InitramfsMeasurements {
    @Test func buildTimeAndSizePerCompression() throws {
        let scratch = try ScratchDirectory()
        var trees = [("busybox", try makeBusyboxRootfs(in: scratch))]
        if let extra = ProcessInfo.processInfo.environment["RUNXL_MEASURE_TREE"] { trees.append((extra, extra)) }
        try scratch.file("init", String(repeating: "x", count: 7 << 20), mode: 0o755)
        for (label, tree) in trees {
            for compression in ArchiveCompression.allCases {
                let builder = InitramfsBuilder(cacheDirectory: scratch.path + "/cache-\(label.hashValue)-\(compression)")
                let request = InitramfsRequest(
                    rootfs: tree, initBinary: scratch.path + "/init", processFile: Array("{}".utf8), compression: compression)
                let miss = try builder.build(request)
                let hit = try builder.build(request)
                print(
                    "MEASURE tree=\(label) compression=\(compression.rawValue) content=\(miss.contentBytes) "
                        + "size=\(miss.compressedBytes) build=\(String(format: "%.3f", miss.seconds))s "
                        + "hit=\(String(format: "%.3f", hit.seconds))s cacheHit=\(hit.cacheHit)")
            }
        }
    }
}

/// Writes one converted guest per compression into RUNXL_LAB_GUESTS, each with a shell script
/// standing in for runxl-init, for booting in the nested Xen lab (Scripts/xenlab).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["RUNXL_LAB_GUESTS"] != nil))
struct LabGuests {
    @Test func writeGuests() throws {
        let output = try #require(ProcessInfo.processInfo.environment["RUNXL_LAB_GUESTS"])
        let scratch = try ScratchDirectory()
        _ = try makeBusyboxRootfs(in: scratch, at: "bundle/rootfs")
        try scratch.file(
            "init.sh",
            "#!/bin/sh\nmount -t devtmpfs dev /dev\nexec >/dev/hvc0 2>&1\necho RUNXL-GUEST-OK $(ls /.runxl) $(wc -c </.runxl/process)\npoweroff -f\n",
            mode: 0o755)
        for compression in ArchiveCompression.allCases {
            var config = Spec(ociVersion: "1.2.0")
            config.process = OCI.Process(args: ["sh"], env: ["PATH=/bin"], cwd: "/")
            config.root = Root(path: "rootfs")
            config.annotations = [RunxlAnnotations.initramfsCompression: compression.rawValue]
            try FileSystem.writeAtomically(scratch.path + "/bundle/config.json", Array(try JSONDocument.encode(config)))
            let builder = GuestBuilder(options: GuestBuildOptions(initBinary: scratch.path + "/init.sh", cacheDirectory: output + "/cache"))
            try builder.convert(bundle: scratch.path + "/bundle", output: output + "/" + compression.rawValue, domainName: "lab-\(compression.rawValue)")
        }
    }
}
