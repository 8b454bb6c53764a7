public import Hypervisor
public import RunxlBase

/// Unikraft: `PROGRAM [library parameters] [env.vars=[ ... ]] [vfs.fstab=[ ... ]] [--] [arguments]`.
///
/// Unikraft's boot code (lib/ukboot) splits the command line with uk_argnparse, which honours
/// double quotes, and takes the first word as argv[0], as a shell would: without a program name
/// the first library parameter became argv[0] and was never applied (seen when the lab first
/// booted a real Unikraft kernel, 0.17 on Xen). Library parameters (`netdev.ip=...`,
/// `vfs.fstab=[ ... ]`, read when the kernel has CONFIG_LIBUKLIBPARAM, as kraftkit's builds do)
/// come before `--`, the application's arguments after it. The OCI process args are the
/// application's arguments as they are (kraftkit's images keep the program name out of `Cmd`).
/// The environment goes in `env.vars` (needs CONFIG_LIBPOSIX_ENVIRON_LIBPARAM in the kernel; a
/// kernel without it ignores the parameter); an initrd is mounted as the root file system
/// through `vfs.fstab`, as urunc does for Unikraft 0.16.1 and later.
public struct UnikraftFlavour: UnikernelFlavour {
    public init() {}
    public var kind: UnikernelKind { .unikraft }
    public var defaultMemoryMiB: Int { 64 }
    public var preferredType: GuestType { .pv }
    public var passesEnvironment: Bool { true }
    /// uknetdev's `netdev.ip=CIDR[:GATEWAY]`, read by lwIP's netfront glue (needs
    /// CONFIG_LIBUKLIBPARAM and uknetdev's einfo parameters, as kraftkit's network builds have).
    public var configuresNetwork: Bool { true }

    static let initrdRoot = "initrd0:/:extract:::"

    public func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine {
        var elements: [UnikernelCommandLine.Element] = [
            try UnikernelCommandLine.unikraftToken(launch.programName, field: "the unikernel binary's name")
        ]
        if let network = launch.network {
            var value = "netdev.ip=\(network.address)/\(network.prefixLength)"
            if let gateway = network.gateway { value += ":\(gateway)" }
            elements.append(try UnikernelCommandLine.unikraftToken(value, field: "the container's network address"))
        }
        for (index, parameter) in launch.parameters.enumerated() {
            elements.append(try UnikernelCommandLine.unikraftToken(
                parameter, field: "\(UnikernelAnnotations.Runxl.parameters) word \(index)"))
        }
        if !launch.environment.isEmpty {
            elements.append(.word("env.vars=["))
            for (index, variable) in launch.environment.enumerated() {
                elements.append(try UnikernelCommandLine.unikraftToken(variable, field: "process.env[\(index)]"))
            }
            elements.append(.word("]"))
        }
        if launch.hasInitrd {
            elements += [.word("vfs.fstab=["), .quoted(Self.initrdRoot), .word("]")]
        }
        // Unikraft applies `--` only when library parameters come before it: right after the
        // program name it would stay in argv. With nothing before it, the arguments follow the
        // name directly, and a `--` among them would make the words before it parameters.
        if elements.count > 1 {
            elements.append(.argumentSeparator)
        } else if let index = launch.arguments.firstIndex(of: "--") {
            throw RunxlError(
                .invalidConfig,
                "process.args[\(index)] is \"--\": Unikraft would take the arguments before it as library parameters; "
                    + "give a parameter in \(UnikernelAnnotations.Runxl.parameters) so that runxl's own \"--\" comes first")
        }
        for (index, argument) in launch.arguments.enumerated() {
            elements.append(try UnikernelCommandLine.unikraftToken(argument, field: "process.args[\(index)]"))
        }
        return UnikernelCommandLine(elements)
    }
}
