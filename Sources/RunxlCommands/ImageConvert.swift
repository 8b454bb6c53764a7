import GuestBuild
import ImageStore
import OCI
import Runtime
import RunxlBase

#if canImport(Glibc)
import Glibc
#endif

/// `runxl image convert BUNDLE|REF --output DIR`: writes a bootable guest (kernel, initramfs,
/// an `xl.cfg` that `xl create` accepts, guest.json) for a bundle, or for an image in the
/// store, whose layers stream into the initramfs without being unpacked (the cache is keyed by
/// the manifest digest, so converting the same image again reads no layer).
struct ImageConvert: ImageAction {
    static let name = "convert"
    static let usage = "BUNDLE|IMAGE --output DIR [--type pv|pvh] [--kernel PATH] [--memory MIB] [--vcpus N] [--name NAME]"
    static let flags = [
        FlagSpec("output", short: "o", value: "DIR", help: "convert: directory to write kernel, initramfs, xl.cfg, guest.json"),
        FlagSpec("type", value: "pv|pvh", help: "convert: guest type"),
        FlagSpec("kernel", value: "PATH", help: "convert: guest kernel (ELF or bzImage)"),
        FlagSpec("memory", value: "MIB", help: "convert: guest memory in MiB"),
        FlagSpec("vcpus", value: "N", help: "convert: virtual CPUs"),
        FlagSpec("name", value: "NAME", help: "convert: domain name in xl.cfg; import: the name to store the image under"),
        ImageVerb.storeFlag,
    ]

    let source: String
    let output: String
    let overrides: [String: String]
    let name: String?
    let arguments: ParsedArguments
    let global: GlobalOptions

    init(_ arguments: ParsedArguments, global: GlobalOptions) throws(RunxlError) {
        source = try arguments.positional(0, "bundle directory or image")
        try arguments.expectPositionals(atMost: 1)
        guard let output = arguments.value("output") else {
            throw RunxlError(.usage, "image convert: --output DIR is required")
        }
        self.output = ContainerEngine.absolutePath(output)
        overrides = GuestFlags.annotations(arguments)
        name = arguments.value("name")
        self.arguments = arguments
        self.global = global
    }

    func run() throws(RunxlError) -> Int32 {
        let bundle = ContainerEngine.absolutePath(source)
        if FileSystem.isDirectory(bundle) {
            let handlers = GuestHandlers.standard(host: try HostConfig.load()) { () throws(RunxlError) in try InitBinary.locate() }
            switch try handlers.convert(bundle: bundle, output: output, domainName: name, annotations: overrides) {
            case .unikernel(let guest): return report(guest)
            case .linux(let guest):
                report(guest)
                return 0
            }
        }
        if source.hasPrefix("/") || source.hasPrefix("./") || source.hasPrefix("../") {
            throw RunxlError(.bundleNotFound, "\(bundle) is not a bundle directory")
        }
        // Not a directory: an image in the store.
        let store = try ImageVerb.store(arguments, global: global)
        let image = try store.image(source)
        // Holds off garbage collection while the layers are read.
        let operation = try store.beginOperation("convert")
        defer { operation.close() }
        let manifest = try store.manifest(of: image)
        let config = try store.config(of: image, manifest: manifest)
        let hints = UnikernelImageHints.annotations(manifest: manifest, config: config)
        if !hints.isEmpty { return try convertUnikernel(image, store: store, hints: hints) }
        let layers = ImageLayers(
            paths: try store.layerPaths(of: image, manifest: manifest), diffIDs: config.rootfs.diffIDs,
            identity: image.manifest.digest, makeDigester: ContentStore.makeLayerDigester)
        func spec(_ users: ImageUserDatabases?) throws(RunxlError) -> Spec {
            try ImageBundle.spec(for: config, image: image.name, rootfsPath: "rootfs", args: [], terminal: false, users: users)
        }
        let guest: BuiltGuest
        do {
            guest = try XenBackend.builder().convert(
                layers: layers, spec: try spec(nil), output: output, domainName: name ?? Self.domainName(for: image.name),
                source: "\(image.name) (\(image.manifest.digest))", annotations: overrides
            ) { listing throws(RunxlError) in
                // A unikernel known only by its files (urunc.json, kraftkit's layout): the listing
                // of the streamed layers shows them before any initramfs is kept.
                if listing.nodes["urunc.json"] != nil || listing.nodes["unikraft/bin/kernel"] != nil {
                    throw RunxlError(.invalidUnikernel, Self.unikernelFilesFound)
                }
                return try spec(ImageUserDatabases(passwd: listing.files["etc/passwd"], group: listing.files["etc/group"]))
            }
        } catch where error.code == .invalidUnikernel && error.message == Self.unikernelFilesFound {
            return try convertUnikernel(image, store: store, hints: [:])
        }
        report(guest)
        return 0
    }

    static let unikernelFilesFound = "the image's rootfs holds a unikernel"

    /// A unikernel image (its manifest or config says so): its files are read from an unpacked
    /// rootfs (the store's snapshot, read in place), not streamed.
    private func convertUnikernel(_ image: StoredImage, store: ContentStore, hints: [String: String]) throws(RunxlError) -> Int32 {
        var spec = try ImageBundle.readOnly(image, store: store, commandRequired: false)
        spec.annotations = (spec.annotations ?? [:]).merging(hints.merging(overrides) { _, flag in flag }) { _, override in override }
        guard let rootfs = spec.root?.path else {
            throw RunxlError(.internal, "the spec of \(image.name) has no root.path")
        }
        let container = ContainerSource(spec: spec, rootfs: rootfs, domainName: name ?? Self.domainName(for: image.name))
        guard let guest = try XenBackend.unikernelBuilder().convert(
            container, output: output, source: "\(image.name) (\(image.manifest.digest))")
        else {
            throw RunxlError(.invalidUnikernel, "\(image.name) is annotated as a unikernel (\(hints.keys.sorted().joined(separator: ", "))) but declares no binary")
        }
        return report(guest)
    }

    private func report(_ guest: UnikernelGuest) -> Int32 {
        print("\(output)/xl.cfg: \(guest.declaration.kind.rawValue) unikernel, \(guest.domain.type.rawValue) guest, \(guest.domain.memoryMiB) MiB, \(guest.domain.vcpus) vCPU")
        return 0
    }

    private func report(_ guest: BuiltGuest) {
        print("\(output)/xl.cfg: \(guest.domain.type.rawValue) guest, \(guest.domain.memoryMiB) MiB, \(guest.domain.vcpus) vCPU")
    }

    /// `docker.io/library/busybox:latest` → a domain name from `busybox`.
    static func domainName(for image: String) -> String {
        let last = image.split(separator: "/").last.map(String.init) ?? image
        let repository = last.split(separator: "@").first.map(String.init) ?? last
        let base = repository.split(separator: ":").first.map(String.init) ?? repository
        return GuestNaming.domainName(containerID: base)
    }
}
