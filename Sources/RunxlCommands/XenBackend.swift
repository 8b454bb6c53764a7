import GuestBuild
import GuestProtocol
import Hypervisor
import OCI
import Runtime
import RunxlBase
import XenLight

#if canImport(Glibc)
import Glibc
#endif

/// The real backend: libxl through XenLight, guests built by GuestBuild.
enum XenBackend {
    static func open(logger: Logger) throws(RunxlError) -> any Hypervisor {
        try XenLightHypervisor(logLevel: logger.debug ? .debug : .error) { line in logger.info("libxl: \(line)") }
    }

    static func preparer(logger: Logger) throws(RunxlError) -> any GuestPreparing {
        XenGuestPreparer(host: try HostConfig.load())
    }

    /// Unikernels need no runxl-init: only the host config.
    static func unikernelBuilder() throws(RunxlError) -> UnikernelBuilder {
        UnikernelBuilder(host: try HostConfig.load())
    }

    static func builder() throws(RunxlError) -> GuestBuilder {
        GuestBuilder(options: GuestBuildOptions(initBinary: try InitBinary.locate(), host: try HostConfig.load()))
    }
}

/// Builds the guest for `create` through GuestBuild's handlers (a unikernel boots as itself,
/// anything else as a Linux guest with runxl-init), and tells the runtime what it got.
struct XenGuestPreparer: GuestPreparing {
    let host: HostConfig

    func describeProcess(spec: Spec, rootfs: String) throws(RunxlError) -> ProcessDescription {
        try ProcessDescription(spec: spec, rootfs: rootfs)
    }

    func preparePodMember(id: ContainerID, spec: Spec, rootfs: String, sandboxState: String) throws(RunxlError) -> PreparedPodMember {
        let share = try PodMemberShare(id: id.rawValue, spec: spec, rootfs: rootfs, sandboxState: sandboxState)
        return PreparedPodMember(
            description: share.description, hostMounts: share.hostMounts, directory: share.directory,
            createMountPoints: share.createMountPoints)
    }

    func prepare(
        id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
    ) throws(RunxlError) -> PreparedGuest {
        let container = ContainerSource(spec: spec, rootfs: rootfs, domainName: DomainNaming.name(for: id))
        let handlers = GuestHandlers.standard(host: host) { () throws(RunxlError) in try InitBinary.locate() }
        switch try handlers.build(container, stateDirectory: stateDirectory, network: network) {
        case .unikernel(let guest):
            let kind = guest.declaration.kind
            return PreparedGuest(domain: guest.domain, unikernel: kind.rawValue, takesNetwork: kind.flavour.configuresNetwork)
        case .linux(let guest):
            return PreparedGuest(
                domain: guest.domain, hostMounts: guest.hostMounts, template: guest.template, bootIdentity: guest.bootIdentity)
        }
    }
}

/// Where the static runxl-init binary is: `RUNXL_INIT`, then beside the runxl executable (how
/// `Scripts/build-init` lays it out), then `../lib/runxl/` from it (how `Scripts/install` and the
/// Debian package do), then /usr/lib/runxl. The one found must be a static executable.
enum InitBinary {
    static func locate() throws(RunxlError) -> String {
        var candidates: [String] = []
        if let value = getenv("RUNXL_INIT") { candidates.append(String(cString: value)) }
        if let executable = try? Processes.currentExecutable() {
            let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            candidates.append(directory + "/runxl-init")
            candidates.append(directory + "/../lib/runxl/runxl-init")
        }
        candidates.append("/usr/lib/runxl/runxl-init")
        guard let found = candidates.first(where: FileSystem.exists) else {
            throw RunxlError(
                .initBinaryInvalid,
                "runxl-init is missing (looked in \(candidates.joined(separator: ", "))): install runxl with Scripts/install, "
                    + "or build it with Scripts/build-init and set RUNXL_INIT to the path it prints")
        }
        try InitExecutable.check(found)
        return found
    }
}
