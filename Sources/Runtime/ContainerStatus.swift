public import RunxlBase

/// The OCI container states, plus runc's `paused`, with the transitions runc allows.
///
/// Every lifecycle verb goes through `transition(to:)`, so a verb in the wrong state fails the
/// same way everywhere, with runc's wording that podman and containerd recognise.
public enum ContainerStatus: String, Codable, Sendable, CaseIterable {
    case creating
    case created
    case running
    case paused
    case stopped

    /// The states a container may move to from this one.
    public var successors: Set<ContainerStatus> {
        switch self {
        case .creating: [.created, .stopped]
        case .created: [.running, .stopped]
        case .running: [.paused, .stopped]
        case .paused: [.running, .stopped]
        case .stopped: []
        }
    }

    /// The next state, or a transition error naming the container and both states.
    public func transition(to next: ContainerStatus, id: ContainerID) throws(RunxlError) -> ContainerStatus {
        guard successors.contains(next) else {
            throw RunxlError(
                .invalidState,
                "container \(id) is \(rawValue): cannot move to \(next.rawValue)")
        }
        return next
    }
}
