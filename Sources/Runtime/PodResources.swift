import Glibc
import Hypervisor
public import OCI
import RunxlBase

/// What a pod's VM was created able to grow to (docs/pods.md, "Resources"): kept in its first
/// container's record when the VM's ceilings are above its boot size.
public struct PodCapacity: Codable, Sendable, Equatable {
    /// What the VM booted with: the pod's first container's share.
    public var bootMemoryMiB: Int
    public var bootVcpus: Int
    /// Xen's maxmem and max_vcpus, fixed at create.
    public var maxMemoryMiB: Int
    public var maxVcpus: Int

    public init(bootMemoryMiB: Int, bootVcpus: Int, maxMemoryMiB: Int, maxVcpus: Int) {
        self.bootMemoryMiB = bootMemoryMiB
        self.bootVcpus = bootVcpus
        self.maxMemoryMiB = maxMemoryMiB
        self.maxVcpus = maxVcpus
    }

    /// nil for a VM that cannot grow: its further containers share what it has.
    init?(_ domain: DomainSpec) {
        let maxMemory = domain.maxMemoryMiB ?? domain.memoryMiB
        let maxVcpus = domain.maxVcpus ?? domain.vcpus
        guard maxMemory > domain.memoryMiB || maxVcpus > domain.vcpus else { return nil }
        self.init(bootMemoryMiB: domain.memoryMiB, bootVcpus: domain.vcpus, maxMemoryMiB: maxMemory, maxVcpus: maxVcpus)
    }
}

/// What one further container adds to its pod's VM, from its own limits as Kubernetes sets them
/// per container: the memory limit, and the CPU quota as whole vCPUs (Kata Containers' rule).
/// A container without a limit adds nothing and shares what the VM has, as under runc it shares
/// the node.
public struct PodClaim: Codable, Sendable, Equatable {
    public var memoryMiB: Int
    public var vcpus: Int

    public init(memoryMiB: Int, vcpus: Int) {
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
    }

    public init(spec: Spec) {
        let resources = spec.linux?.resources
        var memory = 0
        if let limit = resources?.memory?.limit, limit > 0 {
            memory = Int(clamping: (limit + (1 << 20) - 1) >> 20)
        }
        var vcpus = 0
        if let quota = resources?.cpu?.quota, quota > 0, let period = resources?.cpu?.period, period > 0 {
            vcpus = Int(clamping: (UInt64(quota) + period - 1) / period)
        }
        self.init(memoryMiB: memory, vcpus: vcpus)
    }
}

/// The size a pod's VM is given for its containers' claims.
struct PodSize: Equatable {
    var memoryMiB: Int
    var vcpus: Int

    /// Boot size plus every claim; memory past the ceiling is refused, vCPUs stop at theirs
    /// (a CPU limit is a share of time, not a reservation: containers past it share vCPUs).
    init(_ capacity: PodCapacity, claims: [PodClaim]) {
        memoryMiB = capacity.bootMemoryMiB + claims.reduce(0) { $0 + $1.memoryMiB }
        vcpus = min(capacity.maxVcpus, capacity.bootVcpus + claims.reduce(0) { $0 + $1.vcpus })
    }
}

extension ContainerEngine {
    /// Counts a joining container's claim against its pod's VM and grows the VM to fit, under the
    /// pod's lock so that containers joining at once see each other's claims. Returns the pod's
    /// vCPU count for the container's description (init brings them online), or nil when the
    /// pod's VM cannot grow. Past the memory ceiling nothing is changed and the error says so.
    func growPod(
        _ sandbox: ContainerID, for member: ContainerID, claim: PodClaim, record: inout ContainerRecord
    ) throws(RunxlError) -> Int? {
        let lock = try store.lock(sandbox)
        defer { lock.unlock() }
        let pod = try store.load(sandbox)
        guard let capacity = pod.podCapacity else { return nil }
        let others = podClaims(of: sandbox, except: member)
        let size = PodSize(capacity, claims: others + [claim])
        guard size.memoryMiB <= capacity.maxMemoryMiB else {
            let taken = capacity.bootMemoryMiB + others.reduce(0) { $0 + $1.memoryMiB }
            throw RunxlError(
                .outOfMemory,
                "container \(member) asks pod \(sandbox)'s VM for \(claim.memoryMiB) MiB (its linux.resources.memory.limit), "
                    + "but the VM can grow to \(capacity.maxMemoryMiB) MiB and \(taken) MiB are taken: raise the ceiling when "
                    + "the pod is made (annotation \(RunxlAnnotations.maxMemory) on its first container, or \"podMaxMemoryMiB\" "
                    + "in runxl's host config) or lower the limit")
        }
        record.podClaim = claim
        try store.save(record, id: member)
        do {
            try resize(pod, sandbox: sandbox, to: size)
        } catch {
            record.podClaim = nil
            try? store.save(record, id: member)
            throw error
        }
        return size.vcpus
    }

    /// Gives back what a deleted container claimed: called once its record is gone. A pod whose
    /// VM is gone, or a failure, changes nothing that matters; the latter is reported.
    func shrinkPod(_ sandbox: ContainerID) {
        do {
            let lock = try store.lock(sandbox)
            defer { lock.unlock() }
            let pod = try store.load(sandbox)
            guard let capacity = pod.podCapacity, pod.status != .stopped else { return }
            try resize(pod, sandbox: sandbox, to: PodSize(capacity, claims: podClaims(of: sandbox, except: nil)))
        } catch where error.code == .containerNotFound || error.code == .domainNotFound {
        } catch {
            warn("pod \(sandbox): its VM keeps its size: \(error.message)")
        }
    }

    private func podClaims(of sandbox: ContainerID, except member: ContainerID?) -> [PodClaim] {
        let ids = (try? store.ids()) ?? []
        return ids.filter { $0 != member }.compactMap { id in
            guard let record = try? store.load(id), record.podSandbox == sandbox.rawValue else { return nil }
            return record.podClaim
        }
    }

    private func resize(_ pod: ContainerRecord, sandbox: ContainerID, to size: PodSize) throws(RunxlError) {
        let domain = try domainID(of: pod)
        try hypervisor.setMemoryTarget(domain, mebibytes: size.memoryMiB)
        try hypervisor.setAvailableVcpus(domain, count: size.vcpus)
        trace.mark("pod \(sandbox): VM sized to \(size.memoryMiB) MiB, \(size.vcpus) vCPUs")
    }
}
