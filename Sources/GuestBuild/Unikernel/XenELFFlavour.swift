public import Hypervisor
public import RunxlBase

/// Any Xen PV/PVH ELF with no convention of its own (runxl's test unikernels among them): the
/// parameters and the arguments joined by single spaces. No environment.
public struct XenELFFlavour: UnikernelFlavour {
    public init() {}
    public var kind: UnikernelKind { .xenELF }
    public var defaultMemoryMiB: Int { 32 }
    public var preferredType: GuestType { .pv }
    public var passesEnvironment: Bool { false }

    public func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine {
        try plainWords(launch)
    }
}
