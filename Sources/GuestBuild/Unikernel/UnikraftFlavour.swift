public import Hypervisor
public import RunxlBase

/// Unikraft: `[library parameters] [env.vars=[ ... ]] [vfs.fstab=[ ... ]] -- [arguments]`.
///
/// Unikraft's boot code (lib/ukboot) splits the command line with uk_argnparse, which honours
/// double quotes; library parameters (`netdev.ip=...`, `vfs.fstab=[ ... ]`) come before `--`,
/// the application's arguments after it. The OCI process args are the application's arguments
/// as they are (kraftkit's images keep the program name out of `Cmd`). The environment goes in
/// `env.vars` (needs CONFIG_LIBPOSIX_ENVIRON_LIBPARAM in the kernel); an initrd is mounted as the
/// root file system through `vfs.fstab`, as urunc does for Unikraft 0.16.1 and later.
public struct UnikraftFlavour: UnikernelFlavour {
    public init() {}
    public var kind: UnikernelKind { .unikraft }
    public var defaultMemoryMiB: Int { 64 }
    public var preferredType: GuestType { .pv }
    public var passesEnvironment: Bool { true }

    static let initrdRoot = "initrd0:/:extract:::"

    public func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine {
        var elements: [UnikernelCommandLine.Element] = []
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
        elements.append(.argumentSeparator)
        for (index, argument) in launch.arguments.enumerated() {
            elements.append(try UnikernelCommandLine.unikraftToken(argument, field: "process.args[\(index)]"))
        }
        return UnikernelCommandLine(elements)
    }
}
