public import Hypervisor
public import RunxlBase

/// The unikernel kinds runxl boots on Xen, one `UnikernelFlavour` each.
public enum UnikernelKind: String, Sendable, Codable, CaseIterable {
    case unikraft
    /// MirageOS on Solo5's Xen target (PVH).
    case mirage
    case rumprun
    case miniOS = "mini-os"
    /// Any Xen PV/PVH ELF: the command line is the arguments joined by spaces.
    case xenELF = "xen-elf"

    /// Reads a type as the conventions spell it (runxl's names, urunc's `unikernelType`).
    public init?(name: String) {
        switch name.lowercased() {
        case "unikraft": self = .unikraft
        case "mirage", "mirageos", "solo5", "solo5-xen": self = .mirage
        case "rumprun": self = .rumprun
        case "mini-os", "minios": self = .miniOS
        case "xen-elf", "xen", "elf", "generic": self = .xenELF
        default: return nil
        }
    }

    public var flavour: any UnikernelFlavour {
        switch self {
        case .unikraft: UnikraftFlavour()
        case .mirage: MirageFlavour()
        case .rumprun: RumprunFlavour()
        case .miniOS: MiniOSFlavour()
        case .xenELF: XenELFFlavour()
        }
    }

    /// For error messages: every accepted name.
    public static var acceptedNames: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// What the OCI process and the image give a flavour to build its command line from.
public struct UnikernelLaunch: Sendable, Equatable {
    /// The application's arguments: the OCI process args (or urunc's `cmdline` when there are none).
    public var arguments: [String]
    public var environment: [String]
    /// Kernel parameters placed before the arguments (`org.runxl.unikernel.parameters`).
    public var parameters: [String]
    public var hasInitrd: Bool
    /// The block device's name in the guest and where to mount it, when one is attached.
    public var block: UnikernelBlockDevice?
    /// The program's name (argv[0]) for flavours whose command line starts with one: the file
    /// name of the unikernel's binary.
    public var programName: String

    public init(
        arguments: [String], environment: [String] = [], parameters: [String] = [], hasInitrd: Bool = false,
        block: UnikernelBlockDevice? = nil, programName: String = "unikernel"
    ) {
        self.arguments = arguments
        self.environment = environment
        self.parameters = parameters
        self.hasInitrd = hasInitrd
        self.block = block
        self.programName = programName
    }
}

public struct UnikernelBlockDevice: Sendable, Equatable {
    /// The Xen virtual device, e.g. `xvda`.
    public var virtualDevice: String
    public var mountPoint: String?

    public init(virtualDevice: String, mountPoint: String? = nil) {
        self.virtualDevice = virtualDevice
        self.mountPoint = mountPoint
    }
}

/// One unikernel flavour: how its command line looks, what it takes, what it needs.
///
/// The guest type is not here: the ELF's Xen notes say what the binary can boot as; the flavour
/// only breaks a tie.
public protocol UnikernelFlavour: Sendable {
    var kind: UnikernelKind { get }
    /// Guest memory when neither config.json nor an annotation sets it.
    var defaultMemoryMiB: Int { get }
    /// Chosen when the ELF boots both as PV and PVH and nothing else decides.
    var preferredType: GuestType { get }
    /// Whether `UnikernelLaunch.environment` reaches the guest (documented per flavour).
    var passesEnvironment: Bool { get }
    func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine
}

extension UnikernelFlavour {
    /// `org.runxl.unikernel.parameters` words then the arguments, each a space-free word: the
    /// format of every flavour that reads its command line as plain words.
    func plainWords(_ launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine {
        var elements: [UnikernelCommandLine.Element] = []
        for (index, parameter) in launch.parameters.enumerated() {
            elements.append(try UnikernelCommandLine.word(parameter, field: "\(UnikernelAnnotations.Runxl.parameters) word \(index)"))
        }
        for (index, argument) in launch.arguments.enumerated() {
            elements.append(try UnikernelCommandLine.word(argument, field: "process.args[\(index)]"))
        }
        return UnikernelCommandLine(elements)
    }
}
