import GuestBuild
import OCI
import Runtime
import RunxlBase

/// `runxl image convert SOURCE --output DIR`: writes a bootable guest (kernel, initramfs,
/// an `xl.cfg` that `xl create` accepts, guest.json) for a bundle.
struct ImageVerb: Verb {
    static let spec = VerbSpec(
        name: "image", summary: "image conversion: convert BUNDLE --output DIR",
        usage: "convert BUNDLE --output DIR [--type pv|pvh] [--kernel PATH] [--memory MIB] [--vcpus N]",
        flags: [
            FlagSpec("output", short: "o", value: "DIR", help: "directory to write kernel, initramfs, xl.cfg, guest.json"),
            FlagSpec("type", value: "pv|pvh", help: "guest type"),
            FlagSpec("kernel", value: "PATH", help: "guest kernel (ELF or bzImage)"),
            FlagSpec("memory", value: "MIB", help: "guest memory in MiB"),
            FlagSpec("vcpus", value: "N", help: "virtual CPUs"),
            FlagSpec("name", value: "NAME", help: "domain name in xl.cfg"),
        ])

    let source: String
    let output: String
    let overrides: [String: String]
    let name: String?

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        let action = try arguments.positional(0, "action (convert)")
        guard action == "convert" else {
            throw RunxlError(.usage, "image: unknown action '\(action)'; runxl image convert BUNDLE --output DIR")
        }
        source = ContainerEngine.absolutePath(try arguments.positional(1, "bundle directory"))
        try arguments.expectPositionals(atMost: 2)
        guard let output = arguments.value("output") else {
            throw RunxlError(.usage, "image convert: --output DIR is required")
        }
        self.output = ContainerEngine.absolutePath(output)
        var overrides: [String: String] = [:]
        overrides[RunxlAnnotations.guestType] = arguments.value("type")
        overrides[RunxlAnnotations.kernel] = arguments.value("kernel")
        overrides[RunxlAnnotations.memory] = arguments.value("memory")
        overrides[RunxlAnnotations.vcpus] = arguments.value("vcpus")
        self.overrides = overrides
        name = arguments.value("name")
    }

    func run() throws(RunxlError) -> Int32 {
        let guest = try XenBackend.builder().convert(bundle: source, output: output, domainName: name, annotations: overrides)
        print("\(output)/xl.cfg: \(guest.domain.type.rawValue) guest, \(guest.domain.memoryMiB) MiB, \(guest.domain.vcpus) vCPU")
        return 0
    }
}
