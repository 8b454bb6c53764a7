public import Hypervisor
public import RunxlBase

/// Rumprun: its configuration as JSON on the command line (rumprun's doc/config.md):
/// `{"cmdline":"prog a b","env":"A=1","env":"B=2","blk":{...}}`, one `env` member per variable,
/// `blk` when a block device is attached (its mount point from the image). The arguments are
/// joined by spaces into `cmdline`, which rumprun splits again: an argument may hold no space.
public struct RumprunFlavour: UnikernelFlavour {
    public init() {}
    public var kind: UnikernelKind { .rumprun }
    public var defaultMemoryMiB: Int { 64 }
    public var preferredType: GuestType { .pv }
    public var passesEnvironment: Bool { true }

    public func commandLine(for launch: UnikernelLaunch) throws(RunxlError) -> UnikernelCommandLine {
        var words: [String] = []
        for (index, argument) in launch.arguments.enumerated() {
            guard case .word(let word) = try UnikernelCommandLine.word(argument, field: "process.args[\(index)]") else { continue }
            words.append(word)
        }
        var members = [UnikernelJSON.Member("cmdline", .string(words.joined(separator: " ")))]
        for (index, variable) in launch.environment.enumerated() {
            try UnikernelCommandLine.requirePrintable(variable, field: "process.env[\(index)]")
            members.append(.init("env", .string(variable)))
        }
        if let block = launch.block {
            var device: [UnikernelJSON.Member] = [
                .init("source", .string("dev")), .init("path", .string("/dev/\(block.virtualDevice)")),
                .init("fstype", .string("blk")),
            ]
            if let mountPoint = block.mountPoint {
                try UnikernelCommandLine.requirePrintable(mountPoint, field: UnikernelAnnotations.Runxl.blockMountPoint)
                device.append(.init("mountpoint", .string(mountPoint)))
            }
            members.append(.init("blk", .object(device)))
        }
        var elements: [UnikernelCommandLine.Element] = []
        for (index, parameter) in launch.parameters.enumerated() {
            elements.append(try UnikernelCommandLine.word(parameter, field: "\(UnikernelAnnotations.Runxl.parameters) word \(index)"))
        }
        elements.append(.json(.object(members)))
        return UnikernelCommandLine(elements)
    }
}
