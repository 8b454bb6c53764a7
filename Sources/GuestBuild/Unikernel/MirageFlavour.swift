public import Hypervisor
public import RunxlBase

/// MirageOS on Solo5's Xen target: PVH only (the ELF's notes say so), the command line is the
/// application's boot parameters (`--ipv4=... --hello=world`) as space-separated words, which
/// Mirage's runtime arguments parser reads. There is no environment.
public struct MirageFlavour: UnikernelFlavour {
    public init() {}
    public var kind: UnikernelKind { .mirage }
    public var defaultMemoryMiB: Int { 32 }
    public var preferredType: GuestType { .pvh }
    public var passesEnvironment: Bool { false }

    public func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine {
        try plainWords(launch)
    }
}
