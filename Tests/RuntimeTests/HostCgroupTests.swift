import Foundation
@testable import Runtime
import Testing

/// Where a VM container's host processes go for `linux.cgroupsPath` (issue 19): runc's two
/// spellings, on a cgroup v2 hierarchy only.
@Suite struct HostCgroupTests {
    /// A stand-in for /sys/fs/cgroup: a directory with `cgroup.controllers`, as v2 has.
    private func unifiedRoot() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/cgroup.controllers", contents: Data("cpu memory pids\n".utf8))
        return root
    }

    @Test func cgroupfsPathsLieBelowTheRoot() throws {
        let root = try unifiedRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(HostCgroup.directory(for: "/libpod_parent/libpod-abc", root: root) == root + "/libpod_parent/libpod-abc")
        #expect(HostCgroup.directory(for: "k8s.io/abc", root: root) == root + "/k8s.io/abc")
        #expect(HostCgroup.directory(for: nil, root: root) == nil)
        #expect(HostCgroup.directory(for: "/", root: root) == nil, "the hierarchy's root is never a container's")
        #expect(HostCgroup.directory(for: "/a/../../etc", root: root) == nil)
    }

    @Test func systemdPathsBecomeAScopeInTheirSlice() throws {
        let root = try unifiedRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(HostCgroup.directory(for: "machine.slice:libpod:abc", root: root) == root + "/machine.slice/libpod-abc.scope")
        #expect(
            HostCgroup.directory(for: "kubepods-besteffort-pod1.slice:cri-containerd:abc", root: root)
                == root + "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope")
        #expect(HostCgroup.directory(for: ":runxl:abc", root: root) == root + "/system.slice/runxl-abc.scope")
    }

    @Test func aV1HostGetsNothing() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-v1-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(HostCgroup.directory(for: "/libpod_parent/libpod-abc", root: root) == nil)
    }
}
