import Foundation
import OCI
import RunxlBase
import Testing

@testable import Runtime

/// How a pod's containers are told apart, from what podman 4.3 and the CRI plugins really pass
/// (PodRecognition's doc comment has the captured shapes).
@Suite struct PodRecognitionTests {
    static func record(_ id: String, pid: Int32?, status: ContainerStatus = .running, network: String? = nil) throws -> (
        id: ContainerID, record: ContainerRecord
    ) {
        var record = ContainerRecord(
            ociVersion: "1.2.0", id: id, status: status, bundle: "/b", rootfs: "/b/rootfs", created: "", owner: "root",
            annotations: [:], hypervisor: "fake")
        record.pid = pid
        record.network = network.map { NetworkAttachment(namespacePath: $0, links: []) }
        return (try ContainerID(id), record)
    }

    static func spec(annotations: [String: String] = [:], namespaces: [LinuxNamespace] = []) -> Spec {
        var spec = Spec.runxlDefault(args: ["sh"], terminal: false)
        spec.annotations = annotations
        var linux = spec.linux ?? Linux()
        linux.namespaces = namespaces
        spec.linux = linux
        return spec
    }

    @Test func containerdsAndCriOsAnnotationsNameTheSandbox() throws {
        let sandbox = Self.spec(annotations: ["io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "s1"])
        #expect(PodRecognition.role(of: sandbox, others: []) == .sandbox)
        let member = Self.spec(annotations: ["io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "s1"])
        #expect(PodRecognition.role(of: member, others: []) == .member(sandbox: "s1", evidence: "annotation io.kubernetes.cri.sandbox-id=s1"))
        let crio = Self.spec(annotations: ["io.kubernetes.cri-o.ContainerType": "container", "io.kubernetes.cri-o.SandboxID": "s2"])
        #expect(PodRecognition.role(of: crio, others: []) == .member(sandbox: "s2", evidence: "annotation io.kubernetes.cri-o.SandboxID=s2"))
        #expect(PodRecognition.role(of: Self.spec(annotations: ["io.kubernetes.cri-o.ContainerType": "sandbox"]), others: []) == .sandbox)
    }

    /// Only a CRI annotation or a shared namespace by path sends create to the records.
    @Test func onlyAnnotationsAndSharedPathsAreLookedInto() {
        #expect(!PodRecognition.mayJoinAPod(Self.spec(annotations: ["io.kubernetes.cri-o.TTY": "false"], namespaces: [.init(type: .network)])))
        #expect(!PodRecognition.mayJoinAPod(Self.spec(namespaces: [.init(type: .pid, path: "/proc/1/ns/pid")])))
        #expect(PodRecognition.mayJoinAPod(Self.spec(namespaces: [.init(type: .uts, path: "/proc/1/ns/uts")])))
        #expect(PodRecognition.mayJoinAPod(Self.spec(annotations: ["io.kubernetes.cri.container-type": "sandbox"])))
    }

    /// podman's own annotations (`io.kubernetes.cri-o.Created`, `.TTY`, `io.podman.*`) say
    /// nothing about pods: a container on its own stays on its own.
    @Test func podmansAnnotationsAloneMakeNoPod() {
        let podman = Self.spec(
            annotations: ["io.container.manager": "libpod", "io.kubernetes.cri-o.Created": "2026-12-05T16:21:20Z", "io.kubernetes.cri-o.TTY": "false"],
            namespaces: [.init(type: .pid), .init(type: .network, path: "/run/netns/netns-17375ab4"), .init(type: .ipc), .init(type: .uts)])
        #expect(PodRecognition.role(of: podman, others: []) == nil)
    }

    /// podman 4.3's pod member exactly as captured: CRI-O's annotations naming the infra, and
    /// its namespaces through the infra's pid.
    @Test func podmansPodMemberAsCaptured() throws {
        let infra = try Self.record("015887eb1f31", pid: 244)
        let member = Self.spec(
            annotations: [
                "io.container.manager": "libpod", "io.kubernetes.cri-o.ContainerType": "container",
                "io.kubernetes.cri-o.SandboxID": "015887eb1f31", "io.kubernetes.cri-o.TTY": "false",
            ],
            namespaces: [
                .init(type: .pid), .init(type: .network, path: "/proc/244/ns/net"), .init(type: .ipc, path: "/proc/244/ns/ipc"),
                .init(type: .uts, path: "/proc/244/ns/uts"), .init(type: .mount), .init(type: .cgroup),
            ])
        #expect(
            PodRecognition.role(of: member, others: [infra])
                == .member(sandbox: "015887eb1f31", evidence: "annotation io.kubernetes.cri-o.SandboxID=015887eb1f31"))
    }

    /// Without annotations: ipc and uts (and network) through the infra's pid.
    @Test(arguments: [LinuxNamespaceType.network, .ipc, .uts])
    func joiningTheInfrasNamespaceByPidMakesAMember(_ type: LinuxNamespaceType) throws {
        let infra = try Self.record("infra", pid: 4242)
        let member = Self.spec(namespaces: [.init(type: .pid), .init(type: type, path: "/proc/4242/ns/\(type == .network ? "net" : type.rawValue)")])
        guard case .member(let sandbox, let evidence)? = PodRecognition.role(of: member, others: [infra]) else {
            Issue.record("not recognized as a member")
            return
        }
        #expect(sandbox == "infra")
        #expect(evidence.contains("\(type.rawValue) namespace /proc/4242/ns/"))
    }

    /// A pid that is no runxl container's (or a stopped one's, whose pid may be reused) joins a
    /// process's namespace as runc would: no pod.
    @Test func otherProcessesAndStoppedContainersAreNoPod() throws {
        let stopped = try Self.record("old", pid: 4242, status: .stopped)
        let member = Self.spec(namespaces: [.init(type: .ipc, path: "/proc/4242/ns/ipc")])
        #expect(PodRecognition.role(of: member, others: [stopped]) == nil)
        #expect(PodRecognition.role(of: member, others: [try Self.record("other", pid: 99)]) == nil)
        // A pid or mount namespace is not one a pod shares.
        let pidOnly = Self.spec(namespaces: [.init(type: .pid, path: "/proc/99/ns/pid")])
        #expect(PodRecognition.role(of: pidOnly, others: [try Self.record("other", pid: 99)]) == nil)
    }

    /// containerd's CRI gives every container the sandbox's network namespace file.
    @Test func theSandboxsNetworkNamespaceFileMakesAMember() throws {
        let directory = NSTemporaryDirectory() + "runxl-pod-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/cni-1234"
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: "/proc/self/ns/net")
        let sandbox = try Self.record("sandbox", pid: 1, network: file)
        let member = Self.spec(namespaces: [.init(type: .network, path: file)])
        #expect(PodRecognition.role(of: member, others: [sandbox]) == .member(sandbox: "sandbox", evidence: "its network namespace \(file)"))
    }
}
