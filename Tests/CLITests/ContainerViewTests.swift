import Foundation
import Testing

/// The pid `create` reports shows the container's files as host tools expect of a runc
/// container (`podman cp` and `stat` enter `/proc/PID/ns/mnt`): the rootfs at `/`, each bind at
/// its destination, writes landing in the bundle's rootfs and in the bind sources.
@Suite struct ContainerViewTests {
    @Test(.enabled(if: geteuid() == 0, "mount namespaces need root"))
    func theReportedPidHasTheRootfsAndBindsAsItsFileSystem() throws {
        let world = try RunxlProcess()
        defer { world.cleanup() }
        let volume = world.directory + "/volume"
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        try "in-volume\n".write(toFile: volume + "/marker", atomically: true, encoding: .utf8)
        try "host-file\n".write(toFile: world.directory + "/hostfile", atomically: true, encoding: .utf8)
        let bundle = try world.makeBundle("b") { config in
            config["mounts"] = [
                ["destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]],
                ["destination": "/data", "type": "bind", "source": volume, "options": ["rbind", "rw"]],
                ["destination": "/etc/hostfile", "type": "bind", "source": world.directory + "/hostfile", "options": ["bind", "ro"]],
                // Under the guest's own tmpfs: not in the view, and no mount point made in the rootfs.
                ["destination": "/run/.containerenv", "type": "bind", "source": world.directory + "/hostfile", "options": ["bind"]],
            ]
        }
        try "from-rootfs\n".write(toFile: bundle + "/rootfs/image-file", atomically: true, encoding: .utf8)
        let pidFile = world.directory + "/pid"
        let created = try world.run(["create", "--bundle", bundle, "--pid-file", pidFile, "c"])
        #expect(created.status == 0, "\(created.stderr)")
        let pid = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let view = "/proc/\(pid)/root"
        #expect(try String(contentsOfFile: view + "/image-file", encoding: .utf8) == "from-rootfs\n")
        #expect(try String(contentsOfFile: view + "/data/marker", encoding: .utf8) == "in-volume\n")
        #expect(try String(contentsOfFile: view + "/etc/hostfile", encoding: .utf8) == "host-file\n")
        // A tool's write goes where the container's would: the bundle's rootfs and the volume.
        try "by-a-tool\n".write(toFile: view + "/data/written", atomically: false, encoding: .utf8)
        #expect(try String(contentsOfFile: volume + "/written", encoding: .utf8) == "by-a-tool\n")
        try "by-a-tool\n".write(toFile: view + "/new-file", atomically: false, encoding: .utf8)
        #expect(FileManager.default.fileExists(atPath: bundle + "/rootfs/new-file"))
        // Read-only binds stay read-only; nothing of the host's mount table shows the view.
        #expect(FileManager.default.createFile(atPath: view + "/etc/hostfile.new", contents: nil))
        #expect(open(view + "/etc/hostfile", O_WRONLY) == -1 && errno == EROFS)
        #expect(!FileManager.default.fileExists(atPath: bundle + "/rootfs/run/.containerenv"))
        #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(bundle))
        #expect(try world.run(["delete", "--force", "c"]).status == 0)
        #expect(world.filesUnderRoot().isEmpty)
    }
}
