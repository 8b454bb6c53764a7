import Foundation
import ImageStore
import OCI
import RunxlBase
import Testing

@Suite struct ImageBundleTests {
    func config(_ settings: ImageConfig.Config) -> ImageConfig {
        ImageConfig(architecture: "amd64", os: "linux", config: settings, rootfs: .init(type: "layers", diffIDs: []))
    }

    func rootfs(_ scratch: StoreScratch) throws -> String {
        let root = scratch.path + "/rootfs"
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try "root:x:0:0::/root:/bin/sh\nweb:x:33:44::/var/www:/bin/sh\n".write(toFile: root + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\nstaff:x:50:web\n".write(toFile: root + "/etc/group", atomically: true, encoding: .utf8)
        return root
    }

    @Test func processComesFromTheImageConfig() throws {
        let scratch = try StoreScratch()
        let root = try rootfs(scratch)
        let spec = try ImageBundle.spec(
            for: config(.init(user: "web:staff", env: ["PATH=/opt/bin", "A=1"], entrypoint: ["/bin/app"], cmd: ["--serve"], workingDir: "/srv")),
            image: "test", rootfs: root, args: [], terminal: false)
        #expect(spec.process?.args == ["/bin/app", "--serve"])
        #expect(spec.process?.cwd == "/srv")
        #expect(spec.process?.user?.uid == 33)
        #expect(spec.process?.user?.gid == 50)
        #expect(spec.process?.env?.contains("PATH=/opt/bin") == true)
        #expect(spec.process?.env?.contains("A=1") == true)
        #expect(spec.process?.env?.filter { $0.hasPrefix("PATH=") }.count == 1)
        #expect(spec.root?.path == root)
    }

    @Test func argumentsReplaceCmdButKeepEntrypoint() throws {
        let scratch = try StoreScratch()
        let spec = try ImageBundle.spec(
            for: config(.init(user: "1000", entrypoint: ["/init"], cmd: ["default"])), image: "test", rootfs: try rootfs(scratch),
            args: ["other", "x"], terminal: false)
        #expect(spec.process?.args == ["/init", "other", "x"])
        #expect(spec.process?.user?.uid == 1000)
        #expect(spec.process?.user?.gid == 0)
    }

    @Test func unknownUserOrNoCommandIsAnError() throws {
        let scratch = try StoreScratch()
        let root = try rootfs(scratch)
        #expect(throws: RunxlError.self) {
            try ImageBundle.spec(for: config(.init(user: "nobody", cmd: ["sh"])), image: "test", rootfs: root, args: [], terminal: false)
        }
        #expect(throws: RunxlError.self) {
            try ImageBundle.spec(for: config(.init()), image: "test", rootfs: root, args: [], terminal: false)
        }
    }

    /// A unikernel's image may carry no Cmd (kraftkit's helloworld): converting it needs none,
    /// and arguments given at launch stand in for the missing Cmd.
    @Test func aUnikernelImageNeedsNoCommand() throws {
        let scratch = try StoreScratch()
        let root = try rootfs(scratch)
        let bare = try ImageBundle.spec(
            for: config(.init()), image: "uk", rootfs: root, args: [], terminal: false, commandRequired: false)
        #expect(bare.process?.args == [])
        let given = try ImageBundle.spec(for: config(.init()), image: "uk", rootfs: root, args: ["a", "b c"], terminal: false)
        #expect(given.process?.args == ["a", "b c"])
    }

    /// An /etc/passwd that is a symlink must not make runxl read a file of the host.
    @Test func passwdThroughASymlinkIsNotRead() throws {
        let scratch = try StoreScratch()
        let root = scratch.path + "/rootfs"
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        let outside = scratch.path + "/host-passwd"
        try "evil:x:4242:4242::/:/bin/sh\n".write(toFile: outside, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/passwd", withDestinationPath: outside)
        #expect(throws: RunxlError.self) {
            try ImageBundle.spec(for: config(.init(user: "evil", cmd: ["sh"])), image: "test", rootfs: root, args: [], terminal: false)
        }
    }
}
