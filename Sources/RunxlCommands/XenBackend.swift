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

/// Builds the guest for `create`: a unikernel boots as itself (GuestBuild/Unikernel), anything
/// else as kernel + initramfs with runxl-init.
struct XenGuestPreparer: GuestPreparing {
    let host: HostConfig

    func prepare(
        id: ContainerID, bundle: String, rootfs: String, spec: Spec, stateDirectory: String, network: GuestNetwork?
    ) throws(RunxlError) -> PreparedGuest {
        let name = DomainNaming.name(for: id)
        if let unikernel = try UnikernelRecognizer.recognize(annotations: spec.annotations ?? [:], rootfs: RootfsLookup(rootfs: rootfs)) {
            let guest = try UnikernelBuilder(host: host).build(unikernel, spec: spec, rootfs: rootfs, domainName: name, network: network)
            return PreparedGuest(
                domain: guest.domain, unikernel: unikernel.kind.rawValue, takesNetwork: unikernel.kind.flavour.configuresNetwork)
        }
        let builder = GuestBuilder(options: GuestBuildOptions(initBinary: try InitBinary.locate(), host: host))
        let guest = switch try RootfsMode.resolve(spec: spec, host: host) {
        case .share: try builder.buildShared(spec: spec, rootfs: rootfs, domainName: name, stateDirectory: stateDirectory)
        case .initramfs: try builder.build(spec: spec, rootfs: rootfs, domainName: name, bindImageDirectory: stateDirectory)
        }
        return PreparedGuest(domain: guest.domain, hostMounts: guest.hostMounts)
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
