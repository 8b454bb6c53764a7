public import GuestProtocol
public import Hypervisor
public import OCI
public import RunxlBase

/// What `create` needs to boot a container: the domain to create and the files that belong to it.
public struct PreparedGuest: Sendable {
    public var domain: DomainSpec
    /// The unikernel kind (`UnikernelKind`'s name) when the guest is one: no runxl-init inside,
    /// so the supervisor passes its console through raw and kill asks Xen for a shutdown.
    public var unikernel: String?
    /// What dom0 mounts for the domain's 9pfs backend before the domain exists (`ShareMounts`).
    public var hostMounts: [HostMount]
    /// Whether the guest uses the namespace's network when there is one: runxl-init configures
    /// it; a unikernel only when its flavour puts the address on its command line.
    public var takesNetwork: Bool
    /// The VM template `domain` may be restored from instead of booted (`GuestTemplates`).
    public var template: TemplatePlan?
    /// What the kernel and initramfs files are, for as long as they stay the same
    /// (`GuestBuilder.bootFilesIdentity`); nil when the preparer cannot say, and then no warm
    /// VM (`WarmPool`) is taken for the guest.
    public var bootIdentity: String?
    public init(
        domain: DomainSpec, unikernel: String? = nil, hostMounts: [HostMount] = [], takesNetwork: Bool = true,
        template: TemplatePlan? = nil, bootIdentity: String? = nil
    ) {
        self.bootIdentity = bootIdentity
        self.domain = domain
        self.unikernel = unikernel
        self.hostMounts = hostMounts
        self.takesNetwork = takesNetwork
        self.template = template
    }
}

/// A pod's further container, ready to be started in its pod's VM (docs/pods.md).
public struct PreparedPodMember: Sendable {
    /// Sent to the pod's VM as an exec session at `start`; its `podMember` is set.
    public var description: ProcessDescription
    /// What dom0 binds into the running 9pfs backend, under `directory` (`ShareMounts.attach`).
    public var hostMounts: [HostMount]
    /// The member's directory in the sandbox's control share; nil when nothing is shared.
    public var directory: String?
    /// Makes the mount points under `directory`.
    public var createMountPoints: @Sendable () throws(RunxlError) -> Void

    public init(
        description: ProcessDescription, hostMounts: [HostMount] = [], directory: String? = nil,
        createMountPoints: @escaping @Sendable () throws(RunxlError) -> Void = {}
    ) {
        self.description = description
        self.hostMounts = hostMounts
        self.directory = directory
        self.createMountPoints = createMountPoints
    }
}

/// Turns a bundle into a bootable guest. The Xen path builds a kernel + initramfs (GuestBuild);
/// the fake path only validates, so that the layers above can be tested without Xen.
public protocol GuestPreparing: Sendable {
    /// Builds the guest for container `id`. `stateDirectory` is the container's own directory,
    /// where per-container files may go (removed by delete). `network` is the namespace's
    /// network the guest's vif stands in for, when config.json joins one.
    func prepare(
        id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
    ) throws(RunxlError) -> PreparedGuest

    /// The spec's process as the guest's init runs it, checked against the rootfs on the host
    /// (a missing program fails here, not in the guest): what `exec` sends.
    func describeProcess(spec: Spec, rootfs: String) throws(RunxlError) -> ProcessDescription

    /// Container `id` as a further member of the pod whose first container's state directory
    /// is `sandboxState`.
    func preparePodMember(id: ContainerID, spec: Spec, rootfs: String, sandboxState: String) throws(RunxlError) -> PreparedPodMember
}

extension GuestPreparing {
    /// For preparers whose guests take no exec (unikernels' test doubles).
    public func describeProcess(spec: Spec, rootfs: String) throws(RunxlError) -> ProcessDescription {
        throw RunxlError(.unsupported, "this guest takes no exec requests")
    }

    /// Without shares (the fake's guests): the process alone.
    public func preparePodMember(id: ContainerID, spec: Spec, rootfs: String, sandboxState: String) throws(RunxlError) -> PreparedPodMember {
        var description = try describeProcess(spec: spec, rootfs: rootfs)
        description.podMember = id.rawValue
        return PreparedPodMember(description: description)
    }
}

/// Validates the bundle the way the real builder does and describes a domain without building
/// anything: for the fake hypervisor.
public struct ValidatingGuestPreparer: GuestPreparing {
    /// The ceilings the real builder would give the domain (`GuestSettingsResolver.ceilings`),
    /// so the fake's pods grow as real ones do.
    public typealias Ceilings = @Sendable (Spec) throws(RunxlError) -> (maxMemoryMiB: Int?, maxVcpus: Int?)
    let ceilings: Ceilings

    public init(ceilings: @escaping Ceilings = { _ in (nil, nil) }) {
        self.ceilings = ceilings
    }

    public func prepare(
        id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
    ) throws(RunxlError) -> PreparedGuest {
        let (maxMemoryMiB, maxVcpus) = try ceilings(spec)
        return PreparedGuest(domain: DomainSpec(
            name: DomainNaming.name(for: id), type: .pv, kernel: "/nonexistent/fake-kernel",
            cmdline: (spec.process?.args ?? []).joined(separator: " "), maxMemoryMiB: maxMemoryMiB, maxVcpus: maxVcpus))
    }

    /// Only what the fake's guests read: the program, its environment and directory, the
    /// terminal flag.
    public func describeProcess(spec: Spec, rootfs: String) throws(RunxlError) -> ProcessDescription {
        guard let process = spec.process, let args = process.args, !args.isEmpty else {
            throw RunxlError(.invalidConfig, "the process has no args: nothing to run")
        }
        return ProcessDescription(args: args, env: process.env ?? [], cwd: process.cwd, terminal: process.terminal ?? false)
    }
}

/// Xen domain names for containers: prefixed so `xl list` shows what is ours and `gc` can find
/// leftovers. The whole id is kept: truncating would let two containers collide.
public enum DomainNaming {
    public static let prefix = "runxl-"
    /// libxl's limit on a domain name (runxl's DomainPlan checks it).
    public static let maximumLength = 64

    /// `runxl-<id>` when it fits; podman's and containerd's 64-hex-digit ids do not, so a long id
    /// keeps its first 40 characters (what `xl list` shows a person) and gains 17 of its own
    /// SHA-256, which keeps two long ids with the same prefix apart.
    public static func name(for id: ContainerID) -> String {
        let plain = prefix + id.rawValue
        if plain.utf8.count <= maximumLength { return plain }
        var hash = SHA256()
        hash.update(id.rawValue)
        return prefix + String(id.rawValue.prefix(40)) + "-" + String(hash.finalizeHex().prefix(17))
    }
}
