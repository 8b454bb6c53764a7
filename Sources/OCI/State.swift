// OCI runtime-spec 1.3.0: the state of a container (runtime.md "State", state-schema.json).
public import RunxlBase

/// What `runxl state` reports and hooks receive on stdin.
public struct State: OCIDocument {
    public static let documentName = "state.json"
    public static let invalidDocumentCode = RunxlError.Code.invalidDocument

    /// The four states of the spec; runc's `paused` is not one of them.
    public enum Status: String, SpecEnumeration {
        case creating, created, running, stopped
    }

    public var ociVersion: String
    public var id: String
    public var status: Status
    /// The container's process as the host sees it; absent once stopped.
    public var pid: Int32?
    /// Absolute path of the bundle.
    public var bundle: String
    public var annotations: [String: String]?

    public init(
        ociVersion: String,
        id: String,
        status: Status,
        pid: Int32? = nil,
        bundle: String,
        annotations: [String: String]? = nil
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
    }

    public func checkSchema() throws(FieldViolation) {
        if let pid, pid < 0 { throw FieldViolation(FieldPath()["pid"], "must not be negative, found \(pid)") }
    }
}

/// What a seccomp listener receives with the notify file descriptors (`linux.seccomp.listenerPath`).
public struct ContainerProcessState: OCIDocument {
    public static let documentName = "container process state"
    public static let invalidDocumentCode = RunxlError.Code.invalidDocument

    public var ociVersion: String
    /// Names of the passed file descriptors, e.g. `seccompFd`.
    public var fds: [String]
    public var pid: Int32
    public var metadata: String?
    public var state: State

    public init(ociVersion: String, fds: [String], pid: Int32, metadata: String? = nil, state: State) {
        self.ociVersion = ociVersion
        self.fds = fds
        self.pid = pid
        self.metadata = metadata
        self.state = state
    }
}
