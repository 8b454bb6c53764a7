public import GuestProtocol
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
    /// The IPv4 address of the container's network namespace, for a flavour that takes it on
    /// its command line (its vif stands in for the namespace's interface, as a Linux guest's).
    public var network: UnikernelNetwork?

    public init(
        arguments: [String], environment: [String] = [], parameters: [String] = [], hasInitrd: Bool = false,
        block: UnikernelBlockDevice? = nil, programName: String = "unikernel", network: UnikernelNetwork? = nil
    ) {
        self.arguments = arguments
        self.environment = environment
        self.parameters = parameters
        self.hasInitrd = hasInitrd
        self.block = block
        self.programName = programName
        self.network = network
    }
}

/// One interface's static IPv4 configuration: unikernels have no DHCP client runxl could rely on,
/// and CNI has already chosen the address.
public struct UnikernelNetwork: Sendable, Equatable {
    public var address: String
    public var prefixLength: Int
    public var gateway: String?

    public init(address: String, prefixLength: Int, gateway: String? = nil) {
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
    }

    /// The namespace's first interface with an IPv4 address, and the default IPv4 route's
    /// gateway through it: what a unikernel with one netfront can use. nil when there is none.
    public init?(_ network: GuestNetwork) {
        for interface in network.interfaces {
            guard let address = interface.addresses.first(where: { !$0.address.contains(":") }) else { continue }
            let gateway = network.routes.first {
                $0.destination == nil && $0.interface == interface.name && !($0.gateway ?? "").contains(":")
            }?.gateway
            self.init(address: address.address, prefixLength: address.prefixLength, gateway: gateway)
            return
        }
        return nil
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
    /// Whether the command line carries `UnikernelLaunch.network`: only then does the guest get
    /// the namespace's vif (one it could not configure would only swallow the traffic).
    var configuresNetwork: Bool { get }
    func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine
}

extension UnikernelFlavour {
    public var configuresNetwork: Bool { false }
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
