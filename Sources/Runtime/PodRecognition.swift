import OCI
import RunxlBase

/// A container's place in a pod, read from what its caller passed.
///
/// What the callers really pass (captured in the lab: podman 4.3 through a wrapper that kept
/// every create's config.json; docs/pods.md has the shapes):
/// - podman's infra container has no pod annotation and namespaces of its own (network by path,
///   `/run/netns/netns-...`, when the pod has a network; unnamed with `netns = "none"`). Every
///   further container of the pod carries CRI-O's annotations,
///   `io.kubernetes.cri-o.ContainerType=container` and `io.kubernetes.cri-o.SandboxID=<infra id>`,
///   and joins the infra's network, ipc and uts namespaces through the infra's pid,
///   `/proc/PID/ns/TYPE`, which under runxl is the infra's supervisor.
/// - containerd 1.6's CRI (captured in the lab through a logging wrapper) marks every container
///   with `io.kubernetes.cri.container-type` (`sandbox` for the pause container, `container`
///   otherwise) and `io.kubernetes.cri.sandbox-id`. The sandbox gets the network namespace file
///   CNI made; a further container joins network, ipc and uts as `/proc/<sandbox pid>/ns/TYPE`.
/// The namespace paths are read too, for a caller that passes no annotation.
public enum PodRole: Sendable, Equatable {
    /// The pod's first container (a Kubernetes sandbox): the one whose VM would be the pod's.
    case sandbox
    /// A container of the pod that `sandbox` started; `evidence` is what said so, for messages.
    case member(sandbox: String, evidence: String)
}

enum PodRecognition {
    /// The namespaces a pod's containers share (Kubernetes and podman's default `--share`).
    static let podNamespaces: [LinuxNamespaceType] = [.network, .ipc, .uts]

    /// Whether the spec names anything that could make it a pod's further container: a CRI
    /// annotation or a shared namespace by path. Most containers name neither, and then create
    /// need not read every other container's record.
    static func mayJoinAPod(_ spec: Spec) -> Bool {
        let annotations = spec.annotations ?? [:]
        if PodAnnotations.keys.contains(where: { annotations[$0.type] != nil }) { return true }
        return (spec.linux?.namespaces ?? []).contains { podNamespaces.contains($0.type) && !($0.path ?? "").isEmpty }
    }

    /// The role of a container about to be created, among `others` (the root's containers);
    /// nil for a container on its own.
    static func role(of spec: Spec, others: [(id: ContainerID, record: ContainerRecord)]) -> PodRole? {
        let annotations = spec.annotations ?? [:]
        for (typeKey, sandboxKey) in PodAnnotations.keys {
            switch annotations[typeKey] {
            case "sandbox":
                return .sandbox
            case "container":
                let sandbox = annotations[sandboxKey] ?? ""
                return .member(sandbox: sandbox, evidence: "annotation \(sandboxKey)=\(sandbox)")
            default:
                continue
            }
        }
        for namespace in spec.linux?.namespaces ?? [] where podNamespaces.contains(namespace.type) {
            guard let path = namespace.path, !path.isEmpty else { continue }
            if let owner = owner(of: path, type: namespace.type, among: others) {
                return .member(sandbox: owner.rawValue, evidence: "its \(namespace.type.rawValue) namespace \(path)")
            }
        }
        return nil
    }

    /// The runxl container a namespace path belongs to: `/proc/PID/ns/TYPE` with PID one of
    /// their supervisors, or the network namespace file one of them was given.
    ///
    /// By the pid in the path, not the namespace's identity: a supervisor lives in dom0's own
    /// namespaces, which every other supervisor shares too.
    static func owner(
        of path: String, type: LinuxNamespaceType, among others: [(id: ContainerID, record: ContainerRecord)]
    ) -> ContainerID? {
        if let pid = processID(inNamespacePath: path) {
            return others.first { $0.record.pid == pid && $0.record.status != .stopped }?.id
        }
        guard type == .network else { return nil }
        return others.first { other in
            other.record.network.map { NamespaceNetwork.sameNamespace($0.namespacePath, path) } ?? false
        }?.id
    }

    /// PID from `/proc/PID/ns/NAME`; nil for any other path.
    static func processID(inNamespacePath path: String) -> Int32? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "proc", parts[3] == "ns" else { return nil }
        return Int32(parts[2])
    }
}
