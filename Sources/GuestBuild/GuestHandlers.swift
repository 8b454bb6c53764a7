public import GuestProtocol
public import Hypervisor
public import OCI
public import RunxlBase

/// A container as `create` and `image convert` hand it to GuestBuild: its spec (with any
/// annotation overrides already merged) and its rootfs on the host.
public struct ContainerSource: Sendable {
    public var spec: Spec
    public var rootfs: String
    public var domainName: String

    public init(spec: Spec, rootfs: String, domainName: String) {
        self.spec = spec
        self.rootfs = rootfs
        self.domainName = domainName
    }

    /// A bundle as `image convert` reads it: its config.json with `annotations` (the image's
    /// hints, the CLI's flags) merged over its own, its rootfs, and a domain name from the
    /// bundle's directory name unless one is given.
    public static func load(bundle: String, annotations: [String: String], domainName: String?) throws(RunxlError) -> ContainerSource {
        var spec = try Spec.load(path: bundle + "/config.json", missingCode: .bundleNotFound)
        if !annotations.isEmpty {
            spec.annotations = (spec.annotations ?? [:]).merging(annotations) { _, override in override }
        }
        guard let rootfs = spec.rootfsPath(bundle: bundle) else {
            throw RunxlError(.invalidConfig, "config.json has no root.path: the bundle has no rootfs")
        }
        let bundleName = bundle.split(separator: "/").last.map(String.init) ?? "guest"
        return ContainerSource(spec: spec, rootfs: rootfs, domainName: domainName ?? GuestNaming.domainName(containerID: bundleName))
    }
}

/// What a container boots as.
public enum ContainerGuest: Sendable {
    /// The unikernel binary is the guest kernel; no runxl-init.
    case unikernel(UnikernelGuest)
    /// A Linux kernel with runxl-init and the container's files.
    case linux(BuiltGuest)

    public var domain: DomainSpec {
        switch self {
        case .unikernel(let guest): guest.domain
        case .linux(let guest): guest.domain
        }
    }
}

/// One kind of guest (crun's handlers are the model: each says whether it can run a container,
/// and the first that can, runs it). The decision lives here, beside the builders, and not in
/// each caller: `create` and `image convert` of a bundle ask the same list.
public protocol GuestHandler: Sendable {
    /// What this handler would build for the container, nil when it does not run it. What it
    /// recognized to decide (a unikernel's declaration, read from annotations and rootfs files)
    /// travels in the plan, so it is read once. Throws when the container says it is of this
    /// kind but says it wrongly (a unikernel annotation naming a missing binary): the error is
    /// the user's answer, and no other handler should take the container instead.
    func plan(_ container: ContainerSource) throws(RunxlError) -> (any GuestPlan)?
}

/// A container a handler accepted, ready to become a guest.
public protocol GuestPlan: Sendable {
    /// The guest for `create`. `stateDirectory` is the container's own directory (share-mode
    /// control files, bind images); `network` what the host read from the container's namespace.
    func build(stateDirectory: String, network: GuestNetwork?) throws(RunxlError) -> ContainerGuest

    /// `image convert` of a bundle: the guest's files and an `xl.cfg` under `output`.
    func convert(output: String, source: String) throws(RunxlError) -> ContainerGuest
}

/// A unikernel declared by annotations, `/urunc.json` or kraftkit's layout (`UnikernelRecognizer`).
public struct UnikernelHandler: GuestHandler {
    public let host: HostConfig

    public init(host: HostConfig) {
        self.host = host
    }

    public func plan(_ container: ContainerSource) throws(RunxlError) -> (any GuestPlan)? {
        let recognized = try UnikernelRecognizer.recognize(
            annotations: container.spec.annotations ?? [:], rootfs: RootfsLookup(rootfs: container.rootfs))
        return recognized.map { UnikernelPlan(declaration: $0, container: container, host: host) }
    }
}

/// A recognized unikernel: its declaration and the container it came from.
public struct UnikernelPlan: GuestPlan {
    public let declaration: UnikernelDeclaration
    let container: ContainerSource
    let host: HostConfig

    public func build(stateDirectory: String, network: GuestNetwork?) throws(RunxlError) -> ContainerGuest {
        .unikernel(
            try UnikernelBuilder(host: host).build(
                declaration, spec: container.spec, rootfs: container.rootfs, domainName: container.domainName, network: network))
    }

    public func convert(output: String, source: String) throws(RunxlError) -> ContainerGuest {
        .unikernel(
            try UnikernelBuilder(host: host).convert(
                declaration, spec: container.spec, rootfs: container.rootfs, domainName: container.domainName,
                output: output, source: source))
    }
}

/// Everything else: a Linux guest with runxl-init, in the rootfs mode the spec and host choose.
/// The init binary is looked up only when a Linux guest is built, so a host without runxl-init
/// still runs unikernels.
public struct LinuxHandler: GuestHandler {
    public let host: HostConfig
    let locateInit: @Sendable () throws(RunxlError) -> String

    public init(host: HostConfig, locateInit: @escaping @Sendable () throws(RunxlError) -> String) {
        self.host = host
        self.locateInit = locateInit
    }

    public func plan(_ container: ContainerSource) throws(RunxlError) -> (any GuestPlan)? {
        LinuxPlan(container: container, host: host, locateInit: locateInit)
    }
}

/// A Linux guest to build for the container.
public struct LinuxPlan: GuestPlan {
    let container: ContainerSource
    let host: HostConfig
    let locateInit: @Sendable () throws(RunxlError) -> String

    public func build(stateDirectory: String, network: GuestNetwork?) throws(RunxlError) -> ContainerGuest {
        let builder = try builder()
        let spec = container.spec
        return switch try RootfsMode.resolve(spec: spec, host: host) {
        case .share:
            .linux(try builder.buildShared(spec: spec, rootfs: container.rootfs, domainName: container.domainName, stateDirectory: stateDirectory))
        case .initramfs:
            .linux(try builder.build(spec: spec, rootfs: container.rootfs, domainName: container.domainName, bindImageDirectory: stateDirectory))
        }
    }

    public func convert(output: String, source: String) throws(RunxlError) -> ContainerGuest {
        .linux(try builder().convert(spec: container.spec, rootfs: container.rootfs, domainName: container.domainName, output: output, source: source))
    }

    private func builder() throws(RunxlError) -> GuestBuilder {
        GuestBuilder(options: GuestBuildOptions(initBinary: try locateInit(), host: host))
    }
}

/// The handlers in the order they are asked: unikernels first (their declarations are explicit),
/// Linux last (it runs anything).
public struct GuestHandlers: Sendable {
    public let handlers: [any GuestHandler]

    public init(_ handlers: [any GuestHandler]) {
        self.handlers = handlers
    }

    public static func standard(host: HostConfig, locateInit: @escaping @Sendable () throws(RunxlError) -> String) -> GuestHandlers {
        GuestHandlers([UnikernelHandler(host: host), LinuxHandler(host: host, locateInit: locateInit)])
    }

    /// The plan of the first handler that runs the container.
    public func plan(for container: ContainerSource) throws(RunxlError) -> any GuestPlan {
        for handler in handlers {
            if let plan = try handler.plan(container) { return plan }
        }
        throw RunxlError(.unsupported, "no guest kind runs this container (handlers: \(handlers.map { "\(type(of: $0))" }.joined(separator: ", ")))")
    }

    public func build(_ container: ContainerSource, stateDirectory: String, network: GuestNetwork?) throws(RunxlError) -> ContainerGuest {
        try plan(for: container).build(stateDirectory: stateDirectory, network: network)
    }

    /// `image convert BUNDLE`: the bundle (`ContainerSource.load`) converted by the handler that
    /// runs it.
    public func convert(
        bundle: String, output: String, domainName: String?, annotations: [String: String]
    ) throws(RunxlError) -> ContainerGuest {
        let container = try ContainerSource.load(bundle: bundle, annotations: annotations, domainName: domainName)
        return try plan(for: container).convert(output: output, source: bundle)
    }
}
