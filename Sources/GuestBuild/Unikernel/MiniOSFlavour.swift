public import Hypervisor
public import RunxlBase

/// Mini-OS (and applications on it, such as the stubdomains): the command line from start_info
/// as space-separated words, parameters first. No environment.
public struct MiniOSFlavour: UnikernelFlavour {
    public init() {}
    public var kind: UnikernelKind { .miniOS }
    public var defaultMemoryMiB: Int { 32 }
    public var preferredType: GuestType { .pv }
    public var passesEnvironment: Bool { false }

    public func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine {
        try plainWords(launch)
    }
}
