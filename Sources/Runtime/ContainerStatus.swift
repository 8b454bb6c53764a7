public import RunxlBase

/// The OCI container states, plus runc's `paused`, with the transitions runc allows.
///
/// What a user asks for (create's end, start, pause, resume) goes through `transition(to:)`, so a
/// verb in the wrong state fails the same way everywhere, with runc's wording that podman and
/// containerd recognise. What runxl observes instead sets the state directly in ContainerEngine
/// (the process ended, a kill or forced delete ended the guest, a paused guest was unpaused to
/// take a signal): the guest's fact wins over whatever the record held.
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
