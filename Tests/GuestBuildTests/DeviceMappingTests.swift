import GuestProtocol
import OCI
import RunxlBase
import Testing
import TestSupport

@testable import GuestBuild

/// `linux.devices` and `process.oomScoreAdj` reach runxl-init with runc's defaults (issue 19, runtime-tools'
/// linux_devices), and a device init could not make is refused on the host, before any boot.
@Suite struct DeviceMappingTests {
    private func description(_ devices: [LinuxDevice]) throws -> ProcessDescription {
        let scratch = try ScratchDirectory("devices")
        var spec = Spec(ociVersion: "1.2.0")
        spec.process = OCI.Process(args: ["sh"], env: ["PATH=/bin"], cwd: "/")
        spec.root = Root(path: "rootfs")
        spec.linux = Linux(devices: devices)
        return try ProcessDescription(spec: spec, lookup: RootfsLookup(rootfs: try makeBusyboxRootfs(in: scratch)))
    }

    @Test func devicesAreCarriedWithRuncsDefaults() throws {
        let mapped = try description([
            LinuxDevice(type: "c", path: "/dev/test1", fileMode: 0o640, major: 10, minor: 666, uid: 1000, gid: 5),
            LinuxDevice(type: "b", path: "/dev/test2", major: 8, minor: 666),
            LinuxDevice(type: "u", path: "/dev/test4", major: 1, minor: 3),
            LinuxDevice(type: "p", path: "/dev/test3"),
        ])
        #expect(
            mapped.devices == [
                .init(path: "/dev/test1", kind: .character, major: 10, minor: 666, fileMode: 0o640, uid: 1000, gid: 5),
                .init(path: "/dev/test2", kind: .block, major: 8, minor: 666, fileMode: 0o666),
                .init(path: "/dev/test4", kind: .unbuffered, major: 1, minor: 3, fileMode: 0o666),
                .init(path: "/dev/test3", kind: .fifo, fileMode: 0o666),
            ])
        #expect(try ProcessDescription.decode(mapped.encoded()).devices == mapped.devices)
    }

    /// runtime-tools' process_oom_score_adj; outside the kernel's range is a config error.
    @Test func oomScoreAdjIsCarriedWithinTheKernelsRange() throws {
        func mapped(_ score: Int?) throws -> ProcessDescription {
            let scratch = try ScratchDirectory("oom")
            var spec = Spec(ociVersion: "1.2.0")
            spec.process = OCI.Process(args: ["sh"], env: ["PATH=/bin"], cwd: "/", oomScoreAdj: score)
            spec.root = Root(path: "rootfs")
            return try ProcessDescription(spec: spec, lookup: RootfsLookup(rootfs: try makeBusyboxRootfs(in: scratch)))
        }
        #expect(try mapped(500).oomScoreAdj == 500)
        #expect(try ProcessDescription.decode(try mapped(-1000).encoded()).oomScoreAdj == -1000)
        #expect(try mapped(nil).oomScoreAdj == nil)
        let error = #expect(throws: RunxlError.self) { try mapped(1001) }
        #expect(error?.code == .invalidConfig)
    }

    @Test func aDeviceWithoutNumbersOrWithABadTypeOrPathIsRefused() throws {
        for device in [
            LinuxDevice(type: "c", path: "/dev/nonumbers"), LinuxDevice(type: "b", path: "/dev/negative", major: -1, minor: 0),
            LinuxDevice(type: "x", path: "/dev/badtype", major: 1, minor: 1), LinuxDevice(type: "c", path: "dev/relative", major: 1, minor: 1),
        ] {
            let error = #expect(throws: RunxlError.self) { try description([device]) }
            #expect(error?.code == .invalidConfig)
            #expect(error?.message.contains("linux.devices[0]") == true)
        }
    }
}
