/// The one error type every runxl module throws.
///
/// A stable numeric `code` lets scripts, podman and containerd logs and the docs refer to a failure
/// without parsing prose; the `message` says what to do about it; `cause` keeps the lower-level
/// error (a libxl error number, an errno, a decoding error) for `--debug` and the JSON log.
/// The code table lives in `docs/errors.md`; ErrorCatalogTests keeps it in step with `Code`.
public struct RunxlError: Error, Sendable, CustomStringConvertible {
    public let code: Code
    public let message: String
    public let cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }

    /// A stable error code. A struct over an integer rather than an enum, so that codes can be
    /// added without breaking exhaustive switches in other modules.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public var description: String { "RX\(rawValue)" }
    }
}

extension RunxlError.Code {
    // 1xx: what the user asked for is malformed.
    /// The command line itself is wrong (a flag, a missing argument).
    public static let usage = Self(rawValue: 100)
    /// A container id that runc would refuse (path separators, `..`, characters outside runc's set).
    public static let invalidContainerID = Self(rawValue: 101)
    /// A signal name or number that does not exist.
    public static let invalidSignal = Self(rawValue: 102)
    /// config.json is not valid JSON or does not match the runtime-spec.
    public static let invalidConfig = Self(rawValue: 110)
    /// The bundle directory, its config.json or its rootfs is missing.
    public static let bundleNotFound = Self(rawValue: 111)
    /// A runxl annotation or `vm` setting has a value runxl cannot use.
    public static let invalidAnnotation = Self(rawValue: 112)
    /// The guest kernel is missing or not bootable by Xen.
    public static let invalidKernel = Self(rawValue: 113)
    /// A state file or other JSON document runxl wrote cannot be read back.
    public static let invalidDocument = Self(rawValue: 114)
    /// A unikernel image or bundle cannot be booted: an unknown unikernel type, a hypervisor
    /// other than Xen, a binary, initrd or block file missing from its rootfs (docs/unikernels.md).
    public static let invalidUnikernel = Self(rawValue: 115)

    // 2xx: the container exists or not, or is in the wrong state.
    public static let containerNotFound = Self(rawValue: 200)
    public static let containerExists = Self(rawValue: 201)
    /// The verb is not allowed in the container's current state (runc's transition errors).
    public static let invalidState = Self(rawValue: 202)

    // 3xx: the host.
    /// A file system operation failed (permissions, disk full).
    public static let io = Self(rawValue: 300)
    /// Another runxl process holds the lock and did not let go in time.
    public static let lockTimeout = Self(rawValue: 301)
    /// A child process (supervisor, hook) could not be started.
    public static let spawnFailed = Self(rawValue: 302)
    /// A hook from config.json failed.
    public static let hookFailed = Self(rawValue: 303)
    /// The container's network namespace could not be read or wired to the guest's vif
    /// (iproute2 missing, the namespace gone, a tc or netlink change refused).
    public static let networkFailed = Self(rawValue: 304)
    /// The container's files cannot be shared with the guest over Xen 9pfs: QEMU's Xen backend
    /// (Debian's qemu-system-xen) is missing, or a bind mount for the backend was refused.
    public static let sharesUnavailable = Self(rawValue: 305)
    /// runxl-init, the guest's PID 1, is missing or not a static executable (a plain `swift
    /// build` makes a dynamically linked one, which cannot start in the guest).
    public static let initBinaryInvalid = Self(rawValue: 306)

    // 4xx: the hypervisor.
    /// This host is not a Xen dom0 (libxl could not open the privileged interface).
    public static let notXenHost = Self(rawValue: 400)
    /// libxl reported an error not covered by a more specific code; the cause names it.
    public static let hypervisorFailed = Self(rawValue: 401)
    /// The domain does not exist (any more).
    public static let domainNotFound = Self(rawValue: 402)
    /// Xen or dom0 does not have the memory the guest asks for.
    public static let outOfMemory = Self(rawValue: 403)
    /// libxl rejected the domain configuration.
    public static let invalidDomainConfig = Self(rawValue: 404)
    /// The guest kernel failed to load or boot.
    public static let guestBootFailed = Self(rawValue: 405)
    /// A libxl operation does not support this request on this host (e.g. PVH without HAP).
    public static let unsupported = Self(rawValue: 406)
    /// A xenstore read, write or watch failed.
    public static let xenstoreFailed = Self(rawValue: 407)
    /// Waiting for the domain took longer than allowed.
    public static let timeout = Self(rawValue: 408)

    // 5xx: images.
    public static let imageNotFound = Self(rawValue: 500)
    public static let invalidImage = Self(rawValue: 501)
    public static let digestMismatch = Self(rawValue: 502)
    public static let unsafeLayerEntry = Self(rawValue: 503)
    public static let registryFailed = Self(rawValue: 504)
    /// A layer goes past an unpack limit (entries, bytes written, path length): a bomb or a broken layer.
    public static let layerLimitExceeded = Self(rawValue: 505)
    /// A docker credential helper (`credsStore`, `credHelpers`) is missing, failed or printed
    /// something that is not its JSON answer.
    public static let credentialHelperFailed = Self(rawValue: 506)

    /// A bug in runxl: an invariant did not hold. Reported instead of crashing.
    public static let `internal` = Self(rawValue: 900)
}

/// An errno from a failed system call, kept as the cause of a `RunxlError`.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32
    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(call): \(errnoDescription(errno))" }
}

extension RunxlError.Code {
    /// Every code with its name, in the order of docs/errors.md; a test keeps the two in step.
    public static let catalog: [(name: String, code: RunxlError.Code)] = [
        ("usage", .usage), ("invalidContainerID", .invalidContainerID), ("invalidSignal", .invalidSignal),
        ("invalidConfig", .invalidConfig), ("bundleNotFound", .bundleNotFound),
        ("invalidAnnotation", .invalidAnnotation), ("invalidKernel", .invalidKernel),
        ("invalidDocument", .invalidDocument), ("invalidUnikernel", .invalidUnikernel), ("containerNotFound", .containerNotFound),
        ("containerExists", .containerExists), ("invalidState", .invalidState), ("io", .io),
        ("lockTimeout", .lockTimeout), ("spawnFailed", .spawnFailed), ("hookFailed", .hookFailed), ("networkFailed", .networkFailed),
        ("sharesUnavailable", .sharesUnavailable), ("initBinaryInvalid", .initBinaryInvalid),
        ("notXenHost", .notXenHost), ("hypervisorFailed", .hypervisorFailed), ("domainNotFound", .domainNotFound),
        ("outOfMemory", .outOfMemory), ("invalidDomainConfig", .invalidDomainConfig),
        ("guestBootFailed", .guestBootFailed), ("unsupported", .unsupported), ("xenstoreFailed", .xenstoreFailed),
        ("timeout", .timeout), ("imageNotFound", .imageNotFound), ("invalidImage", .invalidImage),
        ("digestMismatch", .digestMismatch), ("unsafeLayerEntry", .unsafeLayerEntry),
        ("registryFailed", .registryFailed), ("layerLimitExceeded", .layerLimitExceeded),
        ("credentialHelperFailed", .credentialHelperFailed), ("internal", .internal),
    ]
}
